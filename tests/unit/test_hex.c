/* core/hex: encoding, digits of either case, strict decoding. */
#include <string.h>

#include "check.h"
#include "core/hex.h"

static void test_encode(void)
{
    const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[2 * sizeof in + 1];
    hex_encode(in, sizeof in, out);
    CHECK_EQ_STR(out, "000fa5ff");
    hex_encode(in, 0, out);
    CHECK_EQ_STR(out, "");
}

static void test_digit(void)
{
    CHECK_EQ_INT(hex_digit('0'), 0);
    CHECK_EQ_INT(hex_digit('9'), 9);
    CHECK_EQ_INT(hex_digit('a'), 10);
    CHECK_EQ_INT(hex_digit('F'), 15);
    CHECK_EQ_INT(hex_digit('g'), -1);
    CHECK_EQ_INT(hex_digit('G'), -1);
    CHECK_EQ_INT(hex_digit('/'), -1);
    CHECK_EQ_INT(hex_digit(':'), -1);
    CHECK_EQ_INT(hex_digit('@'), -1);
    CHECK_EQ_INT(hex_digit('`'), -1);
    CHECK_EQ_INT(hex_digit('\0'), -1);
}

static void test_decode(void)
{
    unsigned char out[4];
    size_t n = 99;
    CHECK_EQ_INT(hex_decode("000fa5ff", out, sizeof out, &n), ENT_OK);
    CHECK_EQ_INT((int)n, 4);
    CHECK(memcmp(out, "\x00\x0f\xa5\xff", 4) == 0);
    CHECK_EQ_INT(hex_decode("", out, sizeof out, &n), ENT_OK);
    CHECK_EQ_INT((int)n, 0);
    CHECK_EQ_INT(hex_decode("abc", out, sizeof out, &n), ENT_EINVAL);        /* odd */
    CHECK_EQ_INT(hex_decode("0A", out, sizeof out, &n), ENT_EINVAL);         /* upper case */
    CHECK_EQ_INT(hex_decode("0g", out, sizeof out, &n), ENT_EINVAL);
    CHECK_EQ_INT(hex_decode("0011223344", out, sizeof out, &n), ENT_EINVAL); /* 5 bytes in 4 */
}

void register_hex_tests(void)
{
    CU_pSuite s = CU_add_suite("core/hex", NULL, NULL);
    CU_add_test(s, "bytes are written as lower-case hex", test_encode);
    CU_add_test(s, "digits of either case", test_digit);
    CU_add_test(s, "decoding is strict and bounded", test_decode);
}
