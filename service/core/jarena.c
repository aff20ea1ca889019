/* Per-thread arenas for jansson (jarena.h). */
#include "jarena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The block every thread keeps between requests: a device report of 2 KB
 * takes about 26 KB of jansson's values. */
#define JARENA_FIRST (64 * 1024)

typedef struct jarena_block {
    struct jarena_block *prev; /* the block filled before this one */
    size_t cap, used;          /* bytes of data */
    max_align_t data[];
} jarena_block_t;

typedef struct jarena {
    jarena_block_t *last;      /* the block being filled (NULL: none yet) */
    bool on;
    bool keyed;                /* the thread's exit frees the blocks */
} jarena_t;

static _Thread_local jarena_t jarena__mine;
static pthread_key_t jarena__key;

static void jarena__free_blocks(jarena_block_t *b)
{
    while (b != NULL) {
        jarena_block_t *prev = b->prev;
        free(b);
        b = prev;
    }
}

/* At a thread's exit: its blocks (the key's value is its jarena_t). */
static void jarena__exit(void *arg)
{
    jarena_t *a = arg;
    jarena__free_blocks(a->last);
    a->last = NULL;
}

static void *jarena__malloc(size_t n)
{
    jarena_t *a = &jarena__mine;
    if (!a->on)
        return malloc(n);
    if (n > SIZE_MAX / 4)
        return NULL;
    /* Each allocation its own address (even of 0 bytes, which would be the
     * block's end), aligned as malloc's are. */
    const size_t align = _Alignof(max_align_t);
    n = n == 0 ? align : (n + align - 1) / align * align;
    jarena_block_t *b = a->last;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = b == NULL ? JARENA_FIRST : 2 * b->cap;
        if (cap < n)
            cap = n;
        jarena_block_t *nb = malloc(sizeof *nb + cap);
        if (nb == NULL)
            return NULL;
        if (!a->keyed) {
            if (pthread_setspecific(jarena__key, a) != 0) {
                free(nb);
                return NULL;
            }
            a->keyed = true;
        }
        nb->prev = b;
        nb->cap = cap;
        nb->used = 0;
        a->last = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static void jarena__free(void *p)
{
    /* Addresses compared as integers: p need not be in any block. */
    uintptr_t at = (uintptr_t)p;
    for (const jarena_block_t *b = jarena__mine.last; b != NULL; b = b->prev)
        if (at >= (uintptr_t)b->data && at < (uintptr_t)b->data + b->cap)
            return; /* the arena's: given back by jarena_reset */
    free(p);
}

void jarena_install(void)
{
    /* Before any thread runs. Without a key (no thread exit could free the
     * blocks) jansson stays on malloc, and jarena_on changes nothing. */
    if (pthread_key_create(&jarena__key, jarena__exit) == 0)
        json_set_alloc_funcs(jarena__malloc, jarena__free);
}

void jarena_on(void)
{
    jarena__mine.on = true;
}

void jarena_off(void)
{
    jarena__mine.on = false;
}

void jarena_reset(void)
{
    jarena_t *a = &jarena__mine;
    a->on = false;
    if (a->last == NULL)
        return;
    /* Keep the first block when it is of the usual size. */
    jarena_block_t *first = a->last;
    while (first->prev != NULL)
        first = first->prev;
    jarena_block_t *b = a->last;
    while (b != first) {
        jarena_block_t *prev = b->prev;
        free(b);
        b = prev;
    }
    if (first->cap == JARENA_FIRST) {
        first->used = 0;
        a->last = first;
    } else {
        free(first);
        a->last = NULL;
    }
}
