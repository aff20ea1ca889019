/* core/ids: generated activation ids have the documented shape. */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "core/ids.h"
#include "lifecycle/rules.h"

static void test_activation_ids(void)
{
    char a[IDS_ACTIVATION_ID_LEN + 1], b[IDS_ACTIVATION_ID_LEN + 1];
    const char *why;
    CHECK_EQ_INT(ids_activation_id(a, sizeof a), ENT_OK);
    CHECK_EQ_INT(ids_activation_id(b, sizeof b), ENT_OK);
    CHECK_EQ_INT(strlen(a), 39);
    for (int i = 0; i < 39; i++) {
        if (i % 5 == 4) {
            CHECK(a[i] == '-');
        } else {
            CHECK(islower((unsigned char)a[i]) || isdigit((unsigned char)a[i]));
        }
    }
    CHECK(strcmp(a, b) != 0);
    CHECK(lc_id_valid(a, &why)); /* generated ids pass our own rules */
    CHECK_EQ_INT(ids_activation_id(a, 10), ENT_EINVAL);
}

static void test_request_ids(void)
{
    char r[17];
    CHECK_EQ_INT(ids_request_id(r, sizeof r), ENT_OK);
    CHECK_EQ_INT(strlen(r), 16);
}

void register_ids_tests(void)
{
    CU_pSuite s = CU_add_suite("core/ids", NULL, NULL);
    CU_add_test(s, "activation ids", test_activation_ids);
    CU_add_test(s, "request ids", test_request_ids);
}
