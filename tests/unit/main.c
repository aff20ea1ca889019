/* One CUnit registry for every unit suite; exits non-zero on any failure. */
#include <CUnit/Basic.h>

#include "check.h"
#include "core/jarena.h"

int main(void)
{
    /* jansson allocates as in the daemon (core/jarena.h). */
    jarena_install();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    register_rules_tests();
    register_guard_tests();
    register_frame_tests();
    register_config_tests();
    register_query_tests();
    register_ids_tests();
    register_base64_tests();
    register_hex_tests();
    register_utf8_tests();
    register_jwt_tests();
    register_versions_tests();
    register_quote_tests();
    register_peers_tests();
    register_jarena_tests();
    register_jsonr_tests();
    register_thread_tests();
    register_webhook_tests();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
