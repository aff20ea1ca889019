#include "peers.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct peers__entry {
    unsigned char addr[PEERS_ADDR_LEN];
    int count; /* 0: free */
} peers__entry_t;

struct peers {
    peers__entry_t *e;
    size_t mask; /* size - 1; the size is a power of two at least twice max_open */
};

int peers_new(int max_open, peers_t **out)
{
    size_t size = 16;
    while (size < 2 * (size_t)(max_open > 0 ? max_open : 1))
        size *= 2;
    peers_t *p = calloc(1, sizeof *p);
    if (p == NULL || (p->e = calloc(size, sizeof *p->e)) == NULL) {
        free(p);
        return ENT_ENOMEM;
    }
    p->mask = size - 1;
    *out = p;
    return ENT_OK;
}

void peers_free(peers_t *p)
{
    if (p != NULL)
        free(p->e);
    free(p);
}

void peers_addr(const struct sockaddr *sa, unsigned char out[PEERS_ADDR_LEN])
{
    memset(out, 0, PEERS_ADDR_LEN);
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, PEERS_ADDR_LEN);
    } else if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    }
}

static size_t peers__home(const peers_t *p, const unsigned char addr[PEERS_ADDR_LEN])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < PEERS_ADDR_LEN; i++)
        h = (h ^ addr[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & p->mask;
}

/* The slot holding addr, or the free slot where it would go. */
static size_t peers__find(const peers_t *p, const unsigned char addr[PEERS_ADDR_LEN])
{
    size_t i = peers__home(p, addr);
    while (p->e[i].count > 0 && memcmp(p->e[i].addr, addr, PEERS_ADDR_LEN) != 0)
        i = (i + 1) & p->mask;
    return i;
}

bool peers_add(peers_t *p, const unsigned char addr[PEERS_ADDR_LEN], int limit)
{
    size_t i = peers__find(p, addr);
    if (limit > 0 && p->e[i].count >= limit)
        return false;
    if (p->e[i].count == 0)
        memcpy(p->e[i].addr, addr, PEERS_ADDR_LEN);
    p->e[i].count++;
    return true;
}

void peers_del(peers_t *p, const unsigned char addr[PEERS_ADDR_LEN])
{
    size_t i = peers__find(p, addr);
    if (p->e[i].count == 0 || --p->e[i].count > 0)
        return;
    /* Emptied: move back the entries after it that probed past it, so that
     * every entry stays reachable from its home without tombstones. */
    for (size_t j = (i + 1) & p->mask; p->e[j].count > 0; j = (j + 1) & p->mask) {
        size_t home = peers__home(p, p->e[j].addr);
        /* j may move into i when its home is not in (i, j] (cyclically). */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            p->e[i] = p->e[j];
            p->e[j].count = 0;
            i = j;
        }
    }
}

int peers_count(const peers_t *p, const unsigned char addr[PEERS_ADDR_LEN])
{
    return p->e[peers__find(p, addr)].count;
}
