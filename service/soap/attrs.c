#include "attrs.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/quote.h"
#include "../core/utf8.h"
#include "convert.h"
#include "soap_int.h"

/* Longest element path named in a reason or fault
 * ("policyAttributes/reinstallPolicy/advancedPolicy/umn1Policy/...",
 * "renewLineItemData[12]/renewParameters/licenseModelAttributes/attribute[3]/"). */
#define ATTRS_MAX_PATH 128

/*
 * Reading a request into a document. Every helper takes the state and
 * does nothing once an error is recorded, so that the builders read
 * straight through; a NULL json_t handed to attrs__set or attrs__append
 * (a value that could not be made) records SOAP_EOM unless an error is
 * recorded already.
 */
typedef struct attrs__in {
    struct soap *soap;
    const char **invalid; /* the unit's INVALID_REQUEST message (convert.h) */
    const char *at;       /* the path of the line item within its unit ("lineItems[2]/"), or "" */
    int rc;               /* SOAP_OK, SOAP_FAULT (Client fault set) or SOAP_EOM */
} attrs__in_t;

static void attrs__oom(attrs__in_t *b)
{
    if (b->rc == SOAP_OK)
        b->rc = b->soap->error = SOAP_EOM;
}

/* Adds val under key; takes the reference to val in every case. */
static void attrs__set(attrs__in_t *b, json_t *obj, const char *key, json_t *val)
{
    if (val == NULL || json_object_set_new(obj, key, val) != 0)
        attrs__oom(b);
}

static void attrs__append(attrs__in_t *b, json_t *arr, json_t *val)
{
    if (val == NULL || json_array_append_new(arr, val) != 0)
        attrs__oom(b);
}

/* The new object, or NULL with SOAP_EOM recorded. */
static json_t *attrs__object(attrs__in_t *b)
{
    json_t *o = json_object();
    if (o == NULL)
        attrs__oom(b);
    return o;
}

/* A string of the request (never NULL in a valid one: an element sent as
 * xsi:nil stands for the empty string here). gSOAP hands over UTF-8 that
 * the guard has checked, which json_string takes. */
static json_t *attrs__string(const char *s)
{
    return json_string(s != NULL ? s : "");
}

static void attrs__set_str(attrs__in_t *b, json_t *obj, const char *key, const char *s)
{
    if (s != NULL)
        attrs__set(b, obj, key, attrs__string(s));
}

static void attrs__set_bool(attrs__in_t *b, json_t *obj, const char *key, const enum xsd__boolean *v)
{
    if (v != NULL)
        attrs__set(b, obj, key, json_boolean(*v == xsd__boolean__true_));
}

/* An xsd:integer, read as the other integers of requests are
 * (convert_integer: 64 bits, a Client fault naming element otherwise). */
static void attrs__set_int(attrs__in_t *b, json_t *obj, const char *key, const char *element, const char *text)
{
    bool has = false;
    long long v;
    if (b->rc != SOAP_OK || text == NULL)
        return;
    if ((b->rc = convert_integer(b->soap, element, text, &has, &v, NULL)) == SOAP_OK && has)
        attrs__set(b, obj, key, json_integer((json_int_t)v));
}

/* An xs:date, checked as every date of a request is (convert_day): one
 * that is not a date faults the request. */
static void attrs__set_date(attrs__in_t *b, json_t *obj, const char *key, const char *element, const char *text)
{
    const char *day = NULL;
    if (b->rc != SOAP_OK || text == NULL)
        return;
    if ((b->rc = convert_day(b->soap, element, text, &day)) == SOAP_OK && day != NULL)
        attrs__set(b, obj, key, json_string(day));
}

/* Sets the unit's INVALID_REQUEST message, unless it holds one already. */
static void attrs__invalid(attrs__in_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void attrs__invalid(attrs__in_t *b, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    if (*b->invalid != NULL)
        return;
    va_start(ap, fmt);
    quote_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if ((*b->invalid = soap_strdup(b->soap, msg)) == NULL)
        attrs__oom(b);
}

/* Holds text (NULL: not given) to its field limit max (core/model.h): a
 * longer one sets the unit's INVALID_REQUEST message naming where and name
 * (convert_limit), and the reading goes on. */
static void attrs__limit(attrs__in_t *b, const char *text, size_t max, const char *where, const char *name)
{
    if (b->rc == SOAP_OK)
        b->rc = convert_limit(b->soap, b->invalid, text, max, "%s%s", where, name);
}

/* Names are identifiers: not empty, not only white space, and at most
 * ATTRS_MAX_NAME_CHARS characters, so that the attribute can be told and
 * searched for. where is the attribute's path ("lineItems[1]/
 * lineItemAttributes/attribute[2]/"). */
static void attrs__check_name(attrs__in_t *b, const char *list, const char *where, const char *name)
{
    if (utf8_is_blank(name))
        attrs__invalid(b, "%s/attributeName is empty", list);
    else
        attrs__limit(b, name, ATTRS_MAX_NAME_CHARS, where, "attributeName");
}

/* attribute elements of an attributeDescriptorDataType, as an array. */
static json_t *attrs__attributes(attrs__in_t *b, const char *list,
                                 const struct fnp__attributeDescriptorDataType *in)
{
    char element[ATTRS_MAX_PATH], where[ATTRS_MAX_PATH];
    json_t *arr = json_array();
    if (arr == NULL) {
        attrs__oom(b);
        return NULL;
    }
    for (int i = 0; i < in->__sizeattribute && b->rc == SOAP_OK; i++) {
        const struct fnp__attributeDescriptorType *at = &in->attribute[i];
        json_t *o = attrs__object(b);
        if (o == NULL)
            break;
        snprintf(where, sizeof where, "%s%s/attribute[%d]/", b->at, list, i + 1);
        attrs__check_name(b, list, where, at->attributeName);
        attrs__set(b, o, "attributeName", attrs__string(at->attributeName));
        attrs__limit(b, at->stringValue, MODEL_MAX_ATTR_VALUE_CHARS, where, "stringValue");
        attrs__set_str(b, o, "stringValue", at->stringValue);
        snprintf(element, sizeof element, "%s/dateValue", list);
        attrs__set_date(b, o, "dateValue", element, at->dateValue);
        attrs__set_bool(b, o, "booleanValue", at->booleanValue);
        snprintf(element, sizeof element, "%s/integerValue", list);
        attrs__set_int(b, o, "integerValue", element, at->integerValue);
        if (at->__sizearrayValue > MODEL_MAX_ATTR_ARRAY_VALUES)
            attrs__invalid(b, "%sarrayValue is repeated %d times, at most %d allowed", where, at->__sizearrayValue,
                           MODEL_MAX_ATTR_ARRAY_VALUES);
        if (at->__sizearrayValue > 0) {
            json_t *vals = json_array();
            for (int k = 0; vals != NULL && k < at->__sizearrayValue && b->rc == SOAP_OK; k++) {
                b->rc = convert_limit(b->soap, b->invalid, at->arrayValue[k], MODEL_MAX_ATTR_VALUE_CHARS,
                                      "%sarrayValue[%d]", where, k + 1);
                attrs__append(b, vals, attrs__string(at->arrayValue[k]));
            }
            attrs__set(b, o, "arrayValue", vals);
        }
        attrs__append(b, arr, o);
    }
    return arr;
}

static json_t *attrs__unit(struct soap *soap, enum fnp__DurationUnit u)
{
    return json_string(soap_fnp__DurationUnit2s(soap, u));
}

/* {uniqueId, primaryKeys: {name}} of a licenseModelIdentifierType; tag is
 * its element (alternateLicenseModel1). */
static json_t *attrs__license_model(attrs__in_t *b, const char *tag, const struct fnp__licenseModelIdentifierType *in)
{
    char where[ATTRS_MAX_PATH];
    json_t *o = attrs__object(b);
    snprintf(where, sizeof where, "%s%s/", b->at, tag);
    attrs__limit(b, in->uniqueId, MODEL_MAX_ID_CHARS, where, "uniqueId");
    attrs__limit(b, in->primaryKeys ? in->primaryKeys->name : NULL, MODEL_MAX_ID_CHARS, where, "primaryKeys/name");
    attrs__set_str(b, o, "uniqueId", in->uniqueId);
    if (in->primaryKeys != NULL) {
        json_t *pk = attrs__object(b);
        attrs__set(b, pk, "name", attrs__string(in->primaryKeys->name));
        attrs__set(b, o, "primaryKeys", pk);
    }
    return o;
}

/* A policyDataType: {allowedCount, policyTerm: {duration, durationUnit}}. */
static json_t *attrs__policy(attrs__in_t *b, const char *path, const struct fnp__policyDataType *in)
{
    char element[ATTRS_MAX_PATH + 32]; /* path and the longest child's name */
    json_t *o = attrs__object(b);
    snprintf(element, sizeof element, "%s/allowedCount", path);
    attrs__set_int(b, o, "allowedCount", element, in->allowedCount);
    if (in->policyTerm != NULL) {
        json_t *t = attrs__object(b);
        snprintf(element, sizeof element, "%s/policyTerm/duration", path);
        attrs__set_int(b, t, "duration", element, in->policyTerm->duration);
        attrs__set(b, t, "durationUnit", attrs__unit(b->soap, in->policyTerm->durationUnit));
        attrs__set(b, o, "policyTerm", t);
    }
    return o;
}

static void attrs__set_policy(attrs__in_t *b, json_t *obj, const char *key, const char *parent,
                              const struct fnp__policyDataType *in)
{
    char path[ATTRS_MAX_PATH];
    if (in == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", parent, key);
    attrs__set(b, obj, key, attrs__policy(b, path, in));
}

static json_t *attrs__policies(attrs__in_t *b, const struct fnp__policyAttributesListType *in)
{
    static const char top[] = "policyAttributes";
    json_t *o = attrs__object(b);
    attrs__set_policy(b, o, "rehostsPolicy", top, in->rehostsPolicy);
    attrs__set_policy(b, o, "returnsPolicy", top, in->returnsPolicy);
    attrs__set_policy(b, o, "repairsPolicy", top, in->repairsPolicy);
    if (in->extraActivationsPolicy != NULL) {
        json_t *x = attrs__object(b);
        attrs__set_int(b, x, "allowedCount", "policyAttributes/extraActivationsPolicy/allowedCount",
                       in->extraActivationsPolicy->allowedCount);
        attrs__set(b, o, "extraActivationsPolicy", x);
    }
    if (in->cancelLicensePolicy != NULL) {
        json_t *x = attrs__object(b);
        attrs__set_bool(b, x, "isCancelLicense", &in->cancelLicensePolicy->isCancelLicense);
        attrs__set(b, o, "cancelLicensePolicy", x);
    }
    if (in->virtualLicensePolicy != NULL) {
        json_t *x = attrs__object(b);
        attrs__set_bool(b, x, "isVirtualLicense", &in->virtualLicensePolicy->isVirtualLicense);
        attrs__set(b, o, "virtualLicensePolicy", x);
    }
    if (in->reinstallPolicy != NULL) {
        static const char path[] = "policyAttributes/reinstallPolicy";
        json_t *x = attrs__object(b);
        attrs__set_policy(b, x, "defaultPolicy", path, in->reinstallPolicy->defaultPolicy);
        const struct fnp__advancedReinstallPolicyType *adv = in->reinstallPolicy->advancedPolicy;
        if (adv != NULL) {
            static const char apath[] = "policyAttributes/reinstallPolicy/advancedPolicy";
            json_t *a = attrs__object(b);
            attrs__set_policy(b, a, "umn1Policy", apath, adv->umn1Policy);
            attrs__set_policy(b, a, "umn2Policy", apath, adv->umn2Policy);
            attrs__set_policy(b, a, "umn3Policy", apath, adv->umn3Policy);
            attrs__set_policy(b, a, "midPolicy", apath, adv->midPolicy);
            attrs__set(b, x, "advancedPolicy", a);
        }
        attrs__set(b, o, "reinstallPolicy", x);
    }
    if (in->acpiGenerationIdLicensePolicy != NULL) {
        json_t *x = attrs__object(b);
        attrs__set_bool(b, x, "useACPIGenerationId", &in->acpiGenerationIdLicensePolicy->useACPIGenerationId);
        attrs__set(b, o, "acpiGenerationIdLicensePolicy", x);
    }
    return o;
}

static json_t *attrs__version_date(attrs__in_t *b, const struct fnp__versionDateAttributesType *in)
{
    json_t *o = attrs__object(b);
    attrs__set(b, o, "versionOption", json_string(soap_fnp__VersionDateOptionType2s(b->soap, in->versionOption)));
    if (in->duration != NULL) {
        json_t *d = attrs__object(b);
        attrs__set_int(b, d, "numDuration", "versionDateAttributes/duration/numDuration", in->duration->numDuration);
        attrs__set(b, d, "durationUnit", attrs__unit(b->soap, in->duration->durationUnit));
        attrs__set(b, o, "duration", d);
    }
    return o;
}

static json_t *attrs__entitled_products(attrs__in_t *b, const struct fnp__entitledProductDataListType *in)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        attrs__oom(b);
        return NULL;
    }
    for (int i = 0; i < in->__sizeentitledProduct && b->rc == SOAP_OK; i++) {
        const struct fnp__entitledProductDataType *ep = &in->entitledProduct[i];
        json_t *o = attrs__object(b);
        if (ep->product != NULL) {
            /* Kept as given, not looked up: held to the identifiers' limit. */
            char where[ATTRS_MAX_PATH];
            const struct fnp__productPKType *keys = ep->product->primaryKeys;
            snprintf(where, sizeof where, "%sentitledProducts/entitledProduct[%d]/product/", b->at, i + 1);
            attrs__limit(b, ep->product->uniqueId, MODEL_MAX_ID_CHARS, where, "uniqueId");
            attrs__limit(b, keys ? keys->name : NULL, MODEL_MAX_ID_CHARS, where, "primaryKeys/name");
            attrs__limit(b, keys ? keys->version : NULL, MODEL_MAX_ID_CHARS, where, "primaryKeys/version");
            json_t *p = attrs__object(b);
            attrs__set_str(b, p, "uniqueId", ep->product->uniqueId);
            if (ep->product->primaryKeys != NULL) {
                json_t *pk = attrs__object(b);
                attrs__set(b, pk, "name", attrs__string(ep->product->primaryKeys->name));
                attrs__set(b, pk, "version", attrs__string(ep->product->primaryKeys->version));
                attrs__set(b, p, "primaryKeys", pk);
            }
            attrs__set(b, o, "product", p);
        }
        attrs__set_int(b, o, "quantity", "entitledProducts/quantity", ep->quantity);
        attrs__append(b, arr, o);
    }
    return arr;
}

static json_t *attrs__channel_partners(attrs__in_t *b, const struct fnp__channelPartnerDataListType *in)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        attrs__oom(b);
        return NULL;
    }
    /* The account is organizationUnit in v1 and v2, and its key is name
     * before v4 (versions.h): a message names what the client sent. */
    int v = soap_worker(b->soap)->rewritten;
    const char *account = v == 1 || v == 2 ? "organizationUnit/" : "accountUnit/";
    const char *account_key = v >= 1 && v <= 3 ? "primaryKeys/name" : "primaryKeys/id";
    for (int i = 0; i < in->__sizechannelPartner && b->rc == SOAP_OK; i++) {
        const struct fnp__channelPartnerDataType *cp = &in->channelPartner[i];
        char where[64], sub[ATTRS_MAX_PATH]; /* where: 46 bytes at most */
        snprintf(where, sizeof where, "channelPartners/channelPartner[%d]/", i + 1);
        attrs__limit(b, cp->tierName, MODEL_MAX_NAME_CHARS, where, "tierName");
        if (cp->accountUnit != NULL) {
            snprintf(sub, sizeof sub, "%s%s", where, account);
            attrs__limit(b, cp->accountUnit->uniqueId, MODEL_MAX_ID_CHARS, sub, "uniqueId");
            attrs__limit(b, cp->accountUnit->primaryKeys ? cp->accountUnit->primaryKeys->id : NULL,
                         MODEL_MAX_ID_CHARS, sub, account_key);
        }
        if (cp->contact != NULL) {
            const struct fnp__userPKType *u = cp->contact->primaryKeys;
            snprintf(sub, sizeof sub, "%scontact/", where);
            attrs__limit(b, cp->contact->uniqueId, MODEL_MAX_ID_CHARS, sub, "uniqueId");
            attrs__limit(b, cp->contact->userName, MODEL_MAX_NAME_CHARS, sub, "userName");
            snprintf(sub, sizeof sub, "%scontact/primaryKeys/", where);
            attrs__limit(b, u ? u->firstName : NULL, MODEL_MAX_NAME_CHARS, sub, "firstName");
            attrs__limit(b, u ? u->lastName : NULL, MODEL_MAX_NAME_CHARS, sub, "lastName");
            attrs__limit(b, u ? u->emailAddress : NULL, MODEL_MAX_NAME_CHARS, sub, "emailAddress");
            attrs__limit(b, u ? u->phoneNumber : NULL, MODEL_MAX_NAME_CHARS, sub, "phoneNumber");
        }
        json_t *o = attrs__object(b);
        attrs__set(b, o, "tierName", attrs__string(cp->tierName));
        if (cp->accountUnit != NULL) {
            json_t *a = attrs__object(b);
            attrs__set_str(b, a, "uniqueId", cp->accountUnit->uniqueId);
            if (cp->accountUnit->primaryKeys != NULL) {
                json_t *pk = attrs__object(b);
                attrs__set(b, pk, "id", attrs__string(cp->accountUnit->primaryKeys->id));
                attrs__set(b, a, "primaryKeys", pk);
            }
            attrs__set(b, o, "accountUnit", a);
        }
        if (cp->contact != NULL) {
            json_t *c = attrs__object(b);
            attrs__set_str(b, c, "uniqueId", cp->contact->uniqueId);
            attrs__set_str(b, c, "userName", cp->contact->userName);
            const struct fnp__userPKType *u = cp->contact->primaryKeys;
            if (u != NULL) {
                json_t *pk = attrs__object(b);
                attrs__set(b, pk, "firstName", attrs__string(u->firstName));
                attrs__set(b, pk, "lastName", attrs__string(u->lastName));
                attrs__set(b, pk, "emailAddress", attrs__string(u->emailAddress));
                attrs__set_str(b, pk, "phoneNumber", u->phoneNumber);
                attrs__set(b, c, "primaryKeys", pk);
            }
            attrs__set(b, o, "contact", c);
        }
        attrs__set_bool(b, o, "currentOwner", cp->currentOwner);
        attrs__append(b, arr, o);
    }
    return arr;
}

/* The fields a new line item and a renewal share, whichever struct holds
 * them. */
typedef struct attrs__item {
    /* The license model and part number are kept by name (their
     * columns); a uniqueId given with or instead of it is kept here. */
    const struct fnp__licenseModelIdentifierType *license_model;
    const struct fnp__partNumberIdentifierType *part_number; /* NULL for renewals */
    bool renewal; /* the parent's keys are inherited (see attrs__read_item) */
    const struct fnp__licenseModelIdentifierType *alt1, *alt2;
    const struct fnp__attributeDescriptorDataType *license_model_attrs;
    const char *time_zone;
    const struct fnp__policyAttributesListType *policies;
    const enum fnp__StartDateOptionType *start_option;
    const struct fnp__versionDateAttributesType *version_attrs;
    const struct fnp__entitledProductDataListType *products; /* NULL for renewals */
    const struct fnp__attributeDescriptorDataType *item_attrs;
} attrs__item_t;

/* Dumps doc into *json on soap (NULL when doc is empty) and drops it. */
static int attrs__finish(attrs__in_t *b, json_t *doc, const char **json)
{
    *json = NULL;
    if (doc == NULL)
        attrs__oom(b);
    else if (b->rc == SOAP_OK && json_object_size(doc) > 0) {
        char *text = json_dumps(doc, JSON_COMPACT);
        if (text == NULL || (*json = soap_strdup(b->soap, text)) == NULL)
            attrs__oom(b);
        free(text);
    }
    json_decref(doc);
    return b->rc;
}

static int attrs__read_item(struct soap *soap, const attrs__item_t *in, const char *at, const char **json,
                            const char **invalid)
{
    attrs__in_t b = {soap, invalid, at, SOAP_OK};
    json_t *doc = json_object();
    if (doc == NULL)
        return attrs__finish(&b, doc, json);
    if (in->license_model != NULL) {
        attrs__limit(&b, in->license_model->uniqueId, MODEL_MAX_ID_CHARS, at, "licenseModel/uniqueId");
        /* A renewal inherits each key it does not give, and the parent's
         * license model by name unless this key is there (db/stmt.c): a
         * license model given whole, without a uniqueId, is a null one. */
        if (in->license_model->uniqueId != NULL)
            attrs__set_str(&b, doc, "licenseModelUniqueId", in->license_model->uniqueId);
        else if (in->renewal)
            attrs__set(&b, doc, "licenseModelUniqueId", json_null());
    }
    if (in->part_number != NULL) {
        attrs__limit(&b, in->part_number->uniqueId, MODEL_MAX_ID_CHARS, at, "partNumber/uniqueId");
        attrs__set_str(&b, doc, "partNumberUniqueId", in->part_number->uniqueId);
    }
    if (in->alt1 != NULL)
        attrs__set(&b, doc, "alternateLicenseModel1", attrs__license_model(&b, "alternateLicenseModel1", in->alt1));
    if (in->alt2 != NULL)
        attrs__set(&b, doc, "alternateLicenseModel2", attrs__license_model(&b, "alternateLicenseModel2", in->alt2));
    if (in->license_model_attrs != NULL)
        attrs__set(&b, doc, "licenseModelAttributes",
                   attrs__attributes(&b, "licenseModelAttributes", in->license_model_attrs));
    attrs__limit(&b, in->time_zone, MODEL_MAX_NAME_CHARS, at, "FNPTimeZoneValue");
    attrs__set_str(&b, doc, "FNPTimeZoneValue", in->time_zone);
    if (in->policies != NULL)
        attrs__set(&b, doc, "policyAttributes", attrs__policies(&b, in->policies));
    if (in->start_option != NULL)
        attrs__set(&b, doc, "startDateOption", json_string(soap_fnp__StartDateOptionType2s(soap, *in->start_option)));
    if (in->version_attrs != NULL)
        attrs__set(&b, doc, "versionDateAttributes", attrs__version_date(&b, in->version_attrs));
    if (in->products != NULL)
        attrs__set(&b, doc, "entitledProducts", attrs__entitled_products(&b, in->products));
    if (in->item_attrs != NULL)
        attrs__set(&b, doc, "lineItemAttributes", attrs__attributes(&b, "lineItemAttributes", in->item_attrs));
    return attrs__finish(&b, doc, json);
}

int attrs_read_line_item(struct soap *soap, const struct fnp__createEntitlementLineItemDataType *in, const char *at,
                         const char **json, const char **invalid)
{
    attrs__item_t it = {in->licenseModel, in->partNumber, false, in->alternateLicenseModel1, in->alternateLicenseModel2,
                        in->licenseModelAttributes, in->FNPTimeZoneValue, in->policyAttributes, in->startDateOption,
                        in->versionDateAttributes, in->entitledProducts, in->lineItemAttributes};
    return attrs__read_item(soap, &it, at, json, invalid);
}

int attrs_read_renewal(struct soap *soap, const struct fnp__renewParametersDataType *in, const char *at,
                       const char **json, const char **invalid)
{
    attrs__item_t it = {in->licenseModel, NULL, true, in->alternateLicenseModel1, in->alternateLicenseModel2,
                        in->licenseModelAttributes, in->FNPTimeZoneValue, in->policyAttributes, in->startDateOption,
                        in->versionDateAttributes, NULL, in->lineItemAttributes};
    return attrs__read_item(soap, &it, at, json, invalid);
}

int attrs_read_entitlement(struct soap *soap, const struct fnp__createSimpleEntitlementDataType *in,
                           const char **json, const char **invalid)
{
    attrs__in_t b = {soap, invalid, "", SOAP_OK};
    json_t *doc = json_object();
    if (doc == NULL)
        return attrs__finish(&b, doc, json);
    if (in->channelPartners != NULL)
        attrs__set(&b, doc, "channelPartners", attrs__channel_partners(&b, in->channelPartners));
    if (in->entitlementAttributes != NULL)
        attrs__set(&b, doc, "entitlementAttributes",
                   attrs__attributes(&b, "entitlementAttributes", in->entitlementAttributes));
    return attrs__finish(&b, doc, json);
}

int attrs_check_maintenance(struct soap *soap, const struct fnp__createMaintenanceLineItemDataType *in)
{
    const char *invalid = NULL, *day = NULL;
    attrs__in_t b = {soap, &invalid, "", SOAP_OK};
    if ((b.rc = convert_day(soap, "maintenanceLineItems/startDate", in->startDate, &day)) != SOAP_OK ||
        (b.rc = convert_day(soap, "maintenanceLineItems/expirationDate", in->expirationDate, &day)) != SOAP_OK)
        return b.rc;
    if (in->maintenanceLineItemAttributes != NULL)
        json_decref(attrs__attributes(&b, "maintenanceLineItemAttributes", in->maintenanceLineItemAttributes));
    return b.rc;
}

/*
 * Writing a document into a response. The document is ours, but it is
 * read defensively: a key of the wrong type is left out, and an element
 * the schema requires gets a neutral value (or its optional parent is
 * left out), so that the answer stays valid whatever the row holds.
 */
typedef struct attrs__out {
    struct soap *soap;
    bool oom;
} attrs__out_t;

/* size zeroed bytes on soap, or NULL with oom set. */
static void *attrs__new(attrs__out_t *w, size_t size)
{
    void *p = soap_malloc(w->soap, size ? size : 1);
    if (p == NULL)
        w->oom = true;
    else
        memset(p, 0, size ? size : 1);
    return p;
}

static char *attrs__dup(attrs__out_t *w, const char *s)
{
    char *d = soap_strdup(w->soap, s);
    if (d == NULL)
        w->oom = true;
    return d;
}

/* The string under key on soap; NULL when absent. */
static char *attrs__get_str(attrs__out_t *w, const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? attrs__dup(w, s) : NULL;
}

/* The same for an element the schema requires: "" when absent. */
static char *attrs__need_str(attrs__out_t *w, const json_t *o, const char *key)
{
    char *s = attrs__get_str(w, o, key);
    return s != NULL ? s : "";
}

/* An integer as the decimal text gSOAP sends for xsd:integer. */
static char *attrs__get_int(attrs__out_t *w, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return NULL;
    char *s = convert_number(w->soap, (long long)json_integer_value(v));
    if (s == NULL)
        w->oom = true;
    return s;
}

static char *attrs__need_int(attrs__out_t *w, const json_t *o, const char *key)
{
    char *s = attrs__get_int(w, o, key);
    return s != NULL ? s : "0";
}

static enum xsd__boolean attrs__bool_value(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key)) ? xsd__boolean__true_ : xsd__boolean__false_;
}

static enum xsd__boolean *attrs__get_bool(attrs__out_t *w, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return NULL;
    enum xsd__boolean *b = attrs__new(w, sizeof *b);
    if (b != NULL)
        *b = json_is_true(v) ? xsd__boolean__true_ : xsd__boolean__false_;
    return b;
}

/* The object under key, or NULL. */
static const json_t *attrs__get_obj(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_object(v) ? v : NULL;
}

/* Enumeration values, through gSOAP's own tables; an unknown name gives
 * false and leaves soap->error as it was. */
static bool attrs__duration_unit(struct soap *soap, const json_t *o, const char *key, enum fnp__DurationUnit *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    int saved = soap->error;
    bool ok = s != NULL && soap_s2fnp__DurationUnit(soap, s, out) == SOAP_OK;
    soap->error = saved;
    return ok;
}

static struct fnp__attributeDescriptorDataType *attrs__get_attributes(attrs__out_t *w, const json_t *doc,
                                                                      const char *key)
{
    const json_t *arr = json_object_get(doc, key);
    if (!json_is_array(arr))
        return NULL;
    size_t n = json_array_size(arr);
    struct fnp__attributeDescriptorDataType *d = attrs__new(w, sizeof *d);
    if (d == NULL || (d->attribute = attrs__new(w, n * sizeof *d->attribute)) == NULL)
        return NULL;
    for (size_t i = 0; i < n && !w->oom; i++) {
        const json_t *a = json_array_get(arr, i);
        if (!json_is_object(a))
            continue;
        struct fnp__attributeDescriptorType *t = &d->attribute[d->__sizeattribute++];
        t->attributeName = attrs__need_str(w, a, "attributeName");
        t->stringValue = attrs__get_str(w, a, "stringValue");
        t->dateValue = attrs__get_str(w, a, "dateValue");
        t->booleanValue = attrs__get_bool(w, a, "booleanValue");
        t->integerValue = attrs__get_int(w, a, "integerValue");
        const json_t *vals = json_object_get(a, "arrayValue");
        if (json_is_array(vals) && json_array_size(vals) > 0) {
            size_t m = json_array_size(vals);
            if ((t->arrayValue = attrs__new(w, m * sizeof *t->arrayValue)) == NULL)
                break;
            for (size_t k = 0; k < m && !w->oom; k++) {
                const char *s = json_string_value(json_array_get(vals, k));
                t->arrayValue[t->__sizearrayValue++] = attrs__dup(w, s != NULL ? s : "");
            }
        }
    }
    return d;
}

static struct fnp__licenseModelIdentifierType *attrs__get_license_model(attrs__out_t *w, const json_t *doc,
                                                                        const char *key)
{
    const json_t *o = attrs__get_obj(doc, key);
    if (o == NULL)
        return NULL;
    struct fnp__licenseModelIdentifierType *lm = attrs__new(w, sizeof *lm);
    if (lm == NULL)
        return NULL;
    lm->uniqueId = attrs__get_str(w, o, "uniqueId");
    const json_t *pk = attrs__get_obj(o, "primaryKeys");
    if (pk != NULL && (lm->primaryKeys = attrs__new(w, sizeof *lm->primaryKeys)) != NULL)
        lm->primaryKeys->name = attrs__need_str(w, pk, "name");
    return lm;
}

/* A policyDataType; NULL (left out) without its required policyTerm. */
static struct fnp__policyDataType *attrs__get_policy(attrs__out_t *w, const json_t *parent, const char *key)
{
    const json_t *o = attrs__get_obj(parent, key);
    const json_t *term = attrs__get_obj(o, "policyTerm");
    if (o == NULL || term == NULL)
        return NULL;
    struct fnp__policyDataType *p = attrs__new(w, sizeof *p);
    if (p == NULL || (p->policyTerm = attrs__new(w, sizeof *p->policyTerm)) == NULL)
        return NULL;
    p->allowedCount = attrs__need_int(w, o, "allowedCount");
    p->policyTerm->duration = attrs__need_int(w, term, "duration");
    if (!attrs__duration_unit(w->soap, term, "durationUnit", &p->policyTerm->durationUnit))
        return NULL;
    return p;
}

static struct fnp__policyAttributesListType *attrs__get_policies(attrs__out_t *w, const json_t *doc)
{
    const json_t *o = attrs__get_obj(doc, "policyAttributes"), *x;
    if (o == NULL)
        return NULL;
    struct fnp__policyAttributesListType *p = attrs__new(w, sizeof *p);
    if (p == NULL)
        return NULL;
    p->rehostsPolicy = attrs__get_policy(w, o, "rehostsPolicy");
    p->returnsPolicy = attrs__get_policy(w, o, "returnsPolicy");
    p->repairsPolicy = attrs__get_policy(w, o, "repairsPolicy");
    if ((x = attrs__get_obj(o, "extraActivationsPolicy")) != NULL &&
        (p->extraActivationsPolicy = attrs__new(w, sizeof *p->extraActivationsPolicy)) != NULL)
        p->extraActivationsPolicy->allowedCount = attrs__need_int(w, x, "allowedCount");
    if ((x = attrs__get_obj(o, "cancelLicensePolicy")) != NULL &&
        (p->cancelLicensePolicy = attrs__new(w, sizeof *p->cancelLicensePolicy)) != NULL)
        p->cancelLicensePolicy->isCancelLicense = attrs__bool_value(x, "isCancelLicense");
    if ((x = attrs__get_obj(o, "virtualLicensePolicy")) != NULL &&
        (p->virtualLicensePolicy = attrs__new(w, sizeof *p->virtualLicensePolicy)) != NULL)
        p->virtualLicensePolicy->isVirtualLicense = attrs__bool_value(x, "isVirtualLicense");
    if ((x = attrs__get_obj(o, "reinstallPolicy")) != NULL &&
        (p->reinstallPolicy = attrs__new(w, sizeof *p->reinstallPolicy)) != NULL) {
        struct fnp__reinstallPolicyDataType *r = p->reinstallPolicy;
        const json_t *a = attrs__get_obj(x, "advancedPolicy");
        r->defaultPolicy = attrs__get_policy(w, x, "defaultPolicy");
        if (a != NULL && (r->advancedPolicy = attrs__new(w, sizeof *r->advancedPolicy)) != NULL) {
            struct fnp__advancedReinstallPolicyType *adv = r->advancedPolicy;
            adv->umn1Policy = attrs__get_policy(w, a, "umn1Policy");
            adv->umn2Policy = attrs__get_policy(w, a, "umn2Policy");
            adv->umn3Policy = attrs__get_policy(w, a, "umn3Policy");
            adv->midPolicy = attrs__get_policy(w, a, "midPolicy");
            /* All four are required. */
            if (!adv->umn1Policy || !adv->umn2Policy || !adv->umn3Policy || !adv->midPolicy)
                r->advancedPolicy = NULL;
        }
    }
    if ((x = attrs__get_obj(o, "acpiGenerationIdLicensePolicy")) != NULL &&
        (p->acpiGenerationIdLicensePolicy = attrs__new(w, sizeof *p->acpiGenerationIdLicensePolicy)) != NULL)
        p->acpiGenerationIdLicensePolicy->useACPIGenerationId = attrs__bool_value(x, "useACPIGenerationId");
    return p;
}

static enum fnp__StartDateOptionType *attrs__get_start_option(attrs__out_t *w, const json_t *doc)
{
    const char *s = json_string_value(json_object_get(doc, "startDateOption"));
    enum fnp__StartDateOptionType v;
    int saved = w->soap->error;
    if (s == NULL || soap_s2fnp__StartDateOptionType(w->soap, s, &v) != SOAP_OK) {
        w->soap->error = saved;
        return NULL;
    }
    enum fnp__StartDateOptionType *p = attrs__new(w, sizeof *p);
    if (p != NULL)
        *p = v;
    return p;
}

static struct fnp__versionDateAttributesType *attrs__get_version_date(attrs__out_t *w, const json_t *doc)
{
    const json_t *o = attrs__get_obj(doc, "versionDateAttributes");
    const json_t *d = attrs__get_obj(o, "duration");
    const char *s = json_string_value(json_object_get(o, "versionOption"));
    enum fnp__VersionDateOptionType v;
    int saved = w->soap->error;
    if (o == NULL || s == NULL || soap_s2fnp__VersionDateOptionType(w->soap, s, &v) != SOAP_OK) {
        w->soap->error = saved;
        return NULL;
    }
    struct fnp__versionDateAttributesType *p = attrs__new(w, sizeof *p);
    if (p == NULL)
        return NULL;
    p->versionOption = v;
    if (d != NULL && (p->duration = attrs__new(w, sizeof *p->duration)) != NULL) {
        p->duration->numDuration = attrs__need_int(w, d, "numDuration");
        if (!attrs__duration_unit(w->soap, d, "durationUnit", &p->duration->durationUnit))
            p->duration = NULL;
    }
    return p;
}

static struct fnp__productIdentifierType *attrs__get_product(attrs__out_t *w, const json_t *o)
{
    struct fnp__productIdentifierType *p = attrs__new(w, sizeof *p);
    if (p == NULL)
        return NULL;
    p->uniqueId = attrs__get_str(w, o, "uniqueId");
    const json_t *pk = attrs__get_obj(o, "primaryKeys");
    if (pk != NULL && (p->primaryKeys = attrs__new(w, sizeof *p->primaryKeys)) != NULL) {
        p->primaryKeys->name = attrs__need_str(w, pk, "name");
        p->primaryKeys->version = attrs__need_str(w, pk, "version");
    }
    return p;
}

static struct fnp__entitledProductDataListType *attrs__get_entitled_products(attrs__out_t *w, const json_t *doc)
{
    const json_t *arr = json_object_get(doc, "entitledProducts");
    if (!json_is_array(arr))
        return NULL;
    size_t n = json_array_size(arr);
    struct fnp__entitledProductDataListType *l = attrs__new(w, sizeof *l);
    if (l == NULL || (l->entitledProduct = attrs__new(w, n * sizeof *l->entitledProduct)) == NULL)
        return NULL;
    for (size_t i = 0; i < n && !w->oom; i++) {
        const json_t *o = json_array_get(arr, i), *prod;
        if (!json_is_object(o))
            continue;
        struct fnp__entitledProductDataType *ep = &l->entitledProduct[l->__sizeentitledProduct++];
        if ((prod = attrs__get_obj(o, "product")) != NULL)
            ep->product = attrs__get_product(w, prod);
        ep->quantity = attrs__need_int(w, o, "quantity");
    }
    return l;
}

static struct fnp__channelPartnerDataListType *attrs__get_channel_partners(attrs__out_t *w, const json_t *doc)
{
    const json_t *arr = json_object_get(doc, "channelPartners");
    if (!json_is_array(arr))
        return NULL;
    size_t n = json_array_size(arr);
    struct fnp__channelPartnerDataListType *l = attrs__new(w, sizeof *l);
    if (l == NULL || (l->channelPartner = attrs__new(w, n * sizeof *l->channelPartner)) == NULL)
        return NULL;
    for (size_t i = 0; i < n && !w->oom; i++) {
        const json_t *o = json_array_get(arr, i), *x, *pk;
        if (!json_is_object(o))
            continue;
        struct fnp__channelPartnerDataType *cp = &l->channelPartner[l->__sizechannelPartner++];
        cp->tierName = attrs__need_str(w, o, "tierName");
        /* accountUnit is required; its children are not. */
        if ((cp->accountUnit = attrs__new(w, sizeof *cp->accountUnit)) == NULL)
            break;
        if ((x = attrs__get_obj(o, "accountUnit")) != NULL) {
            cp->accountUnit->uniqueId = attrs__get_str(w, x, "uniqueId");
            if ((pk = attrs__get_obj(x, "primaryKeys")) != NULL &&
                (cp->accountUnit->primaryKeys = attrs__new(w, sizeof *cp->accountUnit->primaryKeys)) != NULL)
                cp->accountUnit->primaryKeys->id = attrs__need_str(w, pk, "id");
        }
        if ((x = attrs__get_obj(o, "contact")) != NULL && (cp->contact = attrs__new(w, sizeof *cp->contact)) != NULL) {
            cp->contact->uniqueId = attrs__get_str(w, x, "uniqueId");
            cp->contact->userName = attrs__get_str(w, x, "userName");
            if ((pk = attrs__get_obj(x, "primaryKeys")) != NULL &&
                (cp->contact->primaryKeys = attrs__new(w, sizeof *cp->contact->primaryKeys)) != NULL) {
                struct fnp__userPKType *u = cp->contact->primaryKeys;
                u->firstName = attrs__need_str(w, pk, "firstName");
                u->lastName = attrs__need_str(w, pk, "lastName");
                u->emailAddress = attrs__need_str(w, pk, "emailAddress");
                u->phoneNumber = attrs__get_str(w, pk, "phoneNumber");
            }
        }
        cp->currentOwner = attrs__get_bool(w, o, "currentOwner");
    }
    return l;
}

/* The parsed document (the caller json_decrefs it), or NULL: none, or one
 * that cannot be read, which is logged. */
static json_t *attrs__load(const char *json, const char *what)
{
    json_error_t err;
    if (json == NULL)
        return NULL;
    json_t *doc = json_loads(json, 0, &err);
    if (doc == NULL || !json_is_object(doc)) {
        log_error("the stored attributes of %s cannot be read (%s); they are left out of the answer", what,
                  doc == NULL ? err.text : "not a JSON object");
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int attrs_write_line_item(struct soap *soap, const char *json, struct fnp__entitlementLineItemDataType *out)
{
    attrs__out_t w = {soap, false};
    json_t *doc = attrs__load(json, out->activationId && out->activationId->id ? out->activationId->id : "a line item");
    if (doc == NULL)
        return SOAP_OK;
    char *uid = attrs__get_str(&w, doc, "licenseModelUniqueId");
    if (uid != NULL && (out->licenseModel != NULL ||
                        (out->licenseModel = attrs__new(&w, sizeof *out->licenseModel)) != NULL))
        out->licenseModel->uniqueId = uid;
    if ((uid = attrs__get_str(&w, doc, "partNumberUniqueId")) != NULL &&
        (out->partNumber != NULL || (out->partNumber = attrs__new(&w, sizeof *out->partNumber)) != NULL))
        out->partNumber->uniqueId = uid;
    out->alternateLicenseModel1 = attrs__get_license_model(&w, doc, "alternateLicenseModel1");
    out->alternateLicenseModel2 = attrs__get_license_model(&w, doc, "alternateLicenseModel2");
    out->licenseModelAttributes = attrs__get_attributes(&w, doc, "licenseModelAttributes");
    out->FNPTimeZoneValue = attrs__get_str(&w, doc, "FNPTimeZoneValue");
    out->policyAttributes = attrs__get_policies(&w, doc);
    out->startDateOption = attrs__get_start_option(&w, doc);
    out->versionDateAttributes = attrs__get_version_date(&w, doc);
    out->entitledProducts = attrs__get_entitled_products(&w, doc);
    out->lineItemAttributes = attrs__get_attributes(&w, doc, "lineItemAttributes");
    json_decref(doc);
    return w.oom ? (soap->error = SOAP_EOM) : SOAP_OK;
}

int attrs_write_entitlement(struct soap *soap, const char *json, struct fnp__simpleEntitlementDataType *out)
{
    attrs__out_t w = {soap, false};
    json_t *doc = attrs__load(json, out->entitlementId && out->entitlementId->id ? out->entitlementId->id : "an entitlement");
    if (doc == NULL)
        return SOAP_OK;
    out->channelPartners = attrs__get_channel_partners(&w, doc);
    out->entitlementAttributes = attrs__get_attributes(&w, doc, "entitlementAttributes");
    json_decref(doc);
    return w.oom ? (soap->error = SOAP_EOM) : SOAP_OK;
}
