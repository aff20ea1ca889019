/*
 * model.h - plain data of the entitlement domain, shared by the transport,
 * lifecycle and database modules. No gSOAP or libpq types here.
 *
 * Strings are borrowed: they belong to whoever filled the struct (for SOAP
 * requests, the gSOAP context of the request) and live as long as it does.
 * A NULL string means "not given".
 */
#ifndef ENT_MODEL_H
#define ENT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Field limits: the longest text each field of a request may hold, in
 * characters (Unicode code points of its UTF-8, as identifiers are
 * counted: "é" is one character, not two bytes). They live here, in one
 * place, for both fronts. A value over its limit fails its unit with
 * INVALID_REQUEST naming the field, the limit and the length (SOAP), or is
 * a 400 naming the field's path (REST); a search value longer than the
 * field it searches fails the search, since it could match nothing.
 * README.md ("Limits") lists every field with its limit.
 */

/* Identifiers, ours and other systems' (entitlementId, activationId,
 * partNumber, license model, product and account keys, orderId,
 * orderLineNumber, attributeName, REST ids): the contract's 1..255. */
#define MODEL_MAX_ID_CHARS 255
/* Names and party fields (soldTo, shipToEmail, emailTemplateVariation,
 * FNPTimeZoneValue, channel partner tiers and contacts, subscription
 * names): a line on a form. 254 is an e-mail address's own maximum. */
#define MODEL_MAX_NAME_CHARS 255
/* shipToAddress: a postal address of several lines. */
#define MODEL_MAX_ADDRESS_CHARS 1000
/* description of entitlements and line items: a paragraph or two. */
#define MODEL_MAX_DESCRIPTION_CHARS 2000
/* An attribute's stringValue, and each of its arrayValues: room for a
 * license string or a short document, as custom attributes commonly allow. */
#define MODEL_MAX_ATTR_VALUE_CHARS 4000
/* arrayValue elements of one attribute: a list, not a table. */
#define MODEL_MAX_ATTR_ARRAY_VALUES 100
/* The status log's statusReason: the contract's own limit. */
#define MODEL_MAX_STATUS_REASON_CHARS 100
/* Device status texts (status codes and messages, property keys and
 * values, package checksums): generous, and far below the body limit. */
#define MODEL_MAX_DEVICE_TEXT_CHARS 1024
/* A webhook URL: what browsers and proxies commonly accept. */
#define MODEL_MAX_URL_CHARS 2048

/* Most entitlementAttributes criteria one query takes (they are ANDed);
 * each is a subquery and two bound parameters, so the query stays within
 * db/query.c's limits. */
#define MODEL_MAX_ATTR_CRITERIA 16

/* Tri-state for optional booleans of the wire format. */
typedef enum { OPT_UNSET = -1, OPT_FALSE = 0, OPT_TRUE = 1 } opt_bool_t;

/* States of entitlements and line items. */
typedef enum model_state {
    STATE_DRAFT,    /* being prepared; not visible to fulfilment */
    STATE_ACTIVE,   /* accepted in queries; not a deployable target */
    STATE_INACTIVE, /* suspended; its line items cannot change lineage */
    STATE_DEPLOYED, /* live: can be fulfilled, upgraded, upsold, renewed */
    STATE_OBSOLETE, /* final: replaced or withdrawn; never left */
    STATE_TEST,     /* a test entitlement; behaves as deployed */
    STATE_ON_HOLD,  /* accepted in queries; not a deployable target */
    STATE_COUNT_
} model_state_t;

/* Returns the wire name ("DEPLOYED"); model_state_parse returns -1 when the
 * name is unknown. */
const char *model_state_name(model_state_t s);
int model_state_parse(const char *name);

/* Kinds of lineage a new line item records. */
typedef enum model_item_type {
    ITEM_STANDARD, /* created directly (createSimpleEntitlement) */
    ITEM_UPGRADE,
    ITEM_UPSELL,
    ITEM_RENEWAL
} model_item_type_t;

const char *model_item_type_name(model_item_type_t t); /* NULL for ITEM_STANDARD */

/* uniqueId or business key; either identifies the object. */
typedef struct model_ref {
    const char *unique_id;
    const char *key; /* entitlementId or activationId */
} model_ref_t;

typedef struct model_product_ref {
    const char *unique_id;
    const char *name;
    const char *version;
} model_product_ref_t;

/*
 * The attributes document. Fields of line items and entitlements that have
 * no column of their own are kept as one JSON object per row (the jsonb
 * column "attributes"), written by the transport (soap/attrs.c) and stored
 * as given. It mirrors the XML: each element given is a key named as the
 * element, a repeated element (attribute, arrayValue, entitledProduct,
 * channelPartner) an array, strings and enumeration values JSON strings,
 * integers JSON numbers, booleans true/false, dates "YYYY-MM-DD".
 *
 * A line item's keys: alternateLicenseModel1, alternateLicenseModel2
 * ({uniqueId, primaryKeys: {name}}), licenseModelAttributes,
 * FNPTimeZoneValue, policyAttributes, startDateOption,
 * versionDateAttributes, entitledProducts, lineItemAttributes. An
 * entitlement's: channelPartners, entitlementAttributes. The three
 * attribute lists are arrays of {attributeName, stringValue, dateValue,
 * booleanValue, integerValue, arrayValue} objects (the values given);
 * db/query.c searches entitlementAttributes by attributeName and
 * stringValue. A renewal or a CREATE_OR_UPDATE merges documents key by
 * key (db/stmt.c): a key given replaces the old one whole.
 */

/* A line item to create, as a client describes it. */
typedef struct model_line_item {
    const char *activation_id;   /* NULL: generate one (so does auto_generate) */
    bool auto_generate;
    const char *description;
    bool has_product;
    model_product_ref_t product;
    const char *part_number;
    const char *license_model;
    const char *order_id;
    const char *order_line_number;
    bool has_count;
    long long number_of_copies;
    /* numberOfCopies as sent when it is an integer beyond 64 bits (the
     * request can be read: the unit fails INVALID_COUNT); number_of_copies
     * then holds the nearest 64-bit value. NULL otherwise. */
    const char *count_text;
    const char *start_date;      /* YYYY-MM-DD (a checked xs:date, its zone dropped) */
    const char *expiration_date;
    const char *version_date;
    opt_bool_t is_permanent;
    bool has_term;
    long long term_duration;
    const char *term_unit;       /* DAYS, WEEKS, MONTHS, YEARS */
    const char *attributes_json; /* the attributes document, NULL when none is given */
    /* renewLicense: expirationTerms/term, counted from the parent's expiration. */
    bool has_renew_term;
    long long renew_term_duration;
    const char *renew_term_unit;
} model_line_item_t;

/* One line item change of a lifecycle unit (upgrade, upsell). */
typedef struct model_change {
    model_ref_t parent;          /* parentLineItemIdentifier */
    model_line_item_t item;      /* the new line item */
    opt_bool_t is_full;
    opt_bool_t allow_on_parent;  /* allowActivationsOnParent */
    opt_bool_t auto_deploy;
} model_change_t;

/* One atomic unit of upgradeLicense / upsellLicense. */
typedef struct model_unit {
    const char *invalid;         /* why the unit cannot be carried out as sent (a
                                    text over its field limit, an empty
                                    attributeName): an INVALID_REQUEST message,
                                    or NULL */
    size_t invalid_at;           /* the line item (index) invalid is about */
    const char *repeated;        /* an activation id the request names twice, or NULL */
    size_t repeated_at;          /* the unit's first line item that names it */
    bool has_entitlement;
    model_ref_t entitlement;     /* parentEntitlementIdentifier */
    size_t n_changes;
    model_change_t *changes;
} model_unit_t;

/* What a committed change produced. Strings are owned by the result's
 * allocator (see lifecycle.h). */
typedef struct model_change_result {
    char *parent_unique_id;
    char *parent_activation_id;
    char *new_unique_id;
    char *new_activation_id;
} model_change_result_t;

typedef struct model_unit_result {
    char *entitlement_unique_id;
    char *entitlement_id;
    size_t n_changes;
    model_change_result_t *changes;
} model_unit_result_t;

/* A new entitlement (createSimpleEntitlement). */
typedef struct model_entitlement {
    const char *invalid;         /* as model_unit_t.invalid */
    size_t invalid_at;           /* the line item (index) invalid is about; SIZE_MAX: the entitlement's own */
    const char *repeated;        /* an activation id the request names twice, or NULL */
    size_t repeated_at;          /* the entitlement's first line item that names it */
    bool repeated_id;            /* without an opType: an earlier one of the request has its entitlementId */
    const char *entitlement_id;  /* NULL: generate one (so does auto_generate) */
    bool auto_generate;
    bool has_maintenance;        /* maintenanceLineItems were sent: not kept by this service, refused */
    const char *description;
    const char *sold_to;
    const char *ship_to_email;
    const char *ship_to_address;
    const char *email_template_variation;
    opt_bool_t allow_portal_login;
    opt_bool_t auto_deploy;
    const char *attributes_json; /* the attributes document, NULL when none is given */
    size_t n_items;
    model_line_item_t *items;
} model_entitlement_t;

typedef enum model_create_op {
    CREATE_ONLY,      /* no opType: an existing entitlementId fails */
    CREATE_OR_IGNORE, /* an existing entitlement is left as it is, reported as success */
    CREATE_OR_UPDATE  /* an existing entitlement gets the scalar fields and new line items */
} model_create_op_t;

typedef struct model_created {
    char *unique_id;
    char *entitlement_id;
    size_t n_items;
    char **item_unique_ids;
    char **item_activation_ids;
} model_created_t;

/* Search criteria (getEntitlementsQuery, getEntitlementCount). A NULL
 * value means the criterion is absent. */
typedef enum model_match {
    MATCH_EQUALS,
    MATCH_STARTS_WITH,
    MATCH_CONTAINS,
    MATCH_ENDS_WITH
} model_match_t;

typedef struct model_text_crit {
    const char *value;
    model_match_t match;
} model_text_crit_t;

typedef enum model_date_match { DATE_BEFORE, DATE_AFTER, DATE_ON } model_date_match_t;

typedef struct model_date_crit {
    const char *value; /* YYYY-MM-DD */
    const char *zone;  /* the value's time zone as an offset, "+hh:mm" or "-hh:mm" ("Z": "+00:00"); NULL: none */
    model_date_match_t match;
} model_date_crit_t;

/* An entitlementAttributes criterion: the entitlement has an attribute
 * named name whose stringValue matches value (any value, or none, when
 * value.value is NULL). */
typedef struct model_attr_crit {
    const char *name;
    model_text_crit_t value;
} model_attr_crit_t;

typedef struct model_query {
    const char *invalid; /* a criterion that cannot be used (a value longer
                            than the field it searches, an empty attributeName):
                            an INVALID_REQUEST message, or NULL */
    model_text_crit_t entitlement_id, ent_description, description, product_name,
        product_version, part_number, sold_to, ship_to_email, ship_to_address,
        email_template_variation, state, created_user_id;
    model_date_crit_t start_date, expiration_date, created_on, version_date, last_modified;
    opt_bool_t is_permanent;
    opt_bool_t is_bulk;
    /* accountUnitName (organizationUnitName before v3): a channel partner
     * whose account key matches account, of tier partner_tier if given. */
    model_text_crit_t account;
    const char *partner_tier;
    size_t n_attrs;    /* entitlementAttributes criteria, all to match */
    model_attr_crit_t *attrs;
    bool match_none;   /* a criterion nothing here can satisfy */
    long long batch_size;
    long long page_number; /* 1-based */
} model_query_t;

/* A line item as a query returns it; strings owned by the allocator. */
typedef struct model_found_item {
    char *unique_id, *activation_id, *description, *product_name, *product_version,
        *part_number, *license_model, *order_id, *order_line_number, *start_date,
        *expiration_date, *version_date, *state, *item_type, *term_unit,
        *parent_unique_id, *parent_activation_id, *created, *modified;
    char *attributes_json; /* the attributes document, or NULL */
    long long count;
    long long term_duration;
    bool has_term;
    bool is_permanent;
} model_found_item_t;

typedef struct model_found {
    char *unique_id, *entitlement_id, *description, *sold_to, *ship_to_email,
        *ship_to_address, *email_template_variation, *state, *created_by, *modified;
    char *attributes_json; /* the attributes document, or NULL */
    opt_bool_t allow_portal_login;
    size_t n_items;
    model_found_item_t *items;
} model_found_t;

#endif
