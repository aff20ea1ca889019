/* core/utf8: UTF-16 and ISO-8859-1 read as UTF-8 (what the SOAP front does
 * with such a body). */
#include <string.h>

#include "check.h"
#include "core/utf8.h"

static size_t from(const char *in, size_t n, bool be, char *out, size_t cap, size_t *bad)
{
    return utf16_to_utf8((const unsigned char *)in, n, be, out, cap, bad);
}

static void test_every_length(void)
{
    /* "A", U+00FC, U+6F22, U+1D11E (a surrogate pair), little endian. */
    static const char le[] = "A\0\xfc\0\x22\x6f\x34\xd8\x1e\xdd";
    static const char be[] = "\0A\0\xfc\x6f\x22\xd8\x34\xdd\x1e";
    static const char want[] = "A\xc3\xbc\xe6\xbc\xa2\xf0\x9d\x84\x9e";
    char out[32];
    size_t bad = 99;
    CHECK_EQ_INT((int)from(le, 10, false, out, sizeof out, &bad), 10);
    CHECK(memcmp(out, want, 10) == 0);
    CHECK_EQ_INT((int)from(be, 10, true, out, sizeof out, &bad), 10);
    CHECK(memcmp(out, want, 10) == 0);
    CHECK_EQ_INT((int)from(le, 0, false, out, sizeof out, &bad), 0);
    /* n / 2 * 3 is always enough: three bytes per unit at most. */
    CHECK_EQ_INT((int)from(le, 10, false, out, 10 / 2 * 3, &bad), 10);
    CHECK_EQ_INT((int)from("\x22\x6f", 2, false, out, 3, &bad), 3);
}

static void test_what_is_not_utf16(void)
{
    char out[32];
    size_t bad = 99;
    CHECK_EQ_INT((int)from("A\0B", 3, false, out, sizeof out, &bad), -1); /* an odd byte */
    CHECK_EQ_INT((int)bad, 2);
    CHECK_EQ_INT((int)from("A\0\x34\xd8", 4, false, out, sizeof out, &bad), -1); /* high, then the end */
    CHECK_EQ_INT((int)bad, 2);
    CHECK_EQ_INT((int)from("\x34\xd8" "A\0", 4, false, out, sizeof out, &bad), -1); /* high, then no low */
    CHECK_EQ_INT((int)bad, 0);
    CHECK_EQ_INT((int)from("A\0\x1e\xdd", 4, false, out, sizeof out, &bad), -1); /* a low first */
    CHECK_EQ_INT((int)bad, 2);
    CHECK_EQ_INT((int)from("\x22\x6f", 2, false, out, 2, &bad), -1); /* no room */
}

static void test_latin1(void)
{
    /* Every byte is a character: ASCII as it is, 0x80 to 0xFF in two. */
    static const char in[] = "A\x80\xe9\xff";
    char out[8];
    CHECK_EQ_INT((int)latin1_to_utf8((const unsigned char *)in, 4, out), 7);
    CHECK(memcmp(out, "A\xc2\x80\xc3\xa9\xc3\xbf", 7) == 0);
    CHECK(utf8_valid(out, 7));
    CHECK_EQ_INT((int)latin1_to_utf8((const unsigned char *)in, 0, out), 0);
}

void register_utf8_tests(void)
{
    CU_pSuite s = CU_add_suite("core/utf8", NULL, NULL);
    CU_add_test(s, "UTF-16 of every length in either order is UTF-8", test_every_length);
    CU_add_test(s, "odd bytes, lone surrogates and no room are refused", test_what_is_not_utf16);
    CU_add_test(s, "ISO-8859-1 is UTF-8 in at most twice its bytes", test_latin1);
}
