/* vec_avx512.c - the width-generic vector bodies (attention's f32 path,
 * SiLU) built for AVX-512: 16 lanes, one ZMM per vector, a whole 16-query
 * block. CMakeLists.txt gives avx512*.c its flags; only the avx512 and amx
 * tables (kernels/dispatch.c, f32_lanes 16) run it. */
#define QR_VEC_W 16
#define QR_VEC_SUFFIX avx512
#include "attention_f32_body.h"
#include "silu_body.h"
