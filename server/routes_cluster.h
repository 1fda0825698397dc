/* routes_cluster.h - POST /v1/cluster: topic clustering of posts over HTTP. */
#ifndef QRANK_ROUTES_CLUSTER_H
#define QRANK_ROUTES_CLUSTER_H

#include "http.h"
#include "server.h"

/* A routes-table handler (routes.c): runs on an HTTP thread after the shared
 * checks (method, key, body size, model loaded) and blocks on the scheduler. */
void routes_cluster(server *srv, const http_request *req, http_response *resp);

#endif
