/* libFuzzer target: the rewriting of v1..v3 requests into v4's trees and of
 * v4 answers into v1..v3's (soap/versions.c), on what the request guard
 * lets through, as the SOAP front calls them. The first byte picks the
 * version and the direction. The schema source is read once from
 * FUZZ_XSD (run.sh passes schemas/EntitlementOrderService.xsd). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soap/guard.h"
#include "soap/versions.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static versions_t *vs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char text[1 << 20];
    FILE *f = fopen(FUZZ_XSD, "rb");
    size_t n = f ? fread(text, 1, sizeof text, f) : 0;
    char err[160];
    if (f == NULL || n == 0 || n == sizeof text || versions_new(text, n, &vs, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_versions: cannot read %s\n", FUZZ_XSD);
        abort();
    }
    fclose(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int v = 1 + data[0] % 3;
    int request = (data[0] >> 2) & 1;
    size--;
    char *body = malloc(size + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, size);
    body[size] = '\0';
    size_t len = size;
    guard_result_t g = {GUARD_OK, 0, NULL, 0, 0, 0, 0, false};
    if (guard_check(body, &len, 16, 0, &g) == GUARD_OK) {
        char err[160], *out = NULL;
        size_t n = 0;
        int rc = request ? versions_request(vs, v, body, len, &out, &n, err, sizeof err)
                         : versions_response(vs, v, body, len, &out, &n);
        if (rc == 0 && (out == NULL || out[n] != '\0'))
            abort();
        free(out);
    }
    free(body);
    return 0;
}
