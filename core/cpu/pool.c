/* CPU pooling: direct loops, OpenMP over the n*c image planes (each plane's
 * input and output belong to one thread, so backward needs no atomics). */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>
#include <string.h>
#if defined(__AVX512F__)
#include "core/cpu/simd.h"
#endif

static kn_status check_desc(const kn_pool2d_desc *d, const char *what)
{
    if (d->n < 0 || d->c < 0 || d->h <= 0 || d->w <= 0 || d->oh <= 0 || d->ow <= 0 || d->kh <= 0 ||
        d->kw <= 0 || d->stride_h <= 0 || d->stride_w <= 0 || d->dil_h <= 0 || d->dil_w <= 0)
        return kn_error(KN_ERR_SHAPE,
                        "%s: bad geometry n=%lld c=%lld %lldx%lld out=%lldx%lld k=%lldx%lld stride=%lldx%lld "
                        "dil=%lldx%lld",
                        what, (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w,
                        (long long)d->oh, (long long)d->ow, (long long)d->kh, (long long)d->kw,
                        (long long)d->stride_h, (long long)d->stride_w, (long long)d->dil_h, (long long)d->dil_w);
    return KN_OK;
}

/* Kernel taps [*lo, *hi) along one axis whose coordinate start + t*dil lies in [lim_lo, lim_hi). */
static void taps(int64_t start, int64_t dil, int64_t k, int64_t lim_lo, int64_t lim_hi, int64_t *lo, int64_t *hi)
{
    int64_t a = start >= lim_lo ? 0 : (lim_lo - start + dil - 1) / dil;
    int64_t b = lim_hi - 1 - start < 0 ? 0 : (lim_hi - 1 - start) / dil + 1;
    if (b > k) b = k;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Output (oy, ox)'s window: its top-left input coordinate and its taps inside the input. */
typedef struct window { int64_t y0, x0, ky0, ky1, kx0, kx1; } window;

static inline window window_at(const kn_pool2d_desc *d, int64_t oy, int64_t ox)
{
    window wd = {.y0 = oy * d->stride_h - d->pad_t, .x0 = ox * d->stride_w - d->pad_l};
    taps(wd.y0, d->dil_h, d->kh, 0, d->h, &wd.ky0, &wd.ky1);
    taps(wd.x0, d->dil_w, d->kw, 0, d->w, &wd.kx0, &wd.kx1);
    return wd;
}

/* Keep v at index i when it beats the current best: the first tap always wins, a NaN
 * beats any number, ties keep the earlier tap (the generic loop's rule). */
#define MAX_TAKE(v, i)                                                                  \
    do {                                                                                \
        const float v_ = (v);                                                           \
        if (v_ > best || (isnan(v_) && !isnan(best))) { best = v_; arg = (i); }         \
    } while (0)

/* The same rule as selects, so a loop of them vectorises (v != v is isnan). */
#define MAX_SEL(v, i)                                                                   \
    do {                                                                                \
        const float v_ = (v);                                                           \
        const bool take_ = v_ > best || (v_ != v_ && best == best);                     \
        best = take_ ? v_ : best;                                                       \
        arg = take_ ? (i) : arg;                                                        \
    } while (0)

#if defined(__AVX512F__)
/* One output row of a 2x2 stride-2 max pool, values only, 16 outputs at a time: each
 * input row's 32 floats split into even and odd columns by two permutes, then the taps in
 * MAX_SEL's order (row 0 even, odd, row 1 even, odd), so NaNs and tied zeros come out as
 * in the scalar loop. Masked loads read only the 2 * ow columns the windows cover.
 * LeNet's 6x28x28 -> 14x14 at batch 1: 0.96 -> 0.68 us a node (kiln bench
 * --compare-levels with fuse_pool disabled, just before and after this change). */
static void maxpool2x2_row16(const float *r0, const float *r1, float *yr, int64_t ow)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t o = 0; o < ow; o += 16) {
        const int64_t n = ow - o < 16 ? ow - o : 16, cols = 2 * n;
        const __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFFu : (1u << cols) - 1u);
        const __mmask16 m1 = (__mmask16)(cols > 16 ? (1u << (cols - 16)) - 1u : 0u);
        const float *a = r0 + 2 * o, *b = r1 + 2 * o;
        const __m512 a0 = _mm512_maskz_loadu_ps(m0, a), a1 = _mm512_maskz_loadu_ps(m1, a + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        best = kn_max_sel16(best, _mm512_permutex2var_ps(a0, odd, a1));
        best = kn_max_sel16(best, _mm512_permutex2var_ps(b0, even, b1));
        best = kn_max_sel16(best, _mm512_permutex2var_ps(b0, odd, b1));
        _mm512_mask_storeu_ps(yr + o, (__mmask16)((1u << n) - 1u), best);
    }
}
#endif

/* Windows that never touch padding (no padding, dilation 1, every window inside the
 * input): no per-window tap clipping; 2x2 stride 2 (LeNet, VGG) fully unrolled. */
/* One plane of maxpool_interior. */
static void maxpool_interior_plane(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax, int64_t pl)
{
    const int64_t h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    const int64_t kh = d->kh, kw = d->kw, sh = d->stride_h, sw = d->stride_w;
    const float *xp = x + pl * h * w;
    float *yp = y + pl * oh * ow;
    int64_t *ap = argmax ? argmax + pl * oh * ow : NULL;
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
        for (int64_t oy = 0; oy < oh; oy++) {
            const float *restrict r0 = xp + 2 * oy * w, *restrict r1 = r0 + w;
            float *restrict yr = yp + oy * ow;
            if (ap) {
                int64_t *restrict ar = ap + oy * ow;
                const int64_t base = 2 * oy * w;
                #pragma omp simd
                for (int64_t ox = 0; ox < ow; ox++) {
                    float best = r0[2 * ox];
                    int64_t arg = base + 2 * ox;
                    MAX_SEL(r0[2 * ox + 1], base + 2 * ox + 1);
                    MAX_SEL(r1[2 * ox], base + w + 2 * ox);
                    MAX_SEL(r1[2 * ox + 1], base + w + 2 * ox + 1);
                    yr[ox] = best;
                    ar[ox] = arg;
                }
            } else {
#if defined(__AVX512F__)
                maxpool2x2_row16(r0, r1, yr, ow);
                continue;
#endif
                #pragma omp simd
                for (int64_t ox = 0; ox < ow; ox++) {
                    float best = r0[2 * ox];
                    int64_t arg = 0;
                    MAX_SEL(r0[2 * ox + 1], 0);
                    MAX_SEL(r1[2 * ox], 0);
                    MAX_SEL(r1[2 * ox + 1], 0);
                    (void)arg;
                    yr[ox] = best;
                }
            }
        }
        return;
    }
    for (int64_t oy = 0; oy < oh; oy++) {
        const int64_t y0 = oy * sh;
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t x0 = ox * sw;
            int64_t arg = y0 * w + x0;
            float best = xp[arg];
            if (kh == 2 && kw == 2) {
                MAX_TAKE(xp[arg + 1], arg + 1);
                MAX_TAKE(xp[(y0 + 1) * w + x0], (y0 + 1) * w + x0);
                MAX_TAKE(xp[(y0 + 1) * w + x0 + 1], (y0 + 1) * w + x0 + 1);
            } else {
                for (int64_t ky = 0; ky < kh; ky++)
                    for (int64_t kx = ky ? 0 : 1; kx < kw; kx++) {
                        const int64_t idx = (y0 + ky) * w + x0 + kx;
                        MAX_TAKE(xp[idx], idx);
                    }
            }
            yp[oy * ow + ox] = best;
            if (ap) ap[oy * ow + ox] = arg;
        }
    }
}

static void maxpool_interior(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax)
{
    const int64_t planes = d->n * d->c;
    KN_OMP_FOR_IF(planes * d->oh * d->ow > 16384, schedule(static),
        for (int64_t pl = 0; pl < planes; pl++) { maxpool_interior_plane(d, x, y, argmax, pl); });
}

kn_status kn_cpu_maxpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax)
{
    KN_TRY(check_desc(d, "maxpool2d"));
    const int64_t planes = d->n * d->c, h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    if (d->pad_t == 0 && d->pad_l == 0 && d->dil_h == 1 && d->dil_w == 1 &&
        (oh - 1) * d->stride_h + d->kh <= h && (ow - 1) * d->stride_w + d->kw <= w) {
        maxpool_interior(d, x, y, argmax);
        return KN_OK;
    }
    KN_OMP_FOR_IF(planes * oh * ow > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * oh * ow;
        int64_t *ap = argmax ? argmax + pl * oh * ow : NULL;
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                const window wd = window_at(d, oy, ox);
                const int64_t y0 = wd.y0, x0 = wd.x0, ky0 = wd.ky0, ky1 = wd.ky1, kx0 = wd.kx0, kx1 = wd.kx1;
                /* a window entirely in padding has no element: -inf and no argmax */
                float best = -INFINITY;
                int64_t arg = -1;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    const int64_t iy = y0 + ky * d->dil_h;
                    for (int64_t kx = kx0; kx < kx1; kx++) {
                        const int64_t ix = x0 + kx * d->dil_w;
                        const float v = xp[iy * w + ix];
                        if (arg < 0 || v > best || (isnan(v) && !isnan(best))) { best = v; arg = iy * w + ix; }
                    }
                }
                yp[oy * ow + ox] = best;
                if (ap) ap[oy * ow + ox] = arg;
            }
        }
    });
    return KN_OK;
}

kn_status kn_cpu_maxpool2d_bwd(const kn_pool2d_desc *d, const float *gy, const int64_t *argmax, float *gx)
{
    KN_TRY(check_desc(d, "maxpool2d_bwd"));
    if (!argmax) return kn_error(KN_ERR_INVALID, "maxpool2d_bwd needs the argmax saved by the forward pass");
    const int64_t planes = d->n * d->c, hw = d->h * d->w, po = d->oh * d->ow;
    KN_OMP_FOR_IF(planes * po > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *g = gy + pl * po;
        const int64_t *a = argmax + pl * po;
        float *gp = gx + pl * hw;
        for (int64_t j = 0; j < po; j++)
            if (a[j] >= 0 && a[j] < hw) gp[a[j]] += g[j];
    });
    return KN_OK;
}

/* Divisor of one window: its taps inside the input, or (count_include_pad) inside the
 * padded input. Taps past the end padding (ceil_mode) never count, as in PyTorch and
 * ONNX Runtime. */
static int64_t avg_count(const kn_pool2d_desc *d, int64_t y0, int64_t x0, int64_t ky0, int64_t ky1, int64_t kx0,
                         int64_t kx1)
{
    if (!d->count_include_pad) return (ky1 - ky0) * (kx1 - kx0);
    int64_t a0, a1, b0, b1;
    taps(y0, d->dil_h, d->kh, -d->pad_t, d->h + d->pad_b, &a0, &a1);
    taps(x0, d->dil_w, d->kw, -d->pad_l, d->w + d->pad_r, &b0, &b1);
    return (a1 - a0) * (b1 - b0);
}

/* Sum of n floats in 16 independent lanes (vectorised, one fixed order: deterministic). */
#if defined(__AVX512F__)
/* Vector partial sums and one horizontal add: global pooling's planes are small (7x7 in
 * dwsep and resnet_small), where the 16-lane array below spent more time folding its
 * lanes than adding (resnet_small's GlobalAveragePool at batch 64: ~30 us of profile). */
static float plane_sum(const float *restrict x, int64_t n)
{
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + j));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + j + 16));
    }
    for (; j + 16 <= n; j += 16) a = _mm512_add_ps(a, _mm512_loadu_ps(x + j));
    if (j < n) b = _mm512_add_ps(b, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - j)) - 1u), x + j));
    return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}
#else
static float plane_sum(const float *restrict x, int64_t n)
{
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        #pragma omp simd
        for (int l = 0; l < 16; l++) acc[l] += x[j + l];
    for (int l = 0; j < n; j++, l++) acc[l] += x[j];
    for (int s = 8; s > 0; s /= 2)
        for (int l = 0; l < s; l++) acc[l] += acc[l + s];
    return acc[0];
}
#endif

kn_status kn_cpu_avgpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y)
{
    KN_TRY(check_desc(d, "avgpool2d"));
    const int64_t planes = d->n * d->c, h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    if (oh == 1 && ow == 1 && d->kh == h && d->kw == w && d->pad_t == 0 && d->pad_l == 0 && d->pad_b == 0 &&
        d->pad_r == 0 && d->dil_h == 1 && d->dil_w == 1) {
        /* global pool (GlobalAveragePool, and kernel == input): one vectorised sum per plane,
         * threaded by input size (the window loop threads by output size: serial here) */
        const int64_t hw = h * w;
        KN_OMP_FOR_IF(planes * hw > 32768 && planes > 1, schedule(static),
        for (int64_t pl = 0; pl < planes; pl++) y[pl] = plane_sum(x + pl * hw, hw) / (float)hw;);
        return KN_OK;
    }
    KN_OMP_FOR_IF(planes * oh * ow > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                const window wd = window_at(d, oy, ox);
                const int64_t y0 = wd.y0, x0 = wd.x0, ky0 = wd.ky0, ky1 = wd.ky1, kx0 = wd.kx0, kx1 = wd.kx1;
                float s = 0.0f;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    const float *row = xp + (y0 + ky * d->dil_h) * w;
                    for (int64_t kx = kx0; kx < kx1; kx++) s += row[x0 + kx * d->dil_w];
                }
                const int64_t cnt = avg_count(d, y0, x0, ky0, ky1, kx0, kx1);
                yp[oy * ow + ox] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
        }
    });
    return KN_OK;
}

kn_status kn_cpu_avgpool2d_bwd(const kn_pool2d_desc *d, const float *gy, float *gx)
{
    KN_TRY(check_desc(d, "avgpool2d_bwd"));
    const int64_t planes = d->n * d->c, h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    KN_OMP_FOR_IF(planes * oh * ow > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *gp = gy + pl * oh * ow;
        float *xp = gx + pl * h * w;
        for (int64_t oy = 0; oy < oh; oy++) {
            for (int64_t ox = 0; ox < ow; ox++) {
                const window wd = window_at(d, oy, ox);
                const int64_t y0 = wd.y0, x0 = wd.x0, ky0 = wd.ky0, ky1 = wd.ky1, kx0 = wd.kx0, kx1 = wd.kx1;
                const int64_t cnt = avg_count(d, y0, x0, ky0, ky1, kx0, kx1);
                if (cnt <= 0) continue;
                const float g = gp[oy * ow + ox] / (float)cnt;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    float *row = xp + (y0 + ky * d->dil_h) * w;
                    for (int64_t kx = kx0; kx < kx1; kx++) row[x0 + kx * d->dil_w] += g;
                }
            }
        }
    });
    return KN_OK;
}
