#include "alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void *ent_alloc(const ent_alloc_t *a, size_t n)
{
    return a->alloc(a->ctx, n ? n : 1);
}

void *ent_calloc(const ent_alloc_t *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = ent_alloc(a, count * size);
    if (p != NULL)
        memset(p, 0, count * size != 0 ? count * size : 1);
    return p;
}

char *ent_strndup(const ent_alloc_t *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *p = ent_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *ent_strdup(const ent_alloc_t *a, const char *s)
{
    return s == NULL ? NULL : ent_strndup(a, s, strlen(s));
}

char *ent_sprintf(const ent_alloc_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = ent_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
