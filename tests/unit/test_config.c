/* core/config: defaults, environment overrides, bounds, secrets from files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    /* The public URL: scheme and authority only; a trailing '/' dropped. */
    setenv("ENTITLEMENTD_PUBLIC_URL", "https://updates.example.com:8443/", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.public_url, "https://updates.example.com:8443");
    static const char *const bad[] = {"updates.example.com", "ftp://x", "https://", "https://h/path",
                                      "https://h?q", "http://h x", "https://:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("ENTITLEMENTD_PUBLIC_URL", bad[i], 1);
        CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    }
    unsetenv("ENTITLEMENTD_PUBLIC_URL");
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

/* Writes n bytes of data to a new file in TMPDIR; its path goes to path
 * (TEMP_PATH_MAX bytes). */
#define TEMP_PATH_MAX 512
static void write_temp(char *path, const char *data, size_t n)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, TEMP_PATH_MAX, "%s/ent-config-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : P_tmpdir);
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ_INT(write(fd, data, n), (long long)n);
    close(fd);
}

static void test_secret_from_file(void)
{
    ent_config_t c;
    char err[1024], path[TEMP_PATH_MAX], path2[TEMP_PATH_MAX];

    unsetenv("DATABASE_URL");
    write_temp(path, "postgresql://u:s3cret@h/db\n", 27);
    setenv("DATABASE_URL_FILE", path, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.database_url, "postgresql://u:s3cret@h/db"); /* one trailing newline removed */
    /* An empty DATABASE_URL counts as unset. */
    setenv("DATABASE_URL", "", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.database_url, "postgresql://u:s3cret@h/db");
    /* Both set: an error naming both, whatever the file holds. */
    setenv("DATABASE_URL", "postgresql://other/db", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "DATABASE_URL and DATABASE_URL_FILE") != NULL);
    /* An empty DATABASE_URL_FILE is not used. */
    setenv("DATABASE_URL_FILE", "", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.database_url, "postgresql://other/db");
    unsetenv("DATABASE_URL");
    unlink(path);

    /* Only one newline is removed; nothing else is trimmed. */
    write_temp(path, " a b \n\n", 7);
    setenv("DATABASE_URL_FILE", path, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.database_url, " a b \n");
    unlink(path);
    write_temp(path, "", 0);
    setenv("DATABASE_URL_FILE", path, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_OK);
    CHECK_EQ_STR(c.database_url, "");
    unlink(path);

    /* A file that cannot be read: the message names the variable and the file. */
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "DATABASE_URL_FILE") != NULL);
    CHECK(strstr(err, path) != NULL);
    setenv("DATABASE_URL_FILE", "/", 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "cannot read '/'") != NULL);

    /* Too long for the setting, or for any setting; a NUL byte. None of
     * them quotes the content. */
    char big[5000];
    memset(big, 'x', sizeof big);
    memcpy(big, "s3cret", 6);
    write_temp(path, big, 1024);
    write_temp(path2, big, sizeof big);
    setenv("DATABASE_URL_FILE", path, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "longer than 1023 bytes") != NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "s3cret") == NULL);
    setenv("DATABASE_URL_FILE", path2, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "holds more than") != NULL);
    CHECK(strstr(err, "s3cret") == NULL);
    unlink(path);
    unlink(path2);
    write_temp(path, "s3cret\0x", 8);
    setenv("DATABASE_URL_FILE", path, 1);
    CHECK_EQ_INT(config_load(&c, err, sizeof err), ENT_EINVAL);
    CHECK(strstr(err, "NUL byte") != NULL);
    unlink(path);
    unsetenv("DATABASE_URL_FILE");
}

void register_config_tests(void)
{
    CU_pSuite s = CU_add_suite("core/config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "overrides and bounds", test_overrides_and_bounds);
    CU_add_test(s, "conninfo", test_conninfo);
    CU_add_test(s, "secret from a file", test_secret_from_file);
}
