/* core/jsonr: the fast reader takes the common forms and reads them as
 * jansson does; it leaves everything else to jansson, and jsonr_load then
 * answers as json_loadb with JSON_REJECT_DUPLICATES does. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/jarena.h"
#include "core/jsonr.h"

/* Both readers give the same values, keys in the same order. */
static void check_same(const char *text)
{
    json_error_t e;
    json_t *fast = jsonr_fast(text, strlen(text)), *slow = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &e);
    CHECK(fast != NULL);
    CHECK(slow != NULL);
    if (fast == NULL || slow == NULL)
        goto out;
    CHECK(json_equal(fast, slow));
    char *a = json_dumps(fast, JSON_COMPACT), *b = json_dumps(slow, JSON_COMPACT);
    CHECK_EQ_STR(a, b);
    free(a);
    free(b);
out:
    json_decref(fast);
    json_decref(slow);
}

static void test_common_forms(void)
{
    check_same("{}");
    check_same("[]");
    check_same(" \t\r\n{ \"a\" : 1 , \"b\" : [ ] } \n");
    check_same("{\"header\":{\"tenantId\":\"t\",\"deviceId\":\"d\"},\"body\":{\"nodes\":"
               "[{\"id\":\"A\",\"status\":{\"code\":\"0\",\"timestamp\":1700000000000}},{\"id\":\"B\"}]}}");
    check_same("[0,-0,7,-42,123456789012345678,-123456789012345678,true,false,null,\"\",\"x\"]");
    /* Keys in the text's order, not sorted; an empty key. */
    check_same("{\"z\":1,\"a\":2,\"m\":{\"\":3}}");
    /* UTF-8 of two, three and four bytes; DEL is not a control JSON bans. */
    check_same("[\"caf\xc3\xa9\",\"\xe2\x82\xac\",\"\xf0\x9f\x98\x80\",\"\x7f\"]");
    json_t *v = jsonr_fast("{\"n\":-123456789012345678}", 25);
    CHECK(v != NULL && json_integer_value(json_object_get(v, "n")) == -123456789012345678LL);
    json_decref(v);
}

/* Texts the fast reader leaves to jansson, valid or not. */
static void check_declined(const char *text, size_t len)
{
    json_t *v = jsonr_fast(text, len);
    CHECK(v == NULL);
    json_decref(v);
}
#define DECLINED(lit) check_declined(lit, sizeof lit - 1)

static void test_what_it_leaves_to_jansson(void)
{
    /* Valid, but jansson's to read. */
    DECLINED("{\"r\":1.5}");
    DECLINED("{\"r\":1e3}");
    DECLINED("{\"r\":1E3}");
    DECLINED("{\"s\":\"a\\nb\"}");
    DECLINED("{\"s\":\"\\u00e9\"}");
    DECLINED("[1234567890123456789]");
    DECLINED("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    /* Not JSON, or not what json_loadb takes without flags. */
    DECLINED("");
    DECLINED("   ");
    DECLINED("\"top\"");
    DECLINED("42");
    DECLINED("{\"a\":1,\"a\":2}");
    DECLINED("{\"a\":1,}");
    DECLINED("[1,]");
    DECLINED("[01]");
    DECLINED("[-]");
    DECLINED("[-01]");
    DECLINED("[+1]");
    DECLINED("[truex]");
    DECLINED("[tru]");
    DECLINED("{\"a\" 1}");
    DECLINED("{a:1}");
    DECLINED("{\"a\":1} x");
    DECLINED("{\"a\":1}{}");
    DECLINED("[\"a\x01\"]");
    DECLINED("[\"unterminated]");
    DECLINED("[\"\xed\xa0\x80\"]");     /* a surrogate */
    DECLINED("[\"\xc0\xaf\"]");         /* an overlong '/' */
    DECLINED("[\"\xf4\x90\x80\x80\"]"); /* past U+10FFFF */
    DECLINED("[\"\xe2\x82\"]");         /* cut short */
    DECLINED("\xef\xbb\xbf{}");         /* a byte order mark */
    DECLINED("[1\0]");
    DECLINED("{\"a\":[1,2}");
}

/* jsonr_load: jansson's answer where the fast reader declined. */
static void test_load_answers_as_jansson(void)
{
    json_error_t e;
    memset(&e, 0, sizeof e);
    json_t *v = jsonr_load("{\"r\":2.5,\"s\":\"a\\u00e9\"}", 23, &e);
    CHECK(v != NULL);
    CHECK(json_real_value(json_object_get(v, "r")) == 2.5);
    CHECK_EQ_STR(json_string_value(json_object_get(v, "s")), "a\xc3\xa9");
    json_decref(v);
    v = jsonr_load("{\"a\":1,\"a\":2}", 13, &e);
    CHECK(v == NULL);
    CHECK(strstr(e.text, "duplicate") != NULL);
    v = jsonr_load("{\"a\":01}", 8, &e);
    CHECK(v == NULL);
    CHECK_EQ_INT(e.position, 6);
    v = jsonr_load("[99999999999999999999]", 22, &e);
    CHECK(v == NULL);
    CHECK_EQ_INT(json_error_code(&e), json_error_numeric_overflow);
}

/* In the daemon's arena, as device reports are read. */
static void test_in_the_arena(void)
{
    static const char doc[] = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":null}";
    jarena_on();
    json_t *v = jsonr_fast(doc, sizeof doc - 1);
    jarena_off();
    CHECK(v != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(v, "a"), 2), "b")), "c");
    json_decref(v);
    jarena_reset();
}

void register_jsonr_tests(void)
{
    CU_pSuite s = CU_add_suite("jsonr", NULL, NULL);
    CU_add_test(s, "the common forms, read as jansson reads them", test_common_forms);
    CU_add_test(s, "what it leaves to jansson", test_what_it_leaves_to_jansson);
    CU_add_test(s, "jsonr_load answers as json_loadb", test_load_answers_as_jansson);
    CU_add_test(s, "in the arena", test_in_the_arena);
}
