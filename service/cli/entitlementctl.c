/*
 * entitlementctl - administration of an entitlementd database.
 *
 * Connects with DATABASE_URL, or else to the embedded cluster under
 * ENTITLEMENTD_HOME (default var/). Every command exits 0 on success and
 * non-zero with a message on standard error otherwise.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/log.h"
#include "../core/password.h"
#include "../db/pool.h"
#include "../db/store.h"
#include "../lifecycle/rules.h"

/* Longest password read from standard input. */
#define CTL_MAX_PASSWORD 255

static const char *const ctl_usage =
    "usage: entitlementctl COMMAND\n\n"
    "  migrate                                  apply pending database migrations\n"
    "  user add NAME [--admin] [--domain D]     add a user; the password is read from stdin\n"
    "  user exists NAME [--domain D]            exit 0 if the user exists, 1 if not\n"
    "  product add NAME VERSION [--if-missing]  add a product to the catalog\n"
    "  product relate FROM_NAME FROM_VERSION TO_NAME TO_VERSION UPGRADE|UPSELL [--if-missing]\n"
    "                                           allow upgrades (upsells) between two products\n\n"
    "Database: DATABASE_URL, else the embedded cluster under ENTITLEMENTD_HOME (default var/).\n";

static int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("entitlementctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static bool ctl_has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

static const char *ctl_option(int argc, char **argv, const char *opt, const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], opt) == 0)
            return argv[i + 1];
    return def;
}

/* Checks a name given on the command line: the rules identifiers of the
 * SOAP interface follow, so whatever the CLI creates can be named there. */
static bool ctl_name_ok(const char *what, const char *s)
{
    if (s[0] == '\0' || strlen(s) > MODEL_MAX_ID_CHARS || !lc_utf8_valid(s, strlen(s))) {
        fprintf(stderr, "entitlementctl: %s must be 1..255 characters of UTF-8\n", what);
        return false;
    }
    return true;
}

static int ctl_connect(const char *conninfo, db_pool_t **pool, db_conn_t **conn)
{
    db_pool_options_t opt = {conninfo, 1, 10, 10000};
    int rc = db_pool_create(&opt, pool);
    if (rc == ENT_OK && (rc = db_pool_acquire(*pool, conn)) != ENT_OK) {
        db_pool_destroy(*pool);
        *pool = NULL;
    }
    if (rc != ENT_OK)
        return ctl_fail("cannot use the database: %s (run `entitlementctl migrate` first?)", ent_strerror(rc));
    return 0;
}

static int ctl_user(int argc, char **argv, db_conn_t *c)
{
    const char *domain = ctl_option(argc, argv, "--domain", "FLEXnet");
    char password[CTL_MAX_PASSWORD + 2], hash[PASSWORD_HASH_MAX], found[PASSWORD_HASH_MAX];
    bool admin = false;
    int rc;

    if (argc < 2 || !ctl_name_ok("user name", argv[1]) || !ctl_name_ok("domain", domain) ||
        strstr(argv[1], "##") != NULL)
        return ctl_fail("%s", "user name missing or not valid (no \"##\" allowed)");
    if (strcmp(argv[0], "exists") == 0) {
        rc = store_user_hash(c, argv[1], domain, found, sizeof found, &admin);
        if (rc == ENT_ENOTFOUND)
            return 1;
        return rc == ENT_OK ? 0 : ctl_fail("cannot look up the user: %s", ent_strerror(rc));
    }
    if (strcmp(argv[0], "add") != 0)
        return ctl_fail("unknown user command '%s'", argv[0]);
    if (fgets(password, sizeof password, stdin) == NULL)
        return ctl_fail("%s", "no password on standard input");
    password[strcspn(password, "\r\n")] = '\0';
    if (password[0] == '\0' || strlen(password) > CTL_MAX_PASSWORD)
        return ctl_fail("%s", "the password must be 1..255 characters");
    if ((rc = password_hash(password, hash, sizeof hash)) != ENT_OK)
        return ctl_fail("cannot hash the password: %s", ent_strerror(rc));
    explicit_bzero(password, sizeof password);
    rc = store_user_add(c, argv[1], domain, hash, ctl_has_flag(argc, argv, "--admin"));
    if (rc == ENT_EEXIST)
        return ctl_fail("user '%s' exists already", argv[1]);
    if (rc != ENT_OK)
        return ctl_fail("cannot add the user: %s", ent_strerror(rc));
    printf("user %s added\n", argv[1]);
    return 0;
}

static int ctl_product(int argc, char **argv, db_conn_t *c)
{
    bool if_missing = ctl_has_flag(argc, argv, "--if-missing");
    int rc;

    if (argc >= 3 && strcmp(argv[0], "add") == 0) {
        if (!ctl_name_ok("product name", argv[1]) || !ctl_name_ok("product version", argv[2]))
            return 1;
        rc = store_product_add(c, argv[1], argv[2]);
        if (rc == ENT_EEXIST && if_missing)
            return 0;
        if (rc == ENT_EEXIST)
            return ctl_fail("product '%s' exists already", argv[1]);
        if (rc != ENT_OK)
            return ctl_fail("cannot add the product: %s", ent_strerror(rc));
        printf("product %s %s added\n", argv[1], argv[2]);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[0], "relate") == 0) {
        const char *kind = argv[5];
        if (strcmp(kind, "UPGRADE") != 0 && strcmp(kind, "UPSELL") != 0)
            return ctl_fail("relationship '%s' is neither UPGRADE nor UPSELL", kind);
        rc = store_product_relate(c, argv[1], argv[2], argv[3], argv[4], kind);
        if (rc == ENT_EEXIST && if_missing)
            return 0;
        if (rc == ENT_EEXIST)
            return ctl_fail("%s", "the relationship exists already");
        if (rc == ENT_ENOTFOUND)
            return ctl_fail("%s", "no such product (add both products first)");
        if (rc != ENT_OK)
            return ctl_fail("cannot relate the products: %s", ent_strerror(rc));
        printf("%s %s -> %s %s: %s\n", argv[1], argv[2], argv[3], argv[4], kind);
        return 0;
    }
    return ctl_fail("%s", "usage: product add NAME VERSION | product relate FN FV TN TV KIND");
}

int main(int argc, char **argv)
{
    ent_config_t cfg;
    char err[512], conninfo[2048];
    db_pool_t *pool = NULL;
    db_conn_t *conn = NULL;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ctl_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (config_load(&cfg, err, sizeof err) != ENT_OK)
        return ctl_fail("%s", err);
    log_threshold = LOG_LEVEL_WARN;
    if (config_conninfo(&cfg, conninfo, sizeof conninfo) != ENT_OK)
        return ctl_fail("%s", "DATABASE_URL or ENTITLEMENTD_HOME too long");

    if (strcmp(argv[1], "migrate") == 0) {
        log_threshold = LOG_LEVEL_INFO;
        rc = db_migrate(conninfo, cfg.db_connect_timeout_s);
        return rc == ENT_OK ? 0 : ctl_fail("migration failed: %s", ent_strerror(rc));
    }
    if (strcmp(argv[1], "user") != 0 && strcmp(argv[1], "product") != 0) {
        fputs(ctl_usage, stderr);
        return 2;
    }
    if (argc < 3) {
        fputs(ctl_usage, stderr);
        return 2;
    }
    if ((rc = ctl_connect(conninfo, &pool, &conn)) != 0)
        return rc;
    if (strcmp(argv[1], "user") == 0)
        rc = ctl_user(argc - 2, argv + 2, conn);
    else
        rc = ctl_product(argc - 2, argv + 2, conn);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
    return rc;
}
