/* dispatch.c - chooses kernel variants once, from what the CPU reports.
 *
 * The table is filled per model (no global state); each ISA file exports its
 * functions and this file alone decides which one runs. A variant needs
 * every instruction set its file is compiled with (CMakeLists.txt gives
 * avx512*.c -mavx512f/bw/vl/dq/vnni, the bf16 and AMX ones -mavx512bf16
 * too, and avx2*.c -mavx2 -mfma -mf16c -mavxvnni), and, for AVX and
 * AVX-512, the OS's promise to save the registers across context switches
 * (XCR0), which CPUID alone does not give.
 *
 * Variants, best first:
 *   amx      the avx512 table with AMX tiles for BF16 weights (Sapphire
 *            Rapids+), where the OS grants the tile state, and for Q8_0
 *            where the CPU has AMX-INT8 too.
 *   avx512   AVX-512 F/BW/VL/DQ/VNNI/BF16 (Zen 4+, Cooper Lake, Sapphire
 *            Rapids+).
 *   avx512vnni  the same without BF16 (Cascade Lake, Ice Lake): BF16
 *            weights on f32 FMAs.
 *   avxvnni  the avx2 table with vpdpbusd on YMM for Q8_0 (Alder Lake+).
 *   avx2     AVX2 + FMA + F16C (Haswell+, Zen 1+).
 *   generic  plain C, any x86-64.
 * "avx2" names the plain AVX2 table even on a CPU that has AVX-VNNI, so
 * that a test can reach both. */
#include <cpuid.h>
#include <string.h>

#include "isa.h"
#include "q8_0x16.h"
#include "q8x16k.h"

/* XCR0 bits: 1 SSE, 2 AVX (YMM high halves), 5-7 AVX-512 (opmask, ZMM
 * high halves, ZMM16-31), 17-18 AMX (tile configuration and data). */
#define XCR0_AVX 0x06u
#define XCR0_AVX512 0xe6u
#define XCR0_AMX 0x60000u

static unsigned os_saved_state(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_OSXSAVE)) return 0; /* xgetbv would fault */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return lo;
}

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return (os_saved_state() & XCR0_AVX) == XCR0_AVX && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

static int cpu_has_avxvnni(void) { return cpu_has_avx2() && __builtin_cpu_supports("avxvnni"); }

static int cpu_has_avx512vnni(void) {
    return cpu_has_avx2() && (os_saved_state() & XCR0_AVX512) == XCR0_AVX512 &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
}

static int cpu_has_avx512(void) { return cpu_has_avx512vnni() && __builtin_cpu_supports("avx512bf16"); }

/* CPUID 7.0 EDX: bit 22 AMX-BF16, bit 24 AMX-TILE. Asks the OS for the
 * tile state too (Linux: once per process), so only call it when the
 * answer is going to be used. */
static int cpu_has_amx_bf16(void) {
    unsigned a, b, c, d;
    if (!cpu_has_avx512() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 22)) || !(d & (1u << 24)) || (os_saved_state() & XCR0_AMX) != XCR0_AMX) return 0;
    return qr_amx_request();
}

/* CPUID 7.0 EDX bit 25: AMX-INT8 (TDPBUSD). Every CPU with AMX so far
 * has it beside AMX-BF16, but they are separate bits. */
static int cpu_has_amx_int8(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 25));
}

/* vdpbf16ps (ZMM) issues at the FMA's rate on AMD's Zen 4 and Zen 5, the
 * AVX-512 BF16 cores AMD makes (bench-kernels on a Zen 5 core: bf16 448,
 * fp32 240 G ops/s), and at half of it on Intel's (Emerald Rapids: 87-97
 * against 172-194), where the f32 FMAs are as fast and exact. */
static int cpu_is_amd(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "Auth" "enti" "cAMD" */
}

static void fill_generic(qr_kernels *k) {
    k->name = "generic";
    k->f32_lanes = 4;
    k->gemm_f32 = qr_gemm_f32_generic;
    k->gemm_q8_0 = qr_gemm_q8_0_generic;
    k->gemm_bf16 = qr_gemm_bf16_generic;
    k->quantize_q8_0 = qr_quantize_q8_0_generic;
    k->to_bf16 = qr_to_bf16_generic;
}

/* The SIMD tables pack two layouts: q8_0x16 for Q8_0, q8x16k for the
 * types gemm_kq reads. */
static size_t pack_size_simd(const qr_tensor *w) {
    return w->type == QR_TYPE_Q8_0 ? qr_q8_0x16_size(w) : qr_q8x16k_size(w);
}

static void pack_avx2(const qr_tensor *w, void *dst) {
    if (w->type == QR_TYPE_Q8_0)
        qr_q8_0x16_pack(w, dst);
    else
        qr_q8x16k_pack_avx2(w, dst);
}

/* The AVX-512 tables add bf16x16 for BF16, which both their gemm_bf16
 * kernels read (avx512.c, avx512_amx.c). */
static size_t pack_size_avx512(const qr_tensor *w) {
    return w->type == QR_TYPE_BF16 ? qr_bf16x16_size(w) : pack_size_simd(w);
}

static void pack_avx512(const qr_tensor *w, void *dst) {
    if (w->type == QR_TYPE_Q8_0)
        qr_q8_0x16_pack_avx512(w, dst);
    else if (w->type == QR_TYPE_BF16)
        qr_bf16x16_pack_avx512(w, dst);
    else
        qr_q8x16k_pack_avx2(w, dst); /* AVX-512 CPUs have AVX2 */
}

static void fill_avx2(qr_kernels *k, int vnni) {
    k->name = vnni ? "avxvnni" : "avx2";
    k->f32_lanes = 8;
    k->gemm_f32 = qr_gemm_f32_avx2;
    k->gemm_q8_0 = vnni ? qr_gemm_q8_0_avxvnni : qr_gemm_q8_0_avx2;
    k->gemm_bf16 = qr_gemm_bf16_avx2;
    k->quantize_q8_0 = qr_quantize_q8_0_avx2;
    k->quantize_q8u = qr_quantize_q8u_avx2;
    k->quantize_q8w = vnni ? NULL : qr_quantize_q8w_avx2; /* vpdpbusd reads q8u in place */
    k->to_bf16 = qr_to_bf16_avx2;
    k->gemm_kq = vnni ? qr_gemm_kq_avxvnni : qr_gemm_kq_avx2;
    k->pack_size = pack_size_simd;
    k->pack = pack_avx2;
}

static void fill_avx512(qr_kernels *k) {
    k->name = "avx512";
    k->f32_lanes = 16;
    k->gemm_f32 = qr_gemm_f32_avx512;
    k->gemm_q8_0 = qr_gemm_q8_0_avx512;
    k->gemm_bf16 = qr_gemm_bf16_avx512;
    k->quantize_q8_0 = qr_quantize_q8_0_avx512;
    k->quantize_q8u = qr_quantize_q8u_avx512;
    k->to_bf16 = qr_to_bf16_avx512;
    k->gemm_kq = qr_gemm_kq_avx512;
    k->pack_size = pack_size_avx512;
    k->pack = pack_avx512;
    k->bf16_dot = 1;
    k->bf16_dot_fast = cpu_is_amd();
}

/* avx512 less what needs AVX-512 BF16 (avx512_bf16.c): BF16 weights go to
 * the f32 kernel (exact, from the same bf16x16 copies), attention stays
 * f32. The Xeons of 2019-2021 (Cascade Lake, Ice Lake), common in clouds,
 * have VNNI without BF16 and ran the avx2 table before, Q8_0 on 16-bit
 * multiplies at a quarter of vpdpbusd's width. */
static void fill_avx512vnni(qr_kernels *k) {
    fill_avx512(k);
    k->name = "avx512vnni";
    k->gemm_bf16 = NULL;
    k->bf16_dot = 0;
    k->bf16_dot_fast = 0;
}

/* avx512 with BF16 weights on AMX tiles, from the same bf16x16 copies, and
 * F16 weights on them too; Q8_0 on the int8 tiles, from the same q8_0x16
 * copies, where the CPU has them. */
static void fill_amx(qr_kernels *k) {
    fill_avx512(k);
    k->name = "amx";
    k->amx = 1;
    k->gemm_bf16 = qr_gemm_bf16_amx;
    k->gemm_f16 = qr_gemm_f16_amx;
    if (cpu_has_amx_int8()) k->gemm_q8_0 = qr_gemm_q8_0_amx;
}

int qr_kernels_select(qr_kernels *k, const char *want) {
    memset(k, 0, sizeof *k);
    fill_generic(k);
    if (!want) {
        if (cpu_has_amx_bf16())
            fill_amx(k);
        else if (cpu_has_avx512())
            fill_avx512(k);
        else if (cpu_has_avx512vnni())
            fill_avx512vnni(k);
        else if (cpu_has_avx2())
            fill_avx2(k, cpu_has_avxvnni());
        return 0;
    }
    if (strcmp(want, "generic") == 0) return 0;
    if (strcmp(want, "avx2") == 0 && cpu_has_avx2()) {
        fill_avx2(k, 0);
        return 0;
    }
    if (strcmp(want, "avxvnni") == 0 && cpu_has_avxvnni()) {
        fill_avx2(k, 1);
        return 0;
    }
    if (strcmp(want, "avx512") == 0 && cpu_has_avx512()) {
        fill_avx512(k);
        return 0;
    }
    if (strcmp(want, "avx512vnni") == 0 && cpu_has_avx512vnni()) {
        fill_avx512vnni(k);
        return 0;
    }
    if (strcmp(want, "amx") == 0 && cpu_has_amx_bf16()) {
        fill_amx(k);
        return 0;
    }
    return -1;
}
