/* core/jarena: jansson's allocations from a per-thread arena while it is
 * on, from malloc otherwise, and values of either kind freed rightly. Run
 * under ASan or valgrind (scripts/test with ENT_SANITIZE=1, test_valgrind)
 * a free() of an arena block or a block never given back fails. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/jarena.h"

static const char doc[] = "{\"header\":{\"tenantId\":\"t\",\"deviceId\":\"d\"},\"body\":{\"nodes\":"
                          "[{\"id\":\"A\",\"status\":{\"code\":\"0\"}},{\"id\":\"B\",\"status\":{\"code\":\"1\"}}]}}";

static void test_parse_in_the_arena(void)
{
    json_error_t e;
    jarena_on();
    json_t *v = json_loads(doc, 0, &e);
    jarena_off();
    CHECK(v != NULL);
    json_t *nodes = json_object_get(json_object_get(v, "body"), "nodes");
    CHECK_EQ_INT(json_array_size(nodes), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(nodes, 1), "id")), "B");
    /* With the arena off, what jansson makes is malloc'd: free() takes it. */
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(text != NULL && strstr(text, "\"deviceId\":\"d\"") != NULL);
    free(text);
    json_decref(v); /* frees nothing of the arena's */
    jarena_reset();
}

static void test_values_of_both_kinds(void)
{
    /* Made with the arena off, freed with it on: back to malloc's free. */
    json_t *before = json_pack("{s:[i,i,i]}", "a", 1, 2, 3);
    jarena_on();
    json_t *during = json_pack("{s:s}", "b", "x");
    json_decref(before);
    jarena_off();
    CHECK_EQ_STR(json_string_value(json_object_get(during, "b")), "x");
    json_decref(during);
    jarena_reset();
    /* Reset with nothing in the arena, twice. */
    jarena_reset();
    jarena_reset();
}

static void test_a_document_larger_than_a_block(void)
{
    /* 20,000 numbers: several blocks, all given back by the reset. */
    size_t n = 20000, k = 0;
    char *big = malloc(n * 8 + 3);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    big[k++] = '[';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(big + k, 9, i ? ",%zu" : "%zu", i % 1000);
    big[k++] = ']';
    big[k] = '\0';
    for (int round = 0; round < 3; round++) {
        json_error_t e;
        jarena_on();
        json_t *v = json_loads(big, 0, &e);
        jarena_off();
        CHECK_EQ_INT(json_array_size(v), n);
        CHECK_EQ_INT(json_integer_value(json_array_get(v, n - 1)), (n - 1) % 1000);
        json_decref(v);
        jarena_reset();
    }
    free(big);
}

static void *thread_leaves_its_arena(void *arg)
{
    (void)arg;
    json_error_t e;
    jarena_on();
    json_t *v = json_loads(doc, 0, &e);
    jarena_off();
    json_decref(v);
    /* No reset: the thread's exit gives the blocks back. */
    return v;
}

static void test_a_thread_exit_frees_its_blocks(void)
{
    pthread_t t[4];
    void *res[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, thread_leaves_its_arena, NULL), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(pthread_join(t[i], &res[i]), 0);
        CHECK(res[i] != NULL);
    }
}

void register_jarena_tests(void)
{
    CU_pSuite s = CU_add_suite("jarena", NULL, NULL);
    CU_add_test(s, "a document parsed in the arena, written with it off", test_parse_in_the_arena);
    CU_add_test(s, "values made with the arena on and off, freed either way", test_values_of_both_kinds);
    CU_add_test(s, "a document larger than a block, three times", test_a_document_larger_than_a_block);
    CU_add_test(s, "a thread's exit frees its arena", test_a_thread_exit_frees_its_blocks);
}
