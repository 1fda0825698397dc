/* routes.h - what each URL of `qrank serve` answers. */
#ifndef QRANK_ROUTES_H
#define QRANK_ROUTES_H

#include "http.h"
#include "server.h"

/* Fills resp for req. Runs on an HTTP thread: may block on the scheduler. */
void routes_handle(server *srv, const http_request *req, http_response *resp);

#endif
