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

void register_guard_tests(void)
{
    CU_pSuite s = CU_add_suite("soap/guard", NULL, NULL);
    CU_add_test(s, "plain XML passes", test_plain);
    CU_add_test(s, "DTD declarations are refused", test_dtd);
    CU_add_test(s, "invalid UTF-8 is refused", test_utf8);
}
