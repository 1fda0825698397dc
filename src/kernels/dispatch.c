/* dispatch.c - chooses kernel variants once, from what the CPU reports.
 *
 * The table is filled per model (no global state); each ISA file exports its
 * functions and this file alone decides which one runs. */
#include <string.h>

#include "kernels.h"

static void fill_generic(qr_kernels *k) {
    k->name = "generic";
    k->gemm_f32 = qr_gemm_f32_generic;
    k->gemm_q8_0 = qr_gemm_q8_0_generic;
    k->gemm_bf16 = qr_gemm_bf16_generic;
    k->quantize_q8_0 = qr_quantize_q8_0_generic;
    k->to_bf16 = qr_to_bf16_generic;
}

int qr_kernels_select(qr_kernels *k, const char *want) {
    memset(k, 0, sizeof *k);
    fill_generic(k);
    if (want && strcmp(want, "generic") != 0) return -1;
    return 0;
}
