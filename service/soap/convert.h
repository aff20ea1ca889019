/*
 * convert.h - between gSOAP's generated structs and the plain model.
 *
 * Converters read a request struct into model structs allocated on the
 * request's gSOAP context. A value of the wrong type (an integer that is
 * not one) makes them set a Client fault naming the element and return
 * SOAP_FAULT; the handler returns that to gSOAP as it is. A date that is
 * not one is a Client fault as well (convert_day). A text longer than its
 * field's limit (core/model.h) fails only its unit: the converter sets the
 * unit's "invalid" message (model.h) and goes on; for a query, the
 * query's.
 */
#ifndef ENT_SOAP_CONVERT_H
#define ENT_SOAP_CONVERT_H

#include "../core/alloc.h"
#include "../core/model.h"
#include "../lifecycle/rules.h"
#include "soapH.h"

/* An ent_alloc_t that allocates on soap (freed by soap_end). */
ent_alloc_t convert_alloc(struct soap *soap);

/* Parses an xsd:integer; NULL text leaves *has false. Text that is not an
 * integer is a Client fault naming element. An integer that does not fit
 * in 64 bits is one too when beyond is NULL; otherwise it reads as the
 * nearest 64-bit value, *beyond points at its text, and the caller's rules
 * refuse it with the unit (or the query), since the request could be
 * read. */
int convert_integer(struct soap *soap, const char *element, const char *text, bool *has, long long *out,
                    const char **beyond);

opt_bool_t convert_bool(const enum xsd__boolean *b);

/* Reads an xs:date of the request (NULL: absent) into *out as YYYY-MM-DD
 * (on soap). A value that is not a date is a value of the wrong type: a
 * Client fault naming element and value (SOAP_FAULT), as for an integer
 * that is not one. Returns SOAP_OK, SOAP_FAULT or SOAP_EOM. */
int convert_day(struct soap *soap, const char *element, const char *in, const char **out);

/* Checks a text of the request (NULL: not given) against its field limit
 * max (core/model.h). A longer one sets *invalid, unless it holds a
 * message already, to "<path> is longer than <max> characters (<n>
 * given)", path (printf format, formatted only then) being the element's
 * path within its unit; the reading goes on. Returns SOAP_OK, or SOAP_EOM
 * with soap->error set. */
int convert_limit(struct soap *soap, const char **invalid, const char *text, size_t max, const char *path_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reads a new line item; at is its path within the unit, ending in "/"
 * ("lineItems[2]/"), for the messages that name its elements. *invalid
 * gets the unit's INVALID_REQUEST message, if any (a value over its limit,
 * or as attrs.h says). */
int convert_line_item(struct soap *soap, const struct fnp__createEntitlementLineItemDataType *in, const char *at,
                      model_line_item_t *out, const char **invalid);
int convert_unit(struct soap *soap, const struct fnp__entitlementLifeCycleDataType *in, model_unit_t *out);
int convert_renew_unit(struct soap *soap, const struct fnp__renewEntitlementDataType *in, model_unit_t *out);
int convert_entitlement(struct soap *soap, const struct fnp__createSimpleEntitlementDataType *in,
                        model_entitlement_t *out);
int convert_query(struct soap *soap, const struct fnp__searchEntitlementDataType *in, model_query_t *out);

/* A reference from an entitlementIdentifier / entitlementLineItemIdentifier. */
model_ref_t convert_entitlement_key(const struct fnp__entitlementIdentifierType *in);
model_ref_t convert_line_item_key(const struct fnp__entitlementLineItemIdentifierType *in);

/* Response pieces. */
struct fnp__StatusInfoType *convert_status(struct soap *soap, lc_status_t status, const char *reason);
struct fnp__entitlementIdentifierType *convert_entitlement_ref(struct soap *soap, const char *uid,
                                                               const char *key);
struct fnp__entitlementLineItemIdentifierType *convert_line_item_ref(struct soap *soap, const char *uid,
                                                                     const char *key);
/* Decimal text of n on soap. */
char *convert_number(struct soap *soap, long long n);
/* Fills one found entitlement into the response struct. */
int convert_found(struct soap *soap, const model_found_t *in, struct fnp__entitlementDataType *out);

#endif
