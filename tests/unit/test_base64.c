/* core/base64: RFC 4648 vectors, strict decoding, buffer limits. */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "core/base64.h"

/* Decodes s (standard or URL alphabet) and returns the result code; the
 * bytes go to out (cap bytes), their number to *len. */
static int dec(const char *s, bool url, unsigned char *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    return url ? b64url_decode(s, n, out, cap, len) : b64_decode(s, n, out, cap, len);
}

/* True when s decodes to exactly the n bytes at want. */
static bool dec_is(const char *s, bool url, const void *want, size_t n)
{
    unsigned char out[64];
    size_t len = 999;
    return dec(s, url, out, sizeof out, &len) == ENT_OK && len == n && memcmp(out, want, n) == 0;
}

static int dec_rc(const char *s, bool url)
{
    unsigned char out[64];
    size_t len;
    return dec(s, url, out, sizeof out, &len);
}

static void test_rfc4648_vectors(void)
{
    static const struct {
        const char *raw, *std, *url;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    };
    char enc[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].raw);
        const unsigned char *raw = (const unsigned char *)v[i].raw;
        CHECK_EQ_INT(b64_encode(raw, n, enc, sizeof enc), strlen(v[i].std));
        CHECK_EQ_STR(enc, v[i].std);
        CHECK_EQ_INT(b64url_encode(raw, n, enc, sizeof enc), strlen(v[i].url));
        CHECK_EQ_STR(enc, v[i].url);
        CHECK_EQ_INT(strlen(v[i].std), B64_ENCODED_LEN(n));
        CHECK_EQ_INT(strlen(v[i].url), B64URL_ENCODED_LEN(n));
        CHECK(dec_is(v[i].std, false, v[i].raw, n));
        CHECK(dec_is(v[i].url, true, v[i].raw, n));
    }
}

static void test_alphabets(void)
{
    static const unsigned char b[] = {0xfb, 0xff, 0xbf};
    char enc[16];
    CHECK_EQ_INT(b64_encode(b, 2, enc, sizeof enc), 4);
    CHECK_EQ_STR(enc, "+/8=");
    CHECK_EQ_INT(b64url_encode(b, 2, enc, sizeof enc), 3);
    CHECK_EQ_STR(enc, "-_8");
    CHECK(dec_is("+/+/", false, "\xfb\xff\xbf", 3));
    CHECK(dec_is("-_-_", true, "\xfb\xff\xbf", 3));
    /* Each alphabet refuses the other's two characters. */
    CHECK_EQ_INT(dec_rc("-_-_", false), ENT_EINVAL);
    CHECK_EQ_INT(dec_rc("+/+/", true), ENT_EINVAL);
}

static void test_std_strict(void)
{
    static const char *bad[] = {
        "Zg",        /* padding required */
        "Zg=",       /* length not a multiple of 4 */
        "Zm9",       /* ditto */
        "Z===",      /* one data character: no whole byte */
        "====",      /* padding only */
        "Zg=a",      /* data after padding */
        "=Zg=",      /* padding first */
        "Zm=v",      /* padding in the middle */
        "Zg==Zg==",  /* padded quantum before the end */
        "Zh==",      /* non-zero bits after the last byte */
        "Zm9=",      /* ditto, one pad */
        "Zm9v\n",    /* no whitespace... */
        "Zm 9v",
        " Zm9v",
        "Zm9v\r\n",
        "Zm9v====",
        "Zm9*",      /* outside the alphabet */
        "Zm9\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(dec_rc(bad[i], false), ENT_EINVAL);

    /* An embedded NUL is a character like any other: refused. */
    unsigned char out[8];
    size_t len;
    CHECK_EQ_INT(b64_decode("Zm\0v", 4, out, sizeof out, &len), ENT_EINVAL);
}

static void test_url_strict(void)
{
    static const char *bad[] = {
        "Zg==",  /* padding refused */
        "Zm8=",
        "Zg=",
        "Z",     /* length % 4 == 1 */
        "Zm9vY",
        "Zh",    /* non-zero bits after the last byte */
        "Zm9",
        "Zm9v\n",
        "Zm 9v",
        "Zm9+",
        "Zm9/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(dec_rc(bad[i], true), ENT_EINVAL);
}

static void test_capacity(void)
{
    unsigned char out[8];
    size_t len = 77;
    char enc[8];

    /* Exactly enough is enough, one byte less is refused and *out_len is
     * left alone. */
    CHECK_EQ_INT(b64_decode("Zm9vYg==", 8, out, 4, &len), ENT_OK);
    CHECK_EQ_INT(len, 4);
    len = 77;
    CHECK_EQ_INT(b64_decode("Zm9vYg==", 8, out, 3, &len), ENT_EINVAL);
    CHECK_EQ_INT(len, 77);
    CHECK_EQ_INT(b64url_decode("Zm9vYmE", 7, out, 5, &len), ENT_OK);
    CHECK_EQ_INT(len, 5);
    CHECK_EQ_INT(b64url_decode("Zm9vYmE", 7, out, 4, &len), ENT_EINVAL);
    CHECK_EQ_INT(b64_decode("", 0, NULL, 0, &len), ENT_OK);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(b64_decode(NULL, 4, out, sizeof out, &len), ENT_EINVAL);
    CHECK_EQ_INT(b64_decode("Zm9v", 4, out, sizeof out, NULL), ENT_EINVAL);

    /* The encoders need room for the NUL too. */
    CHECK_EQ_INT(b64_encode((const unsigned char *)"foo", 3, enc, 5), 4);
    CHECK_EQ_INT(b64_encode((const unsigned char *)"foo", 3, enc, 4), 0);
    CHECK_EQ_STR(enc, "");
    CHECK_EQ_INT(b64url_encode((const unsigned char *)"fo", 2, enc, 4), 3);
    CHECK_EQ_INT(b64url_encode((const unsigned char *)"fo", 2, enc, 3), 0);
    CHECK_EQ_INT(b64_encode((const unsigned char *)"fo", 2, NULL, 0), 0);
    CHECK_EQ_INT(b64_encode((const unsigned char *)"", 0, enc, 1), 0);
    CHECK_EQ_STR(enc, "");
}

/* Every length and every byte value survive a round trip, and the macros
 * are large enough for each. */
static void test_round_trip(void)
{
    unsigned char raw[256], back[256 + 2];
    char enc[B64_ENCODED_LEN(256) + 1];
    size_t len;

    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(255 - i);
    for (size_t k = 0; k <= sizeof raw; k++) {
        size_t n = b64_encode(raw, k, enc, sizeof enc);
        CHECK(n == B64_ENCODED_LEN(k));
        CHECK(B64_DECODED_MAX(n) >= k);
        CHECK(b64_decode(enc, n, back, sizeof back, &len) == ENT_OK && len == k &&
              memcmp(raw, back, k) == 0);
        n = b64url_encode(raw, k, enc, sizeof enc);
        CHECK(n == B64URL_ENCODED_LEN(k));
        CHECK(B64_DECODED_MAX(n) >= k);
        CHECK(strchr(enc, '=') == NULL);
        CHECK(b64url_decode(enc, n, back, sizeof back, &len) == ENT_OK && len == k &&
              memcmp(raw, back, k) == 0);
    }
}

void register_base64_tests(void)
{
    CU_pSuite s = CU_add_suite("core/base64", NULL, NULL);
    CU_add_test(s, "RFC 4648 vectors", test_rfc4648_vectors);
    CU_add_test(s, "alphabets", test_alphabets);
    CU_add_test(s, "base64 strict decoding", test_std_strict);
    CU_add_test(s, "base64url strict decoding", test_url_strict);
    CU_add_test(s, "buffer capacity", test_capacity);
    CU_add_test(s, "round trip", test_round_trip);
}
