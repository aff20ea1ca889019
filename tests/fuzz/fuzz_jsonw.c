/* libFuzzer target: core/jsonw.c's strings are read back by jansson as the
 * same bytes, and base64 round-trips (core/base64.c). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* jsonw takes UTF-8 (checked upstream): give it only that. */
    json_t *probe = json_stringn((const char *)data, size);
    if (probe != NULL) {
        jsonw_t w = {0};
        jsonw_raw(&w, "[", 1);
        jsonw_str(&w, (const char *)data, size);
        jsonw_raw(&w, ",", 1);
        jsonw_int(&w, (long long)size * -7);
        jsonw_raw(&w, "]", 1);
        char *text = jsonw_take(&w);
        json_error_t e;
        json_t *back = text ? json_loads(text, JSON_ALLOW_NUL, &e) : NULL;
        if (back == NULL || json_string_length(json_array_get(back, 0)) != size ||
            memcmp(json_string_value(json_array_get(back, 0)), data, size) != 0 ||
            json_integer_value(json_array_get(back, 1)) != (json_int_t)size * -7)
            abort();
        json_decref(back);
        free(text);
        json_decref(probe);
    }
    char enc[4 * 1024];
    unsigned char dec[3 * 1024];
    size_t n = size < 700 ? size : 700, got = 0;
    if (b64url_encode(data, n, enc, sizeof enc) > 0 || n == 0) {
        if (b64url_decode(enc, strlen(enc), dec, sizeof dec, &got) != ENT_OK || got != n || memcmp(dec, data, n) != 0)
            abort();
    }
    /* Arbitrary input to the decoders must never overrun. */
    (void)b64_decode((const char *)data, size, dec, sizeof dec, &got);
    (void)b64url_decode((const char *)data, size, dec, sizeof dec, &got);
    return 0;
}
