#include "versions.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSIONS_XSD_NS "http://www.w3.org/2001/XMLSchema"
#define VERSIONS_MARK_NS "urn:entitlementd:schema-versions"

/* An element of a complex type's sequence (or a global element), with its
 * version marks. */
typedef struct versions_child {
    char *name;      /* its v4 name */
    char *old_name;  /* its name up to old_until, or NULL */
    int from;        /* declared from this version on */
    int old_until;
    char *type_name; /* its type's local name when it is one of the schema's */
    int type;        /* index in types, or -1 (a simple type) */
} versions_child_t;

/* A complex type: the slice of children that are its sequence. Type 0 is
 * the schema itself, whose children are the global elements. */
typedef struct versions_type {
    char *name;
    size_t first, n;
    bool differs; /* some version marks in its tree */
} versions_type_t;

struct versions {
    versions_type_t *types;
    size_t ntypes;
    versions_child_t *children;
    size_t nchildren;
};

static bool versions__is(xmlNodePtr n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && strcmp((const char *)n->ns->href, ns) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

/* The number of xsd:element below n. */
static size_t versions__count(xmlNodePtr n)
{
    size_t k = 0;
    for (xmlNodePtr c = n->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            k += versions__is(c, VERSIONS_XSD_NS, "element") + versions__count(c);
    return k;
}

/* An attribute as a malloc'd string (NULL when absent); *oom on failure. */
static char *versions__prop(xmlNodePtr n, const char *name, const char *ns, bool *oom)
{
    xmlChar *p = ns ? xmlGetNsProp(n, BAD_CAST name, BAD_CAST ns) : xmlGetNoNsProp(n, BAD_CAST name);
    if (p == NULL)
        return NULL;
    char *s = strdup((const char *)p);
    xmlFree(p);
    if (s == NULL)
        *oom = true;
    return s;
}

/* Reads the element e into the next child of vs; ENT_EINVAL with err. */
static int versions__read_child(versions_t *vs, xmlNodePtr e, const char *tns, char *err, size_t errlen)
{
    versions_child_t *c = &vs->children[vs->nchildren++];
    bool oom = false;
    c->type = -1;
    c->name = versions__prop(e, "name", NULL, &oom);
    c->old_name = versions__prop(e, "old-name", VERSIONS_MARK_NS, &oom);
    char *from = versions__prop(e, "from", VERSIONS_MARK_NS, &oom);
    char *until = versions__prop(e, "old-until", VERSIONS_MARK_NS, &oom);
    char *type = versions__prop(e, "type", NULL, &oom);
    c->from = from ? atoi(from) : 1;
    c->old_until = until ? atoi(until) : 0;
    if (type != NULL) {
        /* A type of the target namespace is one of ours; others (xsd:) are simple. */
        char *colon = strchr(type, ':');
        if (colon != NULL)
            *colon = '\0';
        xmlNsPtr ns = xmlSearchNs(e->doc, e, colon ? BAD_CAST type : NULL);
        if (ns != NULL && strcmp((const char *)ns->href, tns) == 0 &&
            (c->type_name = strdup(colon ? colon + 1 : type)) == NULL)
            oom = true;
    }
    free(from);
    free(until);
    free(type);
    if (oom)
        return ENT_ENOMEM;
    if (c->name == NULL || c->from < 1 || c->from > 4 || (c->old_name != NULL) != (c->old_until != 0) ||
        c->old_until < 0 || c->old_until > 3) {
        snprintf(err, errlen, "schema line %ld: an element without a name, or with marks out of range",
                 (long)xmlGetLineNo(e));
        return ENT_EINVAL;
    }
    return ENT_OK;
}

/* Reads the elements below n (a sequence, nested or not) as children. */
static int versions__read_sequence(versions_t *vs, xmlNodePtr n, const char *tns, char *err, size_t errlen)
{
    int rc = ENT_OK;
    for (xmlNodePtr c = n->children; c != NULL && rc == ENT_OK; c = c->next) {
        if (versions__is(c, VERSIONS_XSD_NS, "element"))
            rc = versions__read_child(vs, c, tns, err, errlen);
        else if (c->type == XML_ELEMENT_NODE)
            rc = versions__read_sequence(vs, c, tns, err, errlen);
    }
    return rc;
}

static int versions__read(versions_t *vs, xmlNodePtr schema, char *err, size_t errlen)
{
    xmlChar *tns_prop = xmlGetNoNsProp(schema, BAD_CAST "targetNamespace");
    const char *tns = tns_prop ? (const char *)tns_prop : "";
    size_t ntypes = 1;
    for (xmlNodePtr c = schema->children; c != NULL; c = c->next)
        ntypes += versions__is(c, VERSIONS_XSD_NS, "complexType");
    size_t nchildren = versions__count(schema);
    int rc = ENT_ENOMEM;
    if ((vs->types = calloc(ntypes, sizeof *vs->types)) == NULL ||
        (vs->children = calloc(nchildren ? nchildren : 1, sizeof *vs->children)) == NULL)
        goto out;
    /* Type 0: the global elements, then each complex type in turn. */
    vs->ntypes = 1;
    rc = ENT_OK;
    for (xmlNodePtr c = schema->children; c != NULL && rc == ENT_OK; c = c->next)
        if (versions__is(c, VERSIONS_XSD_NS, "element"))
            rc = versions__read_child(vs, c, tns, err, errlen);
    vs->types[0].n = vs->nchildren;
    for (xmlNodePtr c = schema->children; c != NULL && rc == ENT_OK; c = c->next) {
        if (!versions__is(c, VERSIONS_XSD_NS, "complexType"))
            continue;
        versions_type_t *t = &vs->types[vs->ntypes++];
        bool oom = false;
        if ((t->name = versions__prop(c, "name", NULL, &oom)) == NULL) {
            rc = oom ? ENT_ENOMEM : ENT_EINVAL;
            snprintf(err, errlen, "schema line %ld: a complex type without a name", (long)xmlGetLineNo(c));
            break;
        }
        t->first = vs->nchildren;
        rc = versions__read_sequence(vs, c, tns, err, errlen);
        t->n = vs->nchildren - t->first;
    }
    /* Each child's type by name. */
    for (size_t i = 0; i < vs->nchildren && rc == ENT_OK; i++) {
        versions_child_t *ch = &vs->children[i];
        if (ch->type_name == NULL)
            continue;
        for (size_t t = 1; t < vs->ntypes && ch->type < 0; t++)
            if (strcmp(vs->types[t].name, ch->type_name) == 0)
                ch->type = (int)t;
        /* (A simple type of the target namespace stays -1.) */
    }
    /* Which trees hold marks: to a fixed point, as types refer to types. */
    for (bool changed = rc == ENT_OK; changed;) {
        changed = false;
        for (size_t t = 1; t < vs->ntypes; t++) {
            versions_type_t *ty = &vs->types[t];
            for (size_t i = ty->first; i < ty->first + ty->n && !ty->differs; i++) {
                const versions_child_t *ch = &vs->children[i];
                if (ch->from > 1 || ch->old_name != NULL || (ch->type > 0 && vs->types[ch->type].differs))
                    ty->differs = changed = true;
            }
        }
    }
out:
    xmlFree(tns_prop);
    return rc;
}

int versions_new(const char *xsd, size_t len, versions_t **out, char *err, size_t errlen)
{
    err[0] = '\0';
    *out = NULL;
    /* Before any worker thread parses (libxml2 wants it so). */
    xmlInitParser();
    versions_t *vs = calloc(1, sizeof *vs);
    if (vs == NULL)
        return ENT_ENOMEM;
    xmlDocPtr doc = xmlReadMemory(xsd, (int)len, NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                                     XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc;
    if (root == NULL || !versions__is(root, VERSIONS_XSD_NS, "schema")) {
        snprintf(err, errlen, "the schema source is not an XML schema");
        rc = ENT_EINVAL;
    } else {
        rc = versions__read(vs, root, err, errlen);
    }
    xmlFreeDoc(doc);
    if (rc != ENT_OK) {
        versions_free(vs);
        return rc;
    }
    *out = vs;
    return ENT_OK;
}

bool versions_differ(const versions_t *vs, const char *name, size_t len)
{
    const versions_type_t *g = &vs->types[0];
    for (size_t i = g->first; i < g->first + g->n; i++) {
        const versions_child_t *c = &vs->children[i];
        if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
            return c->from > 1 || c->old_name != NULL || (c->type > 0 && vs->types[c->type].differs);
    }
    return false;
}

bool versions_name_in(const versions_t *vs, int v, const char *name, char *out, size_t len)
{
    const char *found = NULL;
    for (size_t i = vs->types[0].n; i < vs->nchildren; i++) {
        const versions_child_t *c = &vs->children[i];
        if (strcmp(c->name, name) != 0)
            continue;
        if (c->old_name == NULL || v > c->old_until || (found != NULL && strcmp(found, c->old_name) != 0))
            return false; /* v knows the name itself somewhere, or two ways */
        found = c->old_name;
    }
    if (found == NULL || strlen(found) >= len)
        return false;
    memcpy(out, found, strlen(found) + 1);
    return true;
}

void versions_free(versions_t *vs)
{
    if (vs == NULL)
        return;
    for (size_t i = 0; i < vs->nchildren; i++) {
        free(vs->children[i].name);
        free(vs->children[i].old_name);
        free(vs->children[i].type_name);
    }
    for (size_t i = 1; i < vs->ntypes; i++)
        free(vs->types[i].name);
    free(vs->children);
    free(vs->types);
    free(vs);
}

/* The child of type t named name in version v: by its v4 name (*old =
 * false) or, when v names it otherwise, by its old name (*old = true). */
static const versions_child_t *versions__child(const versions_t *vs, int t, const char *name, int v, bool *old)
{
    const versions_type_t *ty = &vs->types[t];
    for (size_t i = ty->first; i < ty->first + ty->n; i++) {
        const versions_child_t *c = &vs->children[i];
        if (c->old_name != NULL && v <= c->old_until && strcmp(c->old_name, name) == 0) {
            *old = true;
            return c;
        }
        if (strcmp(c->name, name) == 0) {
            *old = false;
            return c;
        }
    }
    return NULL;
}

typedef struct versions_walk {
    const versions_t *vs;
    int v;
    bool request; /* version v -> v4; else v4 -> v */
    const xmlChar *ns; /* the operation's namespace */
    char *err;
    size_t errlen;
    bool bad;
} versions_walk_t;

/* N of the service's namespace urn:vN.webservices.operations.flexnet.com,
 * or 0 for any other. */
static int versions__service_ns(const xmlChar *href)
{
    static const char head[] = "urn:v", tail[] = ".webservices.operations.flexnet.com";
    const char *h = (const char *)href;
    if (h == NULL || strncmp(h, head, sizeof head - 1) != 0 || h[5] < '1' || h[5] > '4' ||
        strcmp(h + 6, tail) != 0)
        return 0;
    return h[5] - '0';
}

/* The element's name as written ("p:name" or "name"). */
static void versions__qname(xmlNodePtr c, char *out, size_t len)
{
    const char *prefix = c->ns && c->ns->prefix ? (const char *)c->ns->prefix : NULL;
    snprintf(out, len, "%s%s%s", prefix ? prefix : "", prefix ? ":" : "", (const char *)c->name);
}

/* Walks the children of n, an element of type t. Elements the schema does
 * not know there are left as they are (gSOAP refuses them in a request). */
static void versions__walk(versions_walk_t *w, xmlNodePtr n, int t)
{
    xmlNodePtr c = n->children;
    while (c != NULL && !w->bad) {
        xmlNodePtr next = c->next;
        bool old = false;
        const versions_child_t *ch = NULL;
        if (c->type == XML_ELEMENT_NODE && w->request && c->ns != NULL && !xmlStrEqual(c->ns->href, w->ns) &&
            versions__service_ns(c->ns->href) != 0) {
            /* Another version's element inside this version's request:
             * gSOAP would read it as v4's, undeclared elements and all. */
            char q[160];
            versions__qname(c, q, sizeof q);
            snprintf(w->err, w->errlen, "wrong namespace: element <%s> is in %s, the request in %s", q,
                     (const char *)c->ns->href, (const char *)w->ns);
            w->bad = true;
            return;
        }
        if (c->type == XML_ELEMENT_NODE && c->ns != NULL && xmlStrEqual(c->ns->href, w->ns))
            ch = versions__child(w->vs, t, (const char *)c->name, w->v, &old);
        if (ch == NULL) {
            c = next;
            continue;
        }
        bool declared = w->v >= ch->from && (old || ch->old_name == NULL || w->v > ch->old_until);
        if (w->request) {
            if (!declared) {
                /* Worded as gSOAP's refusal of any undeclared element. */
                char q[160];
                versions__qname(c, q, sizeof q);
                snprintf(w->err, w->errlen, "malformed request: element <%s> is not expected here", q);
                w->bad = true;
                return;
            }
            if (old)
                xmlNodeSetName(c, BAD_CAST ch->name);
        } else if (w->v < ch->from) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            c = next;
            continue;
        } else if (ch->old_name != NULL && w->v <= ch->old_until) {
            xmlNodeSetName(c, BAD_CAST ch->old_name);
        }
        if (ch->type > 0)
            versions__walk(w, c, ch->type);
        c = next;
    }
}

/* Parses, rewrites and writes back an envelope: the operation element is
 * the first element of its Body. */
static int versions__rewrite(versions_walk_t *w, const char *body, size_t len, char **out, size_t *out_len)
{
    /* No network, no entities, no DTD: the guard refused those before, and
     * it bounds depth and size as the settings say, so libxml2's own
     * limits (depth 256, 10 MB of text) must not refuse what v4 takes. */
    xmlDocPtr doc = xmlReadMemory(body, (int)len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (doc == NULL) {
        snprintf(w->err, w->errlen, "malformed request: not well-formed XML");
        return ENT_EINVAL;
    }
    xmlNodePtr env = xmlDocGetRootElement(doc), op = NULL;
    for (xmlNodePtr c = env ? env->children : NULL; c != NULL && op == NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "Body") == 0)
            for (op = c->children; op != NULL && op->type != XML_ELEMENT_NODE; op = op->next)
                ;
    /* An operation in another version's namespace than the path's is left
     * as it is: the handler refuses it for its namespace. */
    if (op != NULL && op->ns != NULL && versions__service_ns(op->ns->href) == w->v) {
        /* The operation element as a child of the schema (type 0). */
        xmlNodePtr body_el = op->parent;
        w->ns = op->ns->href;
        versions__walk(w, body_el, 0);
    }
    int rc = ENT_OK;
    if (w->bad) {
        rc = ENT_EINVAL;
    } else {
        xmlChar *text = NULL;
        int n = 0;
        xmlDocDumpMemoryEnc(doc, &text, &n, "UTF-8");
        if (text == NULL || n < 0)
            rc = ENT_ENOMEM;
        else if ((*out = malloc((size_t)n + 1)) == NULL)
            rc = ENT_ENOMEM;
        else {
            memcpy(*out, text, (size_t)n);
            (*out)[n] = '\0';
            *out_len = (size_t)n;
        }
        xmlFree(text);
    }
    xmlFreeDoc(doc);
    return rc;
}

int versions_request(const versions_t *vs, int v, const char *body, size_t len, char **out, size_t *out_len,
                     char *err, size_t errlen)
{
    versions_walk_t w = {vs, v, true, NULL, err, errlen, false};
    err[0] = '\0';
    return versions__rewrite(&w, body, len, out, out_len);
}

int versions_response(const versions_t *vs, int v, const char *body, size_t len, char **out, size_t *out_len)
{
    char err[128];
    versions_walk_t w = {vs, v, false, NULL, err, sizeof err, false};
    return versions__rewrite(&w, body, len, out, out_len);
}
