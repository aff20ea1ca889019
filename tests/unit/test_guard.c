/* soap/guard: the checks on a whole request body before gSOAP reads it. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "soap/guard.h"

/* Checks a copy of doc; the rewritten document goes to out (if given). */
static guard_verdict_t check_doc(const char *doc, int depth, char *out, size_t outcap)
{
    size_t n = strlen(doc);
    char *b = malloc(n + 1);
    guard_result_t r;
    memcpy(b, doc, n + 1);
    guard_verdict_t v = guard_check(b, &n, depth, 0, &r);
    if (out != NULL) {
        size_t k = n < outcap - 1 ? n : outcap - 1;
        memcpy(out, b, k);
        out[k] = '\0';
    }
    free(b);
    return v;
}

static guard_verdict_t check(const char *doc)
{
    return check_doc(doc, 64, NULL, 0);
}

static void test_plain(void)
{
    CHECK_EQ_INT(check("<?xml version=\"1.0\"?><a>caf\xc3\xa9</a>"), GUARD_OK);
    CHECK_EQ_INT(check("\xEF\xBB\xBF<a x='1' y=\"&lt;&amp;\"><c>t<!-- c --><![CDATA[<&>]]></c>\n <b/><?pi x?></a>\n"),
                 GUARD_OK);
    CHECK_EQ_INT(check("<!-- before --><s:E xmlns:s='u'><s:B></s:B ></s:E><!-- after -->  "), GUARD_OK);
    CHECK_EQ_INT(check("<a/>"), GUARD_OK);
}

static void test_mixed_content(void)
{
    /* Text and elements in one element: refused whichever comes first, the
     * text as characters, a reference or CDATA; blanks and comments are
     * not text. */
    CHECK_EQ_INT(check("<a><d>a<x>inner</x>b</d></a>"), GUARD_MIXED);
    CHECK_EQ_INT(check("<a><d><x/>b</d></a>"), GUARD_MIXED);
    CHECK_EQ_INT(check("<a><d>&amp;<x/></d></a>"), GUARD_MIXED);
    CHECK_EQ_INT(check("<a><d><x/><![CDATA[ ]]></d></a>"), GUARD_MIXED);
    CHECK_EQ_INT(check("<a>S<b/></a>"), GUARD_MIXED);
    CHECK_EQ_INT(check("<a>\r\n\t <b> x </b> <!-- note --> <c/>\n</a>"), GUARD_OK);
    CHECK_EQ_INT(check("<a><b>x<!-- c -->y<?p?>z</b></a>"), GUARD_OK);
}

static void test_dtd(void)
{
    CHECK_EQ_INT(check("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"), GUARD_DTD);
    CHECK_EQ_INT(check("<a><!ENTITY x \"y\"></a>"), GUARD_DTD);
    CHECK_EQ_INT(check("<!doctype a><a/>"), GUARD_DTD);
}

static void test_utf8_and_chars(void)
{
    CHECK_EQ_INT(check("<a>\xff</a>"), GUARD_BAD_UTF8);
    CHECK_EQ_INT(check("<a>\xc0\xaf</a>"), GUARD_BAD_UTF8);         /* overlong */
    CHECK_EQ_INT(check("<a>\xed\xa0\x80</a>"), GUARD_BAD_UTF8);     /* surrogate */
    CHECK_EQ_INT(check("<a>\xf4\x90\x80\x80</a>"), GUARD_BAD_UTF8); /* > U+10FFFF */
    CHECK_EQ_INT(check("<a>\xe2\x82"), GUARD_BAD_UTF8);             /* truncated */
    CHECK_EQ_INT(check("<a>\xe2\x82\xac\xf0\x9f\x98\x80</a>"), GUARD_OK);
    CHECK_EQ_INT(check("<a>\x01</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>\xef\xbf\xbe</a>"), GUARD_BAD_CHAR); /* U+FFFE */
    CHECK_EQ_INT(check("<a>\t\r\n</a>"), GUARD_OK);
}

static void test_references(void)
{
    char out[64];
    CHECK_EQ_INT(check("<a>&#0;</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>&#1;</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>&#xFFFE;</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>&#xD800;</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>&#x110000;</a>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a x='&#2;'/>"), GUARD_BAD_CHAR);
    CHECK_EQ_INT(check("<a>&foo;</a>"), GUARD_BAD_REF);
    CHECK_EQ_INT(check("<a>&#xZZ;</a>"), GUARD_BAD_REF);
    CHECK_EQ_INT(check("<a>a & b</a>"), GUARD_BAD_REF);
    CHECK_EQ_INT(check_doc("<a>&#65;&#x20AC;&quot;</a>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a>A\xe2\x82\xac&quot;</a>");
    /* Above U+FFFF: rewritten as UTF-8, in text and in attributes. */
    CHECK_EQ_INT(check_doc("<a x='&#x1F600;'>E&#128512;;</a>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a x='\xf0\x9f\x98\x80'>E\xf0\x9f\x98\x80;</a>");
    /* ... but not inside CDATA or comments, where they are text. */
    CHECK_EQ_INT(check_doc("<a><![CDATA[&#x1F600;]]><!--&#x1F600;--></a>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a><![CDATA[&#x1F600;]]><!--&#x1F600;--></a>");
}

static void test_structure(void)
{
    CHECK_EQ_INT(check("<a><b></a></b>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><b>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a x=1/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a x='1/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a x='<'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><!-- open </a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("junk<a/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check(""), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a/>garbage"), GUARD_TRAILING);
    CHECK_EQ_INT(check("<a></a><b/>"), GUARD_TRAILING);
}

static void test_where_gsoap_reads_otherwise(void)
{
    /* gSOAP ends a comment at the first "--" and a PI at the first '?':
     * such documents are refused, so both read every document alike. */
    CHECK_EQ_INT(check("<a><!-- -- >&#1;--></a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><!--> <![CDATA[ -->x<!-- ]]> --></a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><!-- a ---></a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><?pi a?b>c?></a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a><!-- a - b --><?pi ok?></a>"), GUARD_OK);
    /* Names are XML names. */
    CHECK_EQ_INT(check("<a\"b/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<1a/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<s:a-b.c_d x:y-1='v'/>"), GUARD_OK);
    CHECK_EQ_INT(check("<caf\xc3\xa9/>"), GUARD_OK);
    /* Only UTF-8 (or ASCII) may be declared. */
    CHECK_EQ_INT(check("<?xml version='1.0' encoding='ISO-8859-1'?><a/>"), GUARD_ENCODING);
    CHECK_EQ_INT(check("<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>"), GUARD_OK);
    CHECK_EQ_INT(check("<?xml version=\"1.0\"?><a/>"), GUARD_OK);
    CHECK_EQ_INT(check("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><a/>"), GUARD_OK);
    CHECK_EQ_INT(check("\xEF\xBB\xBF<?xml version='1.0'?><a/>"), GUARD_OK);
    /* Read the way gSOAP might read it otherwise: refused. */
    CHECK_EQ_INT(check("<?xml version=\"1.0\" encoding ='UTF-8' encoding='latin1'?><a/>"), GUARD_ENCODING);
    CHECK_EQ_INT(check("<?xml version=\"1.0\" x=\"encoding='UTF-8'\" encoding=\"ISO-8859-1\"?><a/>"), GUARD_ENCODING);
    CHECK_EQ_INT(check("<?xml encoding='UTF-8' version='1.0'?><a/>"), GUARD_ENCODING);
    CHECK_EQ_INT(check("<a/><?xml version='1.0'?>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check(" <?xml version='1.0'?><a/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<?xml-stylesheet href='a'?><a/>"), GUARD_OK);
    /* Leading zeros make long references, valid all the same; gSOAP
     * misreads them, so every character reference is rewritten. */
    char out[128];
    CHECK_EQ_INT(check_doc("<a>&#0000000065;&#x00000000041;&#000065;&#10;</a>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a>AAA\n</a>");
    CHECK_EQ_INT(check_doc("<a x=\"&#34;&#0034;&#39;&#60;&#38;\" y='&#39;&#x00027;'>&#60;&#38;&#62;&#34;</a>", 64, out,
                           sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a x=\"&#34;&quot;'&lt;&amp;\" y='&#39;&apos;'>&lt;&amp;&gt;\"</a>");
}

static void test_limits(void)
{
    char doc[4096] = "";
    for (int i = 0; i < 10; i++)
        strcat(doc, "<x>");
    for (int i = 0; i < 10; i++)
        strcat(doc, "</x>");
    CHECK_EQ_INT(check_doc(doc, 10, NULL, 0), GUARD_OK);
    CHECK_EQ_INT(check_doc(doc, 9, NULL, 0), GUARD_DEPTH);
    CHECK_EQ_INT(check_doc("<a><b><c/></b></a>", 2, NULL, 0), GUARD_DEPTH); /* empty elements count */
    strcpy(doc, "<a");
    for (int i = 0; i < GUARD_MAX_ATTRIBUTES; i++)
        sprintf(doc + strlen(doc), " a%d='1'", i);
    strcat(doc, "/>");
    CHECK_EQ_INT(check(doc), GUARD_OK);
    strcpy(doc + strlen(doc) - 2, " one-more='1'/>");
    CHECK_EQ_INT(check(doc), GUARD_ATTRIBUTES);
}

/* The operation element's qualified name, as the guard found it ("" when none). */
static void check_op(const char *doc, const char *want)
{
    size_t n = strlen(doc);
    char *b = malloc(n + 1), name[64] = "";
    guard_result_t r;
    memcpy(b, doc, n + 1);
    CHECK_EQ_INT(guard_check(b, &n, 64, 0, &r), GUARD_OK);
    if (r.op_len > 0 && r.op_len < sizeof name && r.op_offset + r.op_len <= n) {
        memcpy(name, b + r.op_offset, r.op_len);
        name[r.op_len] = '\0';
    }
    CHECK_EQ_STR(name, want);
    free(b);
}

static void test_operation_element(void)
{
    check_op("<e:Envelope xmlns:e='u'><e:Body><f:upgradeLicenseRequest xmlns:f='v'><f:x/></f:upgradeLicenseRequest>"
             "</e:Body></e:Envelope>", "f:upgradeLicenseRequest");
    /* After a Header with elements of its own, a comment, and references
     * rewritten shorter (the offset is in the rewritten document). */
    check_op("<Envelope><Header><Body>&#x1F600;&#128512;</Body><h/></Header><!-- <Body><no/></Body> -->"
             "<s:Body xmlns:s='u'> <!-- c --> <op a='&#x10000;'/><second/></s:Body></Envelope>", "op");
    check_op("<e:Envelope xmlns:e='u'><e:Body/></e:Envelope>", "");
    check_op("<e:Envelope xmlns:e='u'><e:Bodies><op/></e:Bodies></e:Envelope>", "");
    check_op("<Body><op/></Body>", "");
}

static void test_nil_and_references(void)
{
    CHECK_EQ_INT(check("<a xmlns:xsi='x'><b xsi:nil='true'/></a>"), GUARD_NIL);
    CHECK_EQ_INT(check("<a><b i:nil=\"1\" xmlns:i='x'/></a>"), GUARD_NIL);
    CHECK_EQ_INT(check("<a><b id='u1'/></a>"), GUARD_REFERENCE);
    CHECK_EQ_INT(check("<a><b href='#u1'/></a>"), GUARD_REFERENCE);
    CHECK_EQ_INT(check("<a><b enc:ref='u1'/></a>"), GUARD_REFERENCE);
    CHECK_EQ_INT(check("<a><b enc:id='u1'/></a>"), GUARD_REFERENCE);
    /* Namespace declarations named so, and names that only start alike. */
    CHECK_EQ_INT(check("<a xmlns:nil='u' xmlns:id='v' xmlns:href='w'><b nil='1' ids='2' wsu:Id='3' hrefs='4'/></a>"),
                 GUARD_OK);
}

/* What XML forbids and gSOAP read anyway. */
static void test_grammar_gsoap_allows(void)
{
    CHECK_EQ_INT(check("<a x='1'y='2'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a x='1' x='2'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a xmlns:v='u' xmlns:v='u'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a>x]]>y</a>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a>x]]&gt;y ]] ] ]]<![CDATA[]]]]></a>"), GUARD_OK);
    CHECK_EQ_INT(check("<a b='x]]>y'/>"), GUARD_OK); /* allowed in attribute values */
    CHECK_EQ_INT(check("<a xmlns:xml='urn:bad'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a xmlns:xmlns='urn:bad'/>"), GUARD_SYNTAX);
    CHECK_EQ_INT(check("<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>"), GUARD_OK);
    CHECK_EQ_INT(check("<a x='1'\ny='2'\t/>"), GUARD_OK);
}

/* The namespace of the operations: the four versions, one per request. */
static guard_result_t ns_check(const char *doc)
{
    size_t n = strlen(doc);
    char *b = malloc(n + 1);
    guard_result_t r;
    memcpy(b, doc, n + 1);
    guard_check(b, &n, 64, 0, &r);
    free(b);
    return r;
}

#define V(n) "'urn:v" #n ".webservices.operations.flexnet.com'"
#define ENV(decl, header, op) "<e:Envelope xmlns:e='s' " decl "><e:Header>" header "</e:Header><e:Body>" op \
                              "</e:Body></e:Envelope>"

static void test_operations_namespace(void)
{
    static const struct {
        const char *doc;
        int version;
        bool mixed;
    } cases[] = {
        {ENV("", "", "<op xmlns=" V(4) "/>"), 4, false},
        {ENV("", "", "<v:op xmlns:v=" V(1) "><v:b xmlns:w=" V(1) "/></v:op>"), 1, false},
        /* Declared and not used (a gSOAP client declares every namespace
         * it knows): nothing. */
        {ENV("xmlns:a=" V(1) " xmlns:b=" V(2), "", "<v:op xmlns:v=" V(4) "><v:b/></v:op>"), 4, false},
        {ENV("xmlns:v=" V(4) " xmlns:a=" V(1), "", "<v:op><v:b/></v:op>"), 4, false},
        /* Used: two versions. */
        {ENV("xmlns:v=" V(4) " xmlns:w=" V(2), "", "<v:op><w:b/></v:op>"), 4, true},
        {ENV("", "", "<op xmlns=" V(4) "><b xmlns=" V(2) "/></op>"), 4, true},
        /* A prefix bound anew holds inside its element only. */
        {ENV("xmlns:v=" V(1), "", "<v:op xmlns:v=" V(4) "><v:b/></v:op>"), 4, false},
        {ENV("xmlns:v=" V(4), "<v:h xmlns:v=" V(1) "/>", "<v:op><v:b/></v:op>"), 4, true},
        {ENV("xmlns:v=" V(4), "<x xmlns:v=" V(1) "/>", "<v:op><v:b/></v:op>"), 4, false},
        {ENV("xmlns:v=" V(4), "", "<v:op><v:b xmlns:v='other'><v:c/></v:b></v:op>"), 4, false},
        /* No operation in their namespace. */
        {ENV("xmlns:f='urn:com.macrovision:flexnet/platform'", "", "<f:op/>"), 0, false},
        {"<a xmlns:v=" V(1) "><v:b/></a>", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        guard_result_t r = ns_check(cases[i].doc);
        CHECK_EQ_INT(r.verdict, GUARD_OK);
        CHECK_EQ_INT(r.ns_version, cases[i].version);
        CHECK_EQ_INT(r.ns_mixed, cases[i].mixed);
    }
    /* Declarations of versions no element is in are hidden from gSOAP,
     * which would take the first for the operations' namespace. */
    char doc[] = ENV("xmlns:a=" V(1) " xmlns:b=" V(4) " xmlns:c=" V(2), "", "<b:op/>");
    size_t n = strlen(doc);
    guard_result_t r;
    CHECK_EQ_INT(guard_check(doc, &n, 64, 0, &r), GUARD_OK);
    CHECK(strstr(doc, "xmlns:a='urn:x1.webservices.operations.flexnet.com' xmlns:b=" V(4)
                      " xmlns:c='urn:x2.webservices.operations.flexnet.com'") != NULL);
    static const char *const refused[] = {
        "<a xmlns='urn:v5.webservices.operations.flexnet.com'/>",
        "<a xmlns:v='urn:v0.webservices.operations.flexnet.com'/>",
        "<a xmlns:v='urn:v44.webservices.operations.flexnet.com'/>",
        "<a xmlns:v='URN:V4.WEBSERVICES.OPERATIONS.FLEXNET.COM'/>",
        "<a xmlns:v='urn:v.webservices.operations.flexnet.com'/>",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_EQ_INT(ns_check(refused[i]).verdict, GUARD_NAMESPACE);
}

#undef ENV
#undef V

/* Line ends are normalised as an XML parser does (2.11); &#13; stays. */
static void test_line_ends(void)
{
    char out[64];
    CHECK_EQ_INT(check_doc("<a>1\r\n2\r3\n4&#13;</a>\r\n", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a>1\n2\n3\n4&#13;</a>\n");
    CHECK_EQ_INT(check_doc("<a>&#xD;&#x0000d;&#0013;</a>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a>&#13;&#13;&#13;</a>");
    CHECK_EQ_INT(check_doc("<a\r\nb='x\r\ny'/>", 64, out, sizeof out), GUARD_OK);
    CHECK_EQ_STR(out, "<a\nb='x\ny'/>");
}

static void test_credentials_once(void)
{
    /* UserId and UserPassword of the platform namespace, each at most once
     * in the Header: gSOAP would keep the first and ignore the other. */
#define P "xmlns:f='urn:com.macrovision:flexnet/platform'"
#define ENV(h) "<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/' " P "><s:Header>" h \
               "</s:Header><s:Body><b/></s:Body></s:Envelope>"
    CHECK_EQ_INT(check(ENV("<f:UserId>a</f:UserId><f:UserPassword>cA==</f:UserPassword>")), GUARD_OK);
    CHECK_EQ_INT(check(ENV("<f:UserId>a</f:UserId><f:UserId>b</f:UserId>")), GUARD_SYNTAX);
    CHECK_EQ_INT(check(ENV("<f:UserPassword>cA==</f:UserPassword><f:UserPassword/>")), GUARD_SYNTAX);
    /* Whatever the prefix; another namespace's UserId is another element. */
    CHECK_EQ_INT(check(ENV("<f:UserId>a</f:UserId><UserId xmlns='urn:com.macrovision:flexnet/platform'>b</UserId>")),
                 GUARD_SYNTAX);
    CHECK_EQ_INT(check(ENV("<f:UserId>a</f:UserId><o:UserId xmlns:o='urn:other'>b</o:UserId>")), GUARD_OK);
    /* Only as the Header's children. */
    CHECK_EQ_INT(check(ENV("<f:UserId>a</f:UserId><x><f:UserId>b</f:UserId></x>")), GUARD_OK);
#undef ENV
#undef P
}

/* doc with max_occurs 3: the verdict, and the repeated name in *name. */
static guard_verdict_t check_occurs(const char *doc, char *name, size_t cap)
{
    size_t n = strlen(doc);
    char *b = malloc(n + 1);
    guard_result_t r;
    memcpy(b, doc, n + 1);
    guard_verdict_t v = guard_check(b, &n, 64, 3, &r);
    name[0] = '\0';
    if (v == GUARD_OCCURS && r.name_len < cap) {
        memcpy(name, b + r.name_offset, r.name_len);
        name[r.name_len] = '\0';
    }
    free(b);
    return v;
}

static void test_repetitions(void)
{
    char name[64];
    /* Three in a row pass, in the Header as in the Body. */
    CHECK_EQ_INT(check_occurs("<e><h><a/><a></a><!-- c --><a/></h><b><x><y/><y/><y/></x></b></e>", name, sizeof name),
                 GUARD_OK);
    /* A fourth in the Header's entry, which gSOAP would skip uncounted. */
    CHECK_EQ_INT(check_occurs("<e><h><x:h xmlns:x='urn:x'><x:a/><x:a/><x:a/><x:a/></x:h></h><b/></e>", name,
                              sizeof name),
                 GUARD_OCCURS);
    CHECK_EQ_STR(name, "x:a");
    /* Deeper, with children of their own. */
    CHECK_EQ_INT(check_occurs("<e><b><l><i><v>1</v></i><i><v>2</v></i><i/><i><v>4</v></i></l></b></e>", name,
                              sizeof name),
                 GUARD_OCCURS);
    CHECK_EQ_STR(name, "i");
    /* Another name between them starts the count again; so does another
     * parent; a prefix is part of the name. */
    CHECK_EQ_INT(check_occurs("<e><a/><a/><a/><b/><a/><a/><a/><p:a xmlns:p='u'/></e>", name, sizeof name), GUARD_OK);
    CHECK_EQ_INT(check_occurs("<e><l><a/><a/><a/></l><l><a/><a/><a/></l><l/></e>", name, sizeof name), GUARD_OK);
    /* Names of the same length and the same first bytes are not the same. */
    CHECK_EQ_INT(check_occurs("<e><ab/><ab/><ab/><ac/><ac/><ac/></e>", name, sizeof name), GUARD_OK);
    /* No limit. */
    size_t n = 0;
    char many[400];
    n += (size_t)snprintf(many + n, sizeof many - n, "<e>");
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "<a/>");
    snprintf(many + n, sizeof many - n, "</e>");
    CHECK_EQ_INT(check(many), GUARD_OK);
}

static void test_declared_encoding(void)
{
    char xml[64] = "<?xml version='1.0' encoding='l1'?><a/>";
    size_t len = strlen(xml);
    const char *v;
    size_t vn;
    CHECK(guard_declared_encoding(xml, len, &v, &vn));
    CHECK_EQ_INT((int)vn, 2);
    CHECK(memcmp(v, "l1", 2) == 0);
    /* A longer label in its place: grown in place, when it fits. */
    CHECK(!guard_relabel_utf8(xml, &len, len + 2, v, vn));
    CHECK(guard_relabel_utf8(xml, &len, sizeof xml, v, vn));
    CHECK_EQ_INT((int)len, (int)strlen("<?xml version='1.0' encoding='UTF-8'?><a/>"));
    CHECK(memcmp(xml, "<?xml version='1.0' encoding='UTF-8'?><a/>", len) == 0);
    /* None named, none at the start, or no declaration at all. */
    CHECK(!guard_declared_encoding("<?xml version=\"1.0\"?><a/>", 22, &v, &vn));
    CHECK(!guard_declared_encoding(" <?xml version=\"1.0\" encoding=\"x\"?>", 36, &v, &vn));
    CHECK(!guard_declared_encoding("<a encoding='x'/>", 17, &v, &vn));
}

void register_guard_tests(void)
{
    CU_pSuite s = CU_add_suite("soap/guard", NULL, NULL);
    CU_add_test(s, "well-formed XML passes", test_plain);
    CU_add_test(s, "text and elements in one element are refused", test_mixed_content);
    CU_add_test(s, "DTD declarations are refused", test_dtd);
    CU_add_test(s, "invalid UTF-8 and characters are refused", test_utf8_and_chars);
    CU_add_test(s, "references: undefined and invalid ones refused, astral ones rewritten", test_references);
    CU_add_test(s, "malformed structure and trailing content are refused", test_structure);
    CU_add_test(s, "depth and attribute limits", test_limits);
    CU_add_test(s, "constructs gSOAP would end elsewhere are refused", test_where_gsoap_reads_otherwise);
    CU_add_test(s, "the operation element", test_operation_element);
    CU_add_test(s, "xsi:nil and SOAP-encoding references", test_nil_and_references);
    CU_add_test(s, "what XML forbids and gSOAP reads is refused", test_grammar_gsoap_allows);
    CU_add_test(s, "the operations' namespace: urn:v1..v4, one per request", test_operations_namespace);
    CU_add_test(s, "line ends are normalised", test_line_ends);
    CU_add_test(s, "the credentials' header elements appear once", test_credentials_once);
    CU_add_test(s, "elements of one name in a row, at most max_occurs", test_repetitions);
    CU_add_test(s, "the declared encoding, and its label rewritten as UTF-8", test_declared_encoding);
}
