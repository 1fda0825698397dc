/* amx_tiles.h - the AMX tile instructions, for the files built with the
 * AVX-512 flags that use them (kernels/avx512_amx.c, attention_avx512_amx.c)
 * and only run once dispatch.c has seen AMX and the OS has granted the tile
 * state (qr_amx_request).
 *
 * They are inline asm with a "memory" clobber: GCC's intrinsics tell the
 * compiler nothing about the memory that tile loads and stores touch, so it
 * could move or drop the plain C stores that feed them, and _tile_loadconfig
 * declares only 8 of its 64 bytes. */
#ifndef QRANK_KERNELS_AMX_TILES_H
#define QRANK_KERNELS_AMX_TILES_H

#include <stdint.h>

#define TILE_LOAD(t, base, stride)                                                                   \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(base)), "r"((long)(stride)) \
                     : "memory")
#define TILE_STORE(t, base, stride)                                                                  \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"((void *)(base)), "r"((long)(stride)) : "memory")
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::: "memory")
/* C (first) += A (second) . B (third) */
#define TILE_DPBF16PS(c, a, b) __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")
/* C (int32) += A (unsigned bytes) . B (signed bytes, four per output) */
#define TILE_DPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "LDTILECFG reads 64 bytes");

#endif
