#include "validate.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schema of each version (the namespace v4's), compiled in
 * (cmake/embed_file.cmake). */
extern const char ent_xsd_v1[], ent_xsd_v2[], ent_xsd_v3[], ent_xsd_v4[];
extern const size_t ent_xsd_v1_len, ent_xsd_v2_len, ent_xsd_v3_len, ent_xsd_v4_len;

#define VALIDATE_NS_V4 "urn:v4.webservices.operations.flexnet.com"
#define VALIDATE_SOAP_ENV "http://schemas.xmlsoap.org/soap/envelope/"

struct validator {
    xmlSchemaPtr schemas[4]; /* v1..v4 */
};

typedef struct validate_err {
    char *buf;
    size_t len;
} validate_err_t;

/* Keeps the first message libxml2 reports, its names without their
 * namespace ("{urn:...}lineItem" is written "lineItem"). */
static void validate__error(void *ctx, xmlErrorPtr e)
{
    validate_err_t *err = ctx;
    if (err->buf[0] == '\0' && e != NULL && e->message != NULL) {
        size_t n = 0;
        for (const char *m = e->message; *m != '\0' && n + 1 < err->len; m++) {
            const char *close = *m == '{' ? strchr(m, '}') : NULL;
            if (close != NULL)
                m = close;
            else
                err->buf[n++] = *m;
        }
        err->buf[n] = '\0';
        while (n > 0 && (err->buf[n - 1] == '\n' || err->buf[n - 1] == ' '))
            err->buf[--n] = '\0';
    }
}

/* The schema text of version, with the v4 namespace replaced by its own. */
static char *validate__schema_text(int version, size_t *len)
{
    static const char *const texts[4] = {ent_xsd_v1, ent_xsd_v2, ent_xsd_v3, ent_xsd_v4};
    const size_t lens[4] = {ent_xsd_v1_len, ent_xsd_v2_len, ent_xsd_v3_len, ent_xsd_v4_len};
    const char *ent_xsd = texts[version - 1];
    size_t ent_xsd_len = lens[version - 1];
    const char *ns = VALIDATE_NS_V4;
    size_t nl = strlen(ns);
    char *out = malloc(ent_xsd_len + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < ent_xsd_len;) {
        if (i + nl <= ent_xsd_len && memcmp(ent_xsd + i, ns, nl) == 0) {
            memcpy(out + o, ns, nl);
            out[o + 5] = (char)('0' + version); /* "urn:vN." */
            o += nl;
            i += nl;
        } else {
            out[o++] = ent_xsd[i++];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

int validator_new(validator_t **out)
{
    validator_t *v = calloc(1, sizeof *v);
    if (v == NULL)
        return ENT_ENOMEM;
    xmlInitParser();
    for (int i = 0; i < 4; i++) {
        size_t len;
        char *text = validate__schema_text(i + 1, &len);
        if (text == NULL) {
            validator_free(v);
            return ENT_ENOMEM;
        }
        xmlSchemaParserCtxtPtr pc = xmlSchemaNewMemParserCtxt(text, (int)len);
        v->schemas[i] = pc ? xmlSchemaParse(pc) : NULL;
        xmlSchemaFreeParserCtxt(pc);
        free(text);
        if (v->schemas[i] == NULL) {
            validator_free(v);
            return ENT_EINVAL;
        }
    }
    *out = v;
    return ENT_OK;
}

void validator_free(validator_t *v)
{
    if (v == NULL)
        return;
    for (int i = 0; i < 4; i++)
        if (v->schemas[i] != NULL)
            xmlSchemaFree(v->schemas[i]);
    free(v);
}

static xmlNodePtr validate__first_element(xmlNodePtr n)
{
    while (n != NULL && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

int validator_check(validator_t *v, const char *envelope, size_t len, int version, char *err, size_t errlen)
{
    validate_err_t ectx = {err, errlen};
    int rc = ENT_EINVAL;

    err[0] = '\0';
    if (version < 1 || version > 4) {
        snprintf(err, errlen, "unknown version");
        return ENT_ENOTFOUND;
    }
    /* No network, no entity substitution, no DTD loading; as deep as
     * ENTITLEMENTD_MAX_DEPTH lets a request be (libxml2 stops at 256
     * levels without XML_PARSE_HUGE). */
    xmlDocPtr doc = xmlReadMemory(envelope, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                                      XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (doc == NULL) {
        snprintf(err, errlen, "not well-formed XML");
        return ENT_EIO;
    }
    xmlNodePtr body = validate__first_element(xmlDocGetRootElement(doc) ? xmlDocGetRootElement(doc)->children : NULL);
    while (body != NULL && !(body->ns && xmlStrEqual(body->ns->href, BAD_CAST VALIDATE_SOAP_ENV) &&
                             xmlStrEqual(body->name, BAD_CAST "Body")))
        body = validate__first_element(body->next);
    xmlNodePtr payload = body ? validate__first_element(body->children) : NULL;
    if (payload == NULL) {
        snprintf(err, errlen, "no SOAP Body payload");
        rc = ENT_ENOTFOUND;
        goto out;
    }
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(v->schemas[version - 1]);
    if (vc == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = ENT_ENOMEM;
        goto out;
    }
    xmlSchemaSetValidStructuredErrors(vc, validate__error, &ectx);
    rc = xmlSchemaValidateOneElement(vc, payload) == 0 ? ENT_OK : ENT_EINVAL;
    if (rc != ENT_OK && err[0] == '\0')
        snprintf(err, errlen, "does not match the schema");
    xmlSchemaFreeValidCtxt(vc);
out:
    xmlFreeDoc(doc);
    return rc;
}
