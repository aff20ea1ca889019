/* libFuzzer target: the SOAP request guard (soap/guard.c) on arbitrary
 * bodies; what it accepts it may rewrite shorter, never longer, and the
 * operation element it names lies within what it accepts. The same bytes
 * read as UTF-16 (core/utf8.c, as the SOAP front reads a UTF-16 body)
 * give valid UTF-8 within the room it is given, or a refusal inside them,
 * and relabelling its declaration never lengthens it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
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
    guard_result_t g = {0};
    guard_verdict_t v = guard_check(body, &len, 16, 8, &g);
    if (v == GUARD_OK && (len > size || g.op_offset + g.op_len > len))
        abort();
    /* The repeated element's name, which the fault quotes, is in the body. */
    if (v == GUARD_OCCURS && (g.name_len == 0 || g.name_offset + g.name_len > size))
        abort();
    size_t cap = size / 2 * 3, bad = 0;
    char *out = malloc(cap + 1);
    if (out != NULL) {
        size_t n = utf16_to_utf8(data, size, size > 0 && data[0] == 0, out, cap, &bad);
        if (n == (size_t)-1 ? bad >= size : n > cap || !utf8_valid(out, n))
            abort();
        /* Its declaration relabelled as the front does: never longer. */
        size_t m = n;
        if (n != (size_t)-1 && guard_declaration_from_utf16(out, &m) && m > n)
            abort();
        free(out);
    }
    free(body);
    return 0;
}
