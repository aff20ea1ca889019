/* core/config: defaults, environment overrides, bounds. */
#include <stdlib.h>

#include "check.h"
#include "core/config.h"

static void test_defaults(void)
{
    ent_config_t c;
    char err[256];
    unsetenv("ENTITLEMENTD_SOAP_PORT");
    unsetenv("ENTITLEMENTD_PORT");
    unsetenv("ENTITLEMENTD_BIND");
    unsetenv("ENTITLEMENTD_WORKERS");
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_INT(c.port, 8080);
    CHECK_EQ_STR(c.bind, "127.0.0.1");
    CHECK_EQ_INT(c.max_units, 1000);
    CHECK_EQ_INT(c.max_batch_size, 2000);
    CHECK_EQ_INT(c.max_body_bytes, 8 * 1024 * 1024);
    CHECK_EQ_INT(c.max_depth, 64);
    CHECK_EQ_INT(c.max_occurs, 100000);
    CHECK_EQ_INT(c.max_json_bytes, 1024 * 1024);
}

static void test_overrides_and_bounds(void)
{
    ent_config_t c;
    char err[256];
    setenv("ENTITLEMENTD_SOAP_PORT", "9090", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_INT(c.port, 9090);
    setenv("ENTITLEMENTD_SOAP_PORT", "70000", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    setenv("ENTITLEMENTD_SOAP_PORT", "80x", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    /* The new name wins over the old one. */
    setenv("ENTITLEMENTD_SOAP_PORT", "9090", 1);
    setenv("ENTITLEMENTD_PORT", "9191", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_INT(c.port, 9191);
    unsetenv("ENTITLEMENTD_PORT");
    unsetenv("ENTITLEMENTD_SOAP_PORT");
    setenv("ENTITLEMENTD_LOG_LEVEL", "loud", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    unsetenv("ENTITLEMENTD_LOG_LEVEL");
}

static void test_conninfo(void)
{
    ent_config_t c;
    char err[256], ci[2048];
    setenv("DATABASE_URL", "postgresql://u@h/db", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_INT(config_conninfo(&c, ci, sizeof ci), ENT_OK);
    CHECK_EQ_STR(ci, "postgresql://u@h/db");
    unsetenv("DATABASE_URL");
    setenv("ENTITLEMENTD_HOME", "/srv/ent", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_INT(config_conninfo(&c, ci, sizeof ci), ENT_OK);
    CHECK_EQ_STR(ci, "host='/srv/ent/pg/run' dbname=entitlementd user=entitlementd");
    unsetenv("ENTITLEMENTD_HOME");
}

void register_config_tests(void)
{
    CU_pSuite s = CU_add_suite("core/config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "overrides and bounds", test_overrides_and_bounds);
    CU_add_test(s, "conninfo", test_conninfo);
}
