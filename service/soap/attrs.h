/*
 * attrs.h - the fields of line items and entitlements that have no column
 * of their own (attributes, alternate license models, policies, channel
 * partners, ...), between gSOAP's structs and the attributes document of
 * core/model.h, which says what the document holds.
 */
#ifndef ENT_SOAP_ATTRS_H
#define ENT_SOAP_ATTRS_H

#include "../core/model.h"
#include "soapH.h"

/* Longest attributeName, in characters: names are identifiers. */
#define ATTRS_MAX_NAME_CHARS MODEL_MAX_ID_CHARS

/* Read the extra fields of a new line item (lineItems of
 * createSimpleEntitlement, lineItem of upgrade and upsell), of the
 * renewParameters of a renewal, or of a simpleEntitlement into *json: a
 * JSON text allocated on soap, NULL when the request gives none of them.
 * An integer or a date that is not one sets a Client fault naming the
 * element and returns SOAP_FAULT (as convert.h does for the other
 * integers and dates); an attributeName that is empty (only white space),
 * a text longer than its field limit (core/model.h: ATTRS_MAX_NAME_CHARS
 * for attributeName, MODEL_MAX_ATTR_VALUE_CHARS for stringValue and each
 * arrayValue, ...) or more than MODEL_MAX_ATTR_ARRAY_VALUES arrayValues
 * set *invalid unless it holds a message already, and the reading goes
 * on. at is the line item's path within its unit ("lineItems[2]/"), for
 * those messages. Returns SOAP_OK, SOAP_FAULT or SOAP_EOM. */
int attrs_read_line_item(struct soap *soap, const struct fnp__createEntitlementLineItemDataType *in, const char *at,
                         const char **json, const char **invalid);
int attrs_read_renewal(struct soap *soap, const struct fnp__renewParametersDataType *in, const char *at,
                       const char **json, const char **invalid);
int attrs_read_entitlement(struct soap *soap, const struct fnp__createSimpleEntitlementDataType *in,
                           const char **json, const char **invalid);

/* Fill the elements of a query's answer from a stored document (json NULL:
 * none), everything allocated on soap. A document that cannot be parsed is
 * logged and its fields left out. Return SOAP_OK or SOAP_EOM. */
/* Reads the typed values of a maintenance line item (its dates and
 * attributes), which this service does not keep, so that one of the wrong
 * type faults the request as it would anywhere else (and is never echoed
 * back in failedData). Returns SOAP_OK, SOAP_FAULT or SOAP_EOM. */
int attrs_check_maintenance(struct soap *soap, const struct fnp__createMaintenanceLineItemDataType *in);

int attrs_write_line_item(struct soap *soap, const char *json, struct fnp__entitlementLineItemDataType *out);
int attrs_write_entitlement(struct soap *soap, const char *json, struct fnp__simpleEntitlementDataType *out);

#endif
