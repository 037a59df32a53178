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

#include <cblas.h>
#include <omp.h> /* kiln always builds with -fopenmp */
#include <string.h>

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

/* col[cg*kh*kw, oh*ow] from one image's cg channels. */
static void im2col(const kn_conv2d_desc *d, int64_t cg, const float *x, float *col)
{
    const int64_t h = d->h, w = d->w, oh = d->oh, ow = d->ow, sh = d->stride_h, sw = d->stride_w;
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t ki = 0; ki < d->kh; ki++)
            for (int64_t kj = 0; kj < d->kw; kj++) {
                float *row = col + ((ci * d->kh + ki) * d->kw + kj) * oh * ow;
                const int64_t off_w = kj * d->dil_w - d->pad_l;
                int64_t lo, hi;
                valid_range(off_w, sw, w, ow, &lo, &hi);
                for (int64_t oy = 0; oy < oh; oy++) {
                    float *dst = row + oy * ow;
                    const int64_t iy = oy * sh - d->pad_t + ki * d->dil_h;
                    if (iy < 0 || iy >= h) { memset(dst, 0, sizeof(float) * (size_t)ow); continue; }
                    const float *src = x + (ci * h + iy) * w;
                    for (int64_t ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                    if (sw == 1) memcpy(dst + lo, src + lo + off_w, sizeof(float) * (size_t)(hi - lo));
                    else for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[ox * sw + off_w];
                    for (int64_t ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
                }
            }
}

/* gx += col2im(col): the adjoint of im2col. */
static void col2im_add(const kn_conv2d_desc *d, int64_t cg, const float *col, float *gx)
{
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
                    const float *src = row + oy * ow;
                    float *dst = gx + (ci * h + iy) * w;
                    if (sw == 1) for (int64_t ox = lo; ox < hi; ox++) dst[ox + off_w] += src[ox];
                    else for (int64_t ox = lo; ox < hi; ox++) dst[ox * sw + off_w] += src[ox];
                }
            }
}

/* Floats of column buffer per thread; 0 on the direct path. */
static int64_t col_floats(const geom *g) { return g->direct ? 0 : g->k * g->p; }

size_t kn_cpu_conv2d_workspace(const kn_conv2d_desc *d)
{
    geom g;
    if (check_desc(d, &g) != KN_OK) return 0;
    /* per thread: a column buffer, plus weight and bias gradient partials */
    int64_t per = col_floats(&g) + d->oc * g.k + d->oc;
    return sizeof(float) * (size_t)(per * conv_threads()) + 64;
}

kn_status kn_cpu_conv2d_fwd(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    const int64_t n = d->n, c = d->c, oc = d->oc, cg = g.cg, ocg = g.ocg, k = g.k, p = g.p, hw = g.hw;
    const int64_t ncol = col_floats(&g);
    const bool par = n > 1 && conv_threads() > 1;
    kn_epilogue e = {0};
    if (ep) e = *ep;
    e.bias_per_row = true; /* conv bias is one value per output channel */
    float *cols = ws;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t i = 0; i < n; i++) {
        float *col = cols + conv_tid() * ncol;
        for (int64_t gi = 0; gi < d->group; gi++) {
            const float *xg = x + (i * c + gi * cg) * hw;
            const float *b = xg;
            if (!g.direct) { im2col(d, cg, xg, col); b = col; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ocg, (int)p, (int)k, 1.0f, w + gi * ocg * k,
                        (int)k, b, (int)p, 0.0f, y + (i * oc + gi * ocg) * p, (int)p);
        }
        if (ep) {
            kn_epilogue ei = e;
            if (ei.residual) ei.residual += i * oc * p;
            kn_cpu_epilogue(oc, p, y + i * oc * p, p, &ei);
        }
    }
    return KN_OK;
}

kn_status kn_cpu_conv2d_bwd_data(const kn_conv2d_desc *d, const float *w, const float *gy, float *gx,
                                 void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    const int64_t n = d->n, c = d->c, oc = d->oc, cg = g.cg, ocg = g.ocg, k = g.k, p = g.p, hw = g.hw;
    const int64_t ncol = col_floats(&g);
    const bool par = n > 1 && conv_threads() > 1;
    float *cols = ws;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t i = 0; i < n; i++) {
        float *col = cols + conv_tid() * ncol;
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
    }
    return KN_OK;
}

/* gw[oc, k] (+ gb[oc]) += contribution of images [i0, i1). */
static void filter_grad_range(const kn_conv2d_desc *d, const geom *g, const float *x, const float *gy,
                              int64_t i0, int64_t i1, float *col, float *gw, float *gb)
{
    const int64_t c = d->c, oc = d->oc, cg = g->cg, ocg = g->ocg, k = g->k, p = g->p, hw = g->hw;
    for (int64_t i = i0; i < i1; i++) {
        for (int64_t gi = 0; gi < d->group; gi++) {
            const float *xg = x + (i * c + gi * cg) * hw, *gyg = gy + (i * oc + gi * ocg) * p;
            const float *b = xg;
            if (!g->direct) { im2col(d, cg, xg, col); b = col; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)k, (int)p, 1.0f, gyg, (int)p, b,
                        (int)p, 1.0f, gw + gi * ocg * k, (int)k);
        }
        if (gb)
            for (int64_t o = 0; o < oc; o++) {
                const float *r = gy + (i * oc + o) * p;
                float s = 0.0f;
                for (int64_t j = 0; j < p; j++) s += r[j];
                gb[o] += s;
            }
    }
}

kn_status kn_cpu_conv2d_bwd_filter(const kn_conv2d_desc *d, const float *x, const float *gy, float *gw,
                                   float *gb, void *ws)
{
    geom g;
    KN_TRY(check_desc(d, &g));
    const int64_t n = d->n, oc = d->oc, ncol = col_floats(&g), nw = oc * g.k;
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
#pragma omp parallel for schedule(static) if (nw > 4096)
    for (int64_t j = 0; j < nw; j++) {
        float s = 0.0f;
        for (int t = 0; t < used; t++) s += parts[(int64_t)t * (nw + oc) + j];
        gw[j] += s;
    }
    if (gb)
        for (int64_t o = 0; o < oc; o++) {
            float s = 0.0f;
            for (int t = 0; t < used; t++) s += parts[(int64_t)t * (nw + oc) + nw + o];
            gb[o] += s;
        }
    return KN_OK;
}
