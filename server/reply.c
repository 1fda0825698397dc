/* reply.c - how every route answers: JSON bodies and the one error shape
 * {"error":{"message","type","code"}} that all of qrank's APIs share. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>

#include "json.h"
#include "scheduler.h"

static const char *error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed_error";
    case 413: return "request_too_large_error";
    case 429: return "rate_limit_error";
    case 499: return "client_closed_request";
    case 501: return "not_implemented_error";
    case 503: return "service_unavailable_error";
    default: return "internal_error";
    }
}

static const char OUT_OF_MEMORY_BODY[] =
    "{\"error\":{\"message\":\"out of memory\",\"type\":\"internal_error\",\"code\":500}}";

void reply_out_of_memory(http_response *resp) {
    resp->status = 500;
    resp->content_type = "application/json";
    resp->body = (char *)OUT_OF_MEMORY_BODY;
    resp->len = sizeof(OUT_OF_MEMORY_BODY) - 1;
    resp->body_is_static = 1;
}

/* Takes ownership of v. */
void reply_json(http_response *resp, int status, cJSON *v) {
    size_t len = 0;
    char *text = v ? json_print(v, &len) : NULL;
    cJSON_Delete(v);
    if (!text) {
        reply_out_of_memory(resp);
        return;
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->len = len;
    resp->body_is_static = 0;
}

cJSON *error_object(int status, const char *message) {
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    if (!e || !cJSON_AddStringToObject(e, "message", message) ||
        !cJSON_AddStringToObject(e, "type", error_type(status)) ||
        !cJSON_AddNumberToObject(e, "code", status)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

void reply_error(http_response *resp, int status, const char *fmt, ...) {
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    reply_json(resp, status, error_object(status, message));
}

void reply_static(http_response *resp, int status, const char *type, const void *data,
                         size_t len) {
    resp->status = status;
    resp->content_type = type;
    resp->body = (char *)data;
    resp->len = len;
    resp->body_is_static = 1;
}

void reply_model_error(http_response *resp, int rc, const qrank_error *err) {
    switch (rc) {
    case SCHED_QUEUE_FULL:
        reply_error(resp, 429, "too many requests are waiting for the model; retry shortly");
        return;
    case SCHED_DRAINING:
        reply_error(resp, 503, "the server is shutting down");
        return;
    case SCHED_CANCELLED:
        reply_error(resp, 499, "the client closed the connection; the request was dropped");
        return;
    case QRANK_E_INVALID_ARGUMENT:
        reply_error(resp, 400, "%s", err->message);
        return;
    case QRANK_E_TOO_LONG:
        reply_error(resp, 413, "%s", err->message);
        return;
    case QRANK_E_UNSUPPORTED:
        reply_error(resp, 501, "%s", err->message);
        return;
    default:
        reply_error(resp, 500, "%s", err->message[0] ? err->message : "the model failed");
    }
}
