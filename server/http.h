/* http.h - the HTTP side of `qrank serve`: requests in, responses out. */
#ifndef QRANK_HTTP_H
#define QRANK_HTTP_H

#include <stddef.h>

#include "server.h"

typedef struct http_request {
    const char *method;
    const char *path;
    const char *authorization; /* the Authorization header, or NULL */
    const char *body;
    size_t body_len;
    int body_too_large;        /* over --max-body-bytes: the body was not kept */
    int (*client_gone)(void *ctx); /* NULL, or non-zero once the client has hung up */
    void *client_ctx;
} http_request;

typedef struct http_response {
    int status;
    const char *content_type;
    char *body;                /* malloc'd unless body_is_static */
    size_t len;
    int body_is_static;
    const char *allow;         /* Allow header for 405 */
    const char *route;         /* the metrics label: a routes-table path or "other" */
} http_response;

typedef struct http_server http_server;

/* Binds cfg.host:cfg.port and starts answering; *bound_port is the real port. */
int http_start(server *srv, http_server **out, int *bound_port, char *why, size_t why_size);
void http_stop(http_server *h);

#endif
