/* Packed-weights direct convolution for inference (AVX-512): output channels in the
 * vector, weights packed once per session.
 *
 * The weights [oc, c, kh, kw] become blocks of 16 (oc <= 16) or 32 output channels, each
 * stored tap-major ([c * kh * kw][16 or 32], zero past oc). A tile is up to 28 output
 * pixels of one row x 16 channels (or 14 x 32): per tap one or two weight vectors are
 * loaded and each pixel's input value is broadcast from the (padded) NCHW plane into
 * an FMA, so the register tile is the GEMM's [pixels x channels] block and strided
 * convolutions cost nothing extra (the broadcasts just step by the stride). The tile is
 * transposed in registers to NCHW rows and the epilogue (bias, residual, ReLU/Clip/
 * HardSwish/LeakyRelu) is applied on the way out.
 *
 * Against conv2d_fwd (conv.c's pixels-in-vector direct kernel), `make micro` run of
 * 2026-11-27 19:47, batch 64, 2 threads: 16->16 3x3 28x28 268 vs 207 GFLOP/s, 32->32
 * 14x14 318 vs 200, 16->32 stride 2 262 vs 157, LeNet's conv2 (6->16 5x5) 243 vs 166.
 * It needs at least 16 output channels to fill the vector; fewer stay on conv.c.
 * Padding: with at most one padded column a side (3x3 "same") the tiles read the input
 * in place and skip the taps that fall in the padding; wider padding copies each image
 * once into zero-bordered planes (rows and borders written in one pass).
 * Extras (kn_conv_extra): a side 1x1 of the same input computed tile by tile beside the
 * main one, or a 2x2 stride-2 max pooling taken from two-row tiles in registers. */
#include "core/cpu/cpu.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__AVX512F__)
#include "core/cpu/simd.h"

#define MAXP1 28 /* pixels per tile with one channel vector */
#define MAXP2 14 /* with two */

static int64_t ocv(const kn_conv2d_desc *d) { return d->oc > 16 ? 2 : 1; }
static bool padded(const kn_conv2d_desc *d) { return d->pad_t || d->pad_l || d->pad_b || d->pad_r; }
/* 1x1, stride 1, unpadded: a GEMM on the input planes, run as one row of h * w pixels */
static bool pointwise(const kn_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride_h == 1 && d->stride_w == 1 && !padded(d);
}

/* The geometry the kernel handles; everything else returns 0 floats (use conv2d_fwd). */
static bool applies(const kn_conv2d_desc *d)
{
    /* a single-channel stem's 9 or 25 taps are too few to pay for the tile's transpose
     * (resnet_small's stem at batch 64, kiln profile of 2026-11-27 ~15:25: 145 us here
     * against 100 us on conv.c's kernel) */
    return d->c * d->kh * d->kw >= 16 && d->group == 1 && d->oc >= 16 && d->dil_h == 1 && d->dil_w == 1 && d->stride_h >= 1 &&
           (d->stride_w == 1 || d->stride_w == 2) && d->pad_t >= 0 && d->pad_l >= 0 && d->pad_b >= 0 &&
           d->pad_r >= 0 && d->oh > 0 && d->ow > 0 && d->kh > 0 && d->kw > 0;
}

/* Whether the input needs a zero-bordered copy: the tiles skip padded tap rows of any
 * height but padded columns only when at most one lies on each side (3x3 "same", the
 * common case), since then only a row's first and last pixel reach them. Reading the
 * input in place saves the copy, which cost 3.6-4.6 us of a ~20 us 16->16 3x3 at 28x28
 * and batch 1 when the previous layer had just written the input on both cores. */
static bool copies(const kn_conv2d_desc *d)
{
    const int64_t right = (d->ow - 1) * d->stride_w + d->kw - d->pad_l - d->w; /* columns past the input */
    return padded(d) && (d->pad_l > 1 || right > 1);
}

/* Planes the copy holds: rows of wp floats, hp rows per channel. */
static void plane_dims(const kn_conv2d_desc *d, int64_t *hp, int64_t *wp)
{
    if (!padded(d)) {
        *hp = d->h;
        *wp = d->w;
        return;
    }
    *hp = (d->oh - 1) * d->stride_h + d->kh;
    *wp = (d->ow - 1) * d->stride_w + d->kw;
}

static int threads(void)
{
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

int64_t kn_cpu_conv2d_packed_floats(const kn_conv2d_desc *d)
{
    if (!applies(d)) return 0;
    const int64_t w = 16 * ocv(d);
    return (d->oc + w - 1) / w * (d->c * d->kh * d->kw) * w;
}

size_t kn_cpu_conv2d_packed_workspace(const kn_conv2d_desc *d)
{
    if (!applies(d) || !copies(d)) return 0;
    int64_t hp, wp;
    plane_dims(d, &hp, &wp);
    return (size_t)threads() * (((size_t)(d->c * hp * wp) * sizeof(float) + 63) / 64 * 64);
}

kn_status kn_cpu_conv2d_pack_w(const kn_conv2d_desc *d, const float *w, float *packed)
{
    if (!applies(d)) return kn_error(KN_ERR_UNSUPPORTED, "packed convolution does not apply to this geometry");
    const int64_t vw = 16 * ocv(d), k = d->c * d->kh * d->kw, nob = (d->oc + vw - 1) / vw;
    for (int64_t b = 0; b < nob; b++)
        for (int64_t t = 0; t < k; t++)
            for (int64_t l = 0; l < vw; l++) {
                const int64_t o = b * vw + l;
                packed[(b * k + t) * vw + l] = o < d->oc ? w[o * k + t] : 0.0f;
            }
    return KN_OK;
}

/* The epilogue of a tile's channel rows (bias per channel, residual of y's shape). */
typedef struct cv_epi {
    const float *bias, *residual; /* block's first channel / y's position of the tile */
    kn_act act;                   /* in registers (kn_act_in_vec) */
    float alpha, beta;
} cv_epi;

/* One tile: NP pixels of one output row x 16 * NV channels, ob of them real. Pixel j's
 * tap (ki, kj) of channel ci reads xb[off + ci * plane + ki * wp + j * S + kj]; tap rows
 * outside [ki0, ki1) are skipped (they fall in the top or bottom padding), and so are
 * pixel 0's taps kj < lo and pixel NP-1's taps kj >= hi (left and right padding): with
 * at most one padded column per side only those two pixels can reach it, so the guards
 * cost two compares per tap row, not a copy of the input. y points at the tile's first
 * output of channel 0 (planes p apart). */
static inline __attribute__((always_inline)) void tile(const float *xb, int64_t off, int64_t plane, int64_t wp,
                                                        int64_t c, int64_t kh, int64_t kw, int64_t ki0,
                                                        int64_t ki1, int64_t lo, int64_t hi, const float *w,
                                                        float *y, int64_t p, int64_t ob, const cv_epi *e,
                                                        const int NV, const int NP, const int S)
{
    __m512 acc[MAXP1][2];
    #pragma GCC unroll 28
    for (int j = 0; j < NP; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    const int64_t vw = 16 * NV;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t ki = ki0; ki < ki1; ki++) {
            const int64_t ro = off + ci * plane + ki * wp;
            const float *wr = w + (ci * kh + ki) * kw * vw;
            for (int64_t kj = 0; kj < kw; kj++, wr += vw) {
                const __m512 w0 = _mm512_loadu_ps(wr), w1 = NV > 1 ? _mm512_loadu_ps(wr + 16) : w0;
                #pragma GCC unroll 28
                for (int j = 0; j < NP; j++) {
                    if (j == 0 && kj < lo) continue;
                    if (j == NP - 1 && kj >= hi) continue;
                    const __m512 b = _mm512_set1_ps(xb[ro + j * S + kj]);
                    acc[j][0] = _mm512_fmadd_ps(b, w0, acc[j][0]);
                    if (NV > 1) acc[j][1] = _mm512_fmadd_ps(b, w1, acc[j][1]);
                }
            }
        }
    /* [pixel][channel] -> [channel][pixel], 16 x 16 at a time */
    #pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        const int64_t nch = ob - 16 * v < 16 ? ob - 16 * v : 16;
        #pragma GCC unroll 2
        for (int j0 = 0; j0 < NP; j0 += 16) {
            if (nch <= 0) break;
            __m512 t[16];
            #pragma GCC unroll 16
            for (int j = 0; j < 16; j++) t[j] = j0 + j < NP ? acc[j0 + j][v] : _mm512_setzero_ps();
            tr16x16(t);
            const int np = NP - j0 < 16 ? NP - j0 : 16;
            const __mmask16 m = (__mmask16)((1u << np) - 1u);
            for (int64_t o = 0; o < nch; o++) {
                const int64_t ch = 16 * v + o;
                __m512 r = t[o];
                if (e->bias) r = _mm512_add_ps(r, _mm512_set1_ps(e->bias[ch]));
                if (e->residual) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, e->residual + ch * p + j0));
                _mm512_mask_storeu_ps(y + ch * p + j0, m, kn_act_vec(r, e->act, e->alpha, e->beta));
            }
        }
    }
}

typedef void (*tile_fn)(const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                        int64_t, int64_t, const float *, float *, int64_t, int64_t, const cv_epi *);
#define T1(NV, NP, S)                                                                                       \
    static void tile_##NV##_##NP##_##S(const float *xb, int64_t off, int64_t plane, int64_t wp, int64_t c,  \
                                       int64_t kh, int64_t kw, int64_t ki0, int64_t ki1, int64_t lo,          \
                                       int64_t hi, const float *w, float *y, int64_t p, int64_t ob,          \
                                       const cv_epi *e)                                                      \
    {                                                                                                       \
        tile(xb, off, plane, wp, c, kh, kw, ki0, ki1, lo, hi, w, y, p, ob, e, NV, NP, S);                   \
    }
#define T2(NP) T1(1, NP, 1) T1(1, NP, 2) T1(2, NP, 1) T1(2, NP, 2)
#define T1ONLY(NP) T1(1, NP, 1) T1(1, NP, 2)
T2(1) T2(2) T2(3) T2(4) T2(5) T2(6) T2(7) T2(8) T2(9) T2(10) T2(11) T2(12) T2(13) T2(14)
T1ONLY(15) T1ONLY(16) T1ONLY(17) T1ONLY(18) T1ONLY(19) T1ONLY(20) T1ONLY(21) T1ONLY(22) T1ONLY(23) T1ONLY(24)
T1ONLY(25) T1ONLY(26) T1ONLY(27) T1ONLY(28)
#define E2(NP) {{tile_1_##NP##_1, tile_1_##NP##_2}, {tile_2_##NP##_1, tile_2_##NP##_2}}
#define E1(NP) {{tile_1_##NP##_1, tile_1_##NP##_2}, {NULL, NULL}}
static const tile_fn tiles[MAXP1 + 1][2][2] = {
    {{NULL, NULL}, {NULL, NULL}}, E2(1), E2(2), E2(3), E2(4), E2(5), E2(6), E2(7), E2(8), E2(9), E2(10), E2(11),
    E2(12), E2(13), E2(14), E1(15), E1(16), E1(17), E1(18), E1(19), E1(20), E1(21), E1(22), E1(23), E1(24), E1(25),
    E1(26), E1(27), E1(28),
};

/* Pooled tiles (kn_conv_extra.pool2x2) of an unpadded convolution: conv rows 2py and
 * 2py + 1, NQ * 2 pixels each, x 16 * NV channels (2 * 2NQ * NV accumulators <= 28), the
 * bias and activation applied in [pixel][channel] form (bias per lane), then each 2x2
 * window's max in the scalar pool's tap order (kn_max_sel16), transposed and stored as NQ
 * pooled pixels per channel. rs is the input offset between the two conv rows. */
#define PQ1 7 /* pooled pixels per tile with one channel vector */
#define PQ2 3 /* with two */
static inline __attribute__((always_inline)) void tile_pool(const float *xb, int64_t off, int64_t rs, int64_t plane,
                                                             int64_t wp, int64_t c, int64_t kh, int64_t kw,
                                                             const float *w, float *y, int64_t pp, int64_t ob,
                                                             const cv_epi *e, const int NV, const int NQ, const int S)
{
    const int NP = 2 * NQ;
    __m512 acc[4 * PQ1][2];
    #pragma GCC unroll 28
    for (int j = 0; j < 2 * NP; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    const int64_t vw = 16 * NV;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t ki = 0; ki < kh; ki++) {
            const int64_t ro = off + ci * plane + ki * wp;
            const float *wr = w + (ci * kh + ki) * kw * vw;
            for (int64_t kj = 0; kj < kw; kj++, wr += vw) {
                const __m512 w0 = _mm512_loadu_ps(wr), w1 = NV > 1 ? _mm512_loadu_ps(wr + 16) : w0;
                #pragma GCC unroll 28
                for (int j = 0; j < 2 * NP; j++) {
                    const __m512 b = _mm512_set1_ps(xb[ro + (j >= NP ? rs : 0) + (j % NP) * S + kj]);
                    acc[j][0] = _mm512_fmadd_ps(b, w0, acc[j][0]);
                    if (NV > 1) acc[j][1] = _mm512_fmadd_ps(b, w1, acc[j][1]);
                }
            }
        }
    #pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        const int64_t nch = ob - 16 * v < 16 ? ob - 16 * v : 16;
        if (nch <= 0) break;
        const __mmask16 cm = (__mmask16)(nch >= 16 ? 0xFFFFu : (1u << nch) - 1u);
        const __m512 bias = e->bias ? _mm512_maskz_loadu_ps(cm, e->bias + 16 * v) : _mm512_setzero_ps();
        #pragma GCC unroll 28
        for (int j = 0; j < 2 * NP; j++) acc[j][v] = kn_act_vec(_mm512_add_ps(acc[j][v], bias), e->act, e->alpha, e->beta);
        __m512 t[16];
        #pragma GCC unroll 16
        for (int q = 0; q < 16; q++) {
            if (q < NQ) {
                __m512 m = kn_max_sel16(acc[2 * q][v], acc[2 * q + 1][v]);
                m = kn_max_sel16(m, acc[NP + 2 * q][v]);
                t[q] = kn_max_sel16(m, acc[NP + 2 * q + 1][v]);
            } else {
                t[q] = _mm512_setzero_ps();
            }
        }
        tr16x16(t);
        const __mmask16 m = (__mmask16)((1u << NQ) - 1u);
        for (int64_t o = 0; o < nch; o++) _mm512_mask_storeu_ps(y + (16 * v + o) * pp, m, t[o]);
    }
}

typedef void (*tile_pool_fn)(const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                             const float *, float *, int64_t, int64_t, const cv_epi *);
#define TP(NV, NQ, S)                                                                                          \
    static void tile_pool_##NV##_##NQ##_##S(const float *xb, int64_t off, int64_t rs, int64_t plane, int64_t wp, \
                                            int64_t c, int64_t kh, int64_t kw, const float *w, float *y,        \
                                            int64_t pp, int64_t ob, const cv_epi *e)                            \
    {                                                                                                          \
        tile_pool(xb, off, rs, plane, wp, c, kh, kw, w, y, pp, ob, e, NV, NQ, S);                              \
    }
#define TP2(NQ) TP(1, NQ, 1) TP(1, NQ, 2) TP(2, NQ, 1) TP(2, NQ, 2)
#define TP1(NQ) TP(1, NQ, 1) TP(1, NQ, 2)
TP2(1) TP2(2) TP2(3) TP1(4) TP1(5) TP1(6) TP1(7)
#define EP2(NQ) {{tile_pool_1_##NQ##_1, tile_pool_1_##NQ##_2}, {tile_pool_2_##NQ##_1, tile_pool_2_##NQ##_2}}
#define EP1(NQ) {{tile_pool_1_##NQ##_1, tile_pool_1_##NQ##_2}, {NULL, NULL}}
static const tile_pool_fn pool_tiles[PQ1 + 1][2][2] = {
    {{NULL, NULL}, {NULL, NULL}}, EP2(1), EP2(2), EP2(3), EP1(4), EP1(5), EP1(6), EP1(7),
};

/* Zero-bordered copy of padded rows [r0, r1) of every channel of one image: every cell
 * written once, 16 at a time (an expanding load puts a row's columns at their padded
 * lanes; per-row memcpy and scalar border loops made the copy ~15% of a 16->16 3x3
 * convolution at 28x28, /tmp harness of 2026-11-27 16:00: 25.3 us with padding against
 * 21.6 us for the same work unpadded). */
static void pad_image(const kn_conv2d_desc *d, int64_t hp, int64_t wp, const float *restrict x, float *restrict buf,
                      int64_t r0, int64_t r1)
{
    const int64_t ncol = d->w < wp - d->pad_l ? d->w : wp - d->pad_l;
    for (int64_t ci = 0; ci < d->c; ci++)
        for (int64_t py = r0; py < r1; py++) {
            float *restrict row = buf + (ci * hp + py) * wp;
            const int64_t iy = py - d->pad_t;
            const bool inside = iy >= 0 && iy < d->h && ncol > 0;
            const float *src = inside ? x + (ci * d->h + iy) * d->w : NULL;
            for (int64_t j0 = 0; j0 < wp; j0 += 16) {
                const int64_t s0 = j0 - d->pad_l; /* source column of lane 0 */
                const int64_t l0 = s0 < 0 ? -s0 : 0, l1 = ncol - s0 < 16 ? ncol - s0 : 16;
                __m512 v = _mm512_setzero_ps();
                if (inside && l1 > l0 && l0 < 16) {
                    const __mmask16 m = (__mmask16)(((1u << l1) - 1u) & ~((1u << l0) - 1u));
                    v = _mm512_maskz_expandloadu_ps(m, src + s0 + l0);
                }
                const int64_t left = wp - j0;
                _mm512_mask_storeu_ps(row + j0, (__mmask16)(left >= 16 ? 0xFFFFu : (1u << left) - 1u), v);
            }
        }
}

/* Row chunks: each output row in even chunks of at most 28 (one channel vector) or 14
 * pixels (two): 28 -> 28, 30 -> 15 + 15. */
static int64_t row_chunk(const kn_conv2d_desc *d)
{
    const int64_t maxp = ocv(d) == 1 ? MAXP1 : MAXP2, nchunk = (d->ow + maxp - 1) / maxp;
    return (d->ow + nchunk - 1) / nchunk;
}

static int64_t n_tasks(const kn_conv2d_desc *d)
{
    const int64_t vw = 16 * ocv(d), chunk = row_chunk(d);
    return (d->oc + vw - 1) / vw * d->oh * ((d->ow + chunk - 1) / chunk);
}

/* The side 1x1 of one image (kn_conv_extra): y and residual already at the image. */
typedef struct side_job {
    const float *packed;
    float *y;
    cv_epi base;
} side_job;

/* Tiles [t0, t1) of one image whose planes (h x w, padded by pt rows on top and pl
 * columns on the left) start at xb, numbered channel block, then output row, then chunk
 * of the row. */
static void run_tiles(const kn_conv2d_desc *d, const float *xb, int64_t h, int64_t w, int64_t pt, int64_t pl,
                      const float *packed, float *y, const cv_epi *base, const side_job *sd, int64_t t0, int64_t t1)
{
    const int64_t nv = ocv(d), vw = 16 * nv, k = d->c * d->kh * d->kw, p = d->oh * d->ow;
    const int64_t chunk = row_chunk(d), nchunk = (d->ow + chunk - 1) / chunk;
    const int64_t sh = d->stride_h, sw = d->stride_w;
    const int s = sw == 2;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t r = t / nchunk, bl = r / d->oh, oy = r % d->oh, ox = t % nchunk * chunk;
        const int64_t o0 = bl * vw, ob = d->oc - o0 < vw ? d->oc - o0 : vw;
        const int64_t np = d->ow - ox < chunk ? d->ow - ox : chunk, at = oy * d->ow + ox;
        const int64_t iy = oy * sh - pt, ix = ox * sw - pl; /* input of tap (0, 0) of pixel 0 */
        const int64_t ki0 = iy < 0 ? -iy : 0, kend = h - iy < d->kh ? h - iy : d->kh, ki1 = kend > ki0 ? kend : ki0;
        const int64_t lo = ix < 0 ? -ix : 0, hi = w - (ix + (np - 1) * sw);
        cv_epi e = *base;
        if (e.bias) e.bias += o0;
        if (e.residual) e.residual += o0 * p + at;
        tiles[np][nv - 1][s](xb, iy * w + ix, h * w, w, d->c, d->kh, d->kw, ki0, ki1, lo, hi < d->kw ? hi : d->kw,
                             packed + bl * k * vw, y + o0 * p + at, p, ob, &e);
        if (sd) { /* the 1x1 reads the pixels under tap (pad_t, pad_l), just loaded */
            cv_epi se = sd->base;
            if (se.bias) se.bias += o0;
            if (se.residual) se.residual += o0 * p + at;
            tiles[np][nv - 1][s](xb, (iy + d->pad_t) * w + ix + d->pad_l, h * w, w, d->c, 1, 1, 0, 1, 0, 1,
                                 sd->packed + bl * d->c * vw, sd->y + o0 * p + at, p, ob, &se);
        }
    }
}

/* Pooled rows in even chunks of at most PQ1 (one channel vector) or PQ2 pooled pixels. */
static int64_t pool_chunk(const kn_conv2d_desc *d)
{
    const int64_t pw = d->ow / 2, maxq = ocv(d) == 1 ? PQ1 : PQ2, nchunk = (pw + maxq - 1) / maxq;
    return (pw + nchunk - 1) / nchunk;
}

static int64_t pool_tasks(const kn_conv2d_desc *d)
{
    const int64_t vw = 16 * ocv(d), chunk = pool_chunk(d);
    return (d->oc + vw - 1) / vw * (d->oh / 2) * ((d->ow / 2 + chunk - 1) / chunk);
}

/* Pooled tiles [t0, t1) of one unpadded image at xb, numbered channel block, pooled row,
 * chunk of the row; y is the image's pooled output. */
static void run_pool_tiles(const kn_conv2d_desc *d, const float *xb, const float *packed, float *y, const cv_epi *base,
                           int64_t t0, int64_t t1)
{
    const int64_t nv = ocv(d), vw = 16 * nv, k = d->c * d->kh * d->kw, ph = d->oh / 2, pw = d->ow / 2, pp = ph * pw;
    const int64_t chunk = pool_chunk(d), nchunk = (pw + chunk - 1) / chunk, sh = d->stride_h, sw = d->stride_w;
    const int s = sw == 2;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t r = t / nchunk, bl = r / ph, py = r % ph, px = t % nchunk * chunk;
        const int64_t o0 = bl * vw, ob = d->oc - o0 < vw ? d->oc - o0 : vw, nq = pw - px < chunk ? pw - px : chunk;
        cv_epi e = *base;
        if (e.bias) e.bias += o0;
        pool_tiles[nq][nv - 1][s](xb, 2 * py * sh * d->w + 2 * px * sw, sh * d->w, d->h * d->w, d->w, d->c, d->kh, d->kw,
                                  packed + bl * k * vw, y + o0 * pp + py * pw + px, pp, ob, &e);
    }
}

/* Thread t of nt: its share of the images, or of one image's tiles. */
typedef struct fwd_job {
    const kn_conv2d_desc *d;
    const float *x, *packed;
    float *y, *ws;
    cv_epi base;
    int64_t hp, wp, per, ntask, in_img, out_img;
    bool copy, pool;
    const side_job *side; /* NULL: none */
} fwd_job;

static void fwd_part(const fwd_job *j, int t, int nt)
{
    const kn_conv2d_desc *d = j->d;
    const int64_t hp = j->hp, wp = j->wp, ntask = j->ntask;
    float *buf = j->copy ? j->ws + (int64_t)t * j->per : NULL; /* no scratch without a copy */
    /* the planes the tiles read: the input itself (padding skipped by the tiles), or this
     * thread's zero-bordered copy */
    const int64_t h = j->copy ? hp : d->h, w = j->copy ? wp : d->w;
    const int64_t pt = j->copy ? 0 : d->pad_t, pl = j->copy ? 0 : d->pad_l;
    if (d->n == 1) {
        const int64_t t0 = ntask * t / nt, t1 = ntask * (t + 1) / nt;
        if (t1 <= t0) return;
        const float *xb = j->x;
        if (j->copy) {
            /* just the rows this thread's tiles read (the halo rows twice): no barrier */
            const int64_t chunk = row_chunk(d), nchunk = (d->ow + chunk - 1) / chunk;
            const int64_t r0 = t0 / nchunk, r1 = (t1 - 1) / nchunk; /* block * oh + oy */
            int64_t oy0 = 0, oy1 = d->oh - 1;
            if (r0 / d->oh == r1 / d->oh) {
                oy0 = r0 % d->oh;
                oy1 = r1 % d->oh;
            }
            const int64_t py1 = oy1 * d->stride_h + d->kh;
            pad_image(d, hp, wp, j->x, buf, oy0 * d->stride_h, py1 < hp ? py1 : hp);
            xb = buf;
        }
        if (j->pool) run_pool_tiles(d, xb, j->packed, j->y, &j->base, t0, t1);
        else run_tiles(d, xb, h, w, pt, pl, j->packed, j->y, &j->base, j->side, t0, t1);
    } else {
        for (int64_t i = d->n * t / nt; i < d->n * (t + 1) / nt; i++) {
            const float *xb = j->x + i * j->in_img;
            if (j->copy) {
                pad_image(d, hp, wp, xb, buf, 0, hp);
                xb = buf;
            }
            if (j->pool) {
                run_pool_tiles(d, xb, j->packed, j->y + i * j->out_img, &j->base, 0, ntask);
                continue;
            }
            cv_epi e = j->base;
            if (e.residual) e.residual += i * j->out_img;
            side_job sd;
            if (j->side) {
                sd = *j->side;
                sd.y += i * j->out_img;
                if (sd.base.residual) sd.base.residual += i * j->out_img;
            }
            run_tiles(d, xb, h, w, pt, pl, j->packed, j->y + i * j->out_img, &e, j->side ? &sd : NULL, 0, ntask);
        }
    }
}

/* Whether a side 1x1 (kn_conv_extra) can ride along d: its pixels, under tap (pad_t,
 * pad_l), lie inside the input, it packs like d's blocks, its activation is in-vector. */
static bool side_fits(const kn_conv2d_desc *d, const kn_conv_extra *x)
{
    const kn_epilogue *ep = x->side_ep;
    return d->c >= 16 && d->pad_t < d->kh && d->pad_l < d->kw && (d->oh - 1) * d->stride_h < d->h &&
           (d->ow - 1) * d->stride_w < d->w && x->side_y && (!ep || kn_act_in_vec(ep->act));
}

/* Whether the pooled tiles take d: unpadded (both conv rows of a tile read whole tap rows),
 * at least one pooled pixel, no residual, an in-vector activation, no side. */
static bool pool_fits(const kn_conv2d_desc *d, const kn_epilogue *ep, const kn_conv_extra *x)
{
    return !padded(d) && d->oh >= 2 && d->ow >= 2 && !x->side_packed && (!ep || (!ep->residual && kn_act_in_vec(ep->act)));
}

kn_status kn_cpu_conv2d_fwd_packed(const kn_conv2d_desc *d, const float *x, const float *packed, float *y,
                                   const kn_epilogue *ep, const kn_conv_extra *extra, void *ws)
{
    if (!applies(d)) return kn_error(KN_ERR_UNSUPPORTED, "packed convolution does not apply to this geometry");
    const bool side = extra && extra->side_packed, pool = extra && extra->pool2x2;
    if (side && !side_fits(d, extra))
        return kn_error(KN_ERR_UNSUPPORTED, "a side 1x1 convolution does not fit this packed convolution");
    if (pool && !pool_fits(d, ep, extra))
        return kn_error(KN_ERR_UNSUPPORTED, "the packed convolution pools only unpadded outputs without a residual");
    side_job sd = {0};
    if (side) {
        sd.packed = extra->side_packed;
        sd.y = extra->side_y;
        if (extra->side_ep) {
            sd.base.bias = extra->side_ep->bias;
            sd.base.residual = extra->side_ep->residual;
            sd.base.act = extra->side_ep->act;
            sd.base.alpha = extra->side_ep->alpha;
            sd.base.beta = extra->side_ep->beta;
        }
    }
    kn_conv2d_desc flat;
    if (pointwise(d) && !pool) { /* its planes are one row of h * w pixels: full-width tiles */
        flat = *d;
        flat.h = flat.oh = 1;
        flat.w = flat.ow = d->h * d->w;
        d = &flat;
    }
    int64_t hp, wp;
    plane_dims(d, &hp, &wp);
    const bool copy = copies(d);
    const int64_t per = ((d->c * hp * wp * (int64_t)sizeof(float) + 63) / 64 * 64) / (int64_t)sizeof(float);
    const int64_t ntask = pool ? pool_tasks(d) : n_tasks(d), p = d->oh * d->ow;
    const int64_t in_img = d->c * d->h * d->w, out_img = d->oc * (pool ? (d->oh / 2) * (d->ow / 2) : p);
    cv_epi base = {0};
    bool after = false; /* Sigmoid, Tanh: applied to the output after the kernel */
    if (ep) {
        base.bias = ep->bias;
        base.residual = ep->residual;
        if (!kn_act_in_vec(ep->act)) after = true;
        else {
            base.act = ep->act;
            base.alpha = ep->alpha;
            base.beta = ep->beta;
        }
    }
    const int T = threads();
    /* one image: threads split its tiles, when there is enough work to pay for the fork;
     * several: one image at a time per thread */
    const double macs = (double)d->oc * (double)d->c * (double)(d->kh * d->kw + side) * (double)p;
    const bool par = T > 1 && (d->n > 1 || macs >= 262144.0);
    const fwd_job job = {d,      x,       packed, y,    (float *)ws, base, hp, wp, copy ? per : 0, ntask,
                         in_img, out_img, copy,   pool, side ? &sd : NULL};
    /* a parallel region even with if (0) builds a one-thread team (see core/threads.h) */
    if (par) {
#pragma omp parallel num_threads(T)
        fwd_part(&job, omp_get_thread_num(), omp_get_num_threads());
    } else {
        fwd_part(&job, 0, 1);
    }
    if (after) {
        const kn_epilogue ea = {.act = ep->act, .alpha = ep->alpha, .beta = ep->beta};
        kn_cpu_epilogue(d->n * d->oc, p, y, p, &ea);
    }
    return KN_OK;
}
#else
int64_t kn_cpu_conv2d_packed_floats(const kn_conv2d_desc *d)
{
    (void)d;
    return 0;
}
size_t kn_cpu_conv2d_packed_workspace(const kn_conv2d_desc *d)
{
    (void)d;
    return 0;
}
kn_status kn_cpu_conv2d_pack_w(const kn_conv2d_desc *d, const float *w, float *packed)
{
    (void)d, (void)w, (void)packed;
    return kn_error(KN_ERR_UNSUPPORTED, "packed convolution needs an AVX-512 build");
}
kn_status kn_cpu_conv2d_fwd_packed(const kn_conv2d_desc *d, const float *x, const float *packed, float *y,
                                   const kn_epilogue *ep, const kn_conv_extra *extra, void *ws)
{
    (void)d, (void)x, (void)packed, (void)y, (void)ep, (void)extra, (void)ws;
    return kn_error(KN_ERR_UNSUPPORTED, "packed convolution needs an AVX-512 build");
}
#endif
