/* db/query: LIKE patterns escape what users type. */
#include <stdlib.h>

#include "check.h"
#include "db/query.h"

static void *heap(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void test_like_patterns(void)
{
    ent_alloc_t a = {heap, NULL};
    char *p;
    CHECK_EQ_STR(p = query_like_pattern(&a, "ab", MATCH_STARTS_WITH), "ab%");
    free(p);
    CHECK_EQ_STR(p = query_like_pattern(&a, "ab", MATCH_ENDS_WITH), "%ab");
    free(p);
    CHECK_EQ_STR(p = query_like_pattern(&a, "ab", MATCH_CONTAINS), "%ab%");
    free(p);
    CHECK_EQ_STR(p = query_like_pattern(&a, "5%_a\\b", MATCH_STARTS_WITH), "5\\%\\_a\\\\b%");
    free(p);
    CHECK_EQ_STR(p = query_like_pattern(&a, "", MATCH_CONTAINS), "%%");
    free(p);
}

void register_query_tests(void)
{
    CU_pSuite s = CU_add_suite("db/query", NULL, NULL);
    CU_add_test(s, "LIKE patterns", test_like_patterns);
}
