/*
 * rest.h - the REST adapter: JSON over the daemon's one HTTP transport,
 * for every path the SOAP front does not take. A route table (method,
 * path pattern, handler) in front.c; 404 for an unknown path, 405 with
 * Allow for a known path asked with another method.
 */
#ifndef ENT_REST_H
#define ENT_REST_H

#include "../auth/auth.h"
#include "../core/config.h"
#include "../db/pool.h"
#include "../http/http.h"
#include "../jobs/jobs.h"

typedef struct rest_front rest_front_t;

/* Makes the front's shared state. cfg, pool and auth are borrowed and
 * must outlive it. */
int rest_front_new(const ent_config_t *cfg, db_pool_t *pool, auth_t *auth, rest_front_t **out) ENT_MUSTCHECK;

/* The job runner the front wakes when it queues a job (borrowed; set once
 * the database is migrated and the runner started, before the server
 * turns ready, so no request sees it unset). */
void rest_front_set_jobs(rest_front_t *f, job_runner_t *jobs);
void rest_front_free(rest_front_t *f);

/* The front to register with the HTTP server ("/": every path no other
 * front takes). */
http_front_t rest_front_http(rest_front_t *f);

#endif
