/*
 * peers.h - open connections counted by client address, for the
 * per-client connection limit (ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT).
 *
 * An address is 16 bytes: IPv6 as is, IPv4 as its IPv4-mapped IPv6 form,
 * so one client counts once whichever way it connects. The table is open
 * addressing with linear probing, sized at start for every connection the
 * server can hold: adding never allocates. Not thread-safe: the server
 * calls it under its lock.
 */
#ifndef ENT_HTTP_PEERS_H
#define ENT_HTTP_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../core/err.h"

#define PEERS_ADDR_LEN 16

typedef struct peers peers_t;

/* A table for at most max_open connections at once. */
int peers_new(int max_open, peers_t **out) ENT_MUSTCHECK;
void peers_free(peers_t *p);

/* The 16-byte form of a socket address (zeros for other families). */
void peers_addr(const struct sockaddr *sa, unsigned char out[PEERS_ADDR_LEN]);

/* Counts one more connection of addr unless it already has limit (0: no
 * limit); false then, or when the table is full. */
bool peers_add(peers_t *p, const unsigned char addr[PEERS_ADDR_LEN], int limit);

/* Counts one connection of addr less (it must have been added). */
void peers_del(peers_t *p, const unsigned char addr[PEERS_ADDR_LEN]);

/* Open connections of addr. */
int peers_count(const peers_t *p, const unsigned char addr[PEERS_ADDR_LEN]);

#endif
