/* Operations endpoints: /healthz, /readyz, /metrics, /openapi.json. */
#include <stdlib.h>
#include <string.h>

#include "../core/metrics.h"
#include "rest_int.h"

/* The OpenAPI document of the REST API (schemas/openapi.json), compiled in
 * (cmake/embed_file.cmake). */
extern const char ent_openapi[];
extern const size_t ent_openapi_len;

/* The process is alive and serving: no dependency is asked. */
void ops_healthz(rest_ctx_t *c)
{
    rest_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

/* Ready to take traffic: the database answers and its schema is ours. */
void ops_readyz(rest_ctx_t *c)
{
    char why[128] = "";
    http_phase_t phase = http_phase(c->x);
    if (phase != HTTP_READY) {
        rest_json(c, 503,
                  json_pack("{s:s, s:s}", "status", "not ready", "message",
                            phase == HTTP_STARTING ? "starting: waiting for the database and its migrations"
                                                   : "stopping: finishing the requests in flight"),
                  "Retry-After: 1\r\n");
        return;
    }
    int rc = db_ready(c->f->pool, why, sizeof why);
    if (rc == ENT_OK) {
        rest_json(c, 200, json_pack("{s:s}", "status", "ready"), NULL);
        return;
    }
    rest_json(c, 503, json_pack("{s:s, s:s}", "status", "not ready", "message", why),
              "Retry-After: 1\r\n");
}

void ops_metrics(rest_ctx_t *c)
{
    metrics_buf_t b = {0};
    metrics_write(&b);
    if (b.oom) {
        free(b.data);
        rest_error(c, 500, NULL, "out of memory writing the metrics");
        return;
    }
    rest_raw(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
    free(b.data);
}

void ops_openapi(rest_ctx_t *c)
{
    rest_raw(c, 200, "application/json; charset=utf-8", ent_openapi, ent_openapi_len);
}
