/*
 * webhook.h - posting a message to a webhook, signed as Standard Webhooks
 * says: headers webhook-id, webhook-timestamp (seconds) and
 * webhook-signature "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>".
 *
 * With libcurl: connect and total timeouts, no redirect followed, http and
 * https only. Only a 2xx answer counts as delivered. webhook_global_init
 * runs once, before any thread.
 */
#ifndef ENT_SUBS_WEBHOOK_H
#define ENT_SUBS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

/* Longest detail of a failed attempt. */
#define WEBHOOK_DETAIL_MAX 200

typedef struct webhook_result {
    bool delivered;                       /* a 2xx answer */
    int http_status;                      /* 0: no HTTP answer */
    char detail[WEBHOOK_DETAIL_MAX + 1];  /* why it failed: "connection refused", "HTTP 500", ... */
    int duration_ms;
} webhook_result_t;

int webhook_global_init(void) ENT_MUSTCHECK;
void webhook_global_cleanup(void);

/* The signature header's value for (msg_id, timestamp, body) under key:
 * "v1," and the base64 of the HMAC, into out (cap bytes, 64 suffice). */
int webhook_sign(const unsigned char *key, size_t key_len, const char *msg_id, long long timestamp, const char *body,
                 size_t n, char *out, size_t cap) ENT_MUSTCHECK;

/* POSTs body (n bytes of JSON) to url as message msg_id, signed with key,
 * now. Fills *res whatever happens; returns ENT_OK, or ENT_ENOMEM when it
 * could not even try. */
int webhook_post(const char *url, const unsigned char *key, size_t key_len, const char *msg_id, const char *body,
                 size_t n, int connect_timeout_s, int timeout_s, webhook_result_t *res) ENT_MUSTCHECK;

#endif
