/* CPU convolution: im2col + OpenBLAS GEMM.
 *
 * Parallel strategy (measured on LeNet shapes, see the commit log): with a batch
 * of several images, OpenMP runs one image per iteration, each thread owning a
 * column buffer in the workspace, and every GEMM is single-threaded (OpenBLAS's
 * OpenMP build does not fork inside an active parallel region). LeNet's GEMMs
 * are tiny (6x784x25, 16x100x150), so threading inside them loses to threading
 * across images. A single image runs serially here and lets OpenBLAS thread the
 * GEMM instead. Weight gradients are summed per thread and reduced once, so the
 * result does not depend on scheduling races.
 *
 * 1x1 kernels with stride 1 and no padding are plain GEMMs on the input: no
 * im2col, no column buffer. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <cblas.h>
#include <omp.h> /* kiln always builds with -fopenmp */
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include "core/cpu/simd.h"
#endif

/* Whether the direct kernels can apply an epilogue's activation in registers (else the
 * plane gets kn_cpu_epilogue after the kernel). */
static inline bool act_in_registers(const kn_epilogue *ep)
{
    return ep && (ep->act == KN_ACT_NONE || ep->act == KN_ACT_RELU || ep->act == KN_ACT_CLIP);
}

#if defined(__AVX512F__)
/* ReLU or Clip(lo, hi) of a vector, with kn_cpu_epilogue's NaN results: max/min return their
 * second operand when one is NaN, so ReLU(NaN) = 0 and Clip(NaN) = NaN. */
static inline __m512 act_vec(__m512 v, kn_act act, __m512 lo, __m512 hi)
{
    if (act == KN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == KN_ACT_CLIP) return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    return v;
}
#endif

/* gb[o] += sum over images i0..i1 and the p output pixels of gy[i, o, :] (the bias
 * gradient, shared by the weight-gradient paths). */
static void bias_grad_rows(const float *gy, int64_t i0, int64_t i1, int64_t oc, int64_t p, float *gb)
{
    for (int64_t i = i0; i < i1; i++)
        for (int64_t o = 0; o < oc; o++) {
            const float *restrict r = gy + (i * oc + o) * p;
            float s = 0.0f;
            #pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < p; j++) s += r[j];
            gb[o] += s;
        }
}

static int conv_threads(void) { return omp_get_max_threads(); }
static int conv_tid(void) { return omp_get_thread_num(); }

typedef struct geom {
    int64_t cg, ocg; /* channels per group, in and out */
    int64_t k;       /* GEMM depth: cg * kh * kw */
    int64_t p;       /* output plane: oh * ow */
    int64_t hw;      /* input plane */
    bool direct;     /* 1x1, stride 1, no padding: the input is its own column matrix */
} geom;

static kn_status check_desc(const kn_conv2d_desc *d, geom *g)
{
    if (d->n < 0 || d->c <= 0 || d->h <= 0 || d->w <= 0 || d->oc <= 0 || d->kh <= 0 || d->kw <= 0 ||
        d->oh <= 0 || d->ow <= 0 || d->stride_h <= 0 || d->stride_w <= 0 || d->dil_h <= 0 ||
        d->dil_w <= 0 || d->group <= 0 || d->c % d->group || d->oc % d->group)
        return kn_error(KN_ERR_SHAPE,
                        "conv2d: bad geometry n=%lld c=%lld %lldx%lld oc=%lld k=%lldx%lld out=%lldx%lld "
                        "stride=%lldx%lld dil=%lldx%lld group=%lld",
                        (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->oc,
                        (long long)d->kh, (long long)d->kw, (long long)d->oh, (long long)d->ow,
                        (long long)d->stride_h, (long long)d->stride_w, (long long)d->dil_h,
                        (long long)d->dil_w, (long long)d->group);
    g->cg = d->c / d->group;
    g->ocg = d->oc / d->group;
    g->k = g->cg * d->kh * d->kw;
    g->p = d->oh * d->ow;
    g->hw = d->h * d->w;
    if (g->k > INT32_MAX || g->p > INT32_MAX || g->ocg > INT32_MAX || g->hw > INT32_MAX)
        return kn_error(KN_ERR_UNSUPPORTED, "conv2d: a GEMM dimension exceeds 2^31 (k=%lld plane=%lld)",
                        (long long)g->k, (long long)g->p);
    g->direct = d->kh == 1 && d->kw == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_t == 0 &&
                d->pad_l == 0 && d->pad_b == 0 && d->pad_r == 0 && d->oh == d->h && d->ow == d->w;
    return KN_OK;
}

/* Output columns [*lo, *hi) whose input column ox*s + off falls inside [0, w). */
static void valid_range(int64_t off, int64_t s, int64_t w, int64_t ow, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    if (b > ow) b = ow;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* dst[0, n) = src[0, n) and dst[0, n) += src[0, n) for the short rows of im2col and
 * col2im (a feature-map row: 10 or 28 floats in LeNet). With AVX-512 a row is one or
 * two masked moves instead of a vector loop plus a scalar tail; masked-off lanes are
 * never accessed, so the loads stay inside the row. */
static inline void copy_row(float *restrict dst, const float *restrict src, int64_t n)
{
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
#else
    for (; i < n; i++) dst[i] = src[i];
#endif
}

static inline void add_row(float *restrict dst, const float *restrict src, int64_t n)
{
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_add_ps(_mm512_loadu_ps(dst + i), _mm512_loadu_ps(src + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i)));
    }
#else
    for (; i < n; i++) dst[i] += src[i];
#endif
}

/* col[cg*kh*kw, oh*ow] from one image's cg channels; rows of col are ldc floats apart
 * (oh*ow for one image, a multiple of it when several images share the buffer). Rows
 * are short (a feature-map row), so copies are inline loops, not memcpy calls. */
static void im2col_rows(const kn_conv2d_desc *d, int64_t cg, const float *x, float *col, int64_t ldc, int64_t oy0,
                        int64_t oy1);
static void im2col(const kn_conv2d_desc *d, int64_t cg, const float *x, float *col, int64_t ldc)
{
    im2col_rows(d, cg, x, col, ldc, 0, d->oh);
}

/* im2col of output rows [oy0, oy1) only: column j of col is output pixel oy0 * ow + j. */
static void im2col_rows(const kn_conv2d_desc *d, int64_t cg, const float *x, float *col, int64_t ldc, int64_t oy0,
                        int64_t oy1)
{
    const int64_t h = d->h, w = d->w, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
#if defined(__AVX512F__)
    /* Stride 1, no dilation, no padding, rows of at most 16 (LeNet conv2: 10): every output
     * row is one unmasked 16-float move whose tail is overwritten by the next rows (rows are
     * written in order); a store that would pass the end of this column row's segment, or
     * a load that could pass the end of this image's channels, is masked. */
    if (sw == 1 && sh == 1 && d->dil_h == 1 && d->dil_w == 1 && d->pad_t == 0 && d->pad_l == 0 && d->pad_b == 0 &&
        d->pad_r == 0 && ow <= 16 && ow + d->kw - 1 <= w && d->oh + d->kh - 1 <= h) {
        const __mmask16 m = (__mmask16)((1u << ow) - 1u);
        const float *end = x + cg * h * w;
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t ki = 0; ki < d->kh; ki++)
                for (int64_t kj = 0; kj < d->kw; kj++) {
                    float *row = col + ((ci * d->kh + ki) * d->kw + kj) * ldc;
                    const float *src = x + (ci * h + oy0 + ki) * w + kj;
                    const int64_t nr = oy1 - oy0;
                    for (int64_t r = 0; r < nr; r++) {
                        const float *sr = src + r * w;
                        if (r * ow + 16 <= nr * ow && sr + 16 <= end) _mm512_storeu_ps(row + r * ow, _mm512_loadu_ps(sr));
                        else _mm512_mask_storeu_ps(row + r * ow, m, _mm512_maskz_loadu_ps(m, sr));
                    }
                }
        return;
    }
#endif
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++) {
                float *row = col + ((ci * d->kh + ki) * d->kw + kj) * ldc;
                const int64_t off_w = kj * d->dil_w - d->pad_l;
                int64_t lo, hi;
                valid_range(off_w, sw, w, ow, &lo, &hi);
                for (int64_t oy = oy0; oy < oy1; oy++) {
                    float *restrict dst = row + (oy - oy0) * ow;
                    const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
                    if (iy < 0 || iy >= h) {
                        for (int64_t ox = 0; ox < ow; ox++) dst[ox] = 0.0f;
                        continue;
                    }
                    const float *restrict src = x + (ci * h + iy) * w;
                    for (int64_t ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    if (sw == 1) copy_row(dst + lo, src + lo + off_w, hi - lo);
                    else
                        for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[ox * sw + off_w];
                    for (int64_t ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
                }
            }
}

#if defined(__AVX512F__)
/* col2im for stride 1, gathered per input row: each 16-column tile of a gx row sums its
 * kh x kw shifted column-matrix rows in a register (masked loads; masked-off lanes are
 * never accessed) and is stored once. The scatter form below read-modify-writes every
 * short row kh*kw times with overlapping stores. Same additions in the same order per
 * element, so the result is bitwise the scatter form's. */
static void col2im_add_s1(const kn_conv2d_desc *d, int64_t cg, const float *col, float *gx)
{
    const int64_t h = d->h, w = d->w, oh = d->oh, ow = d->ow, p = oh * ow;
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t iy = 0; iy < h; iy++)
            for (int64_t x0 = 0; x0 < w; x0 += 16) {
                const int64_t nl = w - x0 < 16 ? w - x0 : 16;
                const __mmask16 mrow = (__mmask16)((1u << nl) - 1u);
                float *dst = gx + (ci * h + iy) * w + x0;
                __m512 acc = _mm512_maskz_loadu_ps(mrow, dst);
                for (int64_t ki = 0; ki < d->kh; ki++) {
                    const int64_t oy = iy + d->pad_t - ki * d->dil_h;
                    if (oy < 0 || oy >= oh) continue;
                    const float *base = col + (ci * d->kh + ki) * d->kw * p + oy * ow;
                    for (int64_t kj = 0; kj < d->kw; kj++) {
                        const int64_t off = x0 + d->pad_l - kj * d->dil_w; /* source column of lane 0 */
                        const int64_t a = off < 0 ? -off : 0, b = ow - off < nl ? ow - off : nl;
                        if (a >= b) continue;
                        const __mmask16 m = (__mmask16)(((1u << (b - a)) - 1u) << a);
                        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, base + kj * p + off));
                    }
                }
                _mm512_mask_storeu_ps(dst, mrow, acc);
            }
}
#endif

/* gx += col2im(col): the adjoint of im2col. */
static void col2im_add(const kn_conv2d_desc *d, int64_t cg, const float *col, float *gx)
{
#if defined(__AVX512F__)
    if (d->stride_h == 1 && d->stride_w == 1) {
        col2im_add_s1(d, cg, col, gx);
        return;
    }
#endif
    const int64_t h = d->h, w = d->w, oh = d->oh, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++) {
                const float *row = col + ((ci * d->kh + ki) * d->kw + kj) * oh * ow;
                const int64_t off_w = kj * d->dil_w - d->pad_l;
                int64_t lo, hi;
                valid_range(off_w, sw, w, ow, &lo, &hi);
                for (int64_t oy = 0; oy < oh; oy++) {
                    const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
                    if (iy < 0 || iy >= h) continue;
                    const float *restrict src = row + oy * ow;
                    float *restrict dst = gx + (ci * h + iy) * w;
                    if (sw == 1) add_row(dst + lo + off_w, src + lo, hi - lo);
                    else
                        for (int64_t ox = lo; ox < hi; ox++) dst[ox * sw + off_w] += src[ox];
                }
            }
}

/* ---- depthwise (group == c): direct kernels, no im2col ----
 * Each output channel o reads one input channel o / mult (mult = oc / c) through a
 * kh x kw filter. Per output row, every tap adds w * (a shifted, strided input row)
 * over the output columns whose input lies inside the image, so padding costs nothing
 * and the stride-1 inner loop is a plain vectorised axpy. Planes run in parallel. */
/* group > 1: a single-channel input (LeNet conv1, c = group = 1) is not depthwise here;
 * its batched im2col weight gradient trained faster than these kernels (LeNet 1 thread:
 * 6390/10670 samples/s vs 4156/8558, loaded machine). With AVX-512 it takes the tiny-M
 * direct kernels below instead. */
static bool is_depthwise(const kn_conv2d_desc *d, const geom *g)
{
    return d->group == d->c && d->group > 1 && g->cg == 1 && !g->direct;
}

static void dw_plane_fwd(const kn_conv2d_desc *d, const float *restrict x, const float *restrict w, float *restrict y)
{
    const int64_t h = d->h, wd = d->w, oh = d->oh, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
#if defined(__AVX512F__)
    /* 16 output columns per register: all taps accumulate in the register and the row is
     * stored once. Lanes whose input column is outside the image (padding) are masked off
     * and never loaded; strided rows gather. Valid column ranges per kj are hoisted. */
    if (d->kw <= 64) {
        int64_t lo[64], hi[64];
        for (int64_t kj = 0; kj < d->kw; kj++) valid_range(kj * d->dil_w - d->pad_l, sw, wd, ow, &lo[kj], &hi[kj]);
        const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        for (int64_t oy = 0; oy < oh; oy++) {
            float *restrict out = y + oy * ow;
            for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
                const int64_t nl = ow - ox0 < 16 ? ow - ox0 : 16;
                __m512 acc = _mm512_setzero_ps();
                for (int64_t ki = 0; ki < d->kh; ki++) {
                    const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
                    if (iy < 0 || iy >= h) continue;
                    const float *src = x + iy * wd;
                    for (int64_t kj = 0; kj < d->kw; kj++) {
                        const int64_t a = lo[kj] > ox0 ? lo[kj] - ox0 : 0;
                        const int64_t b = hi[kj] - ox0 < nl ? hi[kj] - ox0 : nl;
                        if (a >= b) continue;
                        const __mmask16 m = (__mmask16)(((1u << (b - a)) - 1u) << a);
                        const int64_t off = kj * d->dil_w - d->pad_l;
                        const __m512 wv = _mm512_set1_ps(w[ki * d->kw + kj]);
                        __m512 v;
                        if (sw == 1) v = _mm512_maskz_loadu_ps(m, src + ox0 + off);
                        else {
                            const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32((int)ox0)),
                                                                                    _mm512_set1_epi32((int)sw)),
                                                                 _mm512_set1_epi32((int)off));
                            v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src, 4);
                        }
                        acc = _mm512_fmadd_ps(wv, v, acc);
                    }
                }
                _mm512_mask_storeu_ps(out + ox0, (__mmask16)((1u << nl) - 1u), acc);
            }
        }
        return;
    }
#endif
    for (int64_t oy = 0; oy < oh; oy++) {
        float *restrict out = y + oy * ow;
        for (int64_t ox = 0; ox < ow; ox++) out[ox] = 0.0f;
        for (int64_t ki = 0; ki < d->kh; ki++) {
            const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
            if (iy < 0 || iy >= h) continue;
            const float *restrict src = x + iy * wd;
            for (int64_t kj = 0; kj < d->kw; kj++) {
                const int64_t off = kj * d->dil_w - d->pad_l;
                int64_t lo, hi;
                valid_range(off, sw, wd, ow, &lo, &hi);
                const float wv = w[ki * d->kw + kj];
                if (sw == 1) {
                    const float *restrict s = src + off;
                    #pragma omp simd
                    for (int64_t ox = lo; ox < hi; ox++) out[ox] += wv * s[ox];
                } else {
                    for (int64_t ox = lo; ox < hi; ox++) out[ox] += wv * src[ox * sw + off];
                }
            }
        }
    }
}

#if defined(__AVX512F__)
/* Padded, phase-split copy of one input plane for the AVX-512 forward kernel.
 * Padded column pc = ix + pad_l is stored in phase pc % sw at column pc / sw, so the
 * tap (ki, kj) of output column ox reads phase (kj*dil) % sw, column ox + (kj*dil) / sw:
 * every tap of a 16-column tile is one contiguous unmasked load, for any stride, with no
 * gather and no per-tap mask. Padding cells are zeroed once per thread (their positions
 * are the same for every plane); each plane only copies its valid cells in. */
typedef struct dw_pad {
    int64_t rows, rs, ps; /* rows used, row stride, phase stride (floats) */
    int64_t nrow, ncol;   /* input rows / columns that are read: [0, nrow) x [0, ncol) */
    int64_t tap[64];      /* offset of each tap relative to the tile origin */
    int64_t ix0[8], dst0[8], cnt[8]; /* per phase: first input column, its buffer offset, count */
} dw_pad;

#define DW_PAD_MAX 16384 /* floats of per-thread stack scratch (64 KiB) */

static bool dw_pad_plan(const kn_conv2d_desc *d, dw_pad *pp)
{
    const int64_t sw = d->stride_w, sh = d->stride_h;
    if (d->kh * d->kw > 64 || d->pad_t < 0 || d->pad_l < 0 || sw > 8) return false;
    const int64_t pw = (d->ow - 1) * sw + (d->kw - 1) * d->dil_w + 1; /* padded columns read */
    const int64_t ph = (d->oh - 1) * sh + (d->kh - 1) * d->dil_h + 1;
    const int64_t shift_max = (d->kw - 1) * d->dil_w / sw;
    const int64_t ow16 = (d->ow + 15) / 16 * 16;
    int64_t rs = ow16 + shift_max + 1, need = (pw + sw - 1) / sw;
    if (need > rs) rs = need;
    pp->rows = ph;
    pp->rs = rs;
    pp->ps = ph * rs;
    if (sw * pp->ps > DW_PAD_MAX) return false;
    pp->nrow = ph - d->pad_t < d->h ? ph - d->pad_t : d->h;
    pp->ncol = pw - d->pad_l < d->w ? pw - d->pad_l : d->w;
    if (pp->nrow < 0) pp->nrow = 0;
    if (pp->ncol < 0) pp->ncol = 0;
    for (int64_t ki = 0; ki < d->kh; ki++)
        for (int64_t kj = 0; kj < d->kw; kj++) {
            const int64_t cx = kj * d->dil_w;
            pp->tap[ki * d->kw + kj] = (cx % sw) * pp->ps + ki * d->dil_h * rs + cx / sw;
        }
    for (int64_t q = 0; q < sw; q++) { /* phase q holds padded columns pc = c' * sw + q */
        const int64_t ix0 = ((q - d->pad_l) % sw + sw) % sw;
        pp->ix0[q] = ix0;
        pp->dst0[q] = q * pp->ps + (ix0 + d->pad_l) / sw;
        pp->cnt[q] = ix0 < pp->ncol ? (pp->ncol - ix0 + sw - 1) / sw : 0;
    }
    return true;
}

static void dw_pad_fill(const kn_conv2d_desc *d, const dw_pad *pp, const float *restrict x, float *restrict buf)
{
    const int64_t sw = d->stride_w, w = d->w;
    for (int64_t iy = 0; iy < pp->nrow; iy++) {
        const float *restrict src = x + iy * w;
        float *restrict dst = buf + (iy + d->pad_t) * pp->rs;
        if (sw == 1) memcpy(dst + d->pad_l, src, sizeof(float) * (size_t)pp->ncol);
        else
            for (int64_t q = 0; q < sw; q++) {
                float *restrict dq = dst + pp->dst0[q];
                const float *restrict sq = src + pp->ix0[q];
                const int64_t cnt = pp->cnt[q];
                if (sw == 2) { /* even lanes of 32 loaded columns, two permutes per 16 outputs */
                    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
                    const int64_t avail = pp->ncol - pp->ix0[q];
                    for (int64_t j0 = 0; j0 < cnt; j0 += 16) {
                        const int64_t r = avail - 2 * j0, ra = r < 16 ? r : 16, rb = r - 16 < 0 ? 0 : (r - 16 < 16 ? r - 16 : 16);
                        const __mmask16 ma = (__mmask16)(ra >= 16 ? 0xFFFFu : (1u << ra) - 1u);
                        const __mmask16 mb = (__mmask16)(rb >= 16 ? 0xFFFFu : (1u << rb) - 1u);
                        const int64_t nj = cnt - j0 < 16 ? cnt - j0 : 16;
                        const __m512 a = _mm512_maskz_loadu_ps(ma, sq + 2 * j0), b = _mm512_maskz_loadu_ps(mb, sq + 2 * j0 + 16);
                        _mm512_mask_storeu_ps(dq + j0, (__mmask16)(nj >= 16 ? 0xFFFFu : (1u << nj) - 1u),
                                              _mm512_permutex2var_ps(a, ev, b));
                    }
                } else
                    for (int64_t j = 0; j < cnt; j++) dq[j] = sq[j * sw];
            }
    }
}

/* One output plane from the padded buffer; bias, residual and ReLU/Clip applied in
 * registers (act_in_reg), else the caller runs the epilogue over the plane. */
static inline __attribute__((always_inline)) void dw_pad_plane(const kn_conv2d_desc *d, const dw_pad *pp,
                                                                const float *restrict buf, const float *restrict w,
                                                                float *restrict y, const int64_t kk, float bias,
                                                                const float *restrict res, int act, float lo, float hi)
{
    const int64_t oh = d->oh, ow = d->ow, rstep = d->stride_h * pp->rs;
    __m512 wv[64];
    for (int64_t t = 0; t < kk; t++) wv[t] = _mm512_set1_ps(w[t]);
    const __m512 bv = _mm512_set1_ps(bias), lov = _mm512_set1_ps(lo), hiv = _mm512_set1_ps(hi);
    /* four output rows at a time: four independent FMA chains (one chain of kk dependent
     * FMAs per vector waited on the FMA latency: dwsep's 16-channel stride-2 layer, batch
     * 64, 2 threads, /tmp harness of 2026-11-27 15:45: 151 us with one row at a time) */
    int64_t oy = 0;
    for (; oy + 4 <= oh; oy += 4)
        for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
            const float *b0 = buf + oy * rstep + ox0;
            __m512 a0 = _mm512_mul_ps(wv[0], _mm512_loadu_ps(b0 + pp->tap[0]));
            __m512 a1 = _mm512_mul_ps(wv[0], _mm512_loadu_ps(b0 + rstep + pp->tap[0]));
            __m512 a2 = _mm512_mul_ps(wv[0], _mm512_loadu_ps(b0 + 2 * rstep + pp->tap[0]));
            __m512 a3 = _mm512_mul_ps(wv[0], _mm512_loadu_ps(b0 + 3 * rstep + pp->tap[0]));
            for (int64_t t = 1; t < kk; t++) {
                const float *bt = b0 + pp->tap[t];
                a0 = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(bt), a0);
                a1 = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(bt + rstep), a1);
                a2 = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(bt + 2 * rstep), a2);
                a3 = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(bt + 3 * rstep), a3);
            }
            const int64_t nl = ow - ox0 < 16 ? ow - ox0 : 16;
            const __mmask16 m = (__mmask16)(nl == 16 ? 0xFFFFu : (1u << nl) - 1u);
            __m512 acc[4] = {a0, a1, a2, a3};
            for (int r = 0; r < 4; r++) {
                if (act >= 0) {
                    acc[r] = _mm512_add_ps(acc[r], bv);
                    if (res) acc[r] = _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(m, res + (oy + r) * ow + ox0));
                    acc[r] = act_vec(acc[r], (kn_act)act, lov, hiv);
                }
                _mm512_mask_storeu_ps(y + (oy + r) * ow + ox0, m, acc[r]);
            }
        }
    for (; oy < oh; oy++) {
        const float *row = buf + oy * rstep;
        float *out = y + oy * ow;
        for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
            const float *b0 = row + ox0;
            __m512 acc = _mm512_mul_ps(wv[0], _mm512_loadu_ps(b0 + pp->tap[0]));
            for (int64_t t = 1; t < kk; t++) acc = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(b0 + pp->tap[t]), acc);
            const int64_t nl = ow - ox0 < 16 ? ow - ox0 : 16;
            const __mmask16 m = (__mmask16)(nl == 16 ? 0xFFFFu : (1u << nl) - 1u);
            if (act >= 0) {
                acc = _mm512_add_ps(acc, bv);
                if (res) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, res + oy * ow + ox0));
                acc = act_vec(acc, (kn_act)act, lov, hiv);
            }
            _mm512_mask_storeu_ps(out + ox0, m, acc);
        }
    }
}
#endif

/* gx plane += adjoint of dw_plane_fwd applied to gy */
static void dw_plane_bwd_data(const kn_conv2d_desc *d, const float *restrict gy, const float *restrict w, float *restrict gx)
{
    const int64_t h = d->h, wd = d->w, oh = d->oh, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *restrict g = gy + oy * ow;
        for (int64_t ki = 0; ki < d->kh; ki++) {
            const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
            if (iy < 0 || iy >= h) continue;
            float *restrict dst = gx + iy * wd;
            for (int64_t kj = 0; kj < d->kw; kj++) {
                const int64_t off = kj * d->dil_w - d->pad_l;
                int64_t lo, hi;
                valid_range(off, sw, wd, ow, &lo, &hi);
                const float wv = w[ki * d->kw + kj];
                if (sw == 1) {
                    float *restrict t = dst + off;
                    #pragma omp simd
                    for (int64_t ox = lo; ox < hi; ox++) t[ox] += wv * g[ox];
                } else {
                    for (int64_t ox = lo; ox < hi; ox++) dst[ox * sw + off] += wv * g[ox];
                }
            }
        }
    }
}

/* gw[kh*kw] += correlation of the input plane with gy */
static void dw_plane_bwd_filter(const kn_conv2d_desc *d, const float *restrict x, const float *restrict gy, float *restrict gw)
{
    const int64_t h = d->h, wd = d->w, oh = d->oh, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
    for (int64_t ki = 0; ki < d->kh; ki++)
        for (int64_t kj = 0; kj < d->kw; kj++) {
            const int64_t off = kj * d->dil_w - d->pad_l;
            int64_t lo, hi;
            valid_range(off, sw, wd, ow, &lo, &hi);
            float s = 0.0f;
            for (int64_t oy = 0; oy < oh; oy++) {
                const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
                if (iy < 0 || iy >= h) continue;
                const float *restrict src = x + iy * wd;
                const float *restrict g = gy + oy * ow;
                if (sw == 1) {
                    const float *restrict t = src + off;
                    #pragma omp simd reduction(+ : s)
                    for (int64_t ox = lo; ox < hi; ox++) s += g[ox] * t[ox];
                } else {
                    for (int64_t ox = lo; ox < hi; ox++) s += g[ox] * src[ox * sw + off];
                }
            }
            gw[ki * d->kw + kj] += s;
        }
}

/* The epilogue of output plane t (channel o, p pixels) when a kernel did not apply it. */
static void plane_epilogue(const kn_epilogue *ep, int64_t o, int64_t t, int64_t p, float *yp)
{
    kn_epilogue e = *ep;
    e.bias_per_row = true;
    if (e.bias) e.bias += o;
    if (e.residual) e.residual += t * p;
    kn_cpu_epilogue(1, p, yp, p, &e);
}

/* Parallelise planes only when there is enough work to pay for the fork. */
static bool dw_par(const kn_conv2d_desc *d, const geom *g)
{
    return conv_threads() > 1 && d->n * d->oc > 1 && d->n * d->oc * g->p * d->kh * d->kw > 65536;
}

#if defined(__AVX512F__)
/* Depthwise 3x3, stride 2, rows of at most 32 inputs (MobileNet's downsampling layers at
 * MNIST sizes): each input row is loaded as two vectors and split into its even and odd
 * columns with two permutes; the three taps of a row are those, shifted by a lane where
 * the padding asks. No padded copy of the plane (the phase-split copy of dw_pad_fill
 * cost more than the arithmetic here: dwsep's 16-channel layer at batch 64, 2 threads,
 * /tmp harness of 2026-11-27 15:50: 125-155 us through dw_pad_plane or dwc_fwd, 93 us
 * here). Rows of 12 to 16 outputs: narrower ones leave too many lanes idle, and dwc_fwd
 * wins (the 32-channel 14x14 -> 7x7 layer: 70 us there, 92 us here). */
static bool dw_s2_ok(const kn_conv2d_desc *d, const geom *g)
{
    return is_depthwise(d, g) && d->oc == d->c && d->kh == 3 && d->kw == 3 && d->stride_h == 2 &&
           d->stride_w == 2 && d->dil_h == 1 && d->dil_w == 1 && d->w <= 32 && d->ow <= 16 && d->ow >= 12 && d->pad_t >= 0 &&
           d->pad_l >= 0 && d->pad_l <= 2;
}

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* v shifted by s lanes (out[i] = v[i + s]), zero where i + s leaves [0, 16). */
static inline __m512 lane_shift(__m512 v, int s)
{
    if (s == 0) return v;
    const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                         _mm512_set1_epi32(s));
    const __mmask16 ok = _mm512_cmp_epi32_mask(idx, _mm512_setzero_si512(), _MM_CMPINT_NLT) &
                         _mm512_cmp_epi32_mask(idx, _mm512_set1_epi32(16), _MM_CMPINT_LT);
    return _mm512_maskz_permutexvar_ps(ok, idx, v);
}

static inline __attribute__((always_inline)) void dw_s2_plane(const kn_conv2d_desc *d, const float *restrict x,
                                                                const float *restrict w, float *restrict y, float bias,
                                                                const float *restrict res, int act, float lo, float hi,
                                                                const int PL)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __mmask16 m0 = lanes(d->w), m1 = d->w > 16 ? lanes(d->w - 16) : 0, mo = lanes(d->ow);
    const __m512 bv = _mm512_set1_ps(bias), lov = _mm512_set1_ps(lo), hiv = _mm512_set1_ps(hi);
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int64_t oy = 0; oy < d->oh; oy++) {
        __m512 acc = _mm512_setzero_ps();
        for (int ki = 0; ki < 3; ki++) {
            const int64_t iy = 2 * oy - d->pad_t + ki;
            if (iy < 0 || iy >= d->h) continue;
            const float *row = x + iy * d->w;
            const __m512 a = _mm512_maskz_loadu_ps(m0, row), b = _mm512_maskz_loadu_ps(m1, row + 16);
            const __m512 e = _mm512_permutex2var_ps(a, ev, b), o = _mm512_permutex2var_ps(a, od, b);
            for (int kj = 0; kj < 3; kj++) { /* input column 2 * ox + q */
                const int q = kj - PL; /* PL: pad_l, a constant here, so are the shifts */
                const __m512 v = (q & 1) ? lane_shift(o, (q - 1) / 2) : lane_shift(e, q / 2);
                acc = _mm512_fmadd_ps(wv[ki * 3 + kj], v, acc);
            }
        }
        if (act >= 0) {
            acc = _mm512_add_ps(acc, bv);
            if (res) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mo, res + oy * d->ow));
            acc = act_vec(acc, (kn_act)act, lov, hiv);
        }
        _mm512_mask_storeu_ps(y + oy * d->ow, mo, acc);
    }
}

/* Rows of at most 16 inputs and 8 outputs: two output rows per vector (lanes 0-7 row oy,
 * 8-15 row oy + 1), built from two input rows per tap row with one permute each for the
 * even and the odd columns; taps shift within each half. (dwsep's 32-channel 14x14 ->
 * 7x7 layer at batch 64, 2 threads: 92 us with one 7-wide row per vector, /tmp harness of
 * 2026-11-27 16:00.) */
static bool dw_s2_pair_ok(const kn_conv2d_desc *d, const geom *g)
{
    return is_depthwise(d, g) && d->oc == d->c && d->kh == 3 && d->kw == 3 && d->stride_h == 2 &&
           d->stride_w == 2 && d->dil_h == 1 && d->dil_w == 1 && d->w <= 16 && d->ow <= 8 && d->pad_t >= 0 &&
           d->pad_l >= 0 && d->pad_l <= 2;
}

/* out[i] = v[i + s] within each 8-lane half, zero where i + s leaves the half. */
static inline __m512 half_shift(__m512 v, int s)
{
    if (s == 0) return v;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i in_half = _mm512_add_epi32(_mm512_and_epi32(lane, _mm512_set1_epi32(7)), _mm512_set1_epi32(s));
    const __mmask16 ok = _mm512_cmp_epi32_mask(in_half, _mm512_setzero_si512(), _MM_CMPINT_NLT) &
                         _mm512_cmp_epi32_mask(in_half, _mm512_set1_epi32(8), _MM_CMPINT_LT);
    return _mm512_maskz_permutexvar_ps(ok, _mm512_add_epi32(lane, _mm512_set1_epi32(s)), v);
}

static inline __attribute__((always_inline)) void dw_s2_pair_plane(const kn_conv2d_desc *d, const float *restrict x,
                                                                     const float *restrict w, float *restrict y,
                                                                     float bias, const float *restrict res, int act,
                                                                     float lo, float hi, const int PL)
{
    /* lanes 0-7: even (odd) columns of the first row, 8-15: of the second (index 16 + col) */
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __mmask16 mw = lanes(d->w), row = lanes(d->ow);
    const __m512 bv = _mm512_set1_ps(bias), lov = _mm512_set1_ps(lo), hiv = _mm512_set1_ps(hi);
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int64_t oy = 0; oy < d->oh; oy += 2) {
        const __mmask16 out = (__mmask16)(row | (oy + 1 < d->oh ? row << 8 : 0));
        __m512 acc = _mm512_setzero_ps();
        for (int ki = 0; ki < 3; ki++) {
            const int64_t ia = 2 * oy - d->pad_t + ki, ib = ia + 2;
            const __m512 a = ia >= 0 && ia < d->h ? _mm512_maskz_loadu_ps(mw, x + ia * d->w) : _mm512_setzero_ps();
            const __m512 b = ib >= 0 && ib < d->h && oy + 1 < d->oh ? _mm512_maskz_loadu_ps(mw, x + ib * d->w)
                                                                       : _mm512_setzero_ps();
            const __m512 e = _mm512_permutex2var_ps(a, ev, b), o = _mm512_permutex2var_ps(a, od, b);
            for (int kj = 0; kj < 3; kj++) { /* input column 2 * ox + q */
                const int q = kj - PL; /* PL: pad_l, a constant here, so are the shifts */
                acc = _mm512_fmadd_ps(wv[ki * 3 + kj], (q & 1) ? half_shift(o, (q - 1) / 2) : half_shift(e, q / 2), acc);
            }
        }
        if (act >= 0) {
            acc = _mm512_add_ps(acc, bv);
            if (res) acc = _mm512_add_ps(acc, _mm512_maskz_expandloadu_ps(out, res + oy * d->ow));
            acc = act_vec(acc, (kn_act)act, lov, hiv);
        }
        _mm512_mask_compressstoreu_ps(y + oy * d->ow, out, acc); /* the two rows, back to back */
    }
}

/* The plane kernels specialised on the left pad (0, 1 or 2): the taps' lane shifts
 * become constants, their index vectors and masks hoisted out of the loops (dwsep's
 * depthwise layers at batch 64, 2 threads, /tmp harness of 2026-11-27 16:30: 94 -> 46 us
 * and 58 -> 37 us against the pad read at run time). */
static void dw_s2_plane_any(const kn_conv2d_desc *d, bool pair, const float *x, const float *w, float *y, float bias,
                            const float *res, int act, float lo, float hi)
{
    switch ((int)d->pad_l * 2 + pair) {
    case 0: dw_s2_plane(d, x, w, y, bias, res, act, lo, hi, 0); break;
    case 1: dw_s2_pair_plane(d, x, w, y, bias, res, act, lo, hi, 0); break;
    case 2: dw_s2_plane(d, x, w, y, bias, res, act, lo, hi, 1); break;
    case 3: dw_s2_pair_plane(d, x, w, y, bias, res, act, lo, hi, 1); break;
    case 4: dw_s2_plane(d, x, w, y, bias, res, act, lo, hi, 2); break;
    default: dw_s2_pair_plane(d, x, w, y, bias, res, act, lo, hi, 2); break;
    }
}

static kn_status dw_s2_fwd(const kn_conv2d_desc *d, const geom *g, const float *x, const float *w, float *y,
                           const kn_epilogue *ep)
{
    const bool pair = dw_s2_pair_ok(d, g);
    const bool in_reg = act_in_registers(ep);
    const int act = in_reg ? (int)ep->act : -1;
    const float lo = ep ? ep->alpha : 0.0f, hi = ep ? ep->beta : 0.0f;
    const int64_t c = d->c, p = g->p, hw = g->hw;
    KN_OMP_FOR_IF(dw_par(d, g), schedule(static),
    for (int64_t t = 0; t < d->n * c; t++) {
        const int64_t o = t % c;
        float *yp = y + t * p;
        const float b = in_reg && ep->bias ? ep->bias[o] : 0.0f, *r = in_reg && ep->residual ? ep->residual + t * p : NULL;
        dw_s2_plane_any(d, pair, x + t * hw, w + o * 9, yp, b, r, act, lo, hi);
        if (ep && !in_reg) plane_epilogue(ep, o, t, p, yp);
    });
    return KN_OK;
}

/* Depthwise over 16 channels at once, for planes too narrow to fill a vector per row
 * (dwsep's 14- and 7-wide outputs left 5/16 to 9/16 of the lanes of the per-plane kernel
 * idle, and a plane of 49 outputs was mostly loop overhead). Per image and block of 16
 * channels: the padded input planes are transposed into pixel-major [row][col][16]
 * (16x16 register transposes), every output pixel is then kh*kw full-width FMAs, and the
 * [pixel][16] result is transposed back into the channel planes. */
#define DWC_MAX 24576 /* floats of per-thread stack scratch (96 KiB) */


typedef struct dwc_geom { int64_t ph, pw, nrow, ncol; } dwc_geom;

static bool dwc_plan(const kn_conv2d_desc *d, const geom *g, dwc_geom *q)
{
    if (!is_depthwise(d, g) || d->oc != d->c || d->ow >= 16 || d->pad_t < 0 || d->pad_l < 0 || d->kh * d->kw > 64)
        return false;
    q->ph = (d->oh - 1) * d->stride_h + (d->kh - 1) * d->dil_h + 1;
    q->pw = (d->ow - 1) * d->stride_w + (d->kw - 1) * d->dil_w + 1;
    q->nrow = q->ph - d->pad_t < d->h ? q->ph - d->pad_t : d->h;
    q->ncol = q->pw - d->pad_l < d->w ? q->pw - d->pad_l : d->w;
    if (q->nrow < 0) q->nrow = 0;
    if (q->ncol < 0) q->ncol = 0;
    return 16 * (q->ph * q->pw + g->p) + 16 * d->kh * d->kw <= DWC_MAX;
}

static kn_status dwc_fwd(const kn_conv2d_desc *d, const geom *g, const dwc_geom *q, const float *x, const float *w,
                         float *y, const kn_epilogue *ep)
{
    const int64_t c = d->c, p = g->p, hw = g->hw, kk = d->kh * d->kw, nblk = (c + 15) / 16;
    const bool in_reg = act_in_registers(ep) && !ep->residual;
#pragma omp parallel if (conv_threads() > 1 && d->n * nblk > 1 && d->n * c * p * kk > 65536)
    {
        float buf[DWC_MAX] __attribute__((aligned(64)));
        float *pad = buf, *out = buf + 16 * q->ph * q->pw, *wt = out + 16 * p;
        memset(pad, 0, sizeof(float) * (size_t)(16 * q->ph * q->pw)); /* borders stay zero */
#pragma omp for schedule(static)
        for (int64_t t = 0; t < d->n * nblk; t++) {
            const int64_t i = t / nblk, c0 = (t % nblk) * 16, nc = c - c0 < 16 ? c - c0 : 16;
            /* weights and bias of the block, channel-minor */
            for (int64_t k = 0; k < kk; k++)
                for (int64_t ch = 0; ch < 16; ch++) wt[k * 16 + ch] = ch < nc ? w[(c0 + ch) * kk + k] : 0.0f;
            __m512 bias = _mm512_setzero_ps();
            if (in_reg && ep->bias) bias = _mm512_maskz_loadu_ps(lanes(nc), ep->bias + c0);
            /* planes -> [row][col][16] */
            const float *xi = x + (i * c + c0) * hw;
            for (int64_t iy = 0; iy < q->nrow; iy++)
                for (int64_t ix0 = 0; ix0 < q->ncol; ix0 += 16) {
                    const int64_t nx = q->ncol - ix0 < 16 ? q->ncol - ix0 : 16;
                    __m512 r[16];
                    for (int64_t ch = 0; ch < 16; ch++)
                        r[ch] = ch < nc ? _mm512_maskz_loadu_ps(lanes(nx), xi + ch * hw + iy * d->w + ix0) : _mm512_setzero_ps();
                    tr16x16(r);
                    float *dst = pad + ((iy + d->pad_t) * q->pw + ix0 + d->pad_l) * 16;
                    for (int64_t j = 0; j < nx; j++) _mm512_store_ps(dst + j * 16, r[j]);
                }
            /* every output pixel: kk full-width FMAs */
            for (int64_t oy = 0; oy < d->oh; oy++)
                for (int64_t ox = 0; ox < d->ow; ox++) {
                    __m512 acc = bias;
                    const float *base = pad + ((oy * d->stride_h) * q->pw + ox * d->stride_w) * 16;
                    for (int64_t ki = 0; ki < d->kh; ki++)
                        for (int64_t kj = 0; kj < d->kw; kj++)
                            acc = _mm512_fmadd_ps(_mm512_load_ps(wt + (ki * d->kw + kj) * 16),
                                                  _mm512_load_ps(base + (ki * d->dil_h * q->pw + kj * d->dil_w) * 16), acc);
                    if (in_reg) acc = act_vec(acc, ep->act, _mm512_set1_ps(ep->alpha), _mm512_set1_ps(ep->beta));
                    _mm512_store_ps(out + (oy * d->ow + ox) * 16, acc);
                }
            /* [pixel][16] -> planes */
            float *yi = y + (i * c + c0) * p;
            for (int64_t p0 = 0; p0 < p; p0 += 16) {
                const int64_t np = p - p0 < 16 ? p - p0 : 16;
                __m512 r[16];
                for (int64_t j = 0; j < 16; j++) r[j] = j < np ? _mm512_load_ps(out + (p0 + j) * 16) : _mm512_setzero_ps();
                tr16x16(r);
                for (int64_t ch = 0; ch < nc; ch++) _mm512_mask_storeu_ps(yi + ch * p + p0, lanes(np), r[ch]);
            }
            if (ep && !in_reg)
                for (int64_t ch = 0; ch < nc; ch++) {
                    kn_epilogue e = *ep;
                    e.bias_per_row = true;
                    if (e.bias) e.bias += c0 + ch;
                    if (e.residual) e.residual += (i * c + c0 + ch) * p;
                    kn_cpu_epilogue(1, p, yi + ch * p, p, &e);
                }
        }
    }
    return KN_OK;
}
#endif

static kn_status dw_fwd(const kn_conv2d_desc *d, const geom *g, const float *x, const float *w, float *y,
                        const kn_epilogue *ep)
{
    const int64_t c = d->c, oc = d->oc, mult = oc / c, p = g->p, hw = g->hw, kk = d->kh * d->kw;
#if defined(__AVX512F__)
    if (dw_s2_ok(d, g) || dw_s2_pair_ok(d, g)) return dw_s2_fwd(d, g, x, w, y, ep);
    dwc_geom dq;
    if (dwc_plan(d, g, &dq)) return dwc_fwd(d, g, &dq, x, w, y, ep);
    dw_pad pp;
    if (dw_pad_plan(d, &pp)) {
        /* bias, residual and ReLU/Clip in registers; other activations after the plane */
        const bool in_reg = act_in_registers(ep);
        const int act = in_reg ? (int)ep->act : -1;
        const float lo = ep ? ep->alpha : 0.0f, hi = ep ? ep->beta : 0.0f;
#pragma omp parallel if (dw_par(d, g))
        {
            float buf[DW_PAD_MAX] __attribute__((aligned(64)));
            memset(buf, 0, sizeof(float) * (size_t)(d->stride_w * pp.ps));
            int64_t filled = -1; /* input plane now in buf */
#pragma omp for schedule(static)
            for (int64_t t = 0; t < d->n * oc; t++) {
                const int64_t i = t / oc, o = t % oc;
                float *yp = y + t * p;
                const float *wp = w + o * kk;
                const int64_t plane = i * c + o / mult; /* consecutive channels share it when mult > 1 */
                if (plane != filled) dw_pad_fill(d, &pp, x + plane * hw, buf);
                filled = plane;
                const float bias = in_reg && ep->bias ? ep->bias[o] : 0.0f;
                const float *res = in_reg && ep->residual ? ep->residual + t * p : NULL;
                if (kk == 9) dw_pad_plane(d, &pp, buf, wp, yp, 9, bias, res, act, lo, hi);
                else dw_pad_plane(d, &pp, buf, wp, yp, kk, bias, res, act, lo, hi);
                if (ep && !in_reg) plane_epilogue(ep, o, t, p, yp);
            }
        }
        return KN_OK;
    }
#endif
    KN_OMP_FOR_IF(dw_par(d, g), schedule(static),
    for (int64_t t = 0; t < d->n * oc; t++) {
        const int64_t i = t / oc, o = t % oc;
        float *yp = y + t * p;
        dw_plane_fwd(d, x + (i * c + o / mult) * hw, w + o * kk, yp);
        if (ep) plane_epilogue(ep, o, t, p, yp);
    });
    return KN_OK;
}

static kn_status dw_bwd_data(const kn_conv2d_desc *d, const geom *g, const float *w, const float *gy, float *gx)
{
    const int64_t c = d->c, oc = d->oc, mult = oc / c, p = g->p, hw = g->hw, kk = d->kh * d->kw;
    /* one input plane per iteration, summing its mult output channels: no write races */
    KN_OMP_FOR_IF(dw_par(d, g), schedule(static),
    for (int64_t t = 0; t < d->n * c; t++) {
        const int64_t i = t / c, ci = t % c;
        for (int64_t m = 0; m < mult; m++) {
            const int64_t o = ci * mult + m;
            dw_plane_bwd_data(d, gy + (i * oc + o) * p, w + o * kk, gx + t * hw);
        }
    });
    return KN_OK;
}

static kn_status dw_bwd_filter(const kn_conv2d_desc *d, const geom *g, const float *x, const float *gy, float *gw,
                               float *gb)
{
    const int64_t c = d->c, oc = d->oc, mult = oc / c, p = g->p, hw = g->hw, kk = d->kh * d->kw;
    /* one output channel per iteration, images summed in order: deterministic */
#pragma omp parallel for schedule(static) if (dw_par(d, g))
    for (int64_t o = 0; o < oc; o++) {
        for (int64_t i = 0; i < d->n; i++) {
            const float *gyp = gy + (i * oc + o) * p;
            dw_plane_bwd_filter(d, x + (i * c + o / mult) * hw, gyp, gw + o * kk);
            if (gb) {
                float s = 0.0f;
                #pragma omp simd reduction(+ : s)
                for (int64_t j = 0; j < p; j++) s += gyp[j];
                gb[o] += s;
            }
        }
    }
    return KN_OK;
}

/* ---- tiny-M direct kernels (LeNet conv1: 1 -> 6 channels, 5x5, pad 2, 28x28) ----
 * With a handful of output channels the GEMM is a few rows deep, so im2col (written
 * once in forward and again for the weight gradient) plus a badly shaped GEMM costs more
 * than the arithmetic. Here each image is copied once into a zero-padded plane (rows rs
 * = 32 + kw floats apart), every output row is at most two 16-lane vectors, and every
 * tap is an unmasked load of the padded plane: forward keeps all output channels of a
 * row in registers, the weight gradient keeps (3 channels x kw taps) vector partial sums
 * in registers per (input channel, kernel row), summed across the thread's images and
 * reduced once. Lanes past ow read finite padding and are masked off (forward store) or
 * multiplied by zero gradients (weight gradient). AVX-512 only; elsewhere im2col runs. */
#if defined(__AVX512F__)
#define TM_PAD_MAX 16384 /* floats of padded planes per thread (64 KiB of stack) */
#define TM_ACC_MAX 256   /* oc * c * kh * kw vector accumulators (16 KiB of stack) */

static bool is_tiny(const kn_conv2d_desc *d, const geom *g)
{
    if (g->direct || d->group != 1 || d->oc > 8 || d->stride_h != 1 || d->stride_w != 1 || d->dil_h != 1 ||
        d->dil_w != 1 || d->ow > 32 || d->pad_t < 0 || d->pad_l < 0 || d->oc * g->k > TM_ACC_MAX)
        return false;
    if (d->kw != 3 && d->kw != 5 && d->kw != 7) return false;
    return d->c * (d->oh + d->kh - 1) * (32 + d->kw) <= TM_PAD_MAX;
}

/* Padded planes of one image into buf (c planes of ph rows, rs floats apart). Cells
 * outside the copied window are never written, so buf is zeroed once per thread. */
static void tm_pad(const kn_conv2d_desc *d, const float *restrict x, float *restrict buf, int64_t ph, int64_t rs)
{
    int64_t nrow = ph - d->pad_t < d->h ? ph - d->pad_t : d->h;
    int64_t ncol = d->ow + d->kw - 1 - d->pad_l < d->w ? d->ow + d->kw - 1 - d->pad_l : d->w;
    if (nrow < 0) nrow = 0;
    if (ncol < 0) ncol = 0;
    for (int64_t ci = 0; ci < d->c; ci++)
        for (int64_t iy = 0; iy < nrow; iy++)
            copy_row(buf + (ci * ph + iy + d->pad_t) * rs + d->pad_l, x + (ci * d->h + iy) * d->w, ncol);
}

/* An epilogue the direct kernel applies in registers: bias and residual (this block's
 * channels), then ReLU or Clip (lo, hi), or neither (act KN_ACT_NONE). */
typedef struct tm_act { const float *bias, *residual; kn_act act; float lo, hi; } tm_act;

/* Direct forward: OC output channels (<= 8) of one image from its padded planes, NV
 * vectors of 16 output pixels per row (ow <= 16 * NV), all accumulated in registers:
 * per tap, NV loads and OC weight broadcasts feed OC * NV FMAs. */
static inline __attribute__((always_inline)) void tm_fwd_img(const kn_conv2d_desc *d, int64_t k, const float *xp,
                                                             int64_t ph, int64_t rs, const int64_t *off,
                                                             const float *w, float *y, const tm_act *ea,
                                                             const int OC, const int NV, const int KW)
{
    const int64_t ow = d->ow, p = d->oh * ow, kh = d->kh, kw = KW, sh = d->stride_h;
    const __mmask16 m0 = ow >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ow) - 1u);
    const __mmask16 m1 = ow > 16 ? (__mmask16)((1u << (ow - 16)) - 1u) : (__mmask16)0;
    for (int64_t oy = 0; oy < d->oh; oy++) {
        __m512 a0[8], a1[8];
        #pragma GCC unroll 8
        for (int o = 0; o < OC; o++) a0[o] = a1[o] = _mm512_setzero_ps();
        for (int64_t ci = 0; ci < d->c; ci++)
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *r = xp + (ci * ph + oy * sh + ki) * rs, *wr = w + (ci * kh + ki) * kw;
                #pragma GCC unroll 7
                for (int64_t kj = 0; kj < kw; kj++) {
                    const __m512 v0 = _mm512_loadu_ps(r + off[kj]);
                    const __m512 v1 = NV > 1 ? _mm512_loadu_ps(r + off[kj] + 16) : v0;
                    #pragma GCC unroll 8
                    for (int o = 0; o < OC; o++) {
                        const __m512 wv = _mm512_set1_ps(wr[o * k + kj]);
                        a0[o] = _mm512_fmadd_ps(wv, v0, a0[o]);
                        if (NV > 1) a1[o] = _mm512_fmadd_ps(wv, v1, a1[o]);
                    }
                }
            }
        #pragma GCC unroll 8
        for (int o = 0; o < OC; o++) {
            if (ea) { /* bias, residual and ReLU/Clip on the way out: no second pass */
                const __m512 b = _mm512_set1_ps(ea->bias ? ea->bias[o] : 0.0f);
                a0[o] = _mm512_add_ps(a0[o], b);
                if (NV > 1) a1[o] = _mm512_add_ps(a1[o], b);
                if (ea->residual) {
                    const float *z = ea->residual + o * p + oy * ow;
                    a0[o] = _mm512_add_ps(a0[o], _mm512_maskz_loadu_ps(m0, z));
                    if (NV > 1 && m1) a1[o] = _mm512_add_ps(a1[o], _mm512_maskz_loadu_ps(m1, z + 16));
                }
                const __m512 lo = _mm512_set1_ps(ea->lo), hi = _mm512_set1_ps(ea->hi);
                a0[o] = act_vec(a0[o], ea->act, lo, hi);
                if (NV > 1) a1[o] = act_vec(a1[o], ea->act, lo, hi);
            }
            _mm512_mask_storeu_ps(y + o * p + oy * ow, m0, a0[o]);
            if (NV > 1 && m1) _mm512_mask_storeu_ps(y + o * p + oy * ow + 16, m1, a1[o]);
        }
    }
}

/* Output channels [o0, o0 + oc) of one padded image: the kernel specialised on the
 * block's channel count, vectors per row and kernel width (unrolled taps). */
#define TM_FWD_KW(OC, NV)                                                           \
    do {                                                                            \
        if (d->kw == 3) tm_fwd_img(d, k, xp, ph, rs, off, w, y, ea, OC, NV, 3);     \
        else if (d->kw == 5) tm_fwd_img(d, k, xp, ph, rs, off, w, y, ea, OC, NV, 5);\
        else tm_fwd_img(d, k, xp, ph, rs, off, w, y, ea, OC, NV, 7);                \
    } while (0)
static void tm_fwd_block(const kn_conv2d_desc *d, int64_t k, const float *xp, int64_t ph, int64_t rs,
                         const int64_t *off, const float *w, float *y, const tm_act *ea, int64_t oc)
{
    const bool two = d->ow > 16;
    switch (oc * 2 + two) {
    case 2: TM_FWD_KW(1, 1); break;
    case 3: TM_FWD_KW(1, 2); break;
    case 4: TM_FWD_KW(2, 1); break;
    case 5: TM_FWD_KW(2, 2); break;
    case 6: TM_FWD_KW(3, 1); break;
    case 7: TM_FWD_KW(3, 2); break;
    case 8: TM_FWD_KW(4, 1); break;
    case 9: TM_FWD_KW(4, 2); break;
    case 10: TM_FWD_KW(5, 1); break;
    case 11: TM_FWD_KW(5, 2); break;
    case 12: TM_FWD_KW(6, 1); break;
    case 13: TM_FWD_KW(6, 2); break;
    case 14: TM_FWD_KW(7, 1); break;
    case 15: TM_FWD_KW(7, 2); break;
    case 16: TM_FWD_KW(8, 1); break;
    default: TM_FWD_KW(8, 2); break;
    }
}
#undef TM_FWD_KW

/* The direct forward (any oc, in blocks of 8) applies to groups of 1, strides 1 or 2,
 * dilation 1, 3/5/7-wide kernels and rows of at most 32 outputs; above DIRECT_MAX_OC
 * output channels im2col + GEMM keeps OpenBLAS's larger blocks. */
#define DIRECT_MAX_OC 64
static bool tm_fwd_ok(const kn_conv2d_desc *d, const geom *g)
{
    /* KILN_CONV_DIRECT=0 sends everything through im2col + GEMM (bench/micro.c compares) */
    const char *env = getenv("KILN_CONV_DIRECT");
    if (env && !strcmp(env, "0")) return false;
    if (g->direct || d->group != 1 || d->oc > DIRECT_MAX_OC || (d->stride_h != 1 && d->stride_h != 2) ||
        (d->stride_w != 1 && d->stride_w != 2) || d->dil_h != 1 || d->dil_w != 1 || d->ow > 32 || d->pad_t < 0 ||
        d->pad_l < 0 || d->kh > 7 || (d->kw != 3 && d->kw != 5 && d->kw != 7))
        return false;
    /* Rows fill 16-lane vectors: with under 3/4 of the lanes busy (LeNet's conv2, 10-wide
     * rows, batch 1: 5.8 us direct against 5.3 us through im2col + GEMM, measured with a
     * development build before this rule; bench/micro.c now shows both paths equal there,
     * as the rule sends it to im2col) OpenBLAS wins once there are enough output channels;
     * up to 8 the direct kernel always does (conv1, 1->6). */
    const int64_t lanes = d->ow > 16 ? 32 : 16;
    return d->oc <= 8 || 4 * d->ow >= 3 * lanes;
}

/* Padded planes of the direct forward: ph rows of rs floats per channel. A row holds the
 * padded input columns one vector block (16 or 32 outputs) plus the kernel's reach needs;
 * with stride 2 it holds them phase-split, even columns then odd ones (`half` floats
 * each), so every tap of 16 strided outputs is one contiguous load. */
typedef struct tm_geom { int64_t ph, rs, half; } tm_geom;
static tm_geom tm_fwd_geom(const kn_conv2d_desc *d)
{
    const int64_t span = d->ow > 16 ? 32 : 16;
    tm_geom t = {.ph = (d->oh - 1) * d->stride_h + d->kh};
    if (d->stride_w == 1) {
        t.rs = span + d->kw;
    } else {
        t.half = span + (d->kw + 1) / 2;
        t.rs = 2 * t.half;
    }
    return t;
}

static int64_t tm_fwd_floats(const kn_conv2d_desc *d)
{
    const tm_geom t = tm_fwd_geom(d);
    return d->c * t.ph * t.rs;
}

/* The padded planes of one image for the direct forward (zeroed once per thread: cells
 * outside the copied window are never written). */
static void tm_fwd_pad(const kn_conv2d_desc *d, const tm_geom *t, const float *restrict x, float *restrict buf)
{
    if (d->stride_w == 1) {
        tm_pad(d, x, buf, t->ph, t->rs);
        return;
    }
    int64_t nrow = t->ph - d->pad_t < d->h ? t->ph - d->pad_t : d->h;
    int64_t ncol = (d->ow - 1) * 2 + d->kw - d->pad_l < d->w ? (d->ow - 1) * 2 + d->kw - d->pad_l : d->w;
    if (nrow < 0) nrow = 0;
    if (ncol < 0) ncol = 0;
    /* 32 source columns at a time: the even ones land in one phase, the odd ones in the
     * other (which is which depends on the left pad's parity) */
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const int64_t pe = d->pad_l & 1, po = pe ^ 1;
    for (int64_t ci = 0; ci < d->c; ci++)
        for (int64_t iy = 0; iy < nrow; iy++) {
            float *restrict row = buf + (ci * t->ph + iy + d->pad_t) * t->rs;
            const float *restrict src = x + (ci * d->h + iy) * d->w;
            for (int64_t ix = 0; ix < ncol; ix += 32) {
                const int64_t left = ncol - ix, n0 = left < 16 ? left : 16, n1 = left - 16 < 0 ? 0 : (left - 16 < 16 ? left - 16 : 16);
                const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)((1u << n0) - 1u), src + ix);
                const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)((1u << n1) - 1u), src + ix + 16);
                const int64_t cnt = n0 + n1, ne = (cnt + 1) / 2, no = cnt / 2;
                _mm512_mask_storeu_ps(row + pe * t->half + ((ix + d->pad_l) >> 1), (__mmask16)((1u << ne) - 1u),
                                      _mm512_permutex2var_ps(lo, even, hi));
                _mm512_mask_storeu_ps(row + po * t->half + ((ix + 1 + d->pad_l) >> 1), (__mmask16)((1u << no) - 1u),
                                      _mm512_permutex2var_ps(lo, odd, hi));
            }
        }
}

/* Thread t of T: its images (several), or its channel blocks of the one image. */
typedef struct tm_job {
    const kn_conv2d_desc *d;
    const geom *g;
    const float *x, *w;
    float *y;
    const kn_epilogue *ep;
    float *ws;
    int64_t ws_per_thread;
    const tm_geom *tg;
    const int64_t *off;
    kn_epilogue e;
    tm_act ea;
    bool in_reg, by_image;
} tm_job;

static void tm_fwd_part(const tm_job *j, int t, int T)
{
    const kn_conv2d_desc *d = j->d;
    const kn_epilogue *ep = j->ep;
    const int64_t n = d->n, c = d->c, oc = d->oc, p = j->g->p, hw = j->g->hw, nblk = (oc + 7) / 8;
    const int64_t ph = j->tg->ph, rs = j->tg->rs;
    const bool by_image = j->by_image, in_reg = j->in_reg;
    const int64_t i0 = by_image ? n * t / T : 0, i1 = by_image ? n * (t + 1) / T : n;
    const int64_t b0 = by_image ? 0 : nblk * t / T, b1 = by_image ? nblk : nblk * (t + 1) / T;
    float *buf = j->ws + t * j->ws_per_thread;
    if (i1 > i0 && b1 > b0) memset(buf, 0, sizeof(float) * (size_t)(c * ph * rs));
    for (int64_t i = i0; i < i1 && b1 > b0; i++) {
        tm_fwd_pad(d, j->tg, j->x + i * c * hw, buf);
        float *yi = j->y + i * oc * p;
        for (int64_t bl = b0; bl < b1; bl++) {
            const int64_t o0 = bl * 8, ob = oc - o0 < 8 ? oc - o0 : 8;
            tm_act eb = j->ea;
            if (in_reg && ep->bias) eb.bias = ep->bias + o0;
            if (in_reg && ep->residual) eb.residual = ep->residual + i * oc * p + o0 * p;
            tm_fwd_block(d, j->g->k, buf, ph, rs, j->off, j->w + o0 * j->g->k, yi + o0 * p, in_reg ? &eb : NULL, ob);
            if (ep && !in_reg) {
                kn_epilogue ei = j->e;
                if (ei.bias) ei.bias += o0;
                if (ei.residual) ei.residual += i * oc * p + o0 * p;
                kn_cpu_epilogue(ob, p, yi + o0 * p, p, &ei);
            }
        }
    }
}

static kn_status tm_fwd(const kn_conv2d_desc *d, const geom *g, const float *x, const float *w, float *y,
                        const kn_epilogue *ep, float *ws, int64_t ws_per_thread)
{
    const int64_t n = d->n, oc = d->oc, p = g->p, nblk = (oc + 7) / 8;
    const tm_geom tg = tm_fwd_geom(d);
    int64_t off[7]; /* where tap kj's 16 outputs start in a padded row */
    for (int64_t kj = 0; kj < d->kw; kj++) off[kj] = d->stride_w == 1 ? kj : (kj & 1) * tg.half + (kj >> 1);
    kn_epilogue e = {0};
    if (ep) e = *ep;
    e.bias_per_row = true;
    const bool in_reg = act_in_registers(ep);
    tm_act ea = {0};
    if (in_reg) {
        ea.act = ep->act;
        ea.lo = ep->alpha;
        ea.hi = ep->beta;
    }
    /* several images: one thread per image range; one image: threads split the channel
     * blocks, when there is enough work to pay for the fork (forking dwsep's 1->16 stem,
     * 113k multiply-adds, made the whole model at batch 1 take 35 us instead of 26) */
    const bool by_image = n > 1;
    const bool par = conv_threads() > 1 && (n > 1 || (nblk > 1 && oc * g->k * p >= (1 << 18)));
    const tm_job job = {d, g, x, w, y, ep, ws, ws_per_thread, &tg, off, e, ea, in_reg, by_image};
    /* a parallel region even with if (0) builds a one-thread team (see core/threads.h) */
    if (par) {
#pragma omp parallel
        tm_fwd_part(&job, conv_tid(), omp_get_num_threads());
    } else {
        tm_fwd_part(&job, 0, 1);
    }
    return KN_OK;
}

/* acc[o * k + kk * KW + kj] += gy[o] (x) padded row, for OB output channels and one
 * (input channel, kernel row) kk, over all output rows of one image. */
static inline __attribute__((always_inline)) void tm_gw_block(const float *xp, int64_t rs, const float *gy, int64_t p,
                                                              int64_t oh, int64_t ow, __m512 *acc, int64_t k,
                                                              const int OB, const int KW)
{
    const __mmask16 m0 = ow >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << ow) - 1u);
    const __mmask16 m1 = ow > 16 ? (__mmask16)((1u << (ow - 16)) - 1u) : (__mmask16)0;
    __m512 a[3][7];
    #pragma GCC unroll 8
    for (int o = 0; o < OB; o++)
        #pragma GCC unroll 8
        for (int kj = 0; kj < KW; kj++) a[o][kj] = acc[o * k + kj];
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r = xp + oy * rs;
        __m512 g0[3], g1[3];
        #pragma GCC unroll 8
        for (int o = 0; o < OB; o++) {
            g0[o] = _mm512_maskz_loadu_ps(m0, gy + o * p + oy * ow);
            g1[o] = _mm512_maskz_loadu_ps(m1, gy + o * p + oy * ow + 16);
        }
        #pragma GCC unroll 8
        for (int kj = 0; kj < KW; kj++) {
            const __m512 v0 = _mm512_loadu_ps(r + kj), v1 = _mm512_loadu_ps(r + kj + 16);
            #pragma GCC unroll 8
            for (int o = 0; o < OB; o++) a[o][kj] = _mm512_fmadd_ps(g1[o], v1, _mm512_fmadd_ps(g0[o], v0, a[o][kj]));
        }
    }
    #pragma GCC unroll 8
    for (int o = 0; o < OB; o++)
        #pragma GCC unroll 8
        for (int kj = 0; kj < KW; kj++) acc[o * k + kj] = a[o][kj];
}


/* gw[oc, k] (+ gb[oc]) += contribution of images [i0, i1). */
static void tm_filter_range(const kn_conv2d_desc *d, const geom *g, const float *x, const float *gy, int64_t i0,
                            int64_t i1, float *gw, float *gb)
{
    const int64_t c = d->c, oc = d->oc, k = g->k, p = g->p, hw = g->hw, kh = d->kh, kw = d->kw;
    const int64_t rs = 32 + kw, ph = d->oh + kh - 1;
    float buf[TM_PAD_MAX] __attribute__((aligned(64)));
    __m512 acc[TM_ACC_MAX];
    memset(buf, 0, sizeof(float) * (size_t)(c * ph * rs));
    for (int64_t j = 0; j < oc * k; j++) acc[j] = _mm512_setzero_ps();
    for (int64_t i = i0; i < i1; i++) {
        tm_pad(d, x + i * c * hw, buf, ph, rs);
        const float *gyi = gy + i * oc * p;
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xp = buf + (ci * ph + ki) * rs;
                const int64_t kk = (ci * kh + ki) * kw;
                for (int64_t o0 = 0; o0 < oc; o0 += 3) {
                    const int ob = oc - o0 < 3 ? (int)(oc - o0) : 3;
                    __m512 *a = acc + o0 * k + kk;
                    const float *gyo = gyi + o0 * p;
                    switch (kw * 4 + ob) {
                    case 13: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 1, 3); break;
                    case 14: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 2, 3); break;
                    case 15: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 3, 3); break;
                    case 21: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 1, 5); break;
                    case 22: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 2, 5); break;
                    case 23: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 3, 5); break;
                    case 29: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 1, 7); break;
                    case 30: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 2, 7); break;
                    default: tm_gw_block(xp, rs, gyo, p, d->oh, d->ow, a, k, 3, 7); break;
                    }
                }
            }
    }
    for (int64_t j = 0; j < oc * k; j++) gw[j] += _mm512_reduce_add_ps(acc[j]);
    if (gb) bias_grad_rows(gy, i0, i1, oc, p, gb);
}
#endif

/* Floats of column buffer per thread for one image; 0 on the direct path. */
static int64_t col_floats(const geom *g) { return g->direct ? 0 : g->k * g->p; }

/* Images per weight-gradient GEMM. One image's GEMM is tiny (LeNet conv2: 16x150, depth
 * 100); im2col of several images side by side makes one GEMM of depth nb*plane, with the
 * column block kept near 512 KiB so it stays in L2. */
static int64_t filter_batch(const kn_conv2d_desc *d, const geom *g)
{
    if (g->direct || g->k * g->p <= 0) return 1;
    int64_t nb = 131072 / (g->k * g->p);
    if (nb > 32) nb = 32;
    if (nb > d->n) nb = d->n;
    return nb < 1 ? 1 : nb;
}

/* Per-thread scratch floats: the forward/backward-data column buffer, or the batched
 * weight-gradient blocks (columns of nb images and their output gradients). */
static int64_t thread_floats(const kn_conv2d_desc *d, const geom *g)
{
    const int64_t nb = filter_batch(d, g), fb = nb > 1 ? nb * (g->k + g->ocg) * g->p : 0;
    int64_t f = col_floats(g) > fb ? col_floats(g) : fb;
#if defined(__AVX512F__)
    if (tm_fwd_ok(d, g) && tm_fwd_floats(d) > f) f = tm_fwd_floats(d);
#endif
    return (f + 15) / 16 * 16; /* whole cache lines: threads' blocks stay 64-byte aligned */
}

size_t kn_cpu_conv2d_workspace(const kn_conv2d_desc *d)
{
    geom g;
    if (check_desc(d, &g) != KN_OK) return 0;
    /* per thread: scratch, plus weight and bias gradient partials */
    int64_t per = thread_floats(d, &g) + d->oc * g.k + d->oc;
    const size_t own = sizeof(float) * (size_t)(per * conv_threads()) + 64, packed = kn_cpu_conv2d_packed_workspace(d);
    return own > packed ? own : packed; /* the same scratch serves conv2d_fwd_packed */
}

/* One image: threads split the output rows, each im2cols its rows into its own column
 * buffer and runs a single-threaded GEMM (OpenBLAS does not fork inside an active
 * parallel region) writing its slice of every output channel, then its epilogue slice.
 * Measured on resnet_small b1: OpenBLAS's own threading of the 16x144x784 GEMMs lost
 * to this on 2 threads. Below ~1M multiply-adds the fork is not worth it. */
static kn_status fwd_split_rows(const kn_conv2d_desc *d, const geom *g, const float *x, const float *w, float *y,
                                const kn_epilogue *ep, void *ws)
{
    const int64_t c = d->c, oc = d->oc, cg = g->cg, ocg = g->ocg, k = g->k, p = g->p, hw = g->hw, ow = d->ow;
    const int64_t ncol = thread_floats(d, g);
    float *cols = ws;
#pragma omp parallel
    {
        const int t = conv_tid(), T = omp_get_num_threads();
        const int64_t oy0 = d->oh * t / T, oy1 = d->oh * (t + 1) / T, j0 = oy0 * ow, nj = (oy1 - oy0) * ow;
        float *col = cols + t * ncol;
        if (nj > 0) {
            for (int64_t gi = 0; gi < d->group; gi++) {
                const float *xg = x + (gi * cg) * hw;
                const float *b = xg + j0;
                int64_t ldb = p;
                if (!g->direct) { im2col_rows(d, cg, xg, col, nj, oy0, oy1); b = col; ldb = nj; }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ocg, (int)nj, (int)k, 1.0f, w + gi * ocg * k,
                            (int)k, b, (int)ldb, 0.0f, y + gi * ocg * p + j0, (int)p);
            }
            if (ep)
                for (int64_t o = 0; o < oc; o++) {
                    kn_epilogue e = *ep;
                    e.bias_per_row = true;
                    if (e.bias) e.bias += o;
                    if (e.residual) e.residual += o * p + j0;
                    kn_cpu_epilogue(1, nj, y + o * p + j0, p, &e);
                }
        }
    }
    (void)c;
    return KN_OK;
}

kn_status kn_cpu_conv2d_fwd(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    if (is_depthwise(d, &g)) return dw_fwd(d, &g, x, w, y, ep);
#if defined(__AVX512F__)
    if (tm_fwd_ok(d, &g)) return tm_fwd(d, &g, x, w, y, ep, ws, thread_floats(d, &g));
#endif
    if (d->n == 1 && conv_threads() > 1 && d->oh > 1 && g.ocg * g.k * g.p * d->group >= (1 << 20)) return fwd_split_rows(d, &g, x, w, y, ep, ws);
    const int64_t n = d->n, c = d->c, oc = d->oc, cg = g.cg, ocg = g.ocg, k = g.k, p = g.p, hw = g.hw;
    const int64_t ncol = thread_floats(d, &g);
    const bool par = n > 1 && conv_threads() > 1;
    kn_epilogue e = {0};
    if (ep) e = *ep;
    e.bias_per_row = true; /* conv bias is one value per output channel */
    float *cols = ws;
    KN_OMP_FOR_IF(par, schedule(static),
    for (int64_t i = 0; i < n; i++) {
        float *col = cols + (par ? conv_tid() : 0) * ncol; /* serial: this thread's own 0 */
        for (int64_t gi = 0; gi < d->group; gi++) {
            const float *xg = x + (i * c + gi * cg) * hw;
            const float *b = xg;
            if (!g.direct) { im2col(d, cg, xg, col, p); b = col; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ocg, (int)p, (int)k, 1.0f, w + gi * ocg * k,
                        (int)k, b, (int)p, 0.0f, y + (i * oc + gi * ocg) * p, (int)p);
        }
        if (ep) {
            kn_epilogue ei = e;
            if (ei.residual) ei.residual += i * oc * p;
            kn_cpu_epilogue(oc, p, y + i * oc * p, p, &ei);
        }
    });
    return KN_OK;
}

kn_status kn_cpu_conv2d_bwd_data(const kn_conv2d_desc *d, const float *w, const float *gy, float *gx,
                                 void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    if (is_depthwise(d, &g)) return dw_bwd_data(d, &g, w, gy, gx);
    const int64_t n = d->n, c = d->c, oc = d->oc, cg = g.cg, ocg = g.ocg, k = g.k, p = g.p, hw = g.hw;
    const int64_t ncol = thread_floats(d, &g);
    const bool par = n > 1 && conv_threads() > 1;
    float *cols = ws;
    KN_OMP_FOR_IF(par, schedule(static),
    for (int64_t i = 0; i < n; i++) {
        float *col = cols + (par ? conv_tid() : 0) * ncol; /* serial: this thread's own 0 */
        for (int64_t gi = 0; gi < d->group; gi++) {
            const float *wg = w + gi * ocg * k, *gyg = gy + (i * oc + gi * ocg) * p;
            float *gxg = gx + (i * c + gi * cg) * hw;
            if (g.direct) { /* gx[cg, hw] += W^T gy */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)ocg, 1.0f, wg, (int)k, gyg,
                            (int)p, 1.0f, gxg, (int)p);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)ocg, 1.0f, wg, (int)k, gyg,
                            (int)p, 0.0f, col, (int)p);
                col2im_add(d, cg, col, gxg);
            }
        }
    });
    return KN_OK;
}

/* gw[oc, k] (+ gb[oc]) += contribution of images [i0, i1), nb images per GEMM. */
static void filter_grad_range(const kn_conv2d_desc *d, const geom *g, const float *x, const float *gy,
                              int64_t i0, int64_t i1, float *col, float *gw, float *gb)
{
    const int64_t c = d->c, oc = d->oc, cg = g->cg, ocg = g->ocg, k = g->k, p = g->p, hw = g->hw;
#if defined(__AVX512F__)
    if (is_tiny(d, g)) {
        tm_filter_range(d, g, x, gy, i0, i1, gw, gb);
        return;
    }
#endif
    const int64_t nb = filter_batch(d, g);
    for (int64_t i = i0; i < i1; i += nb) {
        const int64_t b = i1 - i < nb ? i1 - i : nb;
        for (int64_t gi = 0; gi < d->group; gi++) {
            if (b == 1) {
                const float *xg = x + (i * c + gi * cg) * hw, *gyg = gy + (i * oc + gi * ocg) * p;
                const float *bm = xg;
                if (!g->direct) { im2col(d, cg, xg, col, p); bm = col; }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)k, (int)p, 1.0f, gyg, (int)p, bm,
                            (int)p, 1.0f, gw + gi * ocg * k, (int)k);
                continue;
            }
            /* col[k, b*p] and gyb[ocg, b*p]: image j's block starts at column j*p */
            const int64_t ld = b * p;
            float *gyb = col + k * ld;
            for (int64_t j = 0; j < b; j++) {
                im2col(d, cg, x + ((i + j) * c + gi * cg) * hw, col + j * p, ld);
                for (int64_t o = 0; o < ocg; o++)
                    memcpy(gyb + o * ld + j * p, gy + ((i + j) * oc + gi * ocg + o) * p, sizeof(float) * (size_t)p);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)k, (int)ld, 1.0f, gyb, (int)ld, col,
                        (int)ld, 1.0f, gw + gi * ocg * k, (int)k);
        }
    }
    if (gb) bias_grad_rows(gy, i0, i1, oc, p, gb);
}

kn_status kn_cpu_conv2d_bwd_filter(const kn_conv2d_desc *d, const float *x, const float *gy, float *gw,
                                   float *gb, void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    if (is_depthwise(d, &g)) return dw_bwd_filter(d, &g, x, gy, gw, gb);
    const int64_t n = d->n, oc = d->oc, ncol = thread_floats(d, &g), nw = oc * g.k;
    const int nt = conv_threads();
    float *cols = ws;
    if (n <= 1 || nt <= 1) { /* accumulate straight into gw; OpenBLAS threads the GEMM */
        filter_grad_range(d, &g, x, gy, 0, n, cols, gw, gb);
        return KN_OK;
    }
    float *parts = cols + (int64_t)nt * ncol; /* nt blocks of [nw weights, oc biases] */
    int used = nt;
#pragma omp parallel num_threads(nt)
    {
        const int t = conv_tid(), T = omp_get_num_threads();
#pragma omp single
        used = T;
        float *pw = parts + (int64_t)t * (nw + oc), *pb = pw + nw;
        memset(pw, 0, sizeof(float) * (size_t)(nw + oc));
        const int64_t i0 = n * t / T, i1 = n * (t + 1) / T;
        filter_grad_range(d, &g, x, gy, i0, i1, cols + t * ncol, pw, gb ? pb : NULL);
    }
    /* deterministic reduction in thread order */
    KN_OMP_FOR_IF(nw > 4096, schedule(static),
    for (int64_t j = 0; j < nw; j++) {
        float s = 0.0f;
        for (int t = 0; t < used; t++) s += parts[(int64_t)t * (nw + oc) + j];
        gw[j] += s;
    });
    if (gb)
        for (int64_t o = 0; o < oc; o++) {
            float s = 0.0f;
            for (int t = 0; t < used; t++) s += parts[(int64_t)t * (nw + oc) + nw + o];
            gb[o] += s;
        }
    return KN_OK;
}

