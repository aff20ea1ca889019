/*
 * check.h - CUnit assertions that print both values when they fail.
 */
#ifndef ENT_TEST_CHECK_H
#define ENT_TEST_CHECK_H

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#define CHECK_EQ_INT(actual, expected)                                                          \
    do {                                                                                        \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                         \
        char m_[256];                                                                           \
        snprintf(m_, sizeof m_, "%s == %s: got %lld, expected %lld", #actual, #expected, a_, e_); \
        CU_assertImplementation(a_ == e_, __LINE__, m_, __FILE__, "", CU_FALSE);                \
    } while (0)

#define CHECK_EQ_STR(actual, expected)                                                          \
    do {                                                                                        \
        const char *a_ = (actual), *e_ = (expected);                                            \
        char m_[640];                                                                           \
        snprintf(m_, sizeof m_, "%s == %s: got \"%.200s\", expected \"%.200s\"", #actual, #expected, \
                 a_ ? a_ : "(null)", e_ ? e_ : "(null)");                                       \
        CU_assertImplementation(a_ && e_ && strcmp(a_, e_) == 0, __LINE__, m_, __FILE__, "",   \
                                CU_FALSE);                                                      \
    } while (0)

#define CHECK(cond) CU_ASSERT(cond)

/* Each test file registers its suite. */
void register_rules_tests(void);
void register_guard_tests(void);
void register_frame_tests(void);
void register_config_tests(void);
void register_query_tests(void);
void register_ids_tests(void);
void register_base64_tests(void);
void register_hex_tests(void);
void register_utf8_tests(void);
void register_jwt_tests(void);
void register_versions_tests(void);
void register_webhook_tests(void);
void register_quote_tests(void);
void register_peers_tests(void);
void register_jarena_tests(void);
void register_jsonr_tests(void);
void register_thread_tests(void);

#endif
