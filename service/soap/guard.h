/*
 * guard.h - checks on the whole body of a request, before gSOAP parses it.
 *
 * gSOAP is lenient where the contract is not: it skips a <!DOCTYPE>, turns
 * undefined entities into U+007F and character references of characters
 * XML forbids (&#0;, &#1;, &#xFFFE;) into those characters, stores
 * references above U+FFFF with a stray ';', accepts content after the root
 * element, does not check UTF-8, does not apply its depth limit inside the
 * SOAP Header, and takes time quadratic in the number of attributes of an
 * element. The guard reads the body once (it is all in memory: see frame.h)
 * and refuses all of that with a precise verdict. gSOAP also misreads long
 * character references (leading zeros) and those above U+FFFF: the guard
 * rewrites every character reference in place as UTF-8 (or a predefined
 * entity where the character would be markup, and "&#13;" for a carriage
 * return, which a parser would take for a line end), which gSOAP reads
 * right.
 *
 * gSOAP also honours what a document/literal contract has no use for: it
 * takes xsi:nil on any element (on the operation element it hands the
 * handler no request at all) and resolves SOAP-encoding references (id,
 * href, ref) into shared structures. No element of ours is nillable and
 * no FlexNet client sends references, so the guard refuses both, by the
 * attribute's local name under any prefix (namespace declarations aside).
 *
 * gSOAP takes any namespace of the form urn:v*.webservices.operations.
 * flexnet.com (in any case) for the operations' own: the guard refuses
 * every declaration of that form but the four versions, and says which
 * version the operation element is in and whether elements of two versions
 * are used (the front refuses that on the v4 path; the older versions'
 * rewriting names the element in the other one). gSOAP also takes the
 * first of several such declarations for the operations' namespace and the
 * others for unknown ones, though a client may declare all four and use
 * one: the guard hides the declarations of the versions no element is in
 * (urn:v1... becomes urn:x1..., in place). It also reads some documents the XML grammar does not
 * allow (attributes not separated by blanks, an attribute twice, "]]>" in
 * text, the xml and xmlns prefixes bound anew), and keeps carriage returns
 * that an XML parser turns into line feeds: the guard refuses the former
 * and normalises line ends (XML 1.0, 2.11) in place, so that a value is
 * stored the same whichever version's endpoint it came through.
 *
 * Where gSOAP and the XML grammar end a construct differently (gSOAP ends a
 * comment at the first "--" and a processing instruction at the first "?"),
 * the guard refuses what the grammar refuses, so that the two never read a
 * document differently.
 */
#ifndef ENT_SOAP_GUARD_H
#define ENT_SOAP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Attributes (namespace declarations included) one element may carry. A
 * SOAP envelope needs a handful; gSOAP's cost grows with their square. */
#define GUARD_MAX_ATTRIBUTES 64

typedef enum guard_verdict {
    GUARD_OK,         /* well-formed within the limits */
    GUARD_DTD,        /* a <!DOCTYPE>, <!ENTITY> or other declaration */
    GUARD_BAD_UTF8,   /* bytes that are not UTF-8 */
    GUARD_BAD_CHAR,   /* a character XML does not allow, raw or as a reference */
    GUARD_BAD_REF,    /* an undefined entity or a malformed reference */
    GUARD_DEPTH,      /* elements nested deeper than the limit */
    GUARD_ATTRIBUTES, /* an element with more than GUARD_MAX_ATTRIBUTES attributes */
    GUARD_SYNTAX,     /* not well-formed (tags, names, quotes, comments, unterminated constructs) */
    GUARD_ENCODING,   /* an XML declaration naming an encoding other than UTF-8 */
    GUARD_TRAILING,   /* content after the root element */
    GUARD_NIL,        /* an xsi:nil attribute: no element of the contract is nillable */
    GUARD_REFERENCE,  /* a SOAP-encoding id, href or ref attribute */
    GUARD_NAMESPACE,  /* a namespace of the operations' form that is not one of urn:v1..v4 */
    GUARD_MIXED,      /* an element holding both text and elements */
    GUARD_OCCURS      /* more than the limit of elements of one name in a row, anywhere (the Header too) */
} guard_verdict_t;

typedef struct guard_result {
    guard_verdict_t verdict;
    size_t offset;     /* byte of the body where it went wrong */
    const char *what;  /* static text for the fault */
    unsigned long code; /* GUARD_BAD_CHAR: the character refused */
    /* GUARD_OK: the operation element, the first element in the root's
     * child named Body (any prefix), as its qualified name at op_offset of
     * the checked document, op_len bytes; op_len is 0 when there is none. */
    size_t op_offset, op_len;
    /* GUARD_OK: N of the operation element's namespace, urn:vN.webservices.
     * operations.flexnet.com (1..4; 0: none or another), and whether some
     * elements are in another version's (declarations alone count for
     * nothing: a gSOAP client declares every namespace it knows). */
    int ns_version;
    bool ns_mixed;
    /* GUARD_OK: whether the text of some element holds a '<' (written
     * "&lt;", as a character reference, or in CDATA). Without one, a '<'
     * in a value gSOAP read is an element it took for text (see
     * GUARD_MIXED). */
    bool text_lt;
    /* GUARD_OCCURS: the repeated element's qualified name, as written, at
     * name_offset of the checked document, name_len bytes. */
    size_t name_offset, name_len;
} guard_result_t;

/* Checks the XML document in xml[0, *len) with nesting at most max_depth
 * and at most max_occurs elements of one name in a row under one parent
 * (0: no such limit). Rewrites references to characters above U+FFFF as
 * UTF-8, in place, and updates *len. Returns the verdict, also in r. */
guard_verdict_t guard_check(char *xml, size_t *len, int max_depth, int max_occurs, guard_result_t *r);

/* For a document read as UTF-16 and now UTF-8 in xml[0, *len): the
 * encoding its XML declaration names, if it names one, is rewritten as
 * UTF-8 in place (*len updated), so that guard_check and every parser after
 * it read the text as what it now is. False when the declaration names an
 * encoding other than UTF-16. */
bool guard_declaration_from_utf16(char *xml, size_t *len);

/* The encoding label the XML declaration at the very start of xml (len
 * bytes) names: *v (inside xml), *vn bytes. False when there is no
 * declaration there, or it names none. */
bool guard_declared_encoding(const char *xml, size_t len, const char **v, size_t *vn);

/* Rewrites the label at v (vn bytes, inside xml[0, *len): as
 * guard_declared_encoding found it) as UTF-8, in place; xml has room for
 * cap bytes. *len is updated. False when it does not fit. */
bool guard_relabel_utf8(char *xml, size_t *len, size_t cap, const char *v, size_t vn);

#endif
