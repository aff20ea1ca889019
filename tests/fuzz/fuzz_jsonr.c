/* libFuzzer target: core/jsonr.c takes no text jansson refuses, and what
 * it takes it reads as jansson does, to the same values in the same order
 * (jsonr.h's promise, which lets jsonr_load answer for jansson). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *fast = jsonr_fast((const char *)data, size);
    if (fast == NULL)
        return 0;
    json_error_t e;
    json_t *slow = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    if (slow == NULL || !json_equal(fast, slow))
        abort();
    /* Keys in the order of the text, as jansson keeps them. */
    char *a = json_dumps(fast, JSON_COMPACT), *b = json_dumps(slow, JSON_COMPACT);
    if (a == NULL || b == NULL || strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
    json_decref(fast);
    json_decref(slow);
    return 0;
}
