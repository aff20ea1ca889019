#include "rules.h"

#include <string.h>

#include "../core/utf8.h"

static const char *const lc__codes[REASON_COUNT_] = {
    [REASON_OK] = "OK",
    [REASON_ENTITLEMENT_NOT_FOUND] = "ENTITLEMENT_NOT_FOUND",
    [REASON_LINE_ITEM_NOT_FOUND] = "LINE_ITEM_NOT_FOUND",
    [REASON_LINE_ITEM_NOT_IN_ENTITLEMENT] = "LINE_ITEM_NOT_IN_ENTITLEMENT",
    [REASON_INVALID_STATE] = "INVALID_STATE",
    [REASON_ACTIVATION_ID_EXISTS] = "ACTIVATION_ID_EXISTS",
    [REASON_INVALID_ACTIVATION_ID] = "INVALID_ACTIVATION_ID",
    [REASON_PRODUCT_NOT_FOUND] = "PRODUCT_NOT_FOUND",
    [REASON_NO_PRODUCT_RELATIONSHIP] = "NO_PRODUCT_RELATIONSHIP",
    [REASON_INVALID_COUNT] = "INVALID_COUNT",
    [REASON_NOT_RENEWABLE] = "NOT_RENEWABLE",
    [REASON_DUPLICATE_IN_REQUEST] = "DUPLICATE_IN_REQUEST",
    [REASON_BATCH_TOO_LARGE] = "BATCH_TOO_LARGE",
    [REASON_INVALID_REQUEST] = "INVALID_REQUEST",
    [REASON_DATABASE_UNAVAILABLE] = "DATABASE_UNAVAILABLE",
    [REASON_ENTITLEMENT_EXISTS] = "ENTITLEMENT_EXISTS",
    [REASON_INVALID_ENTITLEMENT_ID] = "INVALID_ENTITLEMENT_ID",
    [REASON_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [REASON_COMMIT_UNKNOWN] = "COMMIT_UNKNOWN",
    [REASON_RESPONSE_TOO_LARGE] = "RESPONSE_TOO_LARGE",
    [REASON_LOCK_TIMEOUT] = "LOCK_TIMEOUT",
};

const char *lc_reason_code(lc_reason_t r)
{
    return (unsigned)r < REASON_COUNT_ ? lc__codes[r] : "INTERNAL_ERROR";
}

const char *lc_status_name(lc_status_t s)
{
    switch (s) {
    case LC_SUCCESS: return "SUCCESS";
    case LC_PARTIAL_FAILURE: return "PARTIAL_FAILURE";
    case LC_FAILURE: break;
    }
    return "FAILURE";
}

lc_status_t lc_status_of(size_t succeeded, size_t total)
{
    if (total == 0 || succeeded == 0)
        return LC_FAILURE;
    return succeeded == total ? LC_SUCCESS : LC_PARTIAL_FAILURE;
}

/* The value of n decimal digits at s, or -1 when one is not a digit. */
static int lc__digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool lc__xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool lc_date_parse(const char *s, char day[LC_DATE_LEN + 1])
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (s == NULL)
        return false;
    while (lc__xml_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && lc__xml_space(s[n - 1]))
        n--;
    if (n < LC_DATE_LEN || s[4] != '-' || s[7] != '-')
        return false;
    int y = lc__digits(s, 4), m = lc__digits(s + 5, 2), d = lc__digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return false;
    /* The time zone, if any: Z or (+|-)hh:mm, at most 14:00. */
    const char *z = s + LC_DATE_LEN;
    size_t zl = n - LC_DATE_LEN;
    if (zl == 1 && z[0] != 'Z')
        return false;
    if (zl == 6) {
        int hh = lc__digits(z + 1, 2), mm = lc__digits(z + 4, 2);
        if ((z[0] != '+' && z[0] != '-') || z[3] != ':' || hh < 0 || mm < 0 || mm > 59 || hh > 14 ||
            (hh == 14 && mm != 0))
            return false;
    } else if (zl != 0 && zl != 1) {
        return false;
    }
    memcpy(day, s, LC_DATE_LEN);
    day[LC_DATE_LEN] = '\0';
    return true;
}

bool lc_id_valid(const char *id, const char **why)
{
    size_t len, chars = 0, spaces = 0;

    if (id == NULL || id[0] == '\0') {
        *why = "is empty";
        return false;
    }
    len = strlen(id);
    if (!utf8_valid(id, len)) {
        *why = "is not valid UTF-8";
        return false;
    }
    for (size_t i = 0, n; i < len; i += n) {
        unsigned cp = 0;
        n = utf8_decode(id + i, len - i, &cp); /* not 0: the id is valid UTF-8 */
        chars++;
        spaces += utf8_is_space(cp);
        if (utf8_is_control(cp)) {
            *why = "contains a control character";
            return false;
        }
        if (cp < 0x80 && strchr(LC_FORBIDDEN_ID_CHARS, (int)cp) != NULL) {
            *why = "contains a character that is not allowed (, \" & % ^ ( ) # @ ! ~ / < > \\ } { = | .)";
            return false;
        }
    }
    if (spaces == chars) {
        *why = "is empty (only white space)";
        return false;
    }
    if (chars > MODEL_MAX_ID_CHARS) {
        *why = "is longer than 255 characters";
        return false;
    }
    return true;
}

bool lc_text_fits(const char *text, size_t max, size_t *chars)
{
    size_t n = 0;
    if (text != NULL)
        for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
            n += (*p & 0xC0) != 0x80; /* not a continuation byte: a character starts */
    *chars = n;
    return n <= max;
}

bool lc_ref_by_unique_id(const model_ref_t *ref)
{
    return ref->unique_id != NULL && ref->unique_id[0] != '\0';
}

bool lc_ref_agrees(const model_ref_t *ref, const char *found_key)
{
    if (!lc_ref_by_unique_id(ref) || ref->key == NULL || ref->key[0] == '\0')
        return true;
    return found_key != NULL && strcmp(ref->key, found_key) == 0;
}

bool lc_state_allows_change(model_state_t item, model_state_t ent)
{
    if (ent == STATE_INACTIVE || ent == STATE_OBSOLETE)
        return false;
    return item == STATE_DEPLOYED || item == STATE_TEST;
}

bool lc_state_transition_ok(model_state_t from, model_state_t to)
{
    if (from == to)
        return true;
    if (from == STATE_OBSOLETE)
        return false;
    return to != STATE_DRAFT;
}

bool lc_state_settable(model_state_t to)
{
    return to != STATE_ACTIVE && to != STATE_ON_HOLD && (unsigned)to < STATE_COUNT_;
}

bool lc_line_item_state_ok(model_state_t to, model_state_t ent)
{
    if (ent == STATE_INACTIVE || ent == STATE_OBSOLETE)
        return to != STATE_DEPLOYED && to != STATE_TEST;
    return true;
}

bool lc_entitlement_updatable(model_state_t ent)
{
    return ent != STATE_OBSOLETE;
}

bool lc_renew_term_ok(long long n)
{
    return n >= 1;
}

bool lc_renew_date_ok(const char *day, const char *parent)
{
    /* Days written YYYY-MM-DD with four-digit years order as text. */
    return parent == NULL || strncmp(day, parent, LC_DATE_LEN) > 0;
}

size_t lc_entitlement_cascade(model_state_t was, model_state_t to, model_state_t *from, model_state_t *cascade_to)
{
    size_t n = 0;
    *cascade_to = to;
    switch (to) {
    case STATE_DEPLOYED:
        /* Deploying deploys what was prepared; reactivating a suspended
         * entitlement also what its suspension took along. A line item
         * suspended on its own under a live entitlement stays suspended. */
        from[n++] = STATE_DRAFT;
        if (was == STATE_INACTIVE)
            from[n++] = STATE_INACTIVE;
        break;
    case STATE_TEST:
        /* A suspended entitlement made TEST is live again: what its
         * suspension took along comes back DEPLOYED, as when it is
         * deployed (line items of a TEST entitlement are DEPLOYED, as a
         * DEPLOYED one's; it holds no DRAFT ones to deploy unless asked). */
        if (was == STATE_INACTIVE) {
            from[n++] = STATE_INACTIVE;
            *cascade_to = STATE_DEPLOYED;
        }
        break;
    case STATE_INACTIVE:
    case STATE_OBSOLETE:
        /* Suspending or retiring takes every line item along (OBSOLETE ones stay). */
        for (int s = 0; s < STATE_COUNT_; s++)
            if (s != STATE_OBSOLETE && s != (int)to)
                from[n++] = (model_state_t)s;
        break;
    default:
        break;
    }
    return n;
}

bool lc_new_count(bool is_full, bool has_count, bool beyond, long long requested, long long parent_count,
                  long long *out)
{
    if (is_full) {
        *out = parent_count;
        return parent_count >= 1;
    }
    if (!has_count || beyond || requested < 1 || requested > parent_count)
        return false;
    *out = requested;
    return true;
}

static size_t lc__hash(const char *s)
{
    size_t h = (size_t)1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
    return h;
}

size_t lc_dup_scratch_len(size_t n)
{
    size_t cap = 2;
    while (cap < 2 * n)
        cap <<= 1;
    return cap;
}

void lc_mark_duplicates(const char *const *ids, size_t n, bool *dup, size_t *scratch)
{
    /* Open addressing over indices + 1 (0 marks an empty slot); the table
     * is at most half full. */
    size_t cap = lc_dup_scratch_len(n);
    memset(scratch, 0, cap * sizeof *scratch);
    for (size_t i = 0; i < n; i++) {
        dup[i] = false;
        if (ids[i] == NULL)
            continue;
        size_t slot = lc__hash(ids[i]) & (cap - 1);
        for (size_t probe = 0; probe < cap; probe++, slot = (slot + 1) & (cap - 1)) {
            if (scratch[slot] == 0) {
                scratch[slot] = i + 1;
                break;
            }
            if (strcmp(ids[scratch[slot] - 1], ids[i]) == 0) {
                dup[i] = true;
                break;
            }
        }
    }
}
