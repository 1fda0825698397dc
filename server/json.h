/* json.h - strict reading of request bodies and small JSON/text helpers. */
#ifndef QRANK_JSON_H
#define QRANK_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* A request body: valid UTF-8, one JSON value, nothing but whitespace after
 * it. NULL with a message in `why` otherwise. */
cJSON *json_parse_body(const char *body, size_t len, char *why, size_t why_size);

int json_utf8_valid(const char *s, size_t len);

/* Field readers. Each returns 1 when the field is there, 0 when it is absent
 * or null (allowed only when !required) and -1 with a message in `why` when it
 * is missing or of the wrong type or range. */
int json_get_string(const cJSON *obj, const char *key, int required, const char **out, char *why,
                    size_t why_size);
int json_get_int(const cJSON *obj, const char *key, long min, long max, long *out, char *why,
                 size_t why_size);
int json_get_bool(const cJSON *obj, const char *key, int *out, char *why, size_t why_size);

/* A non-empty array of strings; with `accept_text_objects`, {"text": "..."}
 * items too. *out (malloc'd array of pointers into the cJSON tree) is freed by
 * the caller. Returns -1 with `why` filled on any problem, else 1; a missing
 * key is a problem. */
int json_get_text_list(const cJSON *obj, const char *key, int accept_text_objects,
                       const char ***out, size_t *n, char *why, size_t why_size);

/* Unformatted text of v; malloc'd, NULL when out of memory. */
char *json_print(const cJSON *v, size_t *len);

/* Standard base64 with padding; malloc'd, NUL-terminated. */
char *base64_encode(const unsigned char *data, size_t len);

#endif
