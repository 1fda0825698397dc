/* vec_avx2.c - the width-generic vector bodies (attention's f32 path,
 * SiLU) built for AVX2 + FMA: 8 lanes, one YMM per vector, two per 16-query
 * block. CMakeLists.txt gives avx2*.c its flags; only the avx2 and avxvnni
 * tables (kernels/dispatch.c, f32_lanes 8) run it. */
#define QR_VEC_W 8
#define QR_VEC_SUFFIX avx2
#include "attention_f32_body.h"
#include "silu_body.h"
