#include "guard.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The scan: bytes are read at i and written back at o (o <= i), so that a
 * reference rewritten shorter moves the rest of the document down. */
/* A namespace declaration in scope: its prefix (at off of the document as
 * written back, len bytes; 0 for the default namespace), the depth of the
 * element declaring it, and the operations' version it binds (1..4; 0:
 * another namespace). */
typedef struct guard__binding {
    size_t off, len;
    int depth;
    int version;
    bool platform; /* binds GUARD_PLATFORM_NS (the credentials' header elements) */
} guard__binding_t;

typedef struct guard__scan {
    char *b;
    size_t len, i, o;
    size_t bom;            /* bytes of the byte order mark (where a declaration may start) */
    bool cr;               /* a carriage return was seen (guard__chars) */
    int depth;             /* of the element whose start tag is read */
    guard__binding_t *ns;  /* the declarations in scope, innermost last */
    size_t nns, ns_cap;
    guard__binding_t *ops; /* every declaration of an operations' namespace (off: its 'v') */
    size_t nops, ops_cap;
    guard_result_t *r;
} guard__scan_t;

#define GUARD_NS_PREFIX "urn:v"
#define GUARD_NS_SUFFIX ".webservices.operations.flexnet.com"
#define GUARD_XML_NS "http://www.w3.org/XML/1998/namespace"
#define GUARD_PLATFORM_NS "urn:com.macrovision:flexnet/platform"

static guard_verdict_t guard__fail(guard__scan_t *s, guard_verdict_t v, const char *what)
{
    s->r->verdict = v;
    s->r->offset = s->i;
    s->r->what = what;
    return v;
}

/* Decodes the UTF-8 sequence at p (n bytes left) into *cp; returns its
 * length, or 0 if it is not UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t guard__utf8(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t k;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[j] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return k;
}

/* XML 1.0 Char. */
static bool guard__xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

/* First pass: every byte is UTF-8 and every character one XML allows. */
static guard_verdict_t guard__chars(guard__scan_t *s)
{
    const unsigned char *p = (const unsigned char *)s->b;
    for (size_t i = 0; i < s->len;) {
        uint32_t cp;
        if (p[i] >= 0x20 && p[i] < 0x80) { /* the common case */
            i++;
            continue;
        }
        if (p[i] == '\r')
            s->cr = true;
        size_t k = guard__utf8(p + i, s->len - i, &cp);
        s->i = i;
        if (k == 0)
            return guard__fail(s, GUARD_BAD_UTF8, "request is not valid UTF-8");
        if (!guard__xml_char(cp)) {
            s->r->code = cp;
            return guard__fail(s, GUARD_BAD_CHAR, "request contains a character XML does not allow");
        }
        i += k;
    }
    s->i = 0;
    return GUARD_OK;
}

/* Line ends as an XML parser reads them: CR LF and a lone CR become LF
 * (a character reference &#13; is not a line end and stays). */
static void guard__line_ends(guard__scan_t *s)
{
    size_t o = 0;
    for (size_t i = 0; i < s->len; i++) {
        char c = s->b[i];
        if (c == '\r') {
            if (i + 1 < s->len && s->b[i + 1] == '\n')
                continue;
            c = '\n';
        }
        s->b[o++] = c;
    }
    s->len = o;
}

static bool guard__at(const guard__scan_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len - s->i >= n && memcmp(s->b + s->i, lit, n) == 0;
}

static void guard__copy(guard__scan_t *s, size_t n)
{
    if (s->o != s->i)
        memmove(s->b + s->o, s->b + s->i, n);
    s->i += n;
    s->o += n;
}

static bool guard__space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void guard__spaces(guard__scan_t *s)
{
    size_t n = 0;
    while (s->i + n < s->len && guard__space(s->b[s->i + n]))
        n++;
    guard__copy(s, n);
}

/* Copies up to and including the terminator; fails when it never comes. */
static guard_verdict_t guard__until(guard__scan_t *s, const char *end, const char *what)
{
    size_t n = strlen(end);
    const char *hit = s->len - s->i >= n ? memmem(s->b + s->i, s->len - s->i, end, n) : NULL;
    if (hit == NULL)
        return guard__fail(s, GUARD_SYNTAX, what);
    guard__copy(s, (size_t)(hit - (s->b + s->i)) + n);
    return GUARD_OK;
}

/* A name (element or attribute): an XML name, with every character above
 * U+007F taken as a name character; its hash and length identify an
 * element's end tag. Returns 0 when there is none. */
static size_t guard__name(guard__scan_t *s, uint64_t *hash)
{
    uint64_t h = 1469598103934665603ULL;
    size_t n = 0;
    while (s->i + n < s->len) {
        unsigned char c = (unsigned char)s->b[s->i + n];
        bool start = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
        if (!start && (n == 0 || !((c >= '0' && c <= '9') || c == '-' || c == '.')))
            break;
        h = (h ^ c) * 1099511628211ULL;
        n++;
    }
    if (hash != NULL)
        *hash = h;
    guard__copy(s, n);
    return n;
}

/* Writes code point cp as UTF-8 into out; returns its length. */
static size_t guard__put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A reference at '&': one of the five predefined entities, or a character
 * reference to a character XML allows. gSOAP reads a character reference
 * wrongly when it is long (leading zeros: "&#0000065;") or names a
 * character above U+FFFF, so every character reference is rewritten, in
 * place and never longer, as the character itself in UTF-8 — or, for a
 * character that would be markup there, as its predefined entity. quote
 * is the quote of the attribute value being read, 0 in text. */
static guard_verdict_t guard__ref(guard__scan_t *s, char quote)
{
    const char *p = s->b + s->i, *end = s->b + s->len;
    /* Long enough for any reference, leading zeros included. */
    const char *semi = memchr(p, ';', (size_t)(end - p) < 48 ? (size_t)(end - p) : 48);
    if (semi == NULL)
        return guard__fail(s, GUARD_BAD_REF, "an '&' that does not start a reference (write &amp;)");
    size_t n = (size_t)(semi - p) + 1;
    if (p[1] != '#') {
        static const char *const known[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"};
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strlen(known[k]) == n && memcmp(p, known[k], n) == 0) {
                guard__copy(s, n);
                return GUARD_OK;
            }
        return guard__fail(s, GUARD_BAD_REF, "an undefined entity reference (only &lt; &gt; &amp; &quot; &apos;)");
    }
    bool hex = p[2] == 'x';
    const char *d = p + (hex ? 3 : 2);
    uint32_t cp = 0;
    if (d == semi)
        return guard__fail(s, GUARD_BAD_REF, "a malformed character reference");
    for (; d < semi; d++) {
        int v = *d >= '0' && *d <= '9'                       ? *d - '0'
                : hex && (*d | 0x20) >= 'a' && (*d | 0x20) <= 'f' ? (*d | 0x20) - 'a' + 10
                                                                : -1;
        if (v < 0)
            return guard__fail(s, GUARD_BAD_REF, "a malformed character reference");
        cp = cp * (hex ? 16u : 10u) + (uint32_t)v;
        if (cp > 0x10FFFF) {
            s->r->code = 0x110000; /* beyond: the digits read so far are not the number written */
            return guard__fail(s, GUARD_BAD_CHAR, "a character reference to a character XML does not allow");
        }
    }
    if (!guard__xml_char(cp)) {
        s->r->code = cp;
        return guard__fail(s, GUARD_BAD_CHAR, "a character reference to a character XML does not allow");
    }
    char out[8];
    size_t k;
    if (cp == '<' || cp == '&' || cp == '>') {
        /* "&#60;" is at least as long as "&lt;", "&#38;" as "&amp;". */
        const char *e = cp == '<' ? "&lt;" : cp == '&' ? "&amp;" : "&gt;";
        k = strlen(e);
        memcpy(out, e, k);
    } else if (cp == '\r') {
        /* Written as the character, it would be a line end to the parser
         * of an older version's rewriting (versions.c); every reference to
         * it is at least as long as this one. */
        k = 5;
        memcpy(out, "&#13;", k);
    } else if ((cp == '"' || cp == '\'') && (char)cp == quote) {
        /* The quote of the value: "&quot;" when it fits, else the short
         * reference as it came ("&#34;", which gSOAP reads right). */
        if (n < 6) {
            guard__copy(s, n);
            return GUARD_OK;
        }
        k = 6;
        memcpy(out, cp == '"' ? "&quot;" : "&apos;", k);
    } else {
        k = guard__put_utf8(out, cp); /* at most 4 bytes; a reference has at least 4 */
    }
    memcpy(s->b + s->o, out, k);
    s->o += k;
    s->i += n;
    return GUARD_OK;
}

/* Reads one pseudo-attribute of the XML declaration at *p ("name" = 'value'
 * or "value"), after the blank that must precede it; sets *v, *vn. */
static bool guard__decl_attr(const char **p, const char *end, const char *name, const char **v, size_t *vn)
{
    const char *q = *p;
    size_t n = strlen(name);
    if (q >= end || !guard__space(*q))
        return false;
    while (q < end && guard__space(*q))
        q++;
    if ((size_t)(end - q) < n || memcmp(q, name, n) != 0)
        return false;
    q += n;
    while (q < end && guard__space(*q))
        q++;
    if (q >= end || *q != '=')
        return false;
    q++;
    while (q < end && guard__space(*q))
        q++;
    if (q >= end || (*q != '"' && *q != '\''))
        return false;
    const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
    if (close == NULL)
        return false;
    *v = q + 1;
    *vn = (size_t)(close - q - 1);
    *p = close + 1;
    return true;
}

/* Whether the XML declaration decl (n bytes, "<?xml" to "?>") follows the
 * grammar — version, then optionally encoding, then optionally standalone,
 * each once — and names UTF-8 or its subset US-ASCII if any encoding. The
 * guard checks UTF-8, and gSOAP would decode another declared encoding its
 * own way; a loose reading could find "encoding" where gSOAP does not. */
static bool guard__declaration_ok(const char *decl, size_t n)
{
    static const char *const ok[] = {"UTF-8", "UTF8", "US-ASCII", "ASCII"};
    const char *p = decl + 5, *end = decl + n - 2, *v;
    size_t vn;
    if (!guard__decl_attr(&p, end, "version", &v, &vn) || vn != 3 || memcmp(v, "1.", 2) != 0)
        return false;
    const char *save = p;
    if (guard__decl_attr(&p, end, "encoding", &v, &vn)) {
        bool utf8 = false;
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
            utf8 = utf8 || (vn == strlen(ok[i]) && strncasecmp(v, ok[i], vn) == 0);
        if (!utf8)
            return false;
        save = p;
    }
    p = save;
    if (guard__decl_attr(&p, end, "standalone", &v, &vn)) {
        if (!((vn == 3 && memcmp(v, "yes", 3) == 0) || (vn == 2 && memcmp(v, "no", 2) == 0)))
            return false;
        save = p;
    }
    for (p = save; p < end; p++)
        if (!guard__space(*p))
            return false;
    return true;
}

bool guard_declaration_from_utf16(char *xml, size_t *len)
{
    static const char *const utf16[] = {"UTF-16", "UTF16", "UTF-16LE", "UTF-16BE"};
    const char *v;
    size_t vn;
    /* (A declaration that does not read is guard_check's to refuse.) */
    if (!guard_declared_encoding(xml, *len, &v, &vn))
        return true;
    bool ok = false;
    for (size_t i = 0; i < sizeof utf16 / sizeof utf16[0]; i++)
        ok = ok || (vn == strlen(utf16[i]) && strncasecmp(v, utf16[i], vn) == 0);
    /* Every UTF-16 label is longer than "UTF-8": it fits in place. */
    return ok && guard_relabel_utf8(xml, len, *len, v, vn);
}

bool guard_declared_encoding(const char *xml, size_t len, const char **v, size_t *vn)
{
    const char *end = len >= 5 && memcmp(xml, "<?xml", 5) == 0 ? memmem(xml, len, "?>", 2) : NULL;
    const char *p = xml + 5, *ver;
    size_t vern;
    return end != NULL && guard__decl_attr(&p, end, "version", &ver, &vern) &&
           guard__decl_attr(&p, end, "encoding", v, vn);
}

bool guard_relabel_utf8(char *xml, size_t *len, size_t cap, const char *v, size_t vn)
{
    size_t at = (size_t)(v - xml), after = *len - at - vn;
    if (*len - vn + 5 > cap)
        return false;
    memmove(xml + at + 5, xml + at + vn, after);
    memcpy(xml + at, "UTF-8", 5);
    *len = *len - vn + 5;
    return true;
}

/* A processing instruction at "<?": it ends at the first '?', which must
 * be followed by '>' (gSOAP ends it at that '?' whatever follows). */
static guard_verdict_t guard__pi(guard__scan_t *s)
{
    const char *p = s->b + s->i + 2, *end = s->b + s->len;
    const char *q = memchr(p, '?', (size_t)(end - p));
    if (q == NULL || q + 1 >= end)
        return guard__fail(s, GUARD_SYNTAX, "an unterminated processing instruction");
    if (q[1] != '>')
        return guard__fail(s, GUARD_SYNTAX, "a '?' inside a processing instruction");
    size_t n = (size_t)(q + 2 - (s->b + s->i));
    if (n >= 7 && strncasecmp(s->b + s->i, "<?xml", 5) == 0 &&
        (guard__space(s->b[s->i + 5]) || s->b[s->i + 5] == '?')) {
        if (strncmp(s->b + s->i, "<?xml", 5) != 0 || s->i != s->bom)
            return guard__fail(s, GUARD_SYNTAX, "an XML declaration that is not at the start (or not lowercase)");
        if (!guard__declaration_ok(s->b + s->i, n))
            return guard__fail(s, GUARD_ENCODING, "the XML declaration must be version, then optionally encoding "
                                                  "(UTF-8, or UTF-16 when the text is UTF-16) and standalone");
    }
    guard__copy(s, n);
    return GUARD_OK;
}

/* A comment at "<!--": "--" may appear only in the closing "-->" (the XML
 * grammar; gSOAP ends the comment at the first "--"). */
static guard_verdict_t guard__comment(guard__scan_t *s)
{
    const char *p = s->b + s->i + 4, *end = s->b + s->len;
    /* "<!-->" and "<!--->" open valid comments that gSOAP takes for whole
     * ones: refused, rather than read two ways. */
    if (p < end && (*p == '>' || (*p == '-' && p + 1 < end && p[1] == '>')))
        return guard__fail(s, GUARD_SYNTAX, "a comment that starts with '>' or '->'");
    const char *d = end - p >= 2 ? memmem(p, (size_t)(end - p), "--", 2) : NULL;
    if (d == NULL || d + 2 >= end)
        return guard__fail(s, GUARD_SYNTAX, "an unterminated comment");
    if (d[2] != '>')
        return guard__fail(s, GUARD_SYNTAX, "'--' inside a comment");
    guard__copy(s, (size_t)(d + 3 - (s->b + s->i)));
    return GUARD_OK;
}

static guard_verdict_t guard__misc(guard__scan_t *s, bool *took)
{
    *took = true;
    if (guard__at(s, "<?"))
        return guard__pi(s);
    if (guard__at(s, "<!--"))
        return guard__comment(s);
    if (guard__at(s, "<!")) {
        char c = s->len - s->i > 2 ? (char)(s->b[s->i + 2] | 0x20) : 0;
        if (c >= 'a' && c <= 'z')
            return guard__fail(s, GUARD_DTD, "DTDs are not allowed: the request contains a <!DOCTYPE> or "
                                             "other declaration");
        if (!guard__at(s, "<![CDATA["))
            return guard__fail(s, GUARD_SYNTAX, "a malformed '<!' construct");
    }
    *took = false;
    return GUARD_OK;
}

/* Refuses xsi:nil (any prefix: "p:nil") and the SOAP-encoding reference
 * attributes id, href and ref (with or without a prefix); namespace
 * declarations (xmlns, xmlns:p) are not attributes of the contract's. */
static guard_verdict_t guard__attribute_refused(guard__scan_t *s, const char *name, size_t n)
{
    if ((n == 5 || (n > 5 && name[5] == ':')) && memcmp(name, "xmlns", 5) == 0)
        return GUARD_OK;
    const char *colon = memchr(name, ':', n);
    const char *local = colon ? colon + 1 : name;
    size_t ln = n - (size_t)(local - name);
    if (colon != NULL && ln == 3 && memcmp(local, "nil", 3) == 0)
        return guard__fail(s, GUARD_NIL, "xsi:nil is not accepted: no element of this service is nillable");
    if ((ln == 2 && memcmp(local, "id", 2) == 0) || (ln == 4 && memcmp(local, "href", 4) == 0) ||
        (ln == 3 && memcmp(local, "ref", 3) == 0))
        return guard__fail(s, GUARD_REFERENCE, "SOAP-encoding references (id, href and ref attributes) are not "
                                               "accepted");
    return GUARD_OK;
}

/* Appends b to the array *a (*n of *cap); false out of memory. */
static bool guard__push(guard__binding_t **a, size_t *n, size_t *cap, guard__binding_t b)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        guard__binding_t *p = realloc(*a, c * sizeof *p);
        if (p == NULL)
            return false;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = b;
    return true;
}

/* A namespace declaration (name, n bytes) of value v (vn bytes, as
 * written back): refuses the xml and xmlns prefixes bound anew, and any
 * namespace gSOAP would take for the operations' (urn:v*.webservices.
 * operations.flexnet.com in any case) but urn:v1..v4 exactly; notes
 * which of those it is. */
static guard_verdict_t guard__declaration(guard__scan_t *s, const char *name, size_t n, const char *v, size_t vn)
{
    if (n < 5 || memcmp(name, "xmlns", 5) != 0 || (n > 5 && name[5] != ':'))
        return GUARD_OK;
    if ((n == 11 && memcmp(name, "xmlns:xmlns", 11) == 0) ||
        (n == 9 && memcmp(name, "xmlns:xml", 9) == 0 &&
         (vn != strlen(GUARD_XML_NS) || memcmp(v, GUARD_XML_NS, vn) != 0)))
        return guard__fail(s, GUARD_SYNTAX, "the prefixes xml and xmlns cannot be declared");
    size_t pl = strlen(GUARD_NS_PREFIX), sl = strlen(GUARD_NS_SUFFIX);
    int version = 0;
    if (vn >= pl + sl && strncasecmp(v, GUARD_NS_PREFIX, pl) == 0 &&
        strncasecmp(v + vn - sl, GUARD_NS_SUFFIX, sl) == 0) {
        version = vn == pl + sl + 1 && v[pl] >= '1' && v[pl] <= '4' && memcmp(v, GUARD_NS_PREFIX, pl) == 0 &&
                          memcmp(v + vn - sl, GUARD_NS_SUFFIX, sl) == 0
                      ? v[pl] - '0'
                      : 0;
        if (version == 0)
            return guard__fail(s, GUARD_NAMESPACE, "wrong namespace: the operations are in "
                                                   "urn:vN.webservices.operations.flexnet.com (N = 1..4)");
    }
    /* In scope until the element ends: which version an element is in is
     * that of the declaration of its prefix (a declaration no element uses
     * says nothing, as gSOAP clients declare every namespace they know). */
    bool platform = vn == strlen(GUARD_PLATFORM_NS) && memcmp(v, GUARD_PLATFORM_NS, vn) == 0;
    guard__binding_t b = {(size_t)(name - s->b) + (n > 5 ? 6 : 5), n > 5 ? n - 6 : 0, s->depth, version, platform};
    if (!guard__push(&s->ns, &s->nns, &s->ns_cap, b))
        return guard__fail(s, GUARD_SYNTAX, "out of memory while checking the XML");
    b.off = (size_t)(v - s->b) + pl - 1;
    if (version > 0 && !guard__push(&s->ops, &s->nops, &s->ops_cap, b))
        return guard__fail(s, GUARD_SYNTAX, "out of memory while checking the XML");
    return GUARD_OK;
}

/* Hides the declarations of the operations' namespaces other than the
 * version of the operation element, when no element is in them: gSOAP
 * takes the first declaration of any urn:vN for the operations' and every
 * other one for an unknown namespace, so a v4 request declaring urn:v1
 * first was read as v1's, and a v2 request's element was not found. The
 * 'v' of each becomes an 'x' (urn:x1.webservices...), in place. */
static void guard__hide_unused(guard__scan_t *s)
{
    if (s->r->ns_mixed || s->r->ns_version == 0)
        return;
    for (size_t k = 0; k < s->nops; k++)
        if (s->ops[k].version != s->r->ns_version)
            s->b[s->ops[k].off] = 'x';
}

/* The declaration in scope of the prefix of the element named name (n
 * bytes, as written back), or NULL. */
static const guard__binding_t *guard__binding_of(const guard__scan_t *s, const char *name, size_t n)
{
    const char *colon = memchr(name, ':', n);
    size_t pn = colon ? (size_t)(colon - name) : 0;
    for (size_t k = s->nns; k-- > 0;)
        if (s->ns[k].len == pn && memcmp(s->b + s->ns[k].off, name, pn) == 0)
            return &s->ns[k];
    return NULL;
}

/* The operations' version (1..4) of the element named name (n bytes, as
 * written back), by its prefix's declaration in scope; 0 for another
 * namespace or none. */
static int guard__version_of(const guard__scan_t *s, const char *name, size_t n)
{
    const guard__binding_t *b = guard__binding_of(s, name, n);
    return b != NULL ? b->version : 0;
}

/* Which of the credentials' header elements (UserId 1, UserPassword 2)
 * the element named name (n bytes, as written back) is, by its prefix's
 * declaration in scope; 0 for any other. */
static unsigned guard__credential(const guard__scan_t *s, const char *name, size_t n)
{
    const char *colon = memchr(name, ':', n);
    const char *local = colon ? colon + 1 : name;
    size_t ln = n - (size_t)(local - name);
    unsigned which = ln == 6 && memcmp(local, "UserId", 6) == 0         ? 1u
                     : ln == 12 && memcmp(local, "UserPassword", 12) == 0 ? 2u
                                                                         : 0u;
    const guard__binding_t *b = which != 0 ? guard__binding_of(s, name, n) : NULL;
    return b != NULL && b->platform ? which : 0;
}

/* Ends the scope of the declarations of the element at depth. */
static void guard__end_scope(guard__scan_t *s, int depth)
{
    while (s->nns > 0 && s->ns[s->nns - 1].depth >= depth)
        s->nns--;
}

/* A start tag at '<' (not '</', '<!', '<?'). Sets *empty for "<x/>". */
static guard_verdict_t guard__start_tag(guard__scan_t *s, uint64_t *hash, size_t *hlen, bool *empty)
{
    /* Where each attribute's name was written back, to find one given twice. */
    size_t names[GUARD_MAX_ATTRIBUTES], lens[GUARD_MAX_ATTRIBUTES];
    guard__copy(s, 1);
    if ((*hlen = guard__name(s, hash)) == 0)
        return guard__fail(s, GUARD_SYNTAX, "a '<' that does not start an element");
    for (int attrs = 0;;) {
        size_t before = s->i;
        guard__spaces(s);
        if (s->i >= s->len)
            return guard__fail(s, GUARD_SYNTAX, "the XML ends inside a start tag");
        if (s->b[s->i] == '>') {
            guard__copy(s, 1);
            *empty = false;
            return GUARD_OK;
        }
        if (guard__at(s, "/>")) {
            guard__copy(s, 2);
            *empty = true;
            return GUARD_OK;
        }
        if (s->i == before)
            return guard__fail(s, GUARD_SYNTAX, "attributes not separated by a blank");
        size_t at = s->o, an = guard__name(s, NULL);
        if (an == 0)
            return guard__fail(s, GUARD_SYNTAX, "a malformed attribute");
        if (guard__attribute_refused(s, s->b + at, an) != GUARD_OK)
            return s->r->verdict;
        if (attrs >= GUARD_MAX_ATTRIBUTES)
            return guard__fail(s, GUARD_ATTRIBUTES, "an element has too many attributes");
        for (int k = 0; k < attrs; k++)
            if (lens[k] == an && memcmp(s->b + names[k], s->b + at, an) == 0)
                return guard__fail(s, GUARD_SYNTAX, "an attribute given twice in one element");
        names[attrs] = at;
        lens[attrs++] = an;
        guard__spaces(s);
        if (s->i >= s->len || s->b[s->i] != '=')
            return guard__fail(s, GUARD_SYNTAX, "an attribute without '='");
        guard__copy(s, 1);
        guard__spaces(s);
        char q = s->i < s->len ? s->b[s->i] : 0;
        if (q != '"' && q != '\'')
            return guard__fail(s, GUARD_SYNTAX, "an attribute value without quotes");
        guard__copy(s, 1);
        size_t value_at = s->o;
        for (;;) {
            if (s->i >= s->len)
                return guard__fail(s, GUARD_SYNTAX, "an unterminated attribute value");
            char c = s->b[s->i];
            if (c == q) {
                if (guard__declaration(s, s->b + at, an, s->b + value_at, s->o - value_at) != GUARD_OK)
                    return s->r->verdict;
                guard__copy(s, 1);
                break;
            }
            if (c == '<')
                return guard__fail(s, GUARD_SYNTAX, "a '<' inside an attribute value");
            if (c == '&') {
                if (guard__ref(s, q) != GUARD_OK)
                    return s->r->verdict;
            } else {
                guard__copy(s, 1);
            }
        }
    }
}

/* What an open element has held so far. */
#define GUARD__TEXT 1  /* text other than blanks: characters, references, CDATA */
#define GUARD__CHILD 2 /* an element */

/* Notes that the element open at depth holds what (GUARD__TEXT or
 * GUARD__CHILD); refuses an element holding both. No type of the contract
 * has mixed content, and gSOAP reads an element inside a string's text as
 * more text ("a<x>b</x>c" stored as it stands). */
static guard_verdict_t guard__held(guard__scan_t *s, unsigned char *held, int depth, unsigned char what)
{
    if (depth == 0)
        return GUARD_OK;
    held[depth - 1] |= what;
    if (held[depth - 1] == (GUARD__TEXT | GUARD__CHILD))
        return guard__fail(s, GUARD_MIXED, "an element holds both text and elements (no element of the "
                                           "contract has mixed content)");
    return GUARD_OK;
}

/* The last child element seen under one open element (or the document),
 * and how many of that name came in a row. */
typedef struct guard__run {
    size_t at, len; /* its qualified name in the checked document */
    uint64_t hash;
    size_t count;   /* 0: no child yet */
} guard__run_t;

/* Nesting depths up to this are checked without allocating (the default
 * ENTITLEMENTD_MAX_DEPTH is 64). */
#define GUARD__STACK_DEPTH 64

/* The element whose name was just written at name_at (n bytes, hash h)
 * follows the siblings of *run: counts it, and fails once more than
 * max_occurs of one name come in a row. gSOAP counts only the arrays it
 * reads: elements it skips (a Header entry no one understands, and what
 * is inside it) are counted here. */
static guard_verdict_t guard__occurs(guard__scan_t *s, guard__run_t *run, size_t name_at, size_t n, uint64_t h,
                                     int max_occurs)
{
    if (run->count > 0 && run->hash == h && run->len == n && memcmp(s->b + run->at, s->b + name_at, n) == 0) {
        if (max_occurs > 0 && ++run->count > (size_t)max_occurs) {
            s->r->name_offset = name_at;
            s->r->name_len = n;
            return guard__fail(s, GUARD_OCCURS, "an element is repeated more than the limit allows");
        }
        return GUARD_OK;
    }
    run->at = name_at;
    run->len = n;
    run->hash = h;
    run->count = 1;
    return GUARD_OK;
}

guard_verdict_t guard_check(char *xml, size_t *len, int max_depth, int max_occurs, guard_result_t *r)
{
    guard__scan_t s = {.b = xml, .len = *len, .r = r};
    uint64_t *hashes = NULL;
    size_t *lens = NULL;
    guard__run_t *runs = NULL; /* per level: the children of the element open there (runs[0]: the document's) */
    unsigned char *held = NULL; /* per open element: GUARD__TEXT, GUARD__CHILD */
    int depth = 0;
    unsigned used = 0; /* the versions of the elements (bit k: version k) */
    unsigned credentials = 0; /* the credentials' header elements seen (guard__credential's bits) */
    bool took, in_body = false, in_header = false;

    r->verdict = GUARD_OK;
    r->offset = 0;
    r->what = NULL;
    r->code = 0;
    r->op_offset = r->op_len = 0;
    r->ns_version = 0;
    r->ns_mixed = false;
    r->text_lt = false;
    r->name_offset = r->name_len = 0;
    if (guard__chars(&s) != GUARD_OK)
        return r->verdict;
    if (s.cr)
        guard__line_ends(&s);
    if (max_depth < 1)
        max_depth = 1;
    /* The default depth's arrays live on the stack: four allocations per
     * request fewer, one of them large enough (runs) to make malloc
     * consolidate its free lists each time. */
    uint64_t hashes_st[GUARD__STACK_DEPTH];
    size_t lens_st[GUARD__STACK_DEPTH];
    unsigned char held_st[GUARD__STACK_DEPTH];
    guard__run_t runs_st[GUARD__STACK_DEPTH + 1];
    const bool heap = max_depth > GUARD__STACK_DEPTH;
    hashes = heap ? malloc((size_t)max_depth * sizeof *hashes) : hashes_st;
    lens = heap ? malloc((size_t)max_depth * sizeof *lens) : lens_st;
    held = heap ? malloc((size_t)max_depth) : held_st;
    runs = heap ? malloc(((size_t)max_depth + 1) * sizeof *runs) : runs_st;
    if (hashes == NULL || lens == NULL || held == NULL || runs == NULL) {
        guard__fail(&s, GUARD_SYNTAX, "out of memory while checking the XML");
        goto out;
    }
    runs[0].count = 0;
    if (guard__at(&s, "\xEF\xBB\xBF")) { /* a byte order mark */
        guard__copy(&s, 3);
        s.bom = 3;
    }
    /* Prolog: declarations, comments, processing instructions, blanks. */
    for (;;) {
        guard__spaces(&s);
        if (s.i >= s.len) {
            guard__fail(&s, GUARD_SYNTAX, "not an XML SOAP envelope: no element");
            goto out;
        }
        if (guard__misc(&s, &took) != GUARD_OK)
            goto out;
        if (took)
            continue;
        if (s.b[s.i] != '<' || guard__at(&s, "<![CDATA[")) {
            guard__fail(&s, GUARD_SYNTAX, "not an XML SOAP envelope: text before the first element");
            goto out;
        }
        break;
    }
    /* The elements. */
    while (s.i < s.len) {
        char c = s.b[s.i];
        if (c == '&') {
            size_t at = s.o;
            if (guard__held(&s, held, depth, GUARD__TEXT) != GUARD_OK || guard__ref(&s, 0) != GUARD_OK)
                goto out;
            /* (guard__ref writes every reference to '<' as "&lt;".) */
            if (s.o - at == 4 && memcmp(s.b + at, "&lt;", 4) == 0)
                r->text_lt = true;
            continue;
        }
        if (c != '<') {
            if (c == ']' && guard__at(&s, "]]>")) {
                guard__fail(&s, GUARD_SYNTAX, "']]>' in text (write ]]&gt;)");
                goto out;
            }
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
                guard__held(&s, held, depth, GUARD__TEXT) != GUARD_OK)
                goto out;
            guard__copy(&s, 1);
            continue;
        }
        if (guard__at(&s, "</")) {
            uint64_t h;
            guard__copy(&s, 2);
            size_t n = guard__name(&s, &h);
            guard__spaces(&s);
            if (n == 0 || s.i >= s.len || s.b[s.i] != '>' || depth == 0 || hashes[depth - 1] != h ||
                lens[depth - 1] != n) {
                guard__fail(&s, GUARD_SYNTAX, "an end tag that does not match its start tag");
                goto out;
            }
            guard__copy(&s, 1);
            guard__end_scope(&s, --depth);
            if (depth == 0)
                break;
            if (depth == 1)
                in_body = in_header = false;
            continue;
        }
        if (guard__at(&s, "<![CDATA[")) {
            size_t at = s.o + 9;
            if (depth == 0 || guard__held(&s, held, depth, GUARD__TEXT) != GUARD_OK ||
                guard__until(&s, "]]>", "an unterminated CDATA section") != GUARD_OK) {
                if (depth == 0)
                    guard__fail(&s, GUARD_SYNTAX, "content before the root element");
                goto out;
            }
            if (s.o > at && memchr(s.b + at, '<', s.o - at) != NULL)
                r->text_lt = true;
            continue;
        }
        if (guard__misc(&s, &took) != GUARD_OK)
            goto out;
        if (took)
            continue;
        uint64_t h;
        size_t n;
        bool empty = false;
        if (depth >= max_depth) {
            guard__fail(&s, GUARD_DEPTH, "XML nesting too deep");
            goto out;
        }
        size_t name_at = s.o + 1; /* where the name is written */
        s.depth = depth;
        if (guard__held(&s, held, depth, GUARD__CHILD) != GUARD_OK ||
            guard__start_tag(&s, &h, &n, &empty) != GUARD_OK)
            goto out;
        if (guard__occurs(&s, &runs[depth], name_at, n, h, max_occurs) != GUARD_OK)
            goto out;
        int version = guard__version_of(&s, s.b + name_at, n);
        if (version > 0)
            used |= 1u << version;
        if (depth == 2 && in_body && r->op_len == 0) {
            r->op_offset = name_at;
            r->op_len = n;
            r->ns_version = version;
        } else if (depth == 2 && in_header) {
            /* gSOAP keeps the first of two and ignores the other: which
             * credentials were meant is not for us to guess. */
            unsigned which = guard__credential(&s, s.b + name_at, n);
            if (which & credentials) {
                guard__fail(&s, GUARD_SYNTAX, which == 1 ? "the SOAP header holds UserId more than once"
                                                         : "the SOAP header holds UserPassword more than once");
                goto out;
            }
            credentials |= which;
        } else if (depth == 1 && !empty) {
            const char *local = memchr(s.b + name_at, ':', n);
            local = local ? local + 1 : s.b + name_at;
            size_t ln = (size_t)(s.b + name_at + n - local);
            in_body = ln == 4 && memcmp(local, "Body", 4) == 0;
            in_header = ln == 6 && memcmp(local, "Header", 6) == 0;
        }
        if (!empty) {
            hashes[depth] = h;
            lens[depth] = n;
            held[depth] = 0;
            depth++;
            runs[depth].count = 0;
        } else {
            guard__end_scope(&s, depth);
            if (depth == 0)
                break; /* the root element is empty */
        }
    }
    /* Elements of two versions (bit k: version k). */
    r->ns_mixed = (used & (used - 1)) != 0;
    guard__hide_unused(&s);
    if (depth > 0 || s.i > s.len) {
        guard__fail(&s, GUARD_SYNTAX, "the XML ends before the root element is closed");
        goto out;
    }
    /* Epilog: only blanks, comments and processing instructions. */
    for (;;) {
        guard__spaces(&s);
        if (s.i >= s.len)
            break;
        if (guard__misc(&s, &took) != GUARD_OK)
            goto out;
        if (!took) {
            guard__fail(&s, GUARD_TRAILING, "content after the end of the SOAP envelope");
            goto out;
        }
    }
    *len = s.o;
out:
    free(s.ns);
    free(s.ops);
    if (heap) {
        free(hashes);
        free(lens);
        free(held);
        free(runs);
    }
    return r->verdict;
}
