/*
 * Publishers' public keys for update-client JWTs, managed with admin
 * credentials (HTTP Basic):
 *
 *   PUT    /flexnet/operations/api/updates/update-authorization-key
 *          {"publicKey": base64 DER SubjectPublicKeyInfo, "publisherName", "kid"?}
 *   DELETE /flexnet/operations/api/updates/update-authorization-key?kid=K
 *          (or {"kid"} in the body) retires the key.
 *
 * Keys are RSA of at least 2048 bits (RS256) or EC P-256 (ES256). A key
 * uploaded without a kid gets its thumbprint (base64url SHA-256 of the
 * DER), so that every key can be named and retired.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/jwt.h"
#include "../core/base64.h"
#include "../core/log.h"
#include "fields.h"
#include "rest_int.h"

/* Longest publicKey value accepted (base64 of STORE_MAX_KEY_DER, with PEM
 * armour and line breaks). */
#define KEYS_MAX_B64 8192

/* Authenticates an admin; answers 401 / 403 / 429 / 503, or puts the
 * request back to wait for a credential check's turn, and returns false
 * otherwise. */
static bool keys__admin(rest_ctx_t *c, auth_user_t *user)
{
    char login[AUTH_MAX_LOGIN + 1], password[AUTH_MAX_FIELD + 1];
    const char *v, *why = "no credentials";
    size_t n;
    auth_verdict_t verdict = AUTH_DENIED;
    int wait_s = 0;
    if (http_header(c->r, "Authorization", &v, &n) && auth_basic_parse(v, n, login, password))
        verdict = auth_password(c->f->auth, login, password, c->r->peer, user, &why, &wait_s);
    memset(password, 0, sizeof password);
    if (verdict == AUTH_THROTTLED) {
        char retry[48];
        snprintf(retry, sizeof retry, "Retry-After: %d\r\n", wait_s);
        log_info("key management: 429: %s", why);
        rest_error(c, 429, retry, "too many failed logins from this address or for this user; try again in %d s",
                   wait_s);
        return false;
    }
    if (verdict == AUTH_BUSY && http_retry_later(c->x, AUTH_PARK_MAX_S))
        return false; /* served again from the start later, holding no thread meanwhile */
    if (verdict == AUTH_BUSY || verdict == AUTH_UNAVAILABLE) {
        rest_error(c, 503, NULL, "credentials cannot be checked now; try again");
        return false;
    }
    if (verdict != AUTH_OK) {
        log_info("key management: 401: %s", why);
        rest_error(c, 401, "WWW-Authenticate: Basic realm=\"entitlementd\"\r\n",
                   "admin credentials are required (HTTP Basic)");
        return false;
    }
    if (!user->is_admin) {
        rest_error(c, 403, NULL, "only an admin user may manage publisher keys");
        return false;
    }
    return true;
}

/* Decodes publicKey: base64 of the DER, line breaks and PEM armour
 * allowed. Returns the DER length, 0 when it is not base64. */
static size_t keys__der(const char *b64, unsigned char *der, size_t cap)
{
    char clean[KEYS_MAX_B64 + 1];
    size_t n = 0, len = 0;
    const char *p = b64;
    if (strncmp(p, "-----BEGIN PUBLIC KEY-----", 26) == 0)
        p += 26;
    for (; *p && strncmp(p, "-----END PUBLIC KEY-----", 24) != 0; p++) {
        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
            continue;
        if (n >= KEYS_MAX_B64)
            return 0;
        clean[n++] = *p;
    }
    if (b64_decode(clean, n, der, cap, &len) != ENT_OK)
        return 0;
    return len;
}

void keys_put(rest_ctx_t *c)
{
    auth_user_t user;
    fv_t v = {false, ""};
    json_t *body = NULL;
    db_conn_t *conn = NULL;
    EVP_PKEY *key = NULL;
    int rc = ENT_OK;
    unsigned char der[STORE_MAX_KEY_DER];

    if (!keys__admin(c, &user) || (body = rest_body(c)) == NULL)
        return;
    if (!json_is_object(body))
        fv_fail(&v, "the body must be a JSON object");
    const char *b64 = fv_string(&v, body, "", "publicKey", true, KEYS_MAX_B64, FV_TEXT);
    const char *publisher = fv_string(&v, body, "", "publisherName", true, FIELDS_MAX_ID, FV_ID);
    const char *kid = fv_string(&v, body, "", "kid", false, JWT_MAX_KID, FV_ID);
    if (publisher != NULL && publisher[0] == '\0')
        fv_fail(&v, "publisherName: must not be empty");
    if (kid != NULL)
        for (const char *k = kid; *k; k++)
            if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7E)
                fv_fail(&v, "kid: must be 1 to %d printable ASCII characters without spaces", JWT_MAX_KID);
    if (kid != NULL && kid[0] == '\0')
        fv_fail(&v, "kid: must not be empty");
    size_t dlen = b64 && !v.bad ? keys__der(b64, der, sizeof der) : 0;
    if (b64 != NULL && !v.bad && dlen == 0)
        fv_fail(&v, "publicKey: must be the base64 of a DER SubjectPublicKeyInfo");
    if (!v.bad && jwt_key_from_der(der, dlen, &key) != ENT_OK)
        fv_fail(&v, "publicKey: must be an RSA key of at least %d bits or an EC key on P-256", JWT_RSA_MIN_BITS);
    /* A required field fv_string did not find has marked v bad. */
    if (v.bad || publisher == NULL) {
        rest_error(c, 400, NULL, "%s", v.msg);
        goto out;
    }
    char thumb[JWT_THUMBPRINT_LEN + 1];
    if (kid == NULL) {
        if (jwt_key_thumbprint(der, dlen, thumb, sizeof thumb) != ENT_OK) {
            rest_error(c, 500, NULL, "internal error (request %s)", c->r->request_id);
            goto out;
        }
        kid = thumb;
    }
    const char *alg = jwt_key_alg(key) == JWT_ALG_RS256 ? "RS256" : "ES256";
    if ((conn = rest_db(c)) == NULL)
        goto out;
    long long id = 0;
    int status = 201;
    rc = store_key_add(conn, publisher, kid, alg, der, dlen, user.login, &id);
    if (rc == ENT_EEXIST || rc == ENT_EPERM) {
        /* The same key again is no error (at the publisher's limit too);
         * another key under this kid is, as one more than the limit. */
        bool full = rc == ENT_EPERM;
        store_key_t *same = malloc(STORE_MAX_KEYS * sizeof *same);
        size_t n = 0;
        rc = same ? store_key_find(conn, STORE_KEY_BY_KID, kid, same, STORE_MAX_KEYS, &n) : ENT_ENOMEM;
        bool again = false;
        for (size_t i = 0; rc == ENT_OK && i < n; i++)
            again = again || (strcmp(same[i].publisher, publisher) == 0 && same[i].der_len == dlen &&
                              memcmp(same[i].der, der, dlen) == 0);
        free(same);
        if (rc == ENT_OK && !again && full) {
            rest_error(c, 409, NULL, "the publisher has %d active keys, the most it may have; retire one first",
                       STORE_MAX_KEYS);
            goto out;
        }
        if (rc == ENT_OK && !again) {
            rest_error(c, 409, NULL,
                       "kid '%s' names another active key of this publisher; retire it first or choose another kid",
                       kid);
            goto out;
        }
        status = 200;
    }
    if (rc != ENT_OK) {
        rest_db_error(c, rc, "storing a publisher key");
        goto out;
    }
    auth_forget_keys(c->f->auth);
    log_info("publisher key %s (%s) of %s stored by %s", kid, alg, publisher, user.login);
    rest_json(c, status, json_pack("{s:s, s:s, s:s}", "publisherName", publisher, "kid", kid, "alg", alg), NULL);
out:
    if (conn != NULL)
        rest_db_release(c, conn, rc);
    EVP_PKEY_free(key);
    json_decref(body);
}

void keys_delete(rest_ctx_t *c)
{
    auth_user_t user;
    char kid[JWT_MAX_KID + 1] = "", publisher[STORE_MAX_NAME + 1] = "", owner[STORE_MAX_NAME + 1];
    json_t *body = NULL;
    db_conn_t *conn = NULL;
    const char *why;
    int rc = ENT_OK;

    if (!keys__admin(c, &user))
        return;
    int qk = rest_query(c, "kid", kid, sizeof kid), qp = rest_query(c, "publisherName", publisher, sizeof publisher);
    if (qk < 0 || qp < 0) {
        rest_error(c, 400, NULL, "%s: %s", qk < 0 ? "kid" : "publisherName",
                   (qk < 0 ? qk : qp) == -2 ? "given more than once" : "not valid percent-encoding, or too long");
        return;
    }
    /* A body is read as any body is (415, 400), whether or not the query
     * names the key too; the two must then agree. */
    if (c->r->body_len > 0) {
        fv_t v = {false, ""};
        if ((body = rest_body(c)) == NULL)
            return;
        const char *k = fv_string(&v, body, "", "kid", kid[0] == '\0', JWT_MAX_KID, FV_ID);
        const char *p = fv_string(&v, body, "", "publisherName", false, FIELDS_MAX_ID, FV_ID);
        if (!v.bad && k != NULL && kid[0] != '\0' && strcmp(k, kid) != 0)
            fv_fail(&v, "kid: the query and the body name different keys");
        if (!v.bad && p != NULL && publisher[0] != '\0' && strcmp(p, publisher) != 0)
            fv_fail(&v, "publisherName: the query and the body name different publishers");
        if (v.bad) {
            rest_error(c, 400, NULL, "%s", v.msg);
            goto out;
        }
        /* fv_string bounded both in characters; a kid is printable ASCII
         * (keys_put), so one over JWT_MAX_KID bytes names no key. */
        if (k != NULL && strlen(k) > JWT_MAX_KID) {
            rest_error(c, 404, NULL, "no active key with this kid");
            goto out;
        }
        if (k != NULL)
            snprintf(kid, sizeof kid, "%s", k);
        if (p != NULL && strlen(p) < sizeof publisher)
            snprintf(publisher, sizeof publisher, "%s", p);
    }
    if (kid[0] == '\0') {
        rest_error(c, 400, NULL, "kid: required (as ?kid= or in the body)");
        goto out;
    }
    if (!fv_text_ok(kid, strlen(kid), JWT_MAX_KID, FV_ID, &why)) {
        rest_error(c, 400, NULL, "kid: %s", why);
        goto out;
    }
    if (publisher[0] != '\0' && !fv_text_ok(publisher, strlen(publisher), FIELDS_MAX_ID, FV_ID, &why)) {
        rest_error(c, 400, NULL, "publisherName: %s", why);
        goto out;
    }
    if ((conn = rest_db(c)) == NULL)
        goto out;
    rc = store_key_retire(conn, kid, publisher[0] ? publisher : NULL, owner);
    if (rc == ENT_ENOTFOUND) {
        rc = ENT_OK;
        rest_error(c, 404, NULL, "no active key with this kid");
        goto out;
    }
    if (rc == ENT_EEXIST) {
        rc = ENT_OK;
        rest_error(c, 400, NULL, "publisherName: required, as kid '%s' names active keys of several publishers", kid);
        goto out;
    }
    if (rc != ENT_OK) {
        rest_db_error(c, rc, "retiring a publisher key");
        goto out;
    }
    auth_forget_keys(c->f->auth);
    log_info("publisher key %s of %s retired by %s", kid, owner, user.login);
    rest_json(c, 200, json_pack("{s:s, s:s, s:b}", "publisherName", owner, "kid", kid, "retired", 1), NULL);
out:
    if (conn != NULL)
        rest_db_release(c, conn, rc);
    json_decref(body);
}
