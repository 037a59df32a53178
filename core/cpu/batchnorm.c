/* CPU batch normalization (inference, training, backward) and LRN over
 * [n, c, spatial]. Statistics are accumulated in double: a channel of a
 * large batch sums millions of floats, and the variance is a difference of
 * nearly equal numbers. Threads split channels (training, backward) or
 * planes (inference), so no two threads write the same value. */
#include "core/cpu/cpu.h"

#include <math.h>

#define PAR_MIN 32768 /* elements below which threads cost more than they save */

kn_status kn_cpu_batchnorm_infer(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, const float *mean,
                                 const float *var, float eps, float *y)
{
    const int64_t planes = n * c;
    #pragma omp parallel for schedule(static) if (planes * spatial > PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const int64_t ch = p % c;
        const float a = scale[ch] / sqrtf(var[ch] + eps), b = bias[ch] - mean[ch] * a;
        const float *xp = x + p * spatial;
        float *yp = y + p * spatial;
        #pragma omp simd
        for (int64_t i = 0; i < spatial; i++) yp[i] = xp[i] * a + b;
    }
    return KN_OK;
}

/* Sums over one plane run in float across SIMD lanes (a plane is at most a feature
 * map, so the float error stays ~1e-7 relative); planes are added up in double. */
static inline float plane_sum(int64_t len, const float *restrict x)
{
    float s = 0.0f;
    #pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < len; i++) s += x[i];
    return s;
}

static inline float plane_sqdev(int64_t len, const float *restrict x, float mean)
{
    float s = 0.0f;
    #pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < len; i++) { const float d = x[i] - mean; s += d * d; }
    return s;
}

kn_status kn_cpu_batchnorm_train(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
    const int64_t count = n * spatial;
    if (count == 0) return kn_error(KN_ERR_SHAPE, "batchnorm_train: no elements per channel");
    #pragma omp parallel for schedule(static) if (n * c * spatial > PAR_MIN && c > 1)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int64_t b = 0; b < n; b++) sum += plane_sum(spatial, x + (b * c + ch) * spatial);
        const double mean = sum / (double)count;
        double sq = 0; /* two passes: sum of squared deviations, not E[x^2] - E[x]^2 */
        for (int64_t b = 0; b < n; b++) sq += plane_sqdev(spatial, x + (b * c + ch) * spatial, (float)mean);
        const double var = sq / (double)count;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        if (running_mean) running_mean[ch] = running_mean[ch] * momentum + (float)mean * (1.0f - momentum);
        if (running_var) {
            /* PyTorch convention: the running estimate uses the unbiased variance */
            const double unbiased = count > 1 ? sq / (double)(count - 1) : var;
            running_var[ch] = running_var[ch] * momentum + (float)unbiased * (1.0f - momentum);
        }
        const float a = (float)(scale[ch] * invstd), bb = (float)(bias[ch] - mean * scale[ch] * invstd);
        for (int64_t b = 0; b < n; b++) {
            const float *restrict xp = x + (b * c + ch) * spatial;
            float *restrict yp = y + (b * c + ch) * spatial;
            #pragma omp simd
            for (int64_t i = 0; i < spatial; i++) yp[i] = xp[i] * a + bb;
        }
    }
    return KN_OK;
}

kn_status kn_cpu_batchnorm_bwd(int64_t n, int64_t c, int64_t spatial, const float *x,
                               const float *gy, const float *scale, const float *save_mean,
                               const float *save_invstd, float *gx, float *gscale, float *gbias)
{
    const int64_t count = n * spatial;
    if (count == 0) return KN_OK;
    #pragma omp parallel for schedule(static) if (n * c * spatial > PAR_MIN && c > 1)
    for (int64_t ch = 0; ch < c; ch++) {
        const float mean = save_mean[ch], invstd = save_invstd[ch];
        double sg = 0, sgd = 0; /* sum(gy), sum(gy * (x - mean)) */
        for (int64_t b = 0; b < n; b++) {
            const float *restrict xp = x + (b * c + ch) * spatial, *restrict gp = gy + (b * c + ch) * spatial;
            float s = 0.0f, sd = 0.0f;
            #pragma omp simd reduction(+ : s, sd)
            for (int64_t i = 0; i < spatial; i++) {
                s += gp[i];
                sd += gp[i] * (xp[i] - mean);
            }
            sg += s;
            sgd += sd;
        }
        const double sgx = sgd * invstd; /* sum(gy * xhat) */
        if (gscale) gscale[ch] += (float)sgx;
        if (gbias) gbias[ch] += (float)sg;
        if (!gx) continue;
        /* dx = scale * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) */
        const float k = (float)(scale[ch] * (double)invstd), mg = (float)(sg / (double)count),
                    kx = (float)((double)invstd * sgx / (double)count);
        for (int64_t b = 0; b < n; b++) {
            const float *restrict xp = x + (b * c + ch) * spatial, *restrict gp = gy + (b * c + ch) * spatial;
            float *restrict gxp = gx + (b * c + ch) * spatial;
            #pragma omp simd
            for (int64_t i = 0; i < spatial; i++) gxp[i] += k * (gp[i] - mg - (xp[i] - mean) * kx);
        }
    }
    return KN_OK;
}

kn_status kn_cpu_lrn(int64_t n, int64_t c, int64_t spatial, int64_t size, float alpha, float beta,
                     float bias, const float *x, float *y)
{
    if (size < 1) return kn_error(KN_ERR_INVALID, "lrn: size must be >= 1, got %lld", (long long)size);
    const int64_t lo_off = (size - 1) / 2, hi_off = size - 1 - lo_off; /* floor / ceil of (size-1)/2 */
    const float a = alpha / (float)size;
    #pragma omp parallel for collapse(2) schedule(static) if (n * c * spatial > PAR_MIN)
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const int64_t lo = ch - lo_off < 0 ? 0 : ch - lo_off, hi = ch + hi_off >= c ? c - 1 : ch + hi_off;
            float *yp = y + (b * c + ch) * spatial;
            const float *xp = x + (b * c + ch) * spatial;
            for (int64_t i = 0; i < spatial; i++) {
                float sq = 0;
                for (int64_t j = lo; j <= hi; j++) {
                    const float v = x[(b * c + j) * spatial + i];
                    sq += v * v;
                }
                yp[i] = xp[i] / powf(bias + a * sq, beta);
            }
        }
    return KN_OK;
}
