/* Max / average pooling as own kernels, one thread per output. Own rather than cuDNN
 * because cuDNN pools with symmetric padding only and exposes no argmax, while the
 * table's contract (kernels.h) hands backward an argmax: the flat index h*w+w of the
 * winning input inside its (n, c) image plane. Ties keep the first maximum in
 * row-major window order. Backward scatters with atomicAdd because windows overlap. */
#include "cuda/common.h"

#include <cfloat>

namespace {

struct Geo {
    int64_t planes, h, w, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
    bool include_pad;
};

Geo geo(const kn_pool2d_desc *d)
{
    Geo g = {d->n * d->c, d->h,       d->w,     d->oh,     d->ow,     d->kh,    d->kw,   d->stride_h,
             d->stride_w, d->pad_t,   d->pad_l, d->pad_b,  d->pad_r,  d->dil_h, d->dil_w, d->count_include_pad};
    if (g.dh <= 0) g.dh = 1;
    if (g.dw <= 0) g.dw = 1;
    return g;
}

__global__ void maxpool_fwd_kernel(Geo g, const float *x, float *y, int64_t *argmax)
{
    KN_GRID_LOOP(e, g.planes * g.oh * g.ow) {
        const int64_t p = e / (g.oh * g.ow), r = e - p * g.oh * g.ow, oi = r / g.ow, oj = r - oi * g.ow;
        const float *xp = x + p * g.h * g.w;
        float best = -FLT_MAX;
        int64_t arg = -1;
        for (int64_t a = 0; a < g.kh; a++) {
            const int64_t i = oi * g.sh - g.pt + a * g.dh;
            if (i < 0 || i >= g.h) continue;
            for (int64_t b = 0; b < g.kw; b++) {
                const int64_t j = oj * g.sw - g.pl + b * g.dw;
                if (j < 0 || j >= g.w) continue;
                const float v = xp[i * g.w + j];
                if (arg < 0 || v > best) {
                    best = v;
                    arg = i * g.w + j;
                }
            }
        }
        y[e] = arg < 0 ? 0.0f : best; /* a window entirely in the padding has no input */
        if (argmax) argmax[e] = arg < 0 ? 0 : arg;
    }
}

__global__ void maxpool_bwd_kernel(Geo g, const float *gy, const int64_t *argmax, float *gx)
{
    KN_GRID_LOOP(e, g.planes * g.oh * g.ow) {
        const int64_t p = e / (g.oh * g.ow);
        atomicAdd(gx + p * g.h * g.w + argmax[e], gy[e]);
    }
}

/* Divisor: every window position inside the padded image when counting pads (positions
 * past the pads, from ceil_mode, never count), else only positions inside the input. */
__device__ __forceinline__ int64_t avg_count(const Geo &g, int64_t oi, int64_t oj)
{
    int64_t n = 0;
    for (int64_t a = 0; a < g.kh; a++) {
        const int64_t i = oi * g.sh - g.pt + a * g.dh;
        const bool in_i = g.include_pad ? (i >= -g.pt && i < g.h + g.pb) : (i >= 0 && i < g.h);
        if (!in_i) continue;
        for (int64_t b = 0; b < g.kw; b++) {
            const int64_t j = oj * g.sw - g.pl + b * g.dw;
            if (g.include_pad ? (j >= -g.pl && j < g.w + g.pr) : (j >= 0 && j < g.w)) n++;
        }
    }
    return n;
}

__global__ void avgpool_fwd_kernel(Geo g, const float *x, float *y)
{
    KN_GRID_LOOP(e, g.planes * g.oh * g.ow) {
        const int64_t p = e / (g.oh * g.ow), r = e - p * g.oh * g.ow, oi = r / g.ow, oj = r - oi * g.ow;
        const float *xp = x + p * g.h * g.w;
        float s = 0;
        for (int64_t a = 0; a < g.kh; a++) {
            const int64_t i = oi * g.sh - g.pt + a * g.dh;
            if (i < 0 || i >= g.h) continue;
            for (int64_t b = 0; b < g.kw; b++) {
                const int64_t j = oj * g.sw - g.pl + b * g.dw;
                if (j >= 0 && j < g.w) s += xp[i * g.w + j];
            }
        }
        const int64_t n = avg_count(g, oi, oj);
        y[e] = n ? s / (float)n : 0.0f;
    }
}

__global__ void avgpool_bwd_kernel(Geo g, const float *gy, float *gx)
{
    KN_GRID_LOOP(e, g.planes * g.oh * g.ow) {
        const int64_t p = e / (g.oh * g.ow), r = e - p * g.oh * g.ow, oi = r / g.ow, oj = r - oi * g.ow;
        const int64_t n = avg_count(g, oi, oj);
        if (!n) continue;
        const float d = gy[e] / (float)n;
        float *gp = gx + p * g.h * g.w;
        for (int64_t a = 0; a < g.kh; a++) {
            const int64_t i = oi * g.sh - g.pt + a * g.dh;
            if (i < 0 || i >= g.h) continue;
            for (int64_t b = 0; b < g.kw; b++) {
                const int64_t j = oj * g.sw - g.pl + b * g.dw;
                if (j >= 0 && j < g.w) atomicAdd(gp + i * g.w + j, d);
            }
        }
    }
}

} // namespace

#define POOL_LAUNCH(kernel, g, ...)                                                                       \
    do {                                                                                                   \
        const int64_t total_ = (g).planes * (g).oh * (g).ow;                                               \
        if (total_ == 0) return KN_OK;                                                                     \
        cudaStream_t s_;                                                                                   \
        KN_TRY(kn_cuda_stream(&s_));                                                                       \
        kernel<<<kn_cuda_grid(total_), KN_CUDA_BLOCK, 0, s_>>>((g), __VA_ARGS__);                          \
        KN_CUDA_LAUNCHED();                                                                                \
        return KN_OK;                                                                                      \
    } while (0)

kn_status kn_cuda_maxpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax)
{
    Geo g = geo(d);
    POOL_LAUNCH(maxpool_fwd_kernel, g, x, y, argmax);
}

kn_status kn_cuda_maxpool2d_bwd(const kn_pool2d_desc *d, const float *gy, const int64_t *argmax, float *gx)
{
    if (!argmax) return kn_error(KN_ERR_INVALID, "maxpool2d_bwd needs the argmax saved by the forward pass");
    Geo g = geo(d);
    POOL_LAUNCH(maxpool_bwd_kernel, g, gy, argmax, gx);
}

kn_status kn_cuda_avgpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y)
{
    Geo g = geo(d);
    POOL_LAUNCH(avgpool_fwd_kernel, g, x, y);
}

kn_status kn_cuda_avgpool2d_bwd(const kn_pool2d_desc *d, const float *gy, float *gx)
{
    Geo g = geo(d);
    POOL_LAUNCH(avgpool_bwd_kernel, g, gy, gx);
}
