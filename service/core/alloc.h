/*
 * alloc.h - a borrowed allocator for results that outlive a call.
 *
 * Results handed back to the transport are allocated from the request's
 * arena (for SOAP: soap_malloc on the request's gSOAP context, freed by
 * soap_end after the response). Nothing allocated here is freed one by one.
 */
#ifndef ENT_ALLOC_H
#define ENT_ALLOC_H

#include <stddef.h>

typedef struct ent_alloc {
    void *(*alloc)(void *ctx, size_t n); /* returns NULL when out of memory */
    void *ctx;
} ent_alloc_t;

void *ent_alloc(const ent_alloc_t *a, size_t n);
void *ent_calloc(const ent_alloc_t *a, size_t count, size_t size);
/* Copies s (NULL gives NULL) or the first n bytes of s. */
char *ent_strdup(const ent_alloc_t *a, const char *s);
char *ent_strndup(const ent_alloc_t *a, const char *s, size_t n);
char *ent_sprintf(const ent_alloc_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
