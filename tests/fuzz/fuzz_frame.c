/* libFuzzer target: HTTP framing (http/frame.c) on arbitrary bytes, with
 * a per-target body limit; a whole request is de-chunked and its header
 * lines walked, as the server does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_limit(void *arg, const char *target, size_t n)
{
    (void)arg;
    return n > 5 && memcmp(target, "/json", 5) == 0 ? 64 : 4096;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    frame_limits_t lim = {2048, 512, 4096, fuzz_limit, NULL};
    const char *buf = (const char *)data;
    size_t pos = 0;
    /* Pipelined requests: serve each whole one, as the server does. */
    for (int i = 0; i < 8 && pos <= size; i++) {
        frame_t f;
        frame_scan(buf + pos, size - pos, &lim, &f);
        if (f.status != FRAME_DONE)
            break;
        char *body = malloc(f.body_len + 1);
        if (body == NULL)
            break;
        frame_body(buf + pos, &f, body);
        size_t hp = 0, nl, vl;
        const char *n, *v;
        while (frame_header_next(buf + pos + f.headers_off, f.headers_len, &hp, &n, &nl, &v, &vl))
            if (nl == 0 || vl > f.headers_len)
                abort();
        free(body);
        if (f.total == 0)
            break;
        pos += f.total;
    }
    return 0;
}
