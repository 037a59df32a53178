/* Packed-weights GEMM for inference: C = act(alpha * A B + beta * C + bias + residual)
 * with B (the weights) packed once per session.
 *
 * Why not OpenBLAS here: cblas_sgemm packs B into its own panel layout on every call
 * (OpenBLAS has no packed-weights API), and at inference the weights never change. On
 * the MLP's 64x784 -> 128 layer with bias and ReLU (`make micro` run of 2026-11-27 15:57,
 * 2 threads): this kernel 34.8 us, OpenBLAS 59.6 us with B plain, 67.9 us transposed;
 * LeNet's 64x400 -> 120: 19.0 against 33.9 / 37.8 us. OpenBLAS stays the
 * GEMM everywhere else (training, A transposed, non-constant B, non-AVX-512 builds) and
 * is the reference the tests hold this kernel to.
 *
 * Layout: B [K, N] becomes panels of 32 columns, each stored k-major ([K][32]); the last
 * panel is 16 floats wide when at most 16 columns remain, zero-padded to its width.
 * Kernel: an MR x 32 (or MR x 16) tile of C lives in registers (MR <= 14 rows: 28
 * accumulators); per k it loads one or two vectors of the panel and broadcasts A[i][k]
 * from A's rows in place (A is not packed: the broadcasts read it row by row), so each
 * FMA needs one load. The epilogue runs on the registers before the single store. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include "core/cpu/simd.h"
#endif

#define PANEL 32
#define MR_MAX 14

static int64_t panel_width(int64_t n, int64_t j0) { return n - j0 > 16 ? PANEL : 16; }

int64_t kn_cpu_gemm_packed_floats(int64_t k, int64_t n)
{
    int64_t total = 0;
    for (int64_t j0 = 0; j0 < n; j0 += PANEL) total += k * panel_width(n, j0);
    return total;
}

#if defined(__AVX512F__)
bool kn_cpu_gemm_packed_available(void) { return true; }

kn_status kn_cpu_gemm_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb, float *packed)
{
    if (k <= 0 || n <= 0) return kn_error(KN_ERR_SHAPE, "gemm_pack_b: k=%lld n=%lld", (long long)k, (long long)n);
    float *p = packed;
    for (int64_t j0 = 0; j0 < n; j0 += PANEL) {
        const int64_t w = panel_width(n, j0), nc = n - j0 < w ? n - j0 : w;
        for (int64_t kk = 0; kk < k; kk++, p += w)
            for (int64_t j = 0; j < w; j++)
                p[j] = j < nc ? (trans_b ? b[(j0 + j) * ldb + kk] : b[kk * ldb + j0 + j]) : 0.0f;
    }
    return KN_OK;
}

/* What the tile's epilogue does in registers (else: bias/residual in registers, then
 * kn_cpu_epilogue's activation on the stored tile). */
typedef struct tile_epi {
    float alpha, beta;          /* alpha * AB + beta * C_old (beta 0: C_old not read) */
    const float *bias;          /* per column (bias + j0 already) or per row (bias + i0) */
    bool bias_per_row;
    const float *residual;      /* tile's first element; rows n floats apart */
    int64_t res_ld;
    kn_act act;                 /* applied in registers when kn_act_in_vec */
    float lo, hi;
    bool act_after;             /* other activations: applied after the store */
    kn_epilogue after;
} tile_epi;

static inline __attribute__((always_inline)) __m512 finish(__m512 v, int i, int vi, __mmask16 m, const float *c,
                                                            const tile_epi *e)
{
    if (e->alpha != 1.0f) v = _mm512_mul_ps(v, _mm512_set1_ps(e->alpha));
    if (e->beta != 0.0f) v = _mm512_fmadd_ps(_mm512_set1_ps(e->beta), _mm512_maskz_loadu_ps(m, c), v);
    if (e->bias) {
        v = _mm512_add_ps(v, e->bias_per_row ? _mm512_set1_ps(e->bias[i])
                                             : _mm512_maskz_loadu_ps(m, e->bias + 16 * vi));
    }
    if (e->residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->residual + i * e->res_ld + 16 * vi));
    return kn_act_vec(v, e->act, e->lo, e->hi);
}

/* One MR x (16 * NV) tile: rows a[i * lda]; the panel's k-th row at bp + k * ldb (ldb =
 * the panel's width), nc valid columns. */
static inline __attribute__((always_inline)) void tile(const float *a, int64_t lda, const float *bp, int64_t ldb,
                                                        int64_t k, float *c, int64_t ldc, int64_t nc,
                                                        const tile_epi *e, const int MR, const int NV)
{
    const __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1u);
    const __mmask16 m1 = nc >= 32 ? (__mmask16)0xFFFF : nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1u) : 0;
    __m512 acc[MR_MAX][2];
    #pragma GCC unroll 14
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const float *a0 = a, *a1 = MR > 5 ? a + 5 * lda : a, *a2 = MR > 10 ? a + 10 * lda : a; /* row bases */
    for (int64_t kk = 0; kk < k; kk++, bp += ldb) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp), b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, bp + 16) : b0;
        #pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            const float *ar = i < 5 ? a0 + i * lda : i < 10 ? a1 + (i - 5) * lda : a2 + (i - 10) * lda;
            const __m512 s = _mm512_set1_ps(ar[kk]);
            acc[i][0] = _mm512_fmadd_ps(s, b0, acc[i][0]);
            if (NV > 1) acc[i][1] = _mm512_fmadd_ps(s, b1, acc[i][1]);
        }
    }
    #pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        _mm512_mask_storeu_ps(ci, m0, finish(acc[i][0], i, 0, m0, ci, e));
        if (NV > 1 && m1) _mm512_mask_storeu_ps(ci + 16, m1, finish(acc[i][1], i, 1, m1, ci + 16, e));
    }
    if (e->act_after) {
        kn_epilogue ea = e->after;
        kn_cpu_epilogue(MR, nc, c, ldc, &ea);
    }
}

typedef void (*tile_fn)(const float *, int64_t, const float *, int64_t, int64_t, float *, int64_t, int64_t,
                        const tile_epi *);
#define TILE(MR, NV)                                                                                      \
    static void tile_##MR##_##NV(const float *a, int64_t lda, const float *bp, int64_t ldb, int64_t k,    \
                                 float *c, int64_t ldc, int64_t nc, const tile_epi *e)                    \
    {                                                                                                     \
        tile(a, lda, bp, ldb, k, c, ldc, nc, e, MR, NV);                                                  \
    }
#define TILES(MR) TILE(MR, 1) TILE(MR, 2)
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6) TILES(7)
TILES(8) TILES(9) TILES(10) TILES(11) TILES(12) TILES(13) TILES(14)
#define ROW(MR) {tile_##MR##_1, tile_##MR##_2}
static const tile_fn tiles[MR_MAX + 1][2] = {
    {NULL, NULL}, ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7),
    ROW(8), ROW(9), ROW(10), ROW(11), ROW(12), ROW(13), ROW(14),
};

/* Work below this many multiply-adds runs on the calling thread (a fork costs more). */
#define PAR_MIN_MNK 262144.0

/* C = ... over row blocks x panels of the packed B. */
static void run_tiles(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                      float beta, float *c, int64_t ldc, const kn_epilogue *ep)
{
    tile_epi base = {.alpha = alpha, .beta = beta, .act = KN_ACT_NONE};
    if (ep) {
        base.bias = ep->bias;
        base.bias_per_row = ep->bias_per_row;
        base.residual = ep->residual;
        base.res_ld = n;
        if (kn_act_in_vec(ep->act)) {
            base.act = ep->act;
            base.lo = ep->alpha;
            base.hi = ep->beta;
        } else {
            base.act_after = true;
            base.after = (kn_epilogue){.act = ep->act, .alpha = ep->alpha, .beta = ep->beta};
        }
    }
    /* Row blocks of up to 14, spread evenly (64 rows: 13, 13, 13, 13, 12) */
    const int64_t nrb = (m + MR_MAX - 1) / MR_MAX, npan = (n + PANEL - 1) / PANEL, tasks = nrb * npan;
    bool par = false;
#ifdef _OPENMP
    par = omp_get_max_threads() > 1 && !omp_in_parallel() && (double)m * (double)n * (double)k >= PAR_MIN_MNK;
#endif
    /* tasks row-major: each thread owns a band of rows of C across all panels, so the next
     * layer, split the same way, reads rows its own thread wrote (panel-major made the MLP's
     * fc2 read half its input from the other core: 8.8 against 6.3 us, whole MLP at batch 64
     * 47.5-49.5 against 45.8-47.8 us alternating, 2026-11-27 17:00) */
    KN_OMP_FOR_IF(par, schedule(static),
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t rb = t / npan, pn = t % npan;
        const int64_t i0 = m * rb / nrb, i1 = m * (rb + 1) / nrb, j0 = pn * PANEL;
        const int64_t w = panel_width(n, j0), nc = n - j0 < w ? n - j0 : w;
        tile_epi e = base;
        if (e.bias) e.bias += e.bias_per_row ? i0 : j0;
        if (e.residual) e.residual += i0 * n + j0;
        tiles[i1 - i0][w / 16 - 1](a + i0 * lda, lda, b + j0 * k, w, k, c + i0 * ldc + j0, ldc, nc, &e);
    });
}

kn_status kn_cpu_gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *packed, float beta, float *c, int64_t ldc, const kn_epilogue *ep)
{
    if (m < 0 || n <= 0 || k <= 0)
        return kn_error(KN_ERR_SHAPE, "gemm_packed: m=%lld n=%lld k=%lld", (long long)m, (long long)n, (long long)k);
    if (m > 0) run_tiles(m, n, k, alpha, a, lda, packed, beta, c, ldc, ep);
    return KN_OK;
}

#else
bool kn_cpu_gemm_packed_available(void) { return false; }

kn_status kn_cpu_gemm_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb, float *packed)
{
    (void)trans_b, (void)k, (void)n, (void)b, (void)ldb, (void)packed;
    return kn_error(KN_ERR_UNSUPPORTED, "packed GEMM needs an AVX-512 build");
}

kn_status kn_cpu_gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *packed, float beta, float *c, int64_t ldc, const kn_epilogue *ep)
{
    (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)packed, (void)beta, (void)c, (void)ldc, (void)ep;
    return kn_error(KN_ERR_UNSUPPORTED, "packed GEMM needs an AVX-512 build");
}
#endif
