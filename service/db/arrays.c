/*
 * arrays.c - PostgreSQL array literals of values, passed as one bound
 * parameter each (unnest($1::text[]), = ANY ($1::bigint[])).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static void *db__heap_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

const ent_alloc_t db__heap = {db__heap_alloc, NULL};

char *db__text_array(const ent_alloc_t *a, const char *const *v, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += v[i] ? 2 * strlen(v[i]) + 3 : 5;
    char *out = ent_alloc(a, len);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[o++] = ',';
        if (v[i] == NULL) {
            memcpy(out + o, "NULL", 4);
            o += 4;
            continue;
        }
        out[o++] = '"';
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                out[o++] = '\\';
            out[o++] = *p;
        }
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}

char *db__ll_array(const ent_alloc_t *a, const long long *v, const bool *present, size_t n)
{
    char *out = ent_alloc(a, n * 22 + 3);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (present == NULL || present[i])
            o += (size_t)sprintf(out + o, "%s%lld", i ? "," : "", v[i]);
        else
            o += (size_t)sprintf(out + o, "%sNULL", i ? "," : "");
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}
