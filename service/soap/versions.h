/*
 * versions.h - the SOAP front's versions at the edge: a v1, v2 or v3
 * client sends and reads its own version's element trees, the one model
 * and the gSOAP stubs know v4's. A request of an older version is
 * rewritten into v4's trees before gSOAP reads it (its elements renamed:
 * organizationUnit is accountUnit, an account's key name is id,
 * organizationUnitName is accountUnitName), and an element its version
 * does not declare is refused as gSOAP refuses any undeclared element. A
 * response is rewritten into the version's trees after gSOAP wrote it:
 * what the version cannot express is left out, what it names otherwise is
 * renamed, the order stays (it is v4's without them).
 *
 * The facts come from one place: the version marks of the schema source
 * (schemas/EntitlementOrderService.xsd, ver:from and ver:old-name), the
 * same the served schemas are written from. versions_new reads them once;
 * a document is then walked alongside the schema's types, so a rename
 * applies to the element of that type only (the key name of an account,
 * never of a product).
 */
#ifndef ENT_SOAP_VERSIONS_H
#define ENT_SOAP_VERSIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

typedef struct versions versions_t;

/* Reads the marked schema source (len bytes) into *out. ENT_EINVAL when it
 * is not a schema this reader knows (message in err), ENT_ENOMEM. */
int versions_new(const char *xsd, size_t len, versions_t **out, char *err, size_t errlen) ENT_MUSTCHECK;
void versions_free(versions_t *vs);

/* Whether the tree of the global element name (its local name, len bytes)
 * differs in any version: when it does not (upgradeLicense, for one), its
 * requests and answers need no rewriting. */
bool versions_differ(const versions_t *vs, const char *name, size_t len);

/* The name version v gives the v4 element name (a local name) wherever it
 * occurs, into out (len bytes): true for accountUnit (organizationUnit in
 * v1 and v2), false when v names it so too, or names it two ways, or only
 * in places (a key "id" is "name" before v4 only under accountUnit). For
 * the messages about a rewritten request. */
bool versions_name_in(const versions_t *vs, int v, const char *name, char *out, size_t len);

/* Rewrites the SOAP envelope (len bytes) of a version-v request (1..3)
 * into v4's trees: *out (malloc'd, the caller frees) and *out_len. On an
 * element v does not declare, or XML that is not well-formed, returns
 * ENT_EINVAL with the message in err (errlen bytes); ENT_ENOMEM when out
 * of memory. */
int versions_request(const versions_t *vs, int v, const char *body, size_t len, char **out, size_t *out_len,
                     char *err, size_t errlen) ENT_MUSTCHECK;

/* Rewrites a v4 response envelope (len bytes) into version v's trees
 * (1..3): *out (malloc'd) and *out_len. ENT_EINVAL when it is not XML (it
 * is ours: a bug), ENT_ENOMEM. */
int versions_response(const versions_t *vs, int v, const char *body, size_t len, char **out,
                      size_t *out_len) ENT_MUSTCHECK;

#endif
