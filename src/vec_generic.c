/* vec_generic.c - the width-generic vector bodies (attention's f32 path,
 * SiLU) built for the x86-64 baseline: 4 lanes, one XMM (SSE2) per vector,
 * four per 16-query block, and no FMA. The generic table (f32_lanes 4)
 * runs it, and any CPU can. */
#define QR_VEC_W 4
#define QR_VEC_SUFFIX generic
#include "attention_f32_body.h"
#include "silu_body.h"
