#include "convert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/quote.h"
#include "../core/utf8.h"
#include "attrs.h"
#include "soap_int.h"

static void *convert__soap_alloc(void *ctx, size_t n)
{
    return soap_malloc((struct soap *)ctx, n);
}

ent_alloc_t convert_alloc(struct soap *soap)
{
    ent_alloc_t a = {convert__soap_alloc, soap};
    return a;
}

#define NEW(soap, type) ((type *)soap_malloc((soap), sizeof(type)))

static void *convert__zalloc(struct soap *soap, size_t n)
{
    void *p = soap_malloc(soap, n ? n : 1);
    if (p != NULL)
        memset(p, 0, n ? n : 1);
    return p;
}

int convert_integer(struct soap *soap, const char *element, const char *text, bool *has, long long *out,
                    const char **beyond)
{
    char *end;
    *has = false;
    if (beyond != NULL)
        *beyond = NULL;
    if (text == NULL)
        return SOAP_OK;
    /* xsd:integer allows surrounding whitespace and a leading sign. */
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (end != text && *end == '\0' && errno == ERANGE && beyond != NULL) {
        *beyond = text;
        *has = true;
        *out = v; /* strtoll's LLONG_MAX or LLONG_MIN */
        return SOAP_OK;
    }
    if (end == text || *end != '\0' || errno == ERANGE || text[0] == '\0') {
        char q[QUOTE_SIZE(QUOTE_MAX_CHARS)];
        return soap_client_fault(soap, "%s: '%s' is not an integer%s", element, quote_str(q, sizeof q, text),
                                 errno == ERANGE ? " in range" : "");
    }
    *has = true;
    *out = v;
    return SOAP_OK;
}

/* Room for a limit message: the longest element path (a line item's
 * attribute's arrayValue, indices included) and the numbers. */
#define CONVERT_MAX_LIMIT_MSG 256

int convert_limit(struct soap *soap, const char **invalid, const char *text, size_t max, const char *path_fmt, ...)
{
    char path[CONVERT_MAX_LIMIT_MSG], msg[CONVERT_MAX_LIMIT_MSG + 64];
    size_t chars;
    va_list ap;
    /* The first problem of a unit is its reason: later ones are not looked at. */
    if (*invalid != NULL || lc_text_fits(text, max, &chars))
        return SOAP_OK;
    va_start(ap, path_fmt);
    quote_vformat(path, sizeof path, path_fmt, ap);
    va_end(ap);
    quote_format(msg, sizeof msg, "%s is longer than %zu characters (%zu given)", path, max, chars);
    if ((*invalid = soap_strdup(soap, msg)) == NULL)
        return soap->error = SOAP_EOM;
    return SOAP_OK;
}

/* An integer of the unit beyond 64 bits where no count rule applies (a
 * term's duration): the unit's INVALID_REQUEST, unless it has a reason
 * already. */
static int convert__beyond(struct soap *soap, const char **invalid, const char *at, const char *element,
                           const char *text)
{
    char msg[CONVERT_MAX_LIMIT_MSG + 64];
    if (*invalid != NULL)
        return SOAP_OK;
    quote_format(msg, sizeof msg, "%s%s %s does not fit in 64 bits", at, element, text);
    if ((*invalid = soap_strdup(soap, msg)) == NULL)
        return soap->error = SOAP_EOM;
    return SOAP_OK;
}

opt_bool_t convert_bool(const enum xsd__boolean *b)
{
    if (b == NULL)
        return OPT_UNSET;
    return *b == xsd__boolean__true_ ? OPT_TRUE : OPT_FALSE;
}

static const char *const convert__units[] = {"DAYS", "WEEKS", "MONTHS", "YEARS"};

int convert_day(struct soap *soap, const char *element, const char *in, const char **out)
{
    char day[LC_DATE_LEN + 1];
    *out = NULL;
    if (in == NULL)
        return SOAP_OK;
    if (lc_date_parse(in, day)) {
        *out = soap_strdup(soap, day);
        return *out ? SOAP_OK : (soap->error = SOAP_EOM);
    }
    /* A value of the wrong type, as gSOAP refuses a wrong integer: a
     * failed unit would echo it back, and the answer would not be valid. */
    char q[QUOTE_SIZE(QUOTE_MAX_CHARS)];
    return soap_client_fault(soap, "%s: '%s' is not a valid date (YYYY-MM-DD)", element, quote_str(q, sizeof q, in));
}

int convert_line_item(struct soap *soap, const struct fnp__createEntitlementLineItemDataType *in, const char *at,
                      model_line_item_t *out, const char **invalid)
{
    int rc;
    memset(out, 0, sizeof *out);
    out->is_permanent = OPT_UNSET;
    if (in->activationId != NULL) {
        out->activation_id = in->activationId->id;
        out->auto_generate = convert_bool(in->activationId->autoGenerate) == OPT_TRUE;
    }
    out->description = in->description;
    /* An empty <product/> names no product: the unit's "has no product"
     * (INVALID_REQUEST), not PRODUCT_NOT_FOUND for a uniqueId not sent. */
    if (in->product != NULL && (in->product->uniqueId != NULL || in->product->primaryKeys != NULL)) {
        out->has_product = true;
        out->product.unique_id = in->product->uniqueId;
        if (in->product->primaryKeys != NULL) {
            out->product.name = in->product->primaryKeys->name;
            out->product.version = in->product->primaryKeys->version;
        }
    }
    if (in->partNumber != NULL && in->partNumber->primaryKeys != NULL)
        out->part_number = in->partNumber->primaryKeys->partId;
    if (in->licenseModel != NULL && in->licenseModel->primaryKeys != NULL)
        out->license_model = in->licenseModel->primaryKeys->name;
    out->order_id = in->orderId;
    out->order_line_number = in->orderLineNumber;
    if ((rc = convert_integer(soap, "numberOfCopies", in->numberOfCopies, &out->has_count,
                              &out->number_of_copies, &out->count_text)) != SOAP_OK)
        return rc;
    if ((rc = convert_day(soap, "startDate", in->startDate, &out->start_date)) != SOAP_OK ||
        (rc = convert_day(soap, "expirationDate", in->expirationDate, &out->expiration_date)) != SOAP_OK ||
        (rc = convert_day(soap, "versionDate", in->versionDate, &out->version_date)) != SOAP_OK)
        return rc;
    out->is_permanent = convert_bool(in->isPermanent);
    if (in->term != NULL) {
        const char *big;
        if ((rc = convert_integer(soap, "term/numDuration", in->term->numDuration, &out->has_term,
                                  &out->term_duration, &big)) != SOAP_OK ||
            (big != NULL && (rc = convert__beyond(soap, invalid, at, "term/numDuration", big)) != SOAP_OK))
            return rc;
        if ((unsigned)in->term->durationUnit < 4)
            out->term_unit = convert__units[in->term->durationUnit];
    }
    /* The texts kept in columns of their own; the activation id has its
     * own rules (lc_id_valid), and the product is looked up, not kept. */
    if ((rc = convert_limit(soap, invalid, out->description, MODEL_MAX_DESCRIPTION_CHARS, "%sdescription", at)) ||
        (rc = convert_limit(soap, invalid, out->part_number, MODEL_MAX_ID_CHARS, "%spartNumber/primaryKeys/partId",
                            at)) ||
        (rc = convert_limit(soap, invalid, out->license_model, MODEL_MAX_ID_CHARS,
                            "%slicenseModel/primaryKeys/name", at)) ||
        (rc = convert_limit(soap, invalid, out->order_id, MODEL_MAX_ID_CHARS, "%sorderId", at)) ||
        (rc = convert_limit(soap, invalid, out->order_line_number, MODEL_MAX_ID_CHARS, "%sorderLineNumber", at)))
        return rc;
    return attrs_read_line_item(soap, in, at, &out->attributes_json, invalid);
}

static void convert__ref_ent(const struct fnp__entitlementIdentifierType *in, model_ref_t *out)
{
    out->unique_id = in->uniqueId;
    out->key = in->primaryKeys ? in->primaryKeys->entitlementId : NULL;
}

int convert_unit(struct soap *soap, const struct fnp__entitlementLifeCycleDataType *in, model_unit_t *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (in->parentEntitlementIdentifier != NULL) {
        out->has_entitlement = true;
        convert__ref_ent(in->parentEntitlementIdentifier, &out->entitlement);
    }
    size_t n = in->__sizelineItemData > 0 ? (size_t)in->__sizelineItemData : 0;
    out->changes = convert__zalloc(soap, n * sizeof *out->changes);
    if (out->changes == NULL)
        return soap->error = SOAP_EOM;
    out->n_changes = n;
    for (size_t i = 0; i < n; i++) {
        const struct fnp__lineItemLifeCycleDataType *li = &in->lineItemData[i];
        model_change_t *ch = &out->changes[i];
        if (li->parentLineItemIdentifier != NULL) {
            ch->parent.unique_id = li->parentLineItemIdentifier->uniqueId;
            ch->parent.key = li->parentLineItemIdentifier->primaryKeys
                                 ? li->parentLineItemIdentifier->primaryKeys->activationId
                                 : NULL;
        }
        char at[48];
        snprintf(at, sizeof at, "lineItemData[%zu]/lineItem/", i + 1);
        bool had = out->invalid != NULL;
        if (li->lineItem != NULL &&
            (rc = convert_line_item(soap, li->lineItem, at, &ch->item, &out->invalid)) != SOAP_OK)
            return rc;
        if (!had && out->invalid != NULL)
            out->invalid_at = i;
        ch->is_full = convert_bool(li->isFull);
        ch->allow_on_parent = convert_bool(li->allowActivationsOnParent);
        ch->auto_deploy = convert_bool(li->autoDeploy);
    }
    return SOAP_OK;
}

model_ref_t convert_entitlement_key(const struct fnp__entitlementIdentifierType *in)
{
    model_ref_t r = {NULL, NULL};
    if (in != NULL)
        convert__ref_ent(in, &r);
    return r;
}

model_ref_t convert_line_item_key(const struct fnp__entitlementLineItemIdentifierType *in)
{
    model_ref_t r = {NULL, NULL};
    if (in != NULL) {
        r.unique_id = in->uniqueId;
        r.key = in->primaryKeys ? in->primaryKeys->activationId : NULL;
    }
    return r;
}

int convert_renew_unit(struct soap *soap, const struct fnp__renewEntitlementDataType *in, model_unit_t *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    if (in->parentEntitlementIdentifier != NULL) {
        out->has_entitlement = true;
        convert__ref_ent(in->parentEntitlementIdentifier, &out->entitlement);
    }
    size_t n = in->__sizerenewLineItemData > 0 ? (size_t)in->__sizerenewLineItemData : 0;
    out->changes = convert__zalloc(soap, n * sizeof *out->changes);
    if (out->changes == NULL)
        return soap->error = SOAP_EOM;
    out->n_changes = n;
    for (size_t i = 0; i < n; i++) {
        const struct fnp__renewLineItemDataType *li = &in->renewLineItemData[i];
        const struct fnp__renewParametersDataType *rp = li->renewParameters;
        model_change_t *ch = &out->changes[i];
        model_line_item_t *it = &ch->item;
        ch->parent = convert_line_item_key(li->parentLineItemIdentifier);
        ch->is_full = convert_bool(li->isFull);
        ch->allow_on_parent = convert_bool(li->allowActivationsOnParent);
        ch->auto_deploy = convert_bool(li->autoDeploy);
        it->is_permanent = OPT_UNSET;
        if (rp == NULL)
            continue;
        if (rp->activationId != NULL) {
            it->activation_id = rp->activationId->id;
            it->auto_generate = convert_bool(rp->activationId->autoGenerate) == OPT_TRUE;
        }
        it->is_permanent = convert_bool(rp->isPermanent);
        const char *renew_term_big = NULL;
        if (rp->expirationTerms != NULL) {
            if ((rc = convert_day(soap, "expirationTerms/expirationDate", rp->expirationTerms->expirationDate,
                                  &it->expiration_date)) != SOAP_OK)
                return rc;
            if (rp->expirationTerms->term != NULL) {
                if ((rc = convert_integer(soap, "expirationTerms/term/numDuration",
                                          rp->expirationTerms->term->numDuration, &it->has_renew_term,
                                          &it->renew_term_duration, &renew_term_big)) != SOAP_OK)
                    return rc;
                if ((unsigned)rp->expirationTerms->term->durationUnit < 4)
                    it->renew_term_unit = convert__units[rp->expirationTerms->term->durationUnit];
            }
        }
        if ((rc = convert_integer(soap, "numberOfCopies", rp->numberOfCopies, &it->has_count,
                                  &it->number_of_copies, &it->count_text)) != SOAP_OK)
            return rc;
        if ((rc = convert_day(soap, "startDate", rp->startDate, &it->start_date)) != SOAP_OK ||
            (rc = convert_day(soap, "versionDate", rp->versionDate, &it->version_date)) != SOAP_OK)
            return rc;
        it->description = rp->description;
        it->order_id = rp->orderId;
        it->order_line_number = rp->orderLineNumber;
        if (rp->licenseModel != NULL && rp->licenseModel->primaryKeys != NULL)
            it->license_model = rp->licenseModel->primaryKeys->name;
        char at[56];
        snprintf(at, sizeof at, "renewLineItemData[%zu]/renewParameters/", i + 1);
        const char **bad = &out->invalid;
        bool had = out->invalid != NULL;
        if ((rc = convert_limit(soap, bad, it->description, MODEL_MAX_DESCRIPTION_CHARS, "%sdescription", at)) ||
            (rc = convert_limit(soap, bad, it->order_id, MODEL_MAX_ID_CHARS, "%sorderId", at)) ||
            (rc = convert_limit(soap, bad, it->order_line_number, MODEL_MAX_ID_CHARS, "%sorderLineNumber", at)) ||
            (rc = convert_limit(soap, bad, it->license_model, MODEL_MAX_ID_CHARS, "%slicenseModel/primaryKeys/name",
                                at)) ||
            (rc = attrs_read_renewal(soap, rp, at, &it->attributes_json, bad)) ||
            (renew_term_big != NULL &&
             (rc = convert__beyond(soap, bad, at, "expirationTerms/term/numDuration", renew_term_big))))
            return rc;
        if (!had && out->invalid != NULL)
            out->invalid_at = i;
    }
    return SOAP_OK;
}

int convert_entitlement(struct soap *soap, const struct fnp__createSimpleEntitlementDataType *in,
                        model_entitlement_t *out)
{
    int rc;
    memset(out, 0, sizeof *out);
    out->invalid_at = SIZE_MAX;
    if (in->entitlementId != NULL) {
        out->entitlement_id = in->entitlementId->id;
        out->auto_generate = convert_bool(in->entitlementId->autoGenerate) == OPT_TRUE;
    }
    out->description = in->description;
    out->sold_to = in->soldTo;
    out->ship_to_email = in->shipToEmail;
    out->ship_to_address = in->shipToAddress;
    out->email_template_variation = in->emailTemplateVariation;
    out->allow_portal_login = convert_bool(in->allowPortalLogin);
    out->auto_deploy = convert_bool(in->autoDeploy);
    const char **bad = &out->invalid;
    if ((rc = convert_limit(soap, bad, in->description, MODEL_MAX_DESCRIPTION_CHARS, "description")) ||
        (rc = convert_limit(soap, bad, in->soldTo, MODEL_MAX_NAME_CHARS, "soldTo")) ||
        (rc = convert_limit(soap, bad, in->shipToEmail, MODEL_MAX_NAME_CHARS, "shipToEmail")) ||
        (rc = convert_limit(soap, bad, in->shipToAddress, MODEL_MAX_ADDRESS_CHARS, "shipToAddress")) ||
        (rc = convert_limit(soap, bad, in->emailTemplateVariation, MODEL_MAX_NAME_CHARS, "emailTemplateVariation")))
        return rc;
    /* The entitlement's own fields before its line items: their problem
     * fails the unit first (invalid_at stays SIZE_MAX). */
    if ((rc = attrs_read_entitlement(soap, in, &out->attributes_json, &out->invalid)) != SOAP_OK)
        return rc;
    size_t n = in->__sizelineItems > 0 ? (size_t)in->__sizelineItems : 0;
    out->items = convert__zalloc(soap, n * sizeof *out->items);
    if (out->items == NULL)
        return soap->error = SOAP_EOM;
    out->n_items = n;
    for (size_t i = 0; i < n; i++) {
        char at[32];
        snprintf(at, sizeof at, "lineItems[%zu]/", i + 1);
        bool had = out->invalid != NULL;
        if ((rc = convert_line_item(soap, &in->lineItems[i], at, &out->items[i], &out->invalid)) != SOAP_OK)
            return rc;
        if (!had && out->invalid != NULL)
            out->invalid_at = i;
    }
    for (int i = 0; i < in->__sizemaintenanceLineItems; i++)
        if ((rc = attrs_check_maintenance(soap, &in->maintenanceLineItems[i])) != SOAP_OK)
            return rc;
    out->has_maintenance = in->__sizemaintenanceLineItems > 0;
    return SOAP_OK;
}

static void convert__text(const struct fnp__SimpleQueryType *in, model_text_crit_t *out)
{
    static const model_match_t m[] = {MATCH_STARTS_WITH, MATCH_CONTAINS, MATCH_ENDS_WITH, MATCH_EQUALS};
    if (in == NULL || in->value == NULL)
        return;
    out->value = in->value;
    out->match = (unsigned)in->searchType < 4 ? m[in->searchType] : MATCH_EQUALS;
}

/* A text criterion whose value may be at most max characters, the limit of
 * the field it searches: a longer one could match nothing that was stored,
 * and makes the query invalid (criterion names it). */
static int convert__text_limited(struct soap *soap, const char *criterion, const struct fnp__SimpleQueryType *in,
                                 size_t max, model_query_t *q, model_text_crit_t *out)
{
    convert__text(in, out);
    return convert_limit(soap, &q->invalid, out->value, max, "%s/value", criterion);
}

static int convert__date(struct soap *soap, const char *element, const struct fnp__DateQueryType *in,
                         model_date_crit_t *out)
{
    static const model_date_match_t m[] = {DATE_BEFORE, DATE_AFTER, DATE_ON};
    if (in == NULL || in->value == NULL)
        return SOAP_OK;
    /* An xs:date names a day; its zone (kept apart) says where, for the
     * criteria on instants (createdOn, lastModifiedDate). */
    int rc = convert_day(soap, element, in->value, &out->value);
    out->match = (unsigned)in->searchType < 3 ? m[in->searchType] : DATE_ON;
    out->zone = NULL;
    if (rc == SOAP_OK) {
        /* convert_day accepted it: blanks, YYYY-MM-DD, a zone or none, blanks. */
        const char *v = in->value;
        while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
            v++;
        v += LC_DATE_LEN;
        if (*v == 'Z')
            out->zone = "+00:00";
        else if (*v == '+' || *v == '-') {
            char *z = soap_malloc(soap, 7);
            if (z == NULL)
                return soap->error = SOAP_EOM;
            memcpy(z, v, 6);
            z[6] = '\0';
            out->zone = z;
        }
    }
    return rc;
}

/* The entitlementAttributes criteria: each names an attribute (not empty)
 * and, optionally, how its stringValue must match; they are ANDed, at most
 * MODEL_MAX_ATTR_CRITERIA of them. A criterion that cannot be used sets
 * *invalid. */
static int convert__attr_crits(struct soap *soap, const struct fnp__entCustomAttributesQueryListType *in,
                               model_query_t *out)
{
    size_t n = in != NULL && in->__sizeattribute > 0 ? (size_t)in->__sizeattribute : 0;
    char msg[128];
    if (n == 0)
        return SOAP_OK;
    if (n > MODEL_MAX_ATTR_CRITERIA) {
        snprintf(msg, sizeof msg, "entitlementAttributes has %zu attribute criteria, at most %d allowed", n,
                 MODEL_MAX_ATTR_CRITERIA);
        if (out->invalid == NULL && (out->invalid = soap_strdup(soap, msg)) == NULL)
            return soap->error = SOAP_EOM;
        return SOAP_OK;
    }
    if ((out->attrs = convert__zalloc(soap, n * sizeof *out->attrs)) == NULL)
        return soap->error = SOAP_EOM;
    out->n_attrs = n;
    for (size_t i = 0; i < n; i++) {
        const char *name = in->attribute[i].attributeName;
        int rc;
        if (utf8_is_blank(name)) {
            if (out->invalid == NULL &&
                (out->invalid = soap_strdup(soap, "entitlementAttributes/attribute/attributeName is empty")) == NULL)
                return soap->error = SOAP_EOM;
            return SOAP_OK;
        }
        out->attrs[i].name = name;
        convert__text(in->attribute[i].stringValue, &out->attrs[i].value);
        if ((rc = convert_limit(soap, &out->invalid, name, MODEL_MAX_ID_CHARS,
                                "entitlementAttributes/attribute[%zu]/attributeName", i + 1)) ||
            (rc = convert_limit(soap, &out->invalid, out->attrs[i].value.value, MODEL_MAX_ATTR_VALUE_CHARS,
                                "entitlementAttributes/attribute[%zu]/stringValue/value", i + 1)))
            return rc;
    }
    return SOAP_OK;
}

int convert_query(struct soap *soap, const struct fnp__searchEntitlementDataType *in, model_query_t *out)
{
    int rc = SOAP_OK;
    memset(out, 0, sizeof *out);
    out->is_permanent = OPT_UNSET;
    out->is_bulk = OPT_UNSET;
    if (in == NULL)
        return SOAP_OK;
    /* Each value at most as long as the field it searches (core/model.h). */
    if ((rc = convert__text_limited(soap, "entitlementId", in->entitlementId, MODEL_MAX_ID_CHARS, out,
                                    &out->entitlement_id)) ||
        (rc = convert__text_limited(soap, "entDescription", in->entDescription, MODEL_MAX_DESCRIPTION_CHARS, out,
                                    &out->ent_description)) ||
        (rc = convert__text_limited(soap, "description", in->description, MODEL_MAX_DESCRIPTION_CHARS, out,
                                    &out->description)) ||
        (rc = convert__text_limited(soap, "productName", in->productName, MODEL_MAX_ID_CHARS, out,
                                    &out->product_name)) ||
        (rc = convert__text_limited(soap, "productVersion", in->productVersion, MODEL_MAX_ID_CHARS, out,
                                    &out->product_version)) ||
        (rc = convert__text_limited(soap, "partNumber", in->partNumber, MODEL_MAX_ID_CHARS, out,
                                    &out->part_number)) ||
        (rc = convert__text_limited(soap, "soldTo", in->soldTo, MODEL_MAX_NAME_CHARS, out, &out->sold_to)) ||
        (rc = convert__text_limited(soap, "shipToEmail", in->shipToEmail, MODEL_MAX_NAME_CHARS, out,
                                    &out->ship_to_email)) ||
        (rc = convert__text_limited(soap, "shipToAddress", in->shipToAddress, MODEL_MAX_ADDRESS_CHARS, out,
                                    &out->ship_to_address)) ||
        (rc = convert__text_limited(soap, "emailTemplateVariation", in->emailTemplateVariation,
                                    MODEL_MAX_NAME_CHARS, out, &out->email_template_variation)) ||
        (rc = convert__text_limited(soap, "createdUserId", in->createdUserId, MODEL_MAX_NAME_CHARS, out,
                                    &out->created_user_id)))
        return rc;
    if (in->state != NULL) {
        out->state.value = model_state_name((model_state_t)in->state->value);
        convert__text(&(struct fnp__SimpleQueryType){(char *)out->state.value, in->state->searchType},
                      &out->state);
    }
    if ((rc = convert__date(soap, "startDate", in->startDate, &out->start_date)) ||
        (rc = convert__date(soap, "expirationDate", in->expirationDate, &out->expiration_date)) ||
        (rc = convert__date(soap, "createdOn", in->createdOn, &out->created_on)) ||
        (rc = convert__date(soap, "versionDate", in->versionDate, &out->version_date)) ||
        (rc = convert__date(soap, "lastModifiedDate", in->lastModifiedDate, &out->last_modified)))
        return rc;
    out->is_permanent = convert_bool(in->isPermanent);
    out->is_bulk = convert_bool(in->isBulk);
    if ((rc = convert__attr_crits(soap, in->entitlementAttributes, out)) != SOAP_OK)
        return rc;
    if (in->accountUnitName != NULL) {
        /* One identifier names an account here (its key: id in v4, name
         * before), so isSearchByName searches that identifier as well. v1
         * and v2 clients know the criterion as organizationUnitName. */
        int v = soap_worker(soap)->rewritten;
        const char *crit = v == 1 || v == 2 ? "organizationUnitName" : "accountUnitName";
        struct fnp__SimpleQueryType q = {in->accountUnitName->value, in->accountUnitName->searchType};
        out->partner_tier = in->accountUnitName->partnerTier;
        if ((rc = convert__text_limited(soap, crit, &q, MODEL_MAX_ID_CHARS, out, &out->account)) ||
            (rc = convert_limit(soap, &out->invalid, out->partner_tier, MODEL_MAX_NAME_CHARS, "%s/partnerTier", crit)))
            return rc;
    }
    /* Criteria on things this service does not search (contacts,
     * maintenance line items, license technologies, product types other
     * than licensed products) match nothing; their values are held to the
     * limit of names all the same, as any text of a request is. */
    if ((rc = convert_limit(soap, &out->invalid, in->contactEmail ? in->contactEmail->value : NULL,
                            MODEL_MAX_NAME_CHARS, "contactEmail/value")) ||
        (rc = convert_limit(soap, &out->invalid, in->currentOwnerName ? in->currentOwnerName->value : NULL,
                            MODEL_MAX_NAME_CHARS, "currentOwnerName/value")) ||
        (rc = convert_limit(soap, &out->invalid, in->licenseTechnology ? in->licenseTechnology->value : NULL,
                            MODEL_MAX_NAME_CHARS, "licenseTechnology/value")))
        return rc;
    if ((in->contactEmail && in->contactEmail->value) ||
        (in->currentOwnerName && in->currentOwnerName->value) ||
        (in->licenseTechnology && in->licenseTechnology->value) || in->maintStartDate ||
        in->maintExpirationDate || convert_bool(in->maintIsPermanent) == OPT_TRUE ||
        (in->productType && *in->productType != fnp__ProductType__LICENSED_USCOREPRODUCT))
        out->match_none = true;
    return SOAP_OK;
}

struct fnp__StatusInfoType *convert_status(struct soap *soap, lc_status_t status, const char *reason)
{
    struct fnp__StatusInfoType *s = convert__zalloc(soap, sizeof *s);
    if (s == NULL)
        return NULL;
    s->status = status == LC_SUCCESS ? fnp__StatusType__SUCCESS
                : status == LC_PARTIAL_FAILURE ? fnp__StatusType__PARTIAL_USCOREFAILURE
                                               : fnp__StatusType__FAILURE;
    /* The outcome /metrics counts. */
    soap_worker(soap)->outcome = status == LC_SUCCESS ? "SUCCESS"
                                 : status == LC_PARTIAL_FAILURE ? "PARTIAL_FAILURE"
                                                                : "FAILURE";
    s->reason = reason ? soap_strdup(soap, reason) : NULL;
    return s;
}

struct fnp__entitlementIdentifierType *convert_entitlement_ref(struct soap *soap, const char *uid,
                                                               const char *key)
{
    struct fnp__entitlementIdentifierType *r = convert__zalloc(soap, sizeof *r);
    if (r == NULL)
        return NULL;
    r->uniqueId = (char *)uid;
    if (key != NULL && (r->primaryKeys = convert__zalloc(soap, sizeof *r->primaryKeys)) != NULL)
        r->primaryKeys->entitlementId = (char *)key;
    return r;
}

struct fnp__entitlementLineItemIdentifierType *convert_line_item_ref(struct soap *soap, const char *uid,
                                                                     const char *key)
{
    struct fnp__entitlementLineItemIdentifierType *r = convert__zalloc(soap, sizeof *r);
    if (r == NULL)
        return NULL;
    r->uniqueId = (char *)uid;
    if (key != NULL && (r->primaryKeys = convert__zalloc(soap, sizeof *r->primaryKeys)) != NULL)
        r->primaryKeys->activationId = (char *)key;
    return r;
}

char *convert_number(struct soap *soap, long long n)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", n);
    return soap_strdup(soap, buf);
}

static enum fnp__StateType *convert__state(struct soap *soap, const char *name)
{
    int s = model_state_parse(name);
    if (s < 0)
        return NULL;
    enum fnp__StateType *p = NEW(soap, enum fnp__StateType);
    if (p != NULL)
        *p = (enum fnp__StateType)s;
    return p;
}

static time_t *convert__time(struct soap *soap, const char *epoch)
{
    if (epoch == NULL)
        return NULL;
    time_t *t = NEW(soap, time_t);
    if (t != NULL)
        *t = (time_t)strtoll(epoch, NULL, 10);
    return t;
}

static enum xsd__boolean *convert__xbool(struct soap *soap, bool v)
{
    enum xsd__boolean *b = NEW(soap, enum xsd__boolean);
    if (b != NULL)
        *b = v ? xsd__boolean__true_ : xsd__boolean__false_;
    return b;
}

static int convert__found_item(struct soap *soap, const model_found_item_t *in,
                               struct fnp__entitlementLineItemDataType *out)
{
    memset(out, 0, sizeof *out);
    out->activationId = convert__zalloc(soap, sizeof *out->activationId);
    if (out->activationId == NULL)
        return SOAP_EOM;
    out->activationId->id = in->activation_id;
    out->description = in->description;
    if (in->product_name != NULL) {
        out->product = convert__zalloc(soap, sizeof *out->product);
        if (out->product == NULL || (out->product->primaryKeys = convert__zalloc(soap, sizeof *out->product->primaryKeys)) == NULL)
            return SOAP_EOM;
        out->product->primaryKeys->name = in->product_name;
        out->product->primaryKeys->version = in->product_version;
    }
    if (in->part_number != NULL) {
        out->partNumber = convert__zalloc(soap, sizeof *out->partNumber);
        if (out->partNumber == NULL || (out->partNumber->primaryKeys = convert__zalloc(soap, sizeof *out->partNumber->primaryKeys)) == NULL)
            return SOAP_EOM;
        out->partNumber->primaryKeys->partId = in->part_number;
    }
    if (in->license_model != NULL) {
        out->licenseModel = convert__zalloc(soap, sizeof *out->licenseModel);
        if (out->licenseModel == NULL || (out->licenseModel->primaryKeys = convert__zalloc(soap, sizeof *out->licenseModel->primaryKeys)) == NULL)
            return SOAP_EOM;
        out->licenseModel->primaryKeys->name = in->license_model;
    }
    out->orderId = in->order_id;
    out->orderLineNumber = in->order_line_number;
    out->numberOfCopies = convert_number(soap, in->count);
    out->startDate = in->start_date;
    out->isPermanent = convert__xbool(soap, in->is_permanent);
    if (in->has_term && in->term_unit != NULL) {
        out->term = convert__zalloc(soap, sizeof *out->term);
        if (out->term == NULL)
            return SOAP_EOM;
        out->term->numDuration = convert_number(soap, in->term_duration);
        for (unsigned u = 0; u < 4; u++)
            if (strcmp(in->term_unit, convert__units[u]) == 0)
                out->term->durationUnit = (enum fnp__DurationUnit)u;
    }
    out->expirationDate = in->expiration_date;
    out->versionDate = in->version_date;
    if (in->item_type != NULL) {
        enum fnp__LineItemType *t = NEW(soap, enum fnp__LineItemType);
        if (t == NULL)
            return SOAP_EOM;
        *t = strcmp(in->item_type, "UPGRADE") == 0 ? fnp__LineItemType__UPGRADE
             : strcmp(in->item_type, "UPSELL") == 0 ? fnp__LineItemType__UPSELL
                                                   : fnp__LineItemType__RENEWAL;
        out->lineItemType = t;
    }
    out->state = convert__state(soap, in->state);
    if (in->parent_activation_id != NULL)
        out->parentLineItem = convert_line_item_ref(soap, in->parent_unique_id, in->parent_activation_id);
    out->createdOnDateTime = convert__time(soap, in->created);
    out->lastModifiedDateTime = convert__time(soap, in->modified);
    return attrs_write_line_item(soap, in->attributes_json, out);
}

int convert_found(struct soap *soap, const model_found_t *in, struct fnp__entitlementDataType *out)
{
    struct fnp__simpleEntitlementDataType *e = convert__zalloc(soap, sizeof *e);
    memset(out, 0, sizeof *out);
    if (e == NULL || (e->entitlementId = convert__zalloc(soap, sizeof *e->entitlementId)) == NULL)
        return SOAP_EOM;
    out->simpleEntitlement = e;
    e->entitlementId->id = in->entitlement_id;
    e->lastModifiedDateTime = convert__time(soap, in->modified);
    e->description = in->description;
    /* soldTo is required in the response type. */
    e->soldTo = in->sold_to ? in->sold_to : "";
    e->shipToEmail = in->ship_to_email;
    e->shipToAddress = in->ship_to_address;
    e->emailTemplateVariation = in->email_template_variation;
    e->state = convert__state(soap, in->state);
    e->createdUserId = in->created_by;
    if (in->allow_portal_login != OPT_UNSET)
        e->allowPortalLogin = convert__xbool(soap, in->allow_portal_login == OPT_TRUE);
    e->__sizelineItems = (int)in->n_items;
    e->lineItems = convert__zalloc(soap, in->n_items * sizeof *e->lineItems);
    if (e->lineItems == NULL)
        return SOAP_EOM;
    for (size_t i = 0; i < in->n_items; i++)
        if (convert__found_item(soap, &in->items[i], &e->lineItems[i]) != SOAP_OK)
            return SOAP_EOM;
    return attrs_write_entitlement(soap, in->attributes_json, e);
}
