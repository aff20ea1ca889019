/* soap/guard: DTD and UTF-8 checks on raw request bytes. */
#include <string.h>

#include "check.h"
#include "soap/guard.h"

static guard_verdict_t feed_all(const char *s, size_t chunk)
{
    guard_t g;
    guard_reset(&g);
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += chunk)
        guard_feed(&g, s + i, n - i < chunk ? n - i : chunk);
    if (g.verdict == GUARD_OK && g.need > 0)
        return GUARD_BAD_UTF8;
    return g.verdict;
}

static void test_plain(void)
{
    CHECK_EQ_INT(feed_all("<?xml version=\"1.0\"?><a>caf\xc3\xa9</a>", 1), GUARD_OK);
    CHECK_EQ_INT(feed_all("<a><!-- comment --><![CDATA[x]]></a>", 3), GUARD_OK);
}

static void test_dtd(void)
{
    const char *doc = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>";
    /* Split at every position: "<!" across reads must still be seen. */
    for (size_t chunk = 1; chunk < 8; chunk++)
        CHECK_EQ_INT(feed_all(doc, chunk), GUARD_DTD);
    CHECK_EQ_INT(feed_all("<a><!ENTITY x \"y\"></a>", 2), GUARD_DTD);
    CHECK_EQ_INT(feed_all("<!doctype a><a/>", 5), GUARD_DTD);
}

static void test_utf8(void)
{
    CHECK_EQ_INT(feed_all("<a>\xff</a>", 4), GUARD_BAD_UTF8);
    CHECK_EQ_INT(feed_all("<a>\xc0\xaf</a>", 1), GUARD_BAD_UTF8);     /* overlong */
    CHECK_EQ_INT(feed_all("<a>\xed\xa0\x80</a>", 1), GUARD_BAD_UTF8); /* surrogate */
    CHECK_EQ_INT(feed_all("<a>\xf4\x90\x80\x80</a>", 2), GUARD_BAD_UTF8); /* > U+10FFFF */
    CHECK_EQ_INT(feed_all("<a>\xe2\x82\xac\xf0\x9f\x98\x80</a>", 1), GUARD_OK);
    CHECK_EQ_INT(feed_all("<a>\xe2\x82", 1), GUARD_BAD_UTF8);          /* truncated */
}

static guard_verdict_t feed_n(const char *s, size_t n, size_t chunk, unsigned long *bad)
{
    guard_t g;
    guard_reset(&g);
    for (size_t i = 0; i < n; i += chunk)
        guard_feed(&g, s + i, n - i < chunk ? n - i : chunk);
    *bad = g.bad;
    return g.verdict;
}

static void test_xml_chars(void)
{
    unsigned long bad = 0;
    /* Allowed: tab, LF, CR, DEL, C1, the separators, references to them. */
    static const char *const ok[] = {
        "<a>x\ty\r\nz\x7f\xc2\x85\xe2\x80\xa8</a>",
        "<a b=\"&#9;&#xA;&#13;&#x7F;&#133;&#x2028;&#x10FFFF;\">&amp;&lt;&#38;#1;</a>",
        "<a><!-- &#1; --><![CDATA[&#0; &#x1F;]]><?pi &#2; ?>&#65;</a>",
        "<a>&#;&#xg;&#12a;&&#65;</a>", /* not references */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        for (size_t chunk = 1; chunk < 6; chunk++)
            CHECK_EQ_INT(feed_n(ok[i], strlen(ok[i]), chunk, &bad), GUARD_OK);
    /* Refused: other C0 controls, raw or as references, and NUL. */
    static const struct {
        const char *doc;
        size_t len;
        unsigned long bad;
    } no[] = {
        {"<a>a\x01" "b</a>", 11, 0x1},
        {"<a>a\0b</a>", 10, 0x0},
        {"<a>a&#0;b</a>", 13, 0x0},
        {"<a>a&#x0;b</a>", 14, 0x0},
        {"<a>a&#x;b</a>", 13, 0x0},
        {"<a>a&#1;b</a>", 13, 0x1},
        {"<a>a&#x1F;b</a>", 15, 0x1F},
        {"<a b='&#11;'/>", 14, 0xB},
        {"<a>&#xFFFE;</a>", 15, 0xFFFE},
        {"<a>&#xD800;</a>", 15, 0xD800},
        {"<a>&#99999999999999999999;</a>", 30, 0x110000},
        {"<a><!-- x -->&#1;</a>", 21, 0x1},      /* after a comment */
        {"<a><![CDATA[x]]>&#1;</a>", 24, 0x1},   /* after CDATA */
        {"<a><!-- \x02 --></a>", 19, 0x2},       /* raw: everywhere */
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        for (size_t chunk = 1; chunk < 6; chunk++) {
            CHECK_EQ_INT(feed_n(no[i].doc, no[i].len, chunk, &bad), GUARD_BAD_CHAR);
            CHECK_EQ_INT(bad, no[i].bad);
        }
}

void register_guard_tests(void)
{
    CU_pSuite s = CU_add_suite("soap/guard", NULL, NULL);
    CU_add_test(s, "plain XML passes", test_plain);
    CU_add_test(s, "DTD declarations are refused", test_dtd);
    CU_add_test(s, "invalid UTF-8 is refused", test_utf8);
    CU_add_test(s, "characters XML does not allow are refused", test_xml_chars);
}
