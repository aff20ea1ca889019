#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* The WHERE clause being built and its parameters. */
typedef struct qb {
    char sql[8192];
    size_t len;
    const char *params[QUERY_MAX_PARAMS];
    int n;
    bool failed; /* out of room or memory */
    /* A LIKE pattern is a parameter: a plan made without seeing it (a
     * prepared statement's) cannot judge how many rows it matches, so such
     * a search is planned with its values on every call. */
    bool like;
    const ent_alloc_t *a;
} qb_t;

static int qb_exec(db_conn_t *c, const qb_t *b, PGresult **r)
{
    return b->like ? db__exec_sql(c, b->sql, b->n, b->params, r) : db__exec_cached(c, b->sql, b->n, b->params, r);
}

static void qb_add(qb_t *b, const char *text)
{
    size_t l = strlen(text);
    if (b->len + l + 1 > sizeof b->sql) {
        b->failed = true;
        return;
    }
    memcpy(b->sql + b->len, text, l + 1);
    b->len += l;
}

/* Adds a parameter and returns its placeholder number. */
static int qb_param(qb_t *b, const char *value)
{
    if (b->n >= QUERY_MAX_PARAMS) {
        b->failed = true;
        return 1;
    }
    b->params[b->n++] = value;
    return b->n;
}

char *query_like_pattern(const ent_alloc_t *a, const char *value, model_match_t match)
{
    size_t l = strlen(value);
    char *p = ent_alloc(a, 2 * l + 3);
    size_t o = 0;
    if (p == NULL)
        return NULL;
    if (match == MATCH_CONTAINS || match == MATCH_ENDS_WITH)
        p[o++] = '%';
    for (size_t i = 0; i < l; i++) {
        if (value[i] == '%' || value[i] == '_' || value[i] == '\\')
            p[o++] = '\\';
        p[o++] = value[i];
    }
    if (match == MATCH_CONTAINS || match == MATCH_STARTS_WITH)
        p[o++] = '%';
    p[o] = '\0';
    return p;
}

/* Appends "<prefix>column = $n" or "<prefix>column LIKE $n ESCAPE '\'". */
static void qb_text(qb_t *b, const char *prefix, const char *column, const model_text_crit_t *c)
{
    char frag[220], col[80];
    if (c->value == NULL)
        return;
    /* A column not given (NULL) is answered as empty (<soldTo/>): an empty
     * value finds it as it finds "" (each empty pattern matches all). Not
     * so a member of a JSON document (an attribute without a stringValue
     * has another kind of value, not an empty one). */
    bool plain = strspn(column, "abcdefghijklmnopqrstuvwxyz_.") == strlen(column);
    snprintf(col, sizeof col, plain && c->value[0] == '\0' ? "coalesce(%s, '')" : "%s", column);
    if (c->match == MATCH_EQUALS) {
        snprintf(frag, sizeof frag, "%s%s = $%d", prefix, col, qb_param(b, c->value));
    } else {
        char *pat = query_like_pattern(b->a, c->value, c->match);
        b->like = true;
        if (pat == NULL) {
            b->failed = true;
            return;
        }
        snprintf(frag, sizeof frag, "%s%s LIKE $%d ESCAPE '\\'", prefix, col, qb_param(b, pat));
    }
    qb_add(b, frag);
}

/* A date criterion on expr: a date column compares as the day written
 * (the zone dropped); an instant (instant true: a timestamptz) as the day
 * it falls on in the criterion's zone, if it has one (else UTC's). */
static void qb_date(qb_t *b, const char *expr, const model_date_crit_t *c, bool instant)
{
    static const char *const ops[] = {"<", ">", "="};
    char frag[256];
    if (c->value == NULL)
        return;
    if (instant && c->zone != NULL) {
        int z = qb_param(b, c->zone);
        snprintf(frag, sizeof frag, " AND ((%s) AT TIME ZONE $%d::interval)::date %s $%d::date", expr, z,
                 ops[c->match], qb_param(b, c->value));
    } else {
        snprintf(frag, sizeof frag, " AND (%s)::date %s $%d::date", expr, ops[c->match], qb_param(b, c->value));
    }
    qb_add(b, frag);
}

/* One entitlementAttributes criterion: an element of the entitlement's
 * attributes document's entitlementAttributes array (model.h) with that
 * attributeName and, when given, a stringValue that matches. */
static void qb_attr(qb_t *b, const model_attr_crit_t *c)
{
    char frag[200];
    snprintf(frag, sizeof frag,
             " AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.attributes -> 'entitlementAttributes') ea "
             "WHERE ea ->> 'attributeName' = $%d",
             qb_param(b, c->name));
    qb_add(b, frag);
    qb_text(b, " AND ", "ea ->> 'stringValue'", &c->value);
    qb_add(b, ")");
}

/* The accountUnitName criterion: a channel partner in the entitlement's
 * attributes document (model.h) whose account key matches and, when
 * given, whose tierName is the tier. */
static void qb_account(qb_t *b, const model_query_t *q)
{
    char frag[64];
    if (q->account.value == NULL)
        return;
    qb_add(b, " AND EXISTS (SELECT 1 FROM jsonb_array_elements(e.attributes -> 'channelPartners') cp WHERE ");
    qb_text(b, "", "cp #>> '{accountUnit,primaryKeys,id}'", &q->account);
    if (q->partner_tier != NULL) {
        snprintf(frag, sizeof frag, " AND cp ->> 'tierName' = $%d", qb_param(b, q->partner_tier));
        qb_add(b, frag);
    }
    qb_add(b, ")");
}

static bool qb_has_item_criteria(const model_query_t *q)
{
    return q->product_name.value || q->product_version.value || q->part_number.value ||
           q->start_date.value || q->expiration_date.value || q->version_date.value ||
           q->is_permanent != OPT_UNSET;
}

/* The WHERE clause over entitlements e and m.lm (its last change). */
static void qb_where(qb_t *b, const model_query_t *q)
{
    qb_add(b, " WHERE true");
    if (q->match_none || q->is_bulk == OPT_TRUE)
        qb_add(b, " AND false"); /* no bulk entitlements here */
    qb_text(b, " AND ", "e.entitlement_id", &q->entitlement_id);
    qb_text(b, " AND ", "e.description", &q->ent_description);
    qb_text(b, " AND ", "e.sold_to", &q->sold_to);
    qb_text(b, " AND ", "e.ship_to_email", &q->ship_to_email);
    qb_text(b, " AND ", "e.ship_to_address", &q->ship_to_address);
    qb_text(b, " AND ", "e.email_template_variation", &q->email_template_variation);
    qb_text(b, " AND ", "e.state", &q->state);
    qb_text(b, " AND ", "e.created_by", &q->created_user_id);
    qb_date(b, "e.created_at", &q->created_on, true);
    qb_date(b, "m.lm", &q->last_modified, true);
    for (size_t i = 0; i < q->n_attrs; i++)
        qb_attr(b, &q->attrs[i]);
    qb_account(b, q);
    if (q->description.value != NULL) {
        /* description matches the entitlement's or any line item's. */
        qb_text(b, " AND (", "e.description", &q->description);
        qb_text(b, " OR EXISTS (SELECT 1 FROM line_items ld WHERE ld.entitlement_id = e.id AND ",
                "ld.description", &q->description);
        qb_add(b, "))");
    }
    if (qb_has_item_criteria(q)) {
        /* One line item must match all line item criteria together. */
        qb_add(b, " AND EXISTS (SELECT 1 FROM line_items li LEFT JOIN products p ON p.id = li.product_id "
                  "WHERE li.entitlement_id = e.id");
        qb_text(b, " AND ", "p.name", &q->product_name);
        qb_text(b, " AND ", "p.version", &q->product_version);
        qb_text(b, " AND ", "li.part_number", &q->part_number);
        qb_date(b, "li.start_date", &q->start_date, false);
        qb_date(b, "li.expiration_date", &q->expiration_date, false);
        qb_date(b, "li.version_date", &q->version_date, false);
        if (q->is_permanent != OPT_UNSET)
            qb_add(b, q->is_permanent == OPT_TRUE ? " AND li.is_permanent" : " AND NOT li.is_permanent");
        qb_add(b, ")");
    }
}

/* m.lm: the entitlement's last change, its own or a line item's
 * (lastModifiedDateTime); m.li_lm: its line items' (the order). */
#define QUERY_FROM                                                                       \
    " FROM entitlements e CROSS JOIN LATERAL (SELECT GREATEST(e.updated_at, "            \
    "max(li.updated_at)) AS lm, max(li.updated_at) AS li_lm FROM line_items li "         \
    "WHERE li.entitlement_id = e.id) m"

static char *qs(const ent_alloc_t *a, const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : ent_strdup(a, PQgetvalue(r, row, col));
}

int query_count(db_conn_t *c, const model_query_t *q, const ent_alloc_t *a, long long *count)
{
    qb_t b = {.a = a};
    PGresult *r = NULL;
    int rc;

    /* The last change (m.lm) reads every line item of every entitlement
     * counted: only when a criterion is about it. */
    qb_add(&b, q->last_modified.value != NULL ? "SELECT count(*)" QUERY_FROM
                                              : "SELECT count(*) FROM entitlements e");
    qb_where(&b, q);
    if (b.failed)
        return ENT_EINVAL;
    if ((rc = qb_exec(c, &b, &r)) != ENT_OK)
        return rc;
    *count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ENT_OK;
}

/* Epoch seconds as text, so the transport can fill xsd:dateTime. */
#define QUERY_EPOCH(col) "extract(epoch FROM " col ")::bigint::text"

/* A page being read row by row: what it holds, and the bytes of text read
 * so far against the cap. */
typedef struct query__page {
    const ent_alloc_t *a;
    size_t max_bytes, bytes;
    model_found_t *found;
    size_t n, cap;
    long long *ids;          /* found[i]'s row id */
    model_found_item_t *items;
    size_t n_items, items_cap;
    long long *item_owner;   /* items[i]'s entitlement's row id */
} query__page_t;

/* What a row costs beside its text, at most: its element of the page (an
 * entitlement or a line item, with its id, twice over as the arrays grow)
 * and, per column, the copy's allocation. */
#define QUERY_ROW_COST (2 * (sizeof(model_found_t) + sizeof(model_found_item_t) + sizeof(long long)))
#define QUERY_FIELD_COST 32

/* Adds what row i of r costs to the page's bytes: ENT_ETOOBIG once over
 * the cap. */
static int query__count(query__page_t *p, const PGresult *r, int i)
{
    p->bytes += QUERY_ROW_COST + (size_t)PQnfields(r) * QUERY_FIELD_COST;
    for (int k = 0; k < PQnfields(r); k++)
        p->bytes += (size_t)PQgetlength(r, i, k);
    return p->max_bytes > 0 && p->bytes > p->max_bytes ? ENT_ETOOBIG : ENT_OK;
}

/* Room for one more element of size size in *arr (*n of *cap), and in the
 * parallel array *ids; from the allocator, which frees nothing until the
 * request ends (the old arrays stay: at most as much again). */
static bool query__grow(const ent_alloc_t *a, void **arr, long long **ids, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? 2 * *cap : 8;
    void *na = ent_calloc(a, c + 1, size);
    long long *ni = ent_calloc(a, c, sizeof *ni);
    if (na == NULL || ni == NULL)
        return false;
    if (n > 0) {
        memcpy(na, *arr, n * size);
        memcpy(ni, *ids, n * sizeof *ni);
    }
    *arr = na;
    *ids = ni;
    *cap = c;
    return true;
}

/* Counts row i of r against the cap and appends an element for it to the
 * array *arr (*n of *cap, of size bytes each; the row's id, column 0, to
 * *ids): the new element, or NULL with *rc set. */
static void *query__take(query__page_t *p, const PGresult *r, int i, void **arr, long long **ids, size_t *n,
                         size_t *cap, size_t size, int *rc)
{
    if ((*rc = query__count(p, r, i)) != ENT_OK)
        return NULL;
    if (!query__grow(p->a, arr, ids, *n, cap, size)) {
        *rc = ENT_ENOMEM;
        return NULL;
    }
    (*ids)[*n] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    return (char *)*arr + (*n)++ * size;
}

static int query__entitlement_row(void *ctx, const PGresult *r, int i)
{
    query__page_t *p = ctx;
    const ent_alloc_t *a = p->a;
    int rc;
    model_found_t *f = query__take(p, r, i, (void **)&p->found, &p->ids, &p->n, &p->cap, sizeof *p->found, &rc);
    if (f == NULL)
        return rc;
    f->unique_id = qs(a, r, i, 1);
    f->entitlement_id = qs(a, r, i, 2);
    f->description = qs(a, r, i, 3);
    f->sold_to = qs(a, r, i, 4);
    f->ship_to_email = qs(a, r, i, 5);
    f->ship_to_address = qs(a, r, i, 6);
    f->email_template_variation = qs(a, r, i, 7);
    f->state = qs(a, r, i, 8);
    f->created_by = qs(a, r, i, 9);
    f->allow_portal_login = PQgetisnull(r, i, 10) ? OPT_UNSET : PQgetvalue(r, i, 10)[0] == 't' ? OPT_TRUE : OPT_FALSE;
    f->modified = qs(a, r, i, 11);
    f->attributes_json = qs(a, r, i, 12);
    return ENT_OK;
}

static int query__item_row(void *ctx, const PGresult *r, int i)
{
    query__page_t *p = ctx;
    const ent_alloc_t *a = p->a;
    int rc;
    model_found_item_t *it = query__take(p, r, i, (void **)&p->items, &p->item_owner, &p->n_items, &p->items_cap,
                                         sizeof *p->items, &rc);
    if (it == NULL)
        return rc;
    it->unique_id = qs(a, r, i, 1);
    it->activation_id = qs(a, r, i, 2);
    it->description = qs(a, r, i, 3);
    it->product_name = qs(a, r, i, 4);
    it->product_version = qs(a, r, i, 5);
    it->part_number = qs(a, r, i, 6);
    it->license_model = qs(a, r, i, 7);
    it->order_id = qs(a, r, i, 8);
    it->order_line_number = qs(a, r, i, 9);
    it->start_date = qs(a, r, i, 10);
    it->expiration_date = qs(a, r, i, 11);
    it->version_date = qs(a, r, i, 12);
    it->state = qs(a, r, i, 13);
    it->item_type = qs(a, r, i, 14);
    it->term_unit = qs(a, r, i, 15);
    it->has_term = !PQgetisnull(r, i, 16);
    it->term_duration = strtoll(PQgetvalue(r, i, 16), NULL, 10);
    it->is_permanent = PQgetvalue(r, i, 17)[0] == 't';
    it->count = strtoll(PQgetvalue(r, i, 18), NULL, 10);
    it->parent_unique_id = qs(a, r, i, 19);
    it->parent_activation_id = qs(a, r, i, 20);
    it->created = qs(a, r, i, 21);
    it->modified = qs(a, r, i, 22);
    it->attributes_json = qs(a, r, i, 23);
    return ENT_OK;
}

/* Hands each entitlement of the page its line items: they came ordered by
 * the entitlement's row id, one run each. */
static void query__attach_items(query__page_t *p)
{
    for (size_t k = 0; k < p->n_items;) {
        size_t run = k;
        while (run < p->n_items && p->item_owner[run] == p->item_owner[k])
            run++;
        for (size_t e = 0; e < p->n; e++)
            if (p->ids[e] == p->item_owner[k]) {
                p->found[e].items = &p->items[k];
                p->found[e].n_items = run - k;
                break;
            }
        k = run;
    }
}

int query_search(db_conn_t *c, const model_query_t *q, const ent_alloc_t *a, size_t max_bytes, model_found_t **out,
                 size_t *n_out)
{
    qb_t b = {.a = a};
    query__page_t p = {.a = a, .max_bytes = max_bytes};
    char limit[24], offset[24], frag[96];
    int rc;

    *out = NULL;
    *n_out = 0;
    qb_add(&b, "SELECT e.id, e.unique_id, e.entitlement_id, e.description, e.sold_to, "
               "e.ship_to_email, e.ship_to_address, e.email_template_variation, e.state, "
               "e.created_by, e.allow_portal_login, " QUERY_EPOCH("m.lm") ", e.attributes::text" QUERY_FROM);
    qb_where(&b, q);
    snprintf(limit, sizeof limit, "%lld", q->batch_size);
    snprintf(offset, sizeof offset, "%lld", (q->page_number - 1) * q->batch_size);
    /* The entitlement whose line items changed last comes first, as the
     * contract orders them (a change of its own fields moves it no
     * further; one without line items comes last); the id makes the
     * order total so that pages neither skip nor repeat. */
    snprintf(frag, sizeof frag, " ORDER BY m.li_lm DESC NULLS LAST, e.id DESC LIMIT $%d OFFSET $%d",
             qb_param(&b, limit), qb_param(&b, offset));
    qb_add(&b, frag);
    if (b.failed)
        return ENT_EINVAL;
    /* Row by row, counting the text against max_bytes: a page of large
     * entitlements is refused before it is all in memory (and again in the
     * answer gSOAP writes). */
    if ((rc = db__exec_rows(c, NULL, b.sql, !b.like, b.n, b.params, query__entitlement_row, &p)) != ENT_OK)
        return rc;
    if (p.n > 0) {
        /* "{id,id,...}": at most 20 digits and a comma per row. */
        char *ids = ent_alloc(a, p.n * 21 + 3);
        if (ids == NULL)
            return ENT_ENOMEM;
        size_t o = 0;
        ids[o++] = '{';
        for (size_t i = 0; i < p.n; i++)
            o += (size_t)sprintf(ids + o, "%s%lld", i ? "," : "", p.ids[i]);
        ids[o++] = '}';
        ids[o] = '\0';
        const char *v[1] = {ids};
        if ((rc = db__exec_rows(c, db_stmts[STMT_QUERY_ITEMS].name, NULL, false, 1, v, query__item_row, &p)) !=
            ENT_OK)
            return rc;
        query__attach_items(&p);
    }
    if (p.found == NULL && (p.found = ent_calloc(a, 1, sizeof *p.found)) == NULL)
        return ENT_ENOMEM;
    *out = p.found;
    *n_out = p.n;
    return ENT_OK;
}
