/*
 * rules.h - the lifecycle rules that need no database: reason codes,
 * identifier syntax, states, counts and the status of a whole request.
 */
#ifndef ENT_LC_RULES_H
#define ENT_LC_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/model.h"

/* Reason codes of failed units. The wire form is "CODE: message"; a code's
 * meaning never changes. */
typedef enum lc_reason {
    REASON_OK = 0,
    REASON_ENTITLEMENT_NOT_FOUND,
    REASON_LINE_ITEM_NOT_FOUND,
    REASON_LINE_ITEM_NOT_IN_ENTITLEMENT,
    REASON_INVALID_STATE,
    REASON_ACTIVATION_ID_EXISTS,
    REASON_INVALID_ACTIVATION_ID,
    REASON_PRODUCT_NOT_FOUND,
    REASON_NO_PRODUCT_RELATIONSHIP,
    REASON_INVALID_COUNT,
    REASON_NOT_RENEWABLE,
    REASON_DUPLICATE_IN_REQUEST,
    REASON_BATCH_TOO_LARGE,
    REASON_INVALID_REQUEST,
    REASON_DATABASE_UNAVAILABLE,
    REASON_ENTITLEMENT_EXISTS,   /* createSimpleEntitlement without opType: the id is taken */
    REASON_INVALID_ENTITLEMENT_ID,
    REASON_INTERNAL_ERROR,       /* a bug or an unexpected database error; logged */
    REASON_COMMIT_UNKNOWN,       /* the connection was lost while committing: applied or not, unknown */
    REASON_RESPONSE_TOO_LARGE,   /* a query page holds more than ENTITLEMENTD_MAX_PAGE_MB */
    REASON_LOCK_TIMEOUT,         /* a row it needs was locked elsewhere for longer than the service waits */
    REASON_COUNT_
} lc_reason_t;

const char *lc_reason_code(lc_reason_t r);

/* Status of a request from its unit outcomes. */
typedef enum lc_status {
    LC_SUCCESS,         /* every unit succeeded */
    LC_PARTIAL_FAILURE, /* some did */
    LC_FAILURE          /* none did, or there were none */
} lc_status_t;

const char *lc_status_name(lc_status_t s);
lc_status_t lc_status_of(size_t succeeded, size_t total);

/* Characters an activation id or entitlement id may not contain. */
#define LC_FORBIDDEN_ID_CHARS ",\"&%^()#@!~/<>\\}{=|."

/* Checks an identifier given by a client: 1..MODEL_MAX_ID_CHARS characters
 * of valid UTF-8, not only white space, no control characters (C0, DEL,
 * C1, U+2028, U+2029), none of LC_FORBIDDEN_ID_CHARS. Returns false and a
 * static description in *why when it is not valid. */
bool lc_id_valid(const char *id, const char **why);

/* Whether text (NUL-terminated UTF-8; NULL: not given, which fits) is at
 * most max characters, one of the field limits of core/model.h. Counts code
 * points as lc_id_valid does (a lead byte starts one; invalid UTF-8, which
 * the fronts refuse before this, still counts at most one per byte) and
 * writes the count to *chars, so that a message can say how long the text
 * was. */
bool lc_text_fits(const char *text, size_t max, size_t *chars);

/* Length of a calendar day written YYYY-MM-DD. */
#define LC_DATE_LEN 10

/* Checks an xs:date given by a client: YYYY-MM-DD with a four-digit year
 * (0001..9999) that names a real calendar day, optionally followed by a
 * time zone (Z, or +hh:mm / -hh:mm up to 14:00), with XML white space
 * around it. The day is what counts: the zone is dropped. Writes the day
 * (YYYY-MM-DD) to day and returns true, or returns false. */
bool lc_date_parse(const char *s, char day[LC_DATE_LEN + 1]);

/* Whether an identifier names by uniqueId when it has one (the business
 * key is then only checked against what the uniqueId names). */
bool lc_ref_by_unique_id(const model_ref_t *ref);

/* Whether the object that ref's uniqueId names, whose business key is
 * found_key, is also the one ref's key names; true unless ref has both
 * and they disagree. */
bool lc_ref_agrees(const model_ref_t *ref, const char *found_key);

/* Whether a line item in state item of an entitlement in state ent may be
 * upgraded, upsold or renewed. */
bool lc_state_allows_change(model_state_t item, model_state_t ent);

/* Whether an object in state from may be set to state to: OBSOLETE is
 * never left, and nothing goes back to DRAFT. */
bool lc_state_transition_ok(model_state_t from, model_state_t to);

/* Whether state to may be set at all (setEntitlementState,
 * setLineItemState): ACTIVE and ON_HOLD are accepted in queries only, not
 * as targets. */
bool lc_state_settable(model_state_t to);

/* Whether a line item of an entitlement in state ent may be in state to
 * (set, or created by createSimpleEntitlement): the line items of an
 * INACTIVE or OBSOLETE entitlement cannot be deployed (DEPLOYED, or TEST,
 * which behaves as deployed); deploying the entitlement is the way. */
bool lc_line_item_state_ok(model_state_t to, model_state_t ent);

/* Whether an existing entitlement in state ent may be changed by
 * createSimpleEntitlement with opType CREATE_OR_UPDATE: OBSOLETE is final. */
bool lc_entitlement_updatable(model_state_t ent);

/* Whether a renewal term of n units may be added to an expiration: a
 * renewal extends, so n is at least 1. */
bool lc_renew_term_ok(long long n);

/* Whether a renewal may expire on day (YYYY-MM-DD) when its parent expires
 * on parent (YYYY-MM-DD, NULL when it has no expiration): only later. */
bool lc_renew_date_ok(const char *day, const char *parent);

/* What setting an entitlement in state was to state to does to its line
 * items: those in one of the returned states (written to from, which holds
 * STATE_COUNT_ entries) move to *cascade_to. Returns how many states from
 * holds. */
size_t lc_entitlement_cascade(model_state_t was, model_state_t to, model_state_t *from, model_state_t *cascade_to);

/* The new line item's count: the parent's whole count when is_full, else
 * the requested count, which must be 1..parent_count (beyond: it was an
 * integer past 64 bits, requested only its nearest 64-bit value, so never
 * allowed). Returns false when the count is not allowed. */
bool lc_new_count(bool is_full, bool has_count, bool beyond, long long requested, long long parent_count,
                  long long *out);

/* Marks dup[i] true for every non-NULL ids[i] equal to an earlier ids[j]
 * (j < i). scratch holds lc_dup_scratch_len(n) entries. */
size_t lc_dup_scratch_len(size_t n);
void lc_mark_duplicates(const char *const *ids, size_t n, bool *dup, size_t *scratch);

#endif
