/* lifecycle/rules: identifiers, states, counts, status aggregation. */
#include <string.h>

#include "check.h"
#include "lifecycle/rules.h"

static void test_status_aggregation(void)
{
    CHECK_EQ_INT(lc_status_of(3, 3), LC_SUCCESS);
    CHECK_EQ_INT(lc_status_of(2, 3), LC_PARTIAL_FAILURE);
    CHECK_EQ_INT(lc_status_of(0, 3), LC_FAILURE);
    CHECK_EQ_INT(lc_status_of(0, 0), LC_FAILURE); /* an empty request fails */
    CHECK_EQ_STR(lc_status_name(LC_PARTIAL_FAILURE), "PARTIAL_FAILURE");
}

static void test_reason_codes_are_stable(void)
{
    CHECK_EQ_STR(lc_reason_code(REASON_LINE_ITEM_NOT_FOUND), "LINE_ITEM_NOT_FOUND");
    CHECK_EQ_STR(lc_reason_code(REASON_NO_PRODUCT_RELATIONSHIP), "NO_PRODUCT_RELATIONSHIP");
    CHECK_EQ_STR(lc_reason_code(REASON_BATCH_TOO_LARGE), "BATCH_TOO_LARGE");
    CHECK_EQ_STR(lc_reason_code(REASON_DATABASE_UNAVAILABLE), "DATABASE_UNAVAILABLE");
    for (int r = 0; r < REASON_COUNT_; r++)
        CHECK(lc_reason_code((lc_reason_t)r) != NULL && lc_reason_code((lc_reason_t)r)[0] != '\0');
}

static void test_ids(void)
{
    const char *why = NULL;
    char long_id[300];

    CHECK(lc_id_valid("ACT-1234_abc", &why));
    CHECK(lc_id_valid("caf\xc3\xa9-\xe2\x82\xac", &why)); /* é and € */
    CHECK(!lc_id_valid("", &why));
    CHECK(!lc_id_valid("a'b\"c", &why));
    const char *forbidden = ",\"&%^()#@!~/<>\\}{=|.";
    for (const char *p = forbidden; *p; p++) {
        char id[4] = {'a', *p, 'b', 0};
        CHECK(!lc_id_valid(id, &why));
    }
    CHECK(!lc_id_valid("bad\xff" "utf8", &why));
    CHECK_EQ_STR(why, "is not valid UTF-8");
    CHECK(!lc_id_valid("\xc0\xaf", &why));        /* overlong '/' */
    CHECK(!lc_id_valid("\xed\xa0\x80", &why));    /* a surrogate */
    CHECK(!lc_id_valid("tab\there", &why));
    CHECK_EQ_STR(why, "contains a control character");
    /* Every control character: C0, DEL, C1, line and paragraph separators. */
    static const char *const controls[] = {"a\x01", "a\x1f", "a\x7f", "a\xc2\x80", "a\xc2\x85", "a\xc2\x9f",
                                           "a\xe2\x80\xa8", "a\xe2\x80\xa9", "\n"};
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        why = NULL;
        CHECK(!lc_id_valid(controls[i], &why));
        CHECK_EQ_STR(why, "contains a control character");
    }
    CHECK(lc_id_valid("a\xc2\xa0" "b", &why));  /* U+00A0 inside is a character like others */
    CHECK(lc_id_valid("a\xc2\xa1", &why));      /* U+00A1, just past C1 */
    CHECK(lc_id_valid("a\xe2\x80\xa7", &why)); /* U+2027, just before the separators */
    /* Empty after trimming white space. */
    static const char *const blank[] = {" ", "   ", "\xc2\xa0", " \xe3\x80\x80 ", "\xe2\x80\x83"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        why = NULL;
        CHECK(!lc_id_valid(blank[i], &why));
        CHECK_EQ_STR(why, "is empty (only white space)");
    }
    CHECK(lc_id_valid(" a ", &why));
    memset(long_id, 'x', 255);
    long_id[255] = '\0';
    CHECK(lc_id_valid(long_id, &why));
    long_id[255] = 'x';
    long_id[256] = '\0';
    CHECK(!lc_id_valid(long_id, &why));
    CHECK_EQ_STR(why, "is longer than 255 characters");
    /* 255 two-byte characters are 255 characters, not 510. */
    char wide[600];
    for (int i = 0; i < 255; i++)
        memcpy(wide + 2 * i, "\xc3\xa9", 2);
    wide[510] = '\0';
    CHECK(lc_id_valid(wide, &why));
}

static void test_text_limits(void)
{
    size_t chars = 99;
    char buf[4 * 300 + 1];

    CHECK(lc_text_fits(NULL, 0, &chars)); /* not given: fits */
    CHECK_EQ_INT(chars, 0);
    CHECK(lc_text_fits("", 0, &chars));
    CHECK(lc_text_fits("abc", 3, &chars));
    CHECK_EQ_INT(chars, 3);
    CHECK(!lc_text_fits("abcd", 3, &chars));
    CHECK_EQ_INT(chars, 4);
    /* Characters of 1 to 4 bytes count one each: 255 of them fit 255,
     * however many bytes they take, and one more does not. */
    static const char *const wide[] = {"x", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e"};
    for (size_t w = 0; w < 4; w++) {
        size_t len = strlen(wide[w]), n = 0;
        for (int i = 0; i < MODEL_MAX_NAME_CHARS; i++, n += len)
            memcpy(buf + n, wide[w], len);
        buf[n] = '\0';
        CHECK(lc_text_fits(buf, MODEL_MAX_NAME_CHARS, &chars));
        CHECK_EQ_INT(chars, MODEL_MAX_NAME_CHARS);
        memcpy(buf + n, wide[w], len);
        buf[n + len] = '\0';
        CHECK(!lc_text_fits(buf, MODEL_MAX_NAME_CHARS, &chars));
        CHECK_EQ_INT(chars, MODEL_MAX_NAME_CHARS + 1);
    }
    /* Combining marks are characters of their own, as PostgreSQL's
     * char_length counts them. */
    CHECK(lc_text_fits("e\xcc\x81", 2, &chars));
    CHECK_EQ_INT(chars, 2);
    CHECK(!lc_text_fits("e\xcc\x81", 1, &chars));
}

static void test_states(void)
{
    CHECK(lc_state_allows_change(STATE_DEPLOYED, STATE_DEPLOYED));
    CHECK(lc_state_allows_change(STATE_TEST, STATE_DEPLOYED));
    CHECK(lc_state_allows_change(STATE_DEPLOYED, STATE_DRAFT));
    CHECK(!lc_state_allows_change(STATE_DRAFT, STATE_DEPLOYED));
    CHECK(!lc_state_allows_change(STATE_OBSOLETE, STATE_DEPLOYED));
    CHECK(!lc_state_allows_change(STATE_INACTIVE, STATE_DEPLOYED));
    CHECK(!lc_state_allows_change(STATE_ACTIVE, STATE_DEPLOYED));
    CHECK(!lc_state_allows_change(STATE_ON_HOLD, STATE_DEPLOYED));
    CHECK(!lc_state_allows_change(STATE_DEPLOYED, STATE_INACTIVE));
    CHECK_EQ_INT(model_state_parse("OBSOLETE"), STATE_OBSOLETE);
    CHECK_EQ_INT(model_state_parse("obsolete"), -1);
    CHECK_EQ_STR(model_state_name(STATE_ON_HOLD), "ON_HOLD");
}

static void test_counts(void)
{
    long long n = -1;
    CHECK(lc_new_count(true, false, false, 0, 10, &n));
    CHECK_EQ_INT(n, 10);
    CHECK(lc_new_count(false, true, false, 4, 10, &n));
    CHECK_EQ_INT(n, 4);
    CHECK(lc_new_count(false, true, false, 10, 10, &n));
    CHECK(!lc_new_count(false, true, false, 11, 10, &n));
    CHECK(!lc_new_count(false, true, false, 0, 10, &n));
    CHECK(!lc_new_count(false, true, false, -3, 10, &n));
    CHECK(!lc_new_count(false, false, false, 0, 10, &n));
    CHECK(!lc_new_count(true, false, false, 0, 0, &n)); /* nothing left to move */
}

static void test_transitions(void)
{
    CHECK(lc_state_transition_ok(STATE_DRAFT, STATE_DEPLOYED));
    CHECK(lc_state_transition_ok(STATE_DEPLOYED, STATE_INACTIVE));
    CHECK(lc_state_transition_ok(STATE_INACTIVE, STATE_DEPLOYED));
    CHECK(lc_state_transition_ok(STATE_OBSOLETE, STATE_OBSOLETE));
    CHECK(!lc_state_transition_ok(STATE_OBSOLETE, STATE_DEPLOYED)); /* OBSOLETE is final */
    CHECK(!lc_state_transition_ok(STATE_DEPLOYED, STATE_DRAFT));

    model_state_t from[STATE_COUNT_], to;
    /* Deploying deploys DRAFT line items; reactivating also INACTIVE ones. */
    size_t n = lc_entitlement_cascade(STATE_INACTIVE, STATE_DEPLOYED, from, &to);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(to, STATE_DEPLOYED);
    CHECK_EQ_INT(from[0], STATE_DRAFT);
    CHECK_EQ_INT(from[1], STATE_INACTIVE);
    static const model_state_t live[] = {STATE_DRAFT, STATE_TEST, STATE_DEPLOYED};
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        n = lc_entitlement_cascade(live[i], STATE_DEPLOYED, from, &to);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(from[0], STATE_DRAFT);
    }
    n = lc_entitlement_cascade(STATE_DEPLOYED, STATE_INACTIVE, from, &to);
    CHECK_EQ_INT(n, STATE_COUNT_ - 2); /* all but OBSOLETE and INACTIVE itself */
    for (size_t i = 0; i < n; i++)
        CHECK(from[i] != STATE_OBSOLETE && from[i] != STATE_INACTIVE);
    CHECK_EQ_INT(lc_entitlement_cascade(STATE_DRAFT, STATE_TEST, from, &to), 0);
    /* A suspended one made TEST brings its INACTIVE line items back DEPLOYED. */
    CHECK_EQ_INT(lc_entitlement_cascade(STATE_INACTIVE, STATE_TEST, from, &to), 1);
    CHECK_EQ_INT(from[0], STATE_INACTIVE);
    CHECK_EQ_INT(to, STATE_DEPLOYED);
}

static void test_settable_states(void)
{
    /* ACTIVE and ON_HOLD are query values, never targets. */
    CHECK(!lc_state_settable(STATE_ACTIVE));
    CHECK(!lc_state_settable(STATE_ON_HOLD));
    CHECK(!lc_state_settable(STATE_COUNT_));
    CHECK(lc_state_settable(STATE_DEPLOYED));
    CHECK(lc_state_settable(STATE_INACTIVE));
    CHECK(lc_state_settable(STATE_OBSOLETE));
    CHECK(lc_state_settable(STATE_TEST));
    CHECK(lc_state_settable(STATE_DRAFT)); /* refused by the transition unless already DRAFT */
}

static void test_line_item_state_in_entitlement(void)
{
    /* No deployed line item in an INACTIVE or OBSOLETE entitlement. */
    CHECK(!lc_line_item_state_ok(STATE_DEPLOYED, STATE_INACTIVE));
    CHECK(!lc_line_item_state_ok(STATE_TEST, STATE_INACTIVE));
    CHECK(!lc_line_item_state_ok(STATE_DEPLOYED, STATE_OBSOLETE));
    CHECK(lc_line_item_state_ok(STATE_INACTIVE, STATE_INACTIVE));
    CHECK(lc_line_item_state_ok(STATE_OBSOLETE, STATE_INACTIVE));
    CHECK(lc_line_item_state_ok(STATE_DRAFT, STATE_INACTIVE));
    CHECK(lc_line_item_state_ok(STATE_DEPLOYED, STATE_DEPLOYED));
    CHECK(lc_line_item_state_ok(STATE_DEPLOYED, STATE_TEST));
    CHECK(lc_line_item_state_ok(STATE_DEPLOYED, STATE_DRAFT));
    /* OBSOLETE is final for CREATE_OR_UPDATE too. */
    CHECK(!lc_entitlement_updatable(STATE_OBSOLETE));
    CHECK(lc_entitlement_updatable(STATE_DEPLOYED));
    CHECK(lc_entitlement_updatable(STATE_INACTIVE));
    CHECK(lc_entitlement_updatable(STATE_DRAFT));
}

static void test_dates(void)
{
    char day[LC_DATE_LEN + 1];
    static const struct {
        const char *in, *day;
    } ok[] = {
        {"2027-12-31", "2027-12-31"}, {"2028-02-29", "2028-02-29"}, {"2000-02-29", "2000-02-29"},
        {"0001-01-01", "0001-01-01"}, {"9999-12-31", "9999-12-31"}, {"2027-01-01Z", "2027-01-01"},
        {"2027-01-01+02:00", "2027-01-01"}, {"2027-01-01-14:00", "2027-01-01"},
        {"2027-01-01+05:45", "2027-01-01"}, {" 2027-06-30\n", "2027-06-30"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        memset(day, 0, sizeof day);
        CHECK(lc_date_parse(ok[i].in, day));
        CHECK_EQ_STR(day, ok[i].day);
    }
    static const char *const bad[] = {
        "2027-13-45", "2027-02-30", "2027-02-29", "1900-02-29", "2027-04-31", "2027-00-10", "2027-01-00",
        "abc", "", " ", "2027-1-1", "27-01-01", "02027-01-01", "0000-01-01", "2027/01/01", "2027-01-01T00:00:00",
        "2027-01-01+15:00", "2027-01-01+14:30", "2027-01-01+02:60", "2027-01-01+0200", "2027-01-01z",
        "2027-01-01 Z", "2027-01-01UTC", "-2027-01-01", "+2027-01-01", "2027-01-0a", "２０２７-01-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!lc_date_parse(bad[i], day));
    CHECK(!lc_date_parse(NULL, day));
}

static void test_renewals(void)
{
    CHECK(lc_renew_term_ok(1));
    CHECK(lc_renew_term_ok(120));
    CHECK(!lc_renew_term_ok(0));
    CHECK(!lc_renew_term_ok(-5));
    CHECK(lc_renew_date_ok("2028-03-31", "2027-03-31"));
    CHECK(lc_renew_date_ok("2027-04-01", "2027-03-31"));
    CHECK(!lc_renew_date_ok("2027-03-31", "2027-03-31")); /* extends nothing */
    CHECK(!lc_renew_date_ok("2026-12-31", "2027-03-31"));
    CHECK(!lc_renew_date_ok("0999-12-31", "2027-03-31"));
    CHECK(lc_renew_date_ok("2001-01-01", NULL)); /* the parent never expired */
}

static void test_identifiers_agree(void)
{
    model_ref_t both = {"HID-5", "ACT-1"}, uid = {"HID-5", NULL}, key = {NULL, "ACT-1"}, blank = {"", "ACT-1"};
    CHECK(lc_ref_by_unique_id(&both));
    CHECK(lc_ref_by_unique_id(&uid));
    CHECK(!lc_ref_by_unique_id(&key));
    CHECK(!lc_ref_by_unique_id(&blank)); /* an empty uniqueId is not one */
    CHECK(lc_ref_agrees(&both, "ACT-1"));
    CHECK(!lc_ref_agrees(&both, "ACT-2"));
    CHECK(!lc_ref_agrees(&both, NULL));
    CHECK(lc_ref_agrees(&uid, "ACT-2"));
    CHECK(lc_ref_agrees(&key, "ACT-2")); /* found by key: nothing to compare */
    CHECK(lc_ref_agrees(&blank, "ACT-2"));
}

static void test_duplicates(void)
{
    const char *ids[] = {"a", NULL, "b", "a", "c", "b", NULL, "a"};
    bool dup[8];
    size_t scratch[64];
    CHECK(lc_dup_scratch_len(8) <= 64);
    lc_mark_duplicates(ids, 8, dup, scratch);
    bool want[8] = {false, false, false, true, false, true, false, true};
    for (int i = 0; i < 8; i++)
        CHECK_EQ_INT(dup[i], want[i]);
    lc_mark_duplicates(ids, 0, dup, scratch); /* empty is fine */
}

void register_rules_tests(void)
{
    CU_pSuite s = CU_add_suite("lifecycle/rules", NULL, NULL);
    CU_add_test(s, "status aggregation", test_status_aggregation);
    CU_add_test(s, "reason codes", test_reason_codes_are_stable);
    CU_add_test(s, "identifier syntax", test_ids);
    CU_add_test(s, "text field limits in characters", test_text_limits);
    CU_add_test(s, "states", test_states);
    CU_add_test(s, "counts", test_counts);
    CU_add_test(s, "state transitions and cascades", test_transitions);
    CU_add_test(s, "settable states", test_settable_states);
    CU_add_test(s, "line item states within their entitlement", test_line_item_state_in_entitlement);
    CU_add_test(s, "dates", test_dates);
    CU_add_test(s, "renewal terms and dates", test_renewals);
    CU_add_test(s, "uniqueId and key agree", test_identifiers_agree);
    CU_add_test(s, "duplicate ids in a request", test_duplicates);
}
