/*
 * webhook.h - posting a message to a webhook, signed as Standard Webhooks
 * says: headers webhook-id, webhook-timestamp (seconds) and
 * webhook-signature "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>".
 *
 * With libcurl: connect and total timeouts, no redirect followed, http and
 * https only, and only to the addresses a webhook_reach_t allows, checked
 * on each address curl connects to (after resolution, so a name that
 * resolves to another address tomorrow is checked then; no proxy from the
 * environment unless any address may be reached). Only a 2xx answer
 * counts as delivered. webhook_global_init runs once, before any thread.
 */
#ifndef ENT_SUBS_WEBHOOK_H
#define ENT_SUBS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../core/err.h"

/* Longest detail of a failed attempt. */
#define WEBHOOK_DETAIL_MAX 200

/* Which addresses a webhook may be posted to. Never, under the first two:
 * unspecified, link-local (169.254.0.0/16, where clouds serve instance
 * credentials, and fe80::/10), multicast, broadcast and reserved ones. */
typedef enum webhook_reach {
    WEBHOOK_REACH_PUBLIC,  /* public unicast addresses only */
    WEBHOOK_REACH_PRIVATE, /* those, loopback and private networks (10/8, 172.16/12, 192.168/16,
                            * 100.64/10, fc00::/7; also 192.0.0/24, the documentation networks
                            * and 198.18/15, which are not public) */
    WEBHOOK_REACH_ANY      /* any address */
} webhook_reach_t;

/* The reach named "public", "private" or "any"; -1 for another name. */
int webhook_reach_parse(const char *name);

/* Whether a webhook may connect to address sa (AF_INET or AF_INET6; an
 * IPv4 address inside an IPv6 one, mapped, NAT64, 6to4 or IPv4-compatible,
 * is judged as itself) under reach. */
bool webhook_address_allowed(const struct sockaddr *sa, webhook_reach_t reach);

typedef struct webhook_result {
    bool delivered;                       /* a 2xx answer */
    int http_status;                      /* 0: no HTTP answer */
    char detail[WEBHOOK_DETAIL_MAX + 1];  /* why it failed: "connection refused", "HTTP 500", ... */
    int duration_ms;
    long long started_ms;                 /* when the post began: milliseconds since the epoch */
} webhook_result_t;

int webhook_global_init(void) ENT_MUSTCHECK;
void webhook_global_cleanup(void);

/* The signature header's value for (msg_id, timestamp, body) under key:
 * "v1," and the base64 of the HMAC, into out (cap bytes, 64 suffice). */
int webhook_sign(const unsigned char *key, size_t key_len, const char *msg_id, long long timestamp, const char *body,
                 size_t n, char *out, size_t cap) ENT_MUSTCHECK;

/* How a post goes: the timeouts of an attempt (seconds), where it may go. */
typedef struct webhook_options {
    int connect_timeout_s;
    int timeout_s;
    webhook_reach_t reach;
} webhook_options_t;

/* POSTs body (n bytes of JSON) to url as message msg_id, signed with key,
 * now. Fills *res whatever happens (an address the options do not allow
 * is a failed attempt, "address A not allowed"); returns ENT_OK, or
 * ENT_ENOMEM when it could not even try. */
int webhook_post(const char *url, const unsigned char *key, size_t key_len, const char *msg_id, const char *body,
                 size_t n, const webhook_options_t *opt, webhook_result_t *res) ENT_MUSTCHECK;

#endif
