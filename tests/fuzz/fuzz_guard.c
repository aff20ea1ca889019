/* libFuzzer target: the SOAP request guard (soap/guard.c) on arbitrary
 * bodies; what it accepts it may rewrite shorter, never longer, and the
 * operation element it names lies within what it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "soap/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    size_t len = size;
    guard_result_t g = {GUARD_OK, 0, NULL, 0, 0, 0, 0, false};
    if (guard_check(body, &len, 16, &g) == GUARD_OK && (len > size || g.op_offset + g.op_len > len))
        abort();
    free(body);
    return 0;
}
