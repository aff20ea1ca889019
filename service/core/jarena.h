/*
 * jarena.h - a per-thread arena for jansson while a request's JSON is
 * parsed and read.
 *
 * jansson allocates every value, key and hash table of a document on its
 * own and frees each when the document is freed: for a device report of
 * 2 KB that is hundreds of malloc and free calls, about a tenth of the
 * daemon's CPU for the request. Between jarena_on and jarena_off the
 * calling thread's jansson allocations come from its arena, freeing them
 * costs nothing, and jarena_reset gives the whole arena back at once.
 *
 * The rules:
 *   - jarena_install runs once, before any thread uses jansson;
 *   - a value made while the arena was on is used (and freed, a no-op)
 *     only by the thread that made it, and never after its jarena_reset;
 *   - while the arena is on, nothing jansson allocates may be handed to
 *     free(): json_dumps and the like wait until it is off.
 * With the arena off, jansson allocates with malloc as usual.
 */
#ifndef ENT_JARENA_H
#define ENT_JARENA_H

/* Makes jansson allocate through the arenas. */
void jarena_install(void);

/* The calling thread's jansson allocations come from its arena (on) or
 * from malloc (off). */
void jarena_on(void);
void jarena_off(void);

/* Forgets everything the calling thread's arena holds (keeping a first
 * block for the next request); the arena is off afterwards. */
void jarena_reset(void);

#endif
