/* core/utf8 and core/quote: strict decoding, and request values made text
 * every reader of a message takes. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/quote.h"
#include "core/utf8.h"

#define CUT QUOTE_CUT
#define BAD QUOTE_REPLACEMENT

/* Valid UTF-8 of XML characters, no control characters. */
static bool text_ok(const char *s)
{
    size_t n = strlen(s);
    if (!utf8_xml_valid(s, n))
        return false;
    for (size_t i = 0, k; i < n; i += k) {
        unsigned cp = 0;
        k = utf8_decode(s + i, n - i, &cp);
        if (k == 0 || utf8_is_control(cp))
            return false;
    }
    return true;
}

static void test_decode_strict(void)
{
    unsigned cp = 0;
    CHECK_EQ_INT(utf8_decode("A", 1, &cp), 1);
    CHECK_EQ_INT(cp, 'A');
    CHECK_EQ_INT(utf8_decode("\xC3\xA9", 2, &cp), 2);
    CHECK_EQ_INT(cp, 0xE9);
    CHECK_EQ_INT(utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    CHECK_EQ_INT(utf8_decode("\xC0\xAF", 2, &cp), 0);         /* overlong */
    CHECK_EQ_INT(utf8_decode("\xE0\x80\xAF", 3, &cp), 0);     /* overlong */
    CHECK_EQ_INT(utf8_decode("\xED\xA0\x80", 3, &cp), 0);     /* surrogate */
    CHECK_EQ_INT(utf8_decode("\xF4\x90\x80\x80", 4, &cp), 0); /* past U+10FFFF */
    CHECK_EQ_INT(utf8_decode("\x80", 1, &cp), 0);             /* stray continuation */
    CHECK_EQ_INT(utf8_decode("\xE4\xB8", 2, &cp), 0);         /* cut short */
    CHECK(utf8_valid("h\xC3\xA9llo", 6));
    CHECK(!utf8_valid("h\xC3llo", 5));
    CHECK(utf8_xml_valid("a\tb\n", 4));
    CHECK(!utf8_xml_valid("a\x01", 2));
    CHECK(!utf8_xml_valid("\xEF\xBF\xBE", 3)); /* U+FFFE */
}

static void test_quote_short_values_whole(void)
{
    char q[QUOTE_SIZE(QUOTE_MAX_CHARS)];
    CHECK_EQ_STR(quote_str(q, sizeof q, "abc"), "abc");
    CHECK_EQ_STR(quote_str(q, sizeof q, NULL), "");
    CHECK_EQ_STR(quote_str(q, sizeof q, "<&>\"'"), "<&>\"'"); /* the serialiser escapes these */
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xE5\xB0\x97"), "\xE5\xB0\x97");
}

static void test_quote_cuts_on_characters(void)
{
    char q[QUOTE_SIZE(4)];
    /* Four characters, then the mark. */
    CHECK_EQ_STR(quote_value(q, sizeof q, "abcdef", 6, 4), "abcd" CUT);
    CHECK_EQ_STR(quote_value(q, sizeof q, "\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97", 15, 4),
                 "\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97" CUT);
    /* A small buffer: whole characters that fit, then the mark. */
    char small[8];
    CHECK_EQ_STR(quote_value(small, sizeof small, "\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97", 9, 64), "\xE5\xB0\x97" CUT);
    /* A value that fits exactly needs no mark. */
    char exact[4];
    CHECK_EQ_STR(quote_value(exact, sizeof exact, "abc", 3, 64), "abc");
    CHECK_EQ_STR(quote_value(exact, sizeof exact, "abcd", 4, 64), CUT);
}

static void test_quote_keeps_combining_sequences(void)
{
    char q[QUOTE_SIZE(8)];
    /* "e" + COMBINING ACUTE ACCENT: cut before the e, not between. */
    CHECK_EQ_STR(quote_value(q, sizeof q, "abe\xCC\x81z", 6, 3), "ab" CUT);
    CHECK_EQ_STR(quote_value(q, sizeof q, "abe\xCC\x81z", 6, 4), "abe\xCC\x81" CUT);
}

static void test_quote_replaces_what_cannot_be_carried(void)
{
    char q[QUOTE_SIZE(QUOTE_MAX_CHARS)];
    CHECK_EQ_STR(quote_str(q, sizeof q, "a\xE8z"), "a" BAD "z");      /* invalid */
    CHECK_EQ_STR(quote_str(q, sizeof q, "a\nb\tc\x01"), "a" BAD "b" BAD "c" BAD);
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xC2\x85"), BAD);            /* C1 NEL */
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xEF\xBF\xBF"), BAD);        /* U+FFFF */
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xED\xA0\x80"), BAD);        /* a surrogate */
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xE5\xB0z"), BAD "z");      /* cut short */
    CHECK_EQ_STR(quote_str(q, sizeof q, "\xE2\x80\xA8"), BAD);        /* LINE SEPARATOR */
}

static void test_format_cuts_and_cleans(void)
{
    char m[16];
    /* "2" then a character cut by the format's own precision. */
    quote_format(m, sizeof m, "'%.3s'", "2\xE5\xB0\x97\xE5\xB0\x97");
    CHECK_EQ_STR(m, "'2" BAD "'");
    /* Longer than m: cut on a character boundary, marked. */
    quote_format(m, sizeof m, "%s", "\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97");
    CHECK_EQ_STR(m, "\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97\xE5\xB0\x97" CUT);
    /* Longer than the formatting buffer: vsnprintf's own cut is marked. */
    size_t big = 10000;
    char *s = malloc(big + 1);
    CU_ASSERT_FATAL(s != NULL);
    for (size_t i = 0; i + 3 <= big; i += 3)
        memcpy(s + i, "\xE5\xB0\x97", 3);
    s[big - big % 3] = '\0';
    char *out = malloc(8192);
    CU_ASSERT_FATAL(out != NULL);
    quote_format(out, 8192, "x%s", s);
    CHECK(text_ok(out));
    CHECK(strlen(out) > 4000 && strcmp(out + strlen(out) - 3, CUT) == 0);
    free(out);
    free(s);
}

/* Random bytes and random code points, every cap: always text. */
static void test_random_input_always_text(void)
{
    unsigned seed = 12345;
    char in[256], out[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0, want = (size_t)(rand_r(&seed) % 200);
        while (n < want) {
            if (rand_r(&seed) % 2) {
                in[n++] = (char)(rand_r(&seed) & 0xFF);
            } else { /* a code point of any plane, encoded without checks */
                unsigned cp = (unsigned)rand_r(&seed) % 0x110000;
                if (cp < 0x80 && n + 1 <= sizeof in) {
                    in[n++] = (char)cp;
                } else if (cp < 0x800 && n + 2 <= sizeof in) {
                    in[n++] = (char)(0xC0 | (cp >> 6));
                    in[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000 && n + 3 <= sizeof in) {
                    in[n++] = (char)(0xE0 | (cp >> 12));
                    in[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    in[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (n + 4 <= sizeof in) {
                    in[n++] = (char)(0xF0 | (cp >> 18));
                    in[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    in[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    in[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    break;
                }
            }
        }
        size_t cap = 4 + (size_t)(rand_r(&seed) % (sizeof out - 4));
        quote_value(out, cap, in, n, (size_t)(rand_r(&seed) % 80));
        CHECK(strlen(out) < cap);
        if (!text_ok(out)) {
            CU_FAIL("quote_value wrote something that is not text");
            return;
        }
    }
}

void register_quote_tests(void)
{
    CU_pSuite s = CU_add_suite("core/quote", NULL, NULL);
    CU_add_test(s, "strict UTF-8 decoding", test_decode_strict);
    CU_add_test(s, "short values whole", test_quote_short_values_whole);
    CU_add_test(s, "cuts between characters, marked", test_quote_cuts_on_characters);
    CU_add_test(s, "combining sequences kept whole", test_quote_keeps_combining_sequences);
    CU_add_test(s, "what XML cannot carry is replaced", test_quote_replaces_what_cannot_be_carried);
    CU_add_test(s, "formatted messages cut and cleaned", test_format_cuts_and_cleans);
    CU_add_test(s, "random input is always text", test_random_input_always_text);
}
