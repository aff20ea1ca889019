/*
 * entitlementctl - administration of an entitlementd database.
 *
 * Connects with DATABASE_URL (or DATABASE_URL_FILE), or else to the
 * embedded cluster under ENTITLEMENTD_HOME (default var/). Every command
 * exits 0 on success and non-zero with a message on standard error
 * otherwise. `health` asks the daemon, not the database.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../auth/auth.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../core/password.h"
#include "../core/utf8.h"
#include "../db/auth_store.h"
#include "../db/pool.h"
#include "../db/query.h"
#include "../db/store.h"
#include "../db/sub_store.h"
#include "../lifecycle/rules.h"

/* Longest password read from standard input (or --password-file). */
#define CTL_MAX_PASSWORD 255

/* Seconds `health` waits to connect, and again for the answer: well within
 * the 5 s the container image's HEALTHCHECK allows it. */
#define CTL_HEALTH_TIMEOUT_S 2

/* "entitlement show" prints attribute lists briefly: at most this many
 * attributes of a list, each name and value cut at this many bytes. */
#define CTL_SHOW_ATTRIBUTES 8
#define CTL_SHOW_VALUE 48

static const char *const ctl_usage =
    "usage: entitlementctl COMMAND\n\n"
    "  migrate                                  apply pending database migrations\n"
    "  health                                   exit 0 if the daemon on this host (ENTITLEMENTD_PORT)\n"
    "                                           answers 200 on /readyz, 1 if not\n"
    "  user add NAME [--admin] [--domain D] [--password-file FILE] [--if-missing]\n"
    "                                           add a user; the password is the first line of\n"
    "                                           stdin or FILE; --if-missing: exit 0 if it exists\n"
    "  user exists NAME [--domain D]            exit 0 if the user exists, 1 if not\n"
    "  product add NAME VERSION [--if-missing]  add a product to the catalog\n"
    "  product relate FROM_NAME FROM_VERSION TO_NAME TO_VERSION UPGRADE|UPSELL [--if-missing]\n"
    "                                           allow upgrades (upsells) between two products\n"
    "  entitlement show ID                      an entitlement (entitlementId or uniqueId), its line\n"
    "                                           items as a lineage tree with their attributes in\n"
    "                                           brief, and its audit trail\n"
    "  token add --tenant T | --user NAME       issue an API token for a device reporter of tenant T\n"
    "                                           or an integration acting as user NAME; the token is\n"
    "                                           printed once, as the last line of standard output\n"
    "  token list                               every token: id, tenant or user, created, revoked\n"
    "  token revoke ID                          revoke a token at once (every daemon)\n"
    "  subscription list                        every subscription: ref, platform, name, owner,\n"
    "                                           global or not, products, webhook, schedule\n"
    "  subscription deliveries REF              every attempt to post REF's runs to its webhook: run,\n"
    "                                           trigger, time, HTTP status or error, duration, run state\n\n"
    "Database: DATABASE_URL (or DATABASE_URL_FILE), else the embedded cluster under\n"
    "ENTITLEMENTD_HOME (default var/).\n";

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
    if (s[0] == '\0' || strlen(s) > MODEL_MAX_ID_CHARS || !utf8_xml_valid(s, strlen(s))) {
        fprintf(stderr, "entitlementctl: %s must be 1..255 bytes of UTF-8 that XML allows (no control "
                        "characters but tab and newlines)\n", what);
        return false;
    }
    return true;
}

static int ctl_connect(const char *conninfo, db_pool_t **pool, db_conn_t **conn)
{
    /* An operator's command waits for the locks it needs. */
    db_pool_options_t opt = {conninfo, 1, 10, 10000, false, 0, 0};
    int rc = db_pool_create(&opt, pool);
    if (rc == ENT_OK && (rc = db_pool_acquire(*pool, conn)) != ENT_OK) {
        db_pool_destroy(*pool);
        *pool = NULL;
    }
    if (rc != ENT_OK)
        return ctl_fail("cannot use the database: %s (run `entitlementctl migrate` first?)", ent_strerror(rc));
    return 0;
}

/* Reads a password, the first line of the file at path (standard input
 * when path is NULL: a secret mounted as a file needs no shell to be
 * redirected), into buf (len bytes, more than CTL_MAX_PASSWORD + 1). */
static int ctl_read_password(const char *path, char *buf, size_t len)
{
    FILE *file = NULL;
    if (path != NULL && (file = fopen(path, "re")) == NULL)
        return ctl_fail("cannot read the password file '%s': %s", path, strerror(errno));
    bool got = fgets(buf, (int)len, file != NULL ? file : stdin) != NULL;
    if (file != NULL)
        fclose(file);
    if (!got)
        return ctl_fail("no password in %s", path != NULL ? path : "standard input");
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0' || strlen(buf) > CTL_MAX_PASSWORD) {
        explicit_bzero(buf, len);
        return ctl_fail("%s", "the password must be 1..255 characters");
    }
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
    /* Domains are compared ignoring case when users log in: one user per
     * name in a domain, however the domain is written. */
    rc = store_user_hash(c, argv[1], domain, found, sizeof found, &admin);
    if (rc == ENT_OK && ctl_has_flag(argc, argv, "--if-missing"))
        return 0; /* its password is left as it is */
    if (rc == ENT_OK)
        return ctl_fail("user '%s' exists already in domain '%s' (domains ignore case)", argv[1], domain);
    if (rc != ENT_ENOTFOUND)
        return ctl_fail("cannot look up the user: %s", ent_strerror(rc));
    if ((rc = ctl_read_password(ctl_option(argc, argv, "--password-file", NULL), password, sizeof password)) != 0)
        return rc;
    rc = password_hash(password, hash, sizeof hash);
    explicit_bzero(password, sizeof password);
    if (rc != ENT_OK)
        return ctl_fail("cannot hash the password: %s", ent_strerror(rc));
    rc = store_user_add(c, argv[1], domain, hash, ctl_has_flag(argc, argv, "--admin"));
    if (rc == ENT_EEXIST)
        return ctl_fail("user '%s' exists already", argv[1]);
    if (rc != ENT_OK)
        return ctl_fail("cannot add the user: %s", ent_strerror(rc));
    printf("user %s added\n", argv[1]);
    return 0;
}

static void ctl_token_row(void *ctx, const char *const *cols)
{
    (void)ctx;
    printf("%-6s %-8s %-32s %-20s %s\n", cols[0], cols[1][0] ? "tenant" : "user", cols[1][0] ? cols[1] : cols[2],
           cols[3], cols[4][0] ? cols[4] : "active");
}

static int ctl_token(int argc, char **argv, db_conn_t *c)
{
    const char *why;
    int rc;

    if (strcmp(argv[0], "add") == 0) {
        const char *tenant = ctl_option(argc, argv, "--tenant", NULL);
        const char *user = ctl_option(argc, argv, "--user", NULL);
        char token[AUTH_TOKEN_LEN + 1];
        unsigned char hash[32];
        long long id = 0;
        const char *name = tenant ? tenant : user;
        if (name == NULL || (tenant != NULL && user != NULL))
            return ctl_fail("%s", "usage: token add --tenant T | --user NAME (one of them)");
        if (!ctl_name_ok(tenant ? "tenant" : "user name", name))
            return 1;
        if (!lc_id_valid(name, &why))
            return ctl_fail("%s '%s' is not valid: %s", tenant ? "tenant" : "user name", name, why);
        if ((rc = auth_token_make(token, hash)) != ENT_OK)
            return ctl_fail("cannot make a token: %s", ent_strerror(rc));
        if ((rc = store_token_add(c, hash, tenant, user, &id)) != ENT_OK)
            return ctl_fail("cannot store the token: %s", ent_strerror(rc));
        printf("token %lld for %s %s (shown only now; keep it secret):\n%s\n", id, tenant ? "tenant" : "user",
               name, token);
        explicit_bzero(token, sizeof token);
        return 0;
    }
    if (strcmp(argv[0], "list") == 0) {
        printf("%-6s %-8s %-32s %-20s %s\n", "ID", "FOR", "NAME", "CREATED", "REVOKED");
        rc = store_token_list(c, ctl_token_row, NULL);
        return rc == ENT_OK ? 0 : ctl_fail("cannot list the tokens: %s", ent_strerror(rc));
    }
    if (strcmp(argv[0], "revoke") == 0 && argc >= 2) {
        char *end = NULL;
        long long id = strtoll(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || id <= 0)
            return ctl_fail("'%s' is not a token id (see token list)", argv[1]);
        rc = store_token_revoke(c, id);
        if (rc == ENT_ENOTFOUND)
            return ctl_fail("no active token %lld", id);
        if (rc != ENT_OK)
            return ctl_fail("cannot revoke the token: %s", ent_strerror(rc));
        printf("token %lld revoked\n", id);
        return 0;
    }
    return ctl_fail("%s", "usage: token add --tenant T | --user NAME, token list, token revoke ID");
}

static void ctl_subscription_row(void *ctx, const char *const *cols)
{
    (void)ctx;
    printf("%s  %s  %s  owner %s%s\n    products: %s\n    webhook: %s  schedule: %s  created %s\n", cols[0], cols[1],
           cols[2], cols[3], cols[4][0] == 't' ? "  global" : "", cols[5], cols[6][0] ? cols[6] : "none",
           cols[7][0] ? cols[7] : "on demand", cols[8]);
}

static void ctl_delivery_row(void *ctx, const char *const *cols)
{
    (void)ctx;
    printf("%-8s %-10s %-20s %-6s %-8s %s%s%s\n", cols[0], cols[1], cols[2], cols[3][0] ? cols[3] : "-", cols[5],
           cols[4], cols[4][0] ? " / " : "", cols[6]);
}

static int ctl_subscription(int argc, char **argv, db_conn_t *c)
{
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        int rc = store_sub_list(c, ctl_subscription_row, NULL);
        return rc == ENT_OK ? 0 : ctl_fail("cannot list the subscriptions: %s", ent_strerror(rc));
    }
    if (argc >= 2 && strcmp(argv[0], "deliveries") == 0) {
        printf("%-8s %-10s %-20s %-6s %-8s %s\n", "run", "trigger", "at", "HTTP", "ms", "error / run state");
        int rc = store_sub_deliveries(c, argv[1], ctl_delivery_row, NULL);
        if (rc == ENT_ENOTFOUND)
            return ctl_fail("no subscription '%s'", argv[1]);
        return rc == ENT_OK ? 0 : ctl_fail("cannot list the deliveries: %s", ent_strerror(rc));
    }
    return ctl_fail("%s", "usage: subscription list, subscription deliveries REF");
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

/* The CLI's arena: every allocation of a command, freed together. */
typedef struct ctl_arena {
    void **blocks;
    size_t n, cap;
} ctl_arena_t;

static void *ctl_heap(void *ctx, size_t n)
{
    ctl_arena_t *arena = ctx;
    if (arena->n == arena->cap) {
        size_t cap = arena->cap ? 2 * arena->cap : 64;
        void **b = realloc(arena->blocks, cap * sizeof *b);
        if (b == NULL)
            return NULL;
        arena->blocks = b;
        arena->cap = cap;
    }
    void *p = malloc(n);
    if (p != NULL)
        arena->blocks[arena->n++] = p;
    return p;
}

static void ctl_arena_free(ctl_arena_t *arena)
{
    for (size_t i = 0; i < arena->n; i++)
        free(arena->blocks[i]);
    free(arena->blocks);
}

/* Prints v as JSON (strings quoted, every character outside printable
 * ASCII escaped, so that stored text cannot drive the terminal), cut at
 * CTL_SHOW_VALUE bytes. */
static void ctl_print_json(const json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text == NULL) {
        fputs("?", stdout);
        return;
    }
    if (strlen(text) > CTL_SHOW_VALUE)
        printf("%.*s...", CTL_SHOW_VALUE, text);
    else
        fputs(text, stdout);
    free(text);
}

/* One line of the attributes document (core/model.h) of a line item or an
 * entitlement: the attributes of its list named list (name=value, the
 * first value each has), then the names of the other fields it holds. */
static void ctl_print_attributes(const char *indent, const char *json, const char *list)
{
    json_error_t err;
    json_t *doc = json != NULL ? json_loads(json, 0, &err) : NULL;
    const json_t *attrs = json_object_get(doc, list), *a, *v;
    static const char *const values[] = {"stringValue", "integerValue", "booleanValue", "dateValue", "arrayValue"};
    const char *key;
    size_t i, shown = 0;

    if (json == NULL)
        return;
    if (!json_is_object(doc)) {
        printf("%s(attributes that cannot be read)\n", indent);
        json_decref(doc);
        return;
    }
    printf("%s%s", indent, list);
    json_array_foreach(attrs, i, a) {
        if (shown++ == CTL_SHOW_ATTRIBUTES) {
            printf(" ... (%zu in all)", json_array_size(attrs));
            break;
        }
        printf("%s", i ? ", " : " ");
        ctl_print_json(json_object_get(a, "attributeName"));
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
            if ((v = json_object_get(a, values[k])) != NULL) {
                putchar('=');
                ctl_print_json(v);
                break;
            }
    }
    if (shown == 0)
        printf(" none");
    bool first = true;
    json_object_foreach(doc, key, v) {
        if (strcmp(key, list) == 0)
            continue;
        /* The keys are element names of ours, safe to print. */
        printf("%s%s", first ? "; also " : ", ", key);
        first = false;
    }
    putchar('\n');
    json_decref(doc);
}

static void ctl_print_item(const model_found_t *e, size_t i, int depth, int guard)
{
    const model_found_item_t *it = &e->items[i];
    printf("  %*s%s%s  [%s]  %s %s  copies %lld  %s", depth * 4, "", depth ? "`-- " : "",
           it->activation_id, it->unique_id, it->product_name ? it->product_name : "-",
           it->product_version ? it->product_version : "", it->count, it->state);
    if (it->item_type)
        printf("  %s", it->item_type);
    if (it->is_permanent)
        printf("  permanent");
    else if (it->expiration_date)
        printf("  expires %s", it->expiration_date);
    if (it->parent_activation_id && depth == 0)
        printf("  (from %s, another entitlement)", it->parent_activation_id);
    putchar('\n');
    if (it->attributes_json != NULL) {
        /* Under the line item's name, four columns in. */
        char indent[64];
        int width = depth * 4 + (depth ? 4 : 0) + 6;
        snprintf(indent, sizeof indent, "%*s", width < 60 ? width : 60, "");
        ctl_print_attributes(indent, it->attributes_json, "lineItemAttributes");
    }
    if (guard <= 0) /* lineage deeper than the item count: a cycle, which cannot happen */
        return;
    for (size_t k = 0; k < e->n_items; k++)
        if (e->items[k].parent_activation_id && strcmp(e->items[k].parent_activation_id, it->activation_id) == 0)
            ctl_print_item(e, k, depth + 1, guard - 1);
}

static void ctl_print_audit(void *ctx, const char *const *c)
{
    (void)ctx;
    printf("  %s  %-24s %-12s req %s", c[0], c[1], c[2], c[3]);
    if (c[4][0])
        printf("  %s ->", c[4]);
    if (c[5][0])
        printf("  %s", c[5]);
    if (c[6][0])
        printf(" [%s]", c[6]);
    if (c[7][0])
        printf("  %s", c[7]);
    putchar('\n');
}

static int ctl_entitlement_show(int argc, char **argv, db_conn_t *c, const ent_alloc_t *heap)
{
    ent_alloc_t a = *heap;
    model_query_t q;
    model_found_t *found = NULL;
    size_t n = 0;
    int rc;

    if (argc < 2 || strcmp(argv[0], "show") != 0)
        return ctl_fail("%s", "usage: entitlement show ID");
    memset(&q, 0, sizeof q);
    q.is_permanent = q.is_bulk = OPT_UNSET;
    q.batch_size = 1;
    q.page_number = 1;
    q.entitlement_id.value = argv[1];
    q.entitlement_id.match = MATCH_EQUALS;
    if ((rc = query_search(c, &q, &a, 0, &found, &n)) != ENT_OK)
        return ctl_fail("cannot read the entitlement: %s", ent_strerror(rc));
    if (n == 0) {
        /* Perhaps a uniqueId. */
        store_entitlement_t e;
        model_ref_t ref = {argv[1], NULL};
        if (store_find_entitlement(c, &ref, false, &a, &e) == ENT_OK) {
            q.entitlement_id.value = e.entitlement_id;
            if ((rc = query_search(c, &q, &a, 0, &found, &n)) != ENT_OK)
                return ctl_fail("cannot read the entitlement: %s", ent_strerror(rc));
        }
    }
    if (n == 0) {
        /* Deleted ones still have an audit trail. */
        printf("No entitlement '%s'.\nAudit trail:\n", argv[1]);
        if ((rc = store_audit_trail(c, argv[1], ctl_print_audit, NULL)) != ENT_OK)
            return ctl_fail("cannot read the audit trail: %s", ent_strerror(rc));
        return 1;
    }
    const model_found_t *e = &found[0];
    printf("Entitlement %s [%s]  %s\n", e->entitlement_id, e->unique_id, e->state);
    if (e->sold_to)
        printf("  soldTo %s\n", e->sold_to);
    if (e->description)
        printf("  description %s\n", e->description);
    if (e->created_by)
        printf("  created by %s\n", e->created_by);
    ctl_print_attributes("  ", e->attributes_json, "entitlementAttributes");
    printf("Line items (%zu), each under the line item it was made from:\n", e->n_items);
    for (size_t i = 0; i < e->n_items; i++) {
        const char *p = e->items[i].parent_activation_id;
        bool root = true;
        for (size_t k = 0; p && k < e->n_items; k++)
            if (strcmp(e->items[k].activation_id, p) == 0)
                root = false;
        if (root)
            ctl_print_item(e, i, 0, (int)e->n_items);
    }
    printf("Audit trail:\n");
    if ((rc = store_audit_trail(c, e->entitlement_id, ctl_print_audit, NULL)) != ENT_OK)
        return ctl_fail("cannot read the audit trail: %s", ent_strerror(rc));
    return 0;
}

static int ctl_entitlement(int argc, char **argv, db_conn_t *c)
{
    ctl_arena_t arena = {NULL, 0, 0};
    ent_alloc_t a = {ctl_heap, &arena};
    int rc = ctl_entitlement_show(argc, argv, c, &a);
    ctl_arena_free(&arena);
    return rc;
}

/* GET /readyz of the daemon on this host: exit 0 when it answers 200, 1
 * when it answers anything else, is not listening, or says nothing within
 * CTL_HEALTH_TIMEOUT_S. The address is ENTITLEMENTD_BIND (the loopback
 * address when that is every address) and ENTITLEMENTD_PORT, as the daemon
 * reads them. The container image's HEALTHCHECK: it has no curl. */
static int ctl_health(const ent_config_t *cfg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    struct timeval tv = {CTL_HEALTH_TIMEOUT_S, 0};
    const char *host = cfg->bind;
    static const char request[] = "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char port[16], answer[128];
    size_t got = 0;
    int fd = -1, status = 0, failed = 0, rc = 1;

    if (cfg->port == 0)
        return ctl_fail("%s", "ENTITLEMENTD_PORT is 0 (a port picked at start): set the daemon's port");
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0)
        return ctl_fail("ENTITLEMENTD_BIND '%s' is not an address: %s", host, gai_strerror(gai));
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    /* The send timeout bounds connect() too. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 || send(fd, request, sizeof request - 1, MSG_NOSIGNAL) < 0) {
        ctl_fail("cannot reach the daemon at %s port %s: %s", host, port, strerror(errno));
        goto out;
    }
    /* The status line is all that is read. */
    while (got < sizeof answer - 1 && memchr(answer, '\n', got) == NULL) {
        ssize_t n = recv(fd, answer + got, sizeof answer - 1 - got, 0);
        if (n < 0)
            failed = errno;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    answer[got] = '\0';
    if (sscanf(answer, "HTTP/1.%*1[01] %3d", &status) != 1) {
        ctl_fail("no HTTP answer from %s port %s%s%s", host, port, failed ? ": " : "", failed ? strerror(failed) : "");
        goto out;
    }
    if (status != 200) {
        ctl_fail("not ready: /readyz answered %d", status);
        goto out;
    }
    puts("ready");
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
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
    if (strcmp(argv[1], "health") == 0)
        return ctl_health(&cfg);
    if (config_conninfo(&cfg, conninfo, sizeof conninfo) != ENT_OK)
        return ctl_fail("%s", "DATABASE_URL or ENTITLEMENTD_HOME too long");

    if (strcmp(argv[1], "migrate") == 0) {
        log_threshold = LOG_LEVEL_INFO;
        rc = db_migrate(conninfo, cfg.db_connect_timeout_s);
        return rc == ENT_OK ? 0 : ctl_fail("migration failed: %s", ent_strerror(rc));
    }
    if (strcmp(argv[1], "user") != 0 && strcmp(argv[1], "product") != 0 && strcmp(argv[1], "entitlement") != 0 &&
        strcmp(argv[1], "token") != 0 && strcmp(argv[1], "subscription") != 0) {
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
    else if (strcmp(argv[1], "product") == 0)
        rc = ctl_product(argc - 2, argv + 2, conn);
    else if (strcmp(argv[1], "token") == 0)
        rc = ctl_token(argc - 2, argv + 2, conn);
    else if (strcmp(argv[1], "subscription") == 0)
        rc = ctl_subscription(argc - 2, argv + 2, conn);
    else
        rc = ctl_entitlement(argc - 2, argv + 2, conn);
    db_pool_release(pool, conn);
    db_pool_destroy(pool);
    return rc;
}
