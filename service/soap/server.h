/*
 * server.h - the SOAP listener: HTTP/1.1 with keep-alive, a fixed pool of
 * worker threads (one gSOAP context each) and an epoll thread that owns
 * accepting and idle keep-alive connections, so idle clients hold no
 * worker.
 */
#ifndef ENT_SOAP_SERVER_H
#define ENT_SOAP_SERVER_H

#include "../core/config.h"
#include "../db/pool.h"

typedef struct soap_server soap_server_t;

/* Binds the listener and starts the threads. cfg and pool are borrowed and
 * must outlive the server. */
int soap_server_start(const ent_config_t *cfg, db_pool_t *pool, soap_server_t **out) ENT_MUSTCHECK;

/* The port actually bound (useful with port 0 in tests). */
int soap_server_port(const soap_server_t *s);

/* Stops accepting, lets in-flight requests finish, closes every connection
 * and joins the threads; then frees the server. */
void soap_server_stop(soap_server_t *s);

#endif
