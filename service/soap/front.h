/*
 * front.h - the SOAP front: EntitlementOrderService v1..v4 under
 * /flexnet/services, served by gSOAP (one context per worker thread) on
 * the daemon's one HTTP transport (http/http.h).
 */
#ifndef ENT_SOAP_FRONT_H
#define ENT_SOAP_FRONT_H

#include "../auth/auth.h"
#include "../core/config.h"
#include "../db/pool.h"
#include "../http/http.h"

typedef struct soap_front soap_front_t;

/* Makes the front's shared state: commit groups, the run-time validator
 * when ENTITLEMENTD_VALIDATE_XML is on. cfg, pool and auth are borrowed and
 * must outlive it. */
int soap_front_new(const ent_config_t *cfg, db_pool_t *pool, auth_t *auth, soap_front_t **out) ENT_MUSTCHECK;
void soap_front_free(soap_front_t *f);

/* The front to register with the HTTP server. */
http_front_t soap_front_http(soap_front_t *f);

#endif
