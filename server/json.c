/* json.c - reading request bodies as hostile input.
 *
 * cJSON parses; this file decides what a valid request looks like before any
 * value reaches the model: the whole body must be UTF-8 (so every string we
 * echo back is valid JSON again), nothing may follow the value, and each field
 * reader checks type and range and says which field was wrong, because a
 * client's author reads these messages to fix their code.
 *
 * NUL is refused, raw or as \u0000: cJSON keeps strings NUL-terminated, so
 * "a\u0000b" would silently become "a" and a document would be scored on
 * text its sender did not send. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= extra)
            return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += extra + 1;
    }
    return 1;
}

cJSON *json_parse_body(const char *body, size_t len, char *why, size_t why_size) {
    if (len == 0) {
        snprintf(why, why_size, "the request body is empty; send a JSON object");
        return NULL;
    }
    if (!json_utf8_valid(body, len)) {
        snprintf(why, why_size, "the request body is not valid UTF-8");
        return NULL;
    }
    const char *nul = memchr(body, '\0', len);
    if (nul) {
        snprintf(why, why_size, "the request body has a NUL byte (byte %zu); text may not "
                                "contain NUL", (size_t)(nul - body));
        return NULL;
    }
    /* Backslashes are legal only inside strings, so walking every escape pair
     * of the body sees exactly the strings' escapes. */
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\')
            continue;
        if (body[i + 1] == 'u' && len - i >= 6 && memcmp(body + i + 2, "0000", 4) == 0) {
            snprintf(why, why_size, "a string of the request body has \\u0000 (byte %zu); text "
                                    "may not contain NUL", i);
            return NULL;
        }
        i++;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!v) {
        /* `end` points at the error; cJSON_GetErrorPtr() is a global, shared by all threads. */
        size_t offset = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        snprintf(why, why_size, "the request body is not valid JSON (near byte %zu)", offset);
        return NULL;
    }
    if (end) {
        while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end < body + len) {
            cJSON_Delete(v);
            snprintf(why, why_size, "the request body has text after its JSON value (byte %zu)",
                     (size_t)(end - body));
            return NULL;
        }
    }
    return v;
}

static const cJSON *field(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int json_get_string(const cJSON *obj, const char *key, int required, const char **out, char *why,
                    size_t why_size) {
    const cJSON *v = field(obj, key);
    if (!v) {
        if (!required)
            return 0;
        snprintf(why, why_size, "`%s` is required", key);
        return -1;
    }
    if (!cJSON_IsString(v)) {
        snprintf(why, why_size, "`%s` must be a string", key);
        return -1;
    }
    *out = v->valuestring;
    return 1;
}

int json_get_int(const cJSON *obj, const char *key, long min, long max, long *out, char *why,
                 size_t why_size) {
    const cJSON *v = field(obj, key);
    if (!v)
        return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || d != floor(d)) {
        snprintf(why, why_size, "`%s` must be an integer", key);
        return -1;
    }
    if (d < (double)min || d > (double)max) {
        snprintf(why, why_size, "`%s` must be between %ld and %ld", key, min, max);
        return -1;
    }
    *out = (long)d;
    return 1;
}

int json_get_bool(const cJSON *obj, const char *key, int *out, char *why, size_t why_size) {
    const cJSON *v = field(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(why, why_size, "`%s` must be true or false", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

int json_get_text_list(const cJSON *obj, const char *key, int accept_text_objects,
                       const char ***out, size_t *n, char *why, size_t why_size) {
    const cJSON *arr = field(obj, key);
    if (!arr) {
        snprintf(why, why_size, "`%s` is required", key);
        return -1;
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(why, why_size, "`%s` must be an array of strings", key);
        return -1;
    }
    size_t count = (size_t)cJSON_GetArraySize(arr);
    if (count == 0) {
        snprintf(why, why_size, "`%s` is empty", key);
        return -1;
    }
    const char **texts = malloc(count * sizeof(*texts));
    if (!texts) {
        snprintf(why, why_size, "out of memory reading `%s`", key);
        return -1;
    }
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        const cJSON *text = item;
        if (accept_text_objects && cJSON_IsObject(item))
            text = cJSON_GetObjectItemCaseSensitive(item, "text");
        if (!cJSON_IsString(text)) {
            snprintf(why, why_size,
                     accept_text_objects
                         ? "`%s[%zu]` must be a string or an object with a string `text`"
                         : "`%s[%zu]` must be a string",
                     key, i);
            free(texts);
            return -1;
        }
        texts[i++] = text->valuestring;
    }
    *out = texts;
    *n = count;
    return 1;
}

char *json_print(const cJSON *v, size_t *len) {
    char *s = cJSON_PrintUnformatted(v);
    if (s)
        *len = strlen(s);
    return s;
}

char *base64_encode(const unsigned char *data, size_t len) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}
