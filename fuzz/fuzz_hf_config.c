/* fuzz_hf_config.c - libFuzzer target: qr_hf_config_parse, the reader of a
 * Hugging Face config.json. What it accepts must be a shape the engine can
 * allocate for: positive sizes, heads that divide, a named architecture. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qr_hf_config c;
    qrank_error err = {0};
    if (qr_hf_config_parse((const char *)data, size, &c, &err) != QRANK_OK) {
        if (err.message[0] == '\0')
            abort(); /* every refusal says why */
        return 0;
    }
    if (c.n_layers <= 0 || c.hidden <= 0 || c.ffn <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
        c.head_dim <= 0 || c.vocab_size <= 0)
        abort();
    if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0 || c.head_dim % 2 != 0)
        abort(); /* the attention layout forward.c relies on */
    if (memchr(c.model_type, '\0', sizeof c.model_type) == NULL ||
        memchr(c.architecture, '\0', sizeof c.architecture) == NULL)
        abort(); /* names always terminated */
    return 0;
}
