/* reply.h - filling an http_response: JSON, static bytes, and errors in the
 * shape every route uses. */
#ifndef QRANK_REPLY_H
#define QRANK_REPLY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "http.h"
#include "qrank.h"

/* {"error":{"message":...,"type":...,"code":status}}, or NULL without memory. */
cJSON *error_object(int status, const char *message);
void reply_out_of_memory(http_response *resp);
/* Takes ownership of v. */
void reply_json(http_response *resp, int status, cJSON *v);
void reply_error(http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void reply_static(http_response *resp, int status, const char *type, const void *data, size_t len);
/* A scheduler or library error code as the HTTP status it stands for. */
void reply_model_error(http_response *resp, int rc, const qrank_error *err);

#endif
