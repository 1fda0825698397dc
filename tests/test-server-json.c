/* test-server-json.c - the server's request-body reader (server/json.c):
 * UTF-8 validation checked against the library's own rule (utf8_repair.c) on
 * every short byte string and on random ones, base64 against RFC 4648's
 * vectors, field readers' type and range checks, and a seeded fuzz loop of
 * mutated request bodies that must end in a value or an error, never a
 * crash (run it under QRANK_SANITIZE to see memory errors).
 *
 * server/json.c is compiled into this program directly: the server is part
 * of the qrank binary, not of the library the tests link. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/json.c"
#include "utf8_repair.h"

#include "check.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void utf8_matches_library(void) {
    unsigned char buf[8];
    /* Every string of one and two bytes, and three-byte strings with the
     * interesting lead bytes: the verdicts must agree. */
    for (unsigned a = 0; a < 256; a++) {
        buf[0] = (unsigned char)a;
        CHECK(json_utf8_valid((char *)buf, 1) == (qr_utf8_valid_prefix((char *)buf, 1) == 1),
              "1 byte %02x", a);
        for (unsigned b = 0; b < 256; b++) {
            buf[1] = (unsigned char)b;
            CHECK(json_utf8_valid((char *)buf, 2) == (qr_utf8_valid_prefix((char *)buf, 2) == 2),
                  "2 bytes %02x %02x", a, b);
        }
    }
    static const unsigned char leads[] = {0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xC0, 0xC2};
    for (size_t l = 0; l < sizeof(leads); l++)
        for (unsigned b = 0x70; b < 0xD0; b++)
            for (unsigned c = 0x70; c < 0xD0; c++) {
                buf[0] = leads[l], buf[1] = (unsigned char)b, buf[2] = (unsigned char)c;
                buf[3] = 0x80;
                for (size_t n = 3; n <= 4; n++)
                    CHECK(json_utf8_valid((char *)buf, n) ==
                              (qr_utf8_valid_prefix((char *)buf, n) == n),
                          "%zu bytes %02x %02x %02x", n, buf[0], buf[1], buf[2]);
            }
    /* Random strings biased towards multi-byte sequences. */
    for (int t = 0; t < 200000; t++) {
        size_t n = next_random() % 8 + 1;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = next_random();
            buf[i] = (unsigned char)(r % 3 == 0 ? 0x80 | (r >> 8 & 0x3F) : r >> 8);
        }
        CHECK(json_utf8_valid((char *)buf, n) == (qr_utf8_valid_prefix((char *)buf, n) == n),
              "random string of %zu bytes", n);
    }
}

static void base64_vectors(void) {
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *out = base64_encode((const unsigned char *)plain[i], strlen(plain[i]));
        CHECK(out && strcmp(out, coded[i]) == 0, "base64(%s) = %s", plain[i], out ? out : "NULL");
        free(out);
    }
    const unsigned char high[] = {0xFF, 0xFE, 0x00, 0x80};
    char *out = base64_encode(high, sizeof(high));
    CHECK(out && strcmp(out, "//4AgA==") == 0, "base64 of high bytes: %s", out ? out : "NULL");
    free(out);
}

static cJSON *parse(const char *text, char *why) {
    return json_parse_body(text, strlen(text), why, 256);
}

static void body_rules(void) {
    char why[256];
    cJSON *v;
    CHECK((v = parse("{\"a\": 1}  \r\n", why)) != NULL, "trailing whitespace is fine: %s", why);
    cJSON_Delete(v);
    CHECK(!parse("{\"a\": 1} x", why) && strstr(why, "after"), "trailing text: %s", why);
    CHECK(!parse("{\"a\": 1}{}", why), "two values");
    CHECK(!parse("", why) && strstr(why, "empty"), "empty body: %s", why);
    CHECK(!parse("{\"a\": \"\xff\"}", why) && strstr(why, "UTF-8"), "invalid UTF-8: %s", why);
    CHECK(!parse("{\"a\": \"\\ud800\"}", why), "a lone surrogate escape");
    CHECK(!parse("{\"a\": ", why) && strstr(why, "JSON"), "truncated: %s", why);
    v = parse("{\"s\": \"\\ud83c\\udf86 烟花\"}", why);
    CHECK(v && strcmp(cJSON_GetObjectItem(v, "s")->valuestring, "\xF0\x9F\x8E\x86 烟花") == 0,
          "surrogate pairs decode to UTF-8");
    cJSON_Delete(v);
    /* Deep nesting ends in an error, not a stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    CHECK(!json_parse_body(deep, depth * 2, why, sizeof(why)), "deep nesting is refused");
    free(deep);
}

static void field_readers(void) {
    char why[256];
    cJSON *v = parse("{\"s\": \"x\", \"n\": 3, \"f\": 2.5, \"big\": 1e300, \"b\": true, \"nul\": null,"
                     " \"list\": [\"a\", {\"text\": \"b\"}], \"bad\": [\"a\", 1], \"empty\": [],"
                     " \"obj\": [{\"title\": \"t\"}]}",
                     why);
    CHECK(v != NULL, "%s", why);
    const char *s = NULL;
    long n = 0;
    int b = 0;
    CHECK(json_get_string(v, "s", 1, &s, why, sizeof(why)) == 1 && strcmp(s, "x") == 0, "string");
    CHECK(json_get_string(v, "missing", 0, &s, why, sizeof(why)) == 0, "optional string");
    CHECK(json_get_string(v, "nul", 0, &s, why, sizeof(why)) == 0, "null = absent");
    CHECK(json_get_string(v, "missing", 1, &s, why, sizeof(why)) == -1 && strstr(why, "required"),
          "required: %s", why);
    CHECK(json_get_string(v, "n", 1, &s, why, sizeof(why)) == -1 && strstr(why, "`n`"),
          "wrong type names the field: %s", why);
    CHECK(json_get_int(v, "n", 1, 10, &n, why, sizeof(why)) == 1 && n == 3, "int");
    CHECK(json_get_int(v, "n", 4, 10, &n, why, sizeof(why)) == -1, "int below range");
    CHECK(json_get_int(v, "f", 0, 10, &n, why, sizeof(why)) == -1, "not an integer");
    CHECK(json_get_int(v, "big", 0, 1L << 30, &n, why, sizeof(why)) == -1, "huge number");
    CHECK(json_get_int(v, "s", 0, 10, &n, why, sizeof(why)) == -1, "string for an int");
    CHECK(json_get_bool(v, "b", &b, why, sizeof(why)) == 1 && b == 1, "bool");
    CHECK(json_get_bool(v, "n", &b, why, sizeof(why)) == -1, "number for a bool");

    const char **texts = NULL;
    size_t count = 0;
    CHECK(json_get_text_list(v, "list", 1, &texts, &count, why, sizeof(why)) == 1 && count == 2 &&
              strcmp(texts[0], "a") == 0 && strcmp(texts[1], "b") == 0,
          "strings and {text} objects");
    free(texts);
    CHECK(json_get_text_list(v, "list", 0, &texts, &count, why, sizeof(why)) == -1 &&
              strstr(why, "list[1]"),
          "objects refused where only strings go: %s", why);
    CHECK(json_get_text_list(v, "bad", 1, &texts, &count, why, sizeof(why)) == -1 &&
              strstr(why, "bad[1]"),
          "the bad item is named: %s", why);
    CHECK(json_get_text_list(v, "empty", 1, &texts, &count, why, sizeof(why)) == -1 &&
              strstr(why, "empty"),
          "empty list: %s", why);
    CHECK(json_get_text_list(v, "obj", 1, &texts, &count, why, sizeof(why)) == -1,
          "an object without text");
    CHECK(json_get_text_list(v, "s", 1, &texts, &count, why, sizeof(why)) == -1, "not an array");
    CHECK(json_get_text_list(v, "missing", 1, &texts, &count, why, sizeof(why)) == -1, "missing");
    cJSON_Delete(v);
}

/* Mutates valid request bodies byte by byte; every outcome must be a value or
 * an error with a message, and a value must print back as valid UTF-8. */
static void fuzz_bodies(void) {
    static const char *const seeds[] = {
        "{\"query\": \"杭州亚运会闭幕式烟花秀\", \"documents\": [\"闭幕式的烟花秀太美了\", "
        "{\"text\": \"fireworks\"}], \"top_n\": 2, \"return_documents\": true}",
        "{\"query\": \"q\", \"texts\": [\"a\", \"b\"], \"raw_scores\": false, \"truncate\": null}",
        "{\"data\": [\"q\", \"a\\nb\\n\", \"\", 8]}",
        "{\"input\": [\"\\u4f60\\u597d\", \"\\ud83c\\udf86\"], \"dimensions\": 32, "
        "\"encoding_format\": \"base64\"}",
    };
    char why[256], buf[512];
    for (int t = 0; t < 60000; t++) {
        const char *seed = seeds[t % 4];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = (int)(next_random() % 4) + 1;
        for (int e = 0; e < edits; e++) {
            uint32_t r = next_random();
            size_t at = r % n;
            switch (r >> 24 & 3) {
            case 0: buf[at] = (char)(next_random() & 0xFF); break;
            case 1: n = at; break; /* truncate */
            case 2: buf[at] = "{}[]\",:\\"[next_random() % 8]; break;
            default: if (n < sizeof(buf) - 1) { memmove(buf + at + 1, buf + at, n - at); n++; } break;
            }
            if (n == 0)
                break;
        }
        why[0] = '\0';
        cJSON *v = json_parse_body(buf, n, why, sizeof(why));
        if (!v) {
            CHECK(why[0] != '\0', "an error without a message");
            continue;
        }
        size_t len = 0;
        char *printed = json_print(v, &len);
        CHECK(printed && json_utf8_valid(printed, len), "a parsed body prints back as UTF-8");
        const char **texts = NULL;
        size_t count = 0;
        const char *s;
        long k;
        int b;
        if (json_get_text_list(v, "documents", 1, &texts, &count, why, sizeof(why)) == 1) {
            for (size_t i = 0; i < count; i++)
                CHECK(json_utf8_valid(texts[i], strlen(texts[i])), "document %zu is UTF-8", i);
            free(texts);
        }
        json_get_string(v, "query", 1, &s, why, sizeof(why));
        json_get_int(v, "top_n", 1, 1 << 30, &k, why, sizeof(why));
        json_get_bool(v, "return_documents", &b, why, sizeof(why));
        free(printed);
        cJSON_Delete(v);
    }
}

int main(int argc, char **argv) {
    utf8_matches_library();
    base64_vectors();
    body_rules();
    field_readers();
    fuzz_bodies();
    if (failures) {
        fprintf(stderr, "test-server-json: %d failures\n", failures);
        return 1;
    }
    printf("test-server-json: ok\n");
    return 0;
}
