/* CPU batch normalization (inference, training, backward) and LRN over
 * [n, c, spatial]. Statistics are accumulated in double: a channel of a
 * large batch sums millions of floats, and the variance is a difference of
 * nearly equal numbers. Threads split channels (training, backward) or
 * planes (inference), so no two threads write the same value. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

#define PAR_MIN 32768 /* elements below which threads cost more than they save */

kn_status kn_cpu_batchnorm_infer(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, const float *mean,
                                 const float *var, float eps, float *y)
{
    const int64_t planes = n * c;
    KN_OMP_FOR_IF(planes * spatial > PAR_MIN, schedule(static),
    for (int64_t p = 0; p < planes; p++) {
        const int64_t ch = p % c;
        const float a = scale[ch] / sqrtf(var[ch] + eps), b = bias[ch] - mean[ch] * a;
        const float *xp = x + p * spatial;
        float *yp = y + p * spatial;
        _Pragma("omp simd")
        for (int64_t i = 0; i < spatial; i++) yp[i] = xp[i] * a + b;
    });
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

/* Per-channel pieces shared by the one-call kernels and the split (data-parallel)
 * ones, which all-reduce the sums across replicas between the pieces. */
static double channel_sum(int64_t n, int64_t c, int64_t spatial, const float *x, int64_t ch)
{
    double sum = 0;
    for (int64_t b = 0; b < n; b++) sum += plane_sum(spatial, x + (b * c + ch) * spatial);
    return sum;
}

/* Sum of squared deviations from `mean`: two passes, not E[x^2] - E[x]^2. */
static double channel_sqdev(int64_t n, int64_t c, int64_t spatial, const float *x, int64_t ch, float mean)
{
    double sq = 0;
    for (int64_t b = 0; b < n; b++) sq += plane_sqdev(spatial, x + (b * c + ch) * spatial, mean);
    return sq;
}

static void channel_affine(int64_t n, int64_t c, int64_t spatial, const float *x, int64_t ch, float a, float bb,
                           float *y)
{
    for (int64_t b = 0; b < n; b++) {
        const float *restrict xp = x + (b * c + ch) * spatial;
        float *restrict yp = y + (b * c + ch) * spatial;
        #pragma omp simd
        for (int64_t i = 0; i < spatial; i++) yp[i] = xp[i] * a + bb;
    }
}

/* sum(gy) and sum(gy * (x - mean)) of one channel */
static void channel_grad_sums(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy, int64_t ch,
                              float mean, double *sg, double *sgd)
{
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < n; b++) {
        const float *restrict xp = x + (b * c + ch) * spatial, *restrict gp = gy + (b * c + ch) * spatial;
        float s = 0.0f, sd = 0.0f;
        #pragma omp simd reduction(+ : s, sd)
        for (int64_t i = 0; i < spatial; i++) {
            s += gp[i];
            sd += gp[i] * (xp[i] - mean);
        }
        s1 += s;
        s2 += sd;
    }
    *sg = s1;
    *sgd = s2;
}

/* gx += scale * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)), the means over `count`
 * elements of the whole batch (all replicas) */
static void channel_grad_apply(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy, int64_t ch,
                               float scale, float mean, float invstd, double sg, double sgd, double count, float *gx)
{
    const double sgx = sgd * invstd; /* sum(gy * xhat) */
    const float k = (float)(scale * (double)invstd), mg = (float)(sg / count), kx = (float)((double)invstd * sgx / count);
    for (int64_t b = 0; b < n; b++) {
        const float *restrict xp = x + (b * c + ch) * spatial, *restrict gp = gy + (b * c + ch) * spatial;
        float *restrict gxp = gx + (b * c + ch) * spatial;
        #pragma omp simd
        for (int64_t i = 0; i < spatial; i++) gxp[i] += k * (gp[i] - mg - (xp[i] - mean) * kx);
    }
}

kn_status kn_cpu_batchnorm_train(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
    const int64_t count = n * spatial;
    if (count == 0) return kn_error(KN_ERR_SHAPE, "batchnorm_train: no elements per channel");
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++) {
        const double mean = channel_sum(n, c, spatial, x, ch) / (double)count;
        const double sq = channel_sqdev(n, c, spatial, x, ch, (float)mean);
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
        channel_affine(n, c, spatial, x, ch, (float)(scale[ch] * invstd), (float)(bias[ch] - mean * scale[ch] * invstd), y);
    });
    return KN_OK;
}

kn_status kn_cpu_batchnorm_bwd(int64_t n, int64_t c, int64_t spatial, const float *x,
                               const float *gy, const float *scale, const float *save_mean,
                               const float *save_invstd, float *gx, float *gscale, float *gbias)
{
    const int64_t count = n * spatial;
    if (count == 0) return KN_OK;
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++) {
        double sg, sgd;
        channel_grad_sums(n, c, spatial, x, gy, ch, save_mean[ch], &sg, &sgd);
        if (gscale) gscale[ch] += (float)(sgd * save_invstd[ch]);
        if (gbias) gbias[ch] += (float)sg;
        if (gx)
            channel_grad_apply(n, c, spatial, x, gy, ch, scale[ch], save_mean[ch], save_invstd[ch], sg, sgd,
                               (double)count, gx);
    });
    return KN_OK;
}

/* ---- the pieces of a batch norm whose batch is split across replicas ---- */

kn_status kn_cpu_batchnorm_sums(int64_t n, int64_t c, int64_t spatial, const float *x, const float *center, double *out)
{
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++)
        out[ch] = center ? channel_sqdev(n, c, spatial, x, ch, center[ch]) : channel_sum(n, c, spatial, x, ch););
    return KN_OK;
}

kn_status kn_cpu_batchnorm_apply(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                 const float *bias, const float *mean, const float *invstd, float *y)
{
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++) {
        const double a = (double)scale[ch] * invstd[ch];
        channel_affine(n, c, spatial, x, ch, (float)a, (float)(bias[ch] - mean[ch] * a), y);
    });
    return KN_OK;
}

kn_status kn_cpu_batchnorm_grad_sums(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                const float *mean, double *sg, double *sgd)
{
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++) channel_grad_sums(n, c, spatial, x, gy, ch, mean[ch], &sg[ch], &sgd[ch]););
    return KN_OK;
}

kn_status kn_cpu_batchnorm_grad_apply(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                      const float *scale, const float *mean, const float *invstd, const double *sg,
                                      const double *sgd, double count, float *gx)
{
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN && c > 1, schedule(static),
    for (int64_t ch = 0; ch < c; ch++)
        channel_grad_apply(n, c, spatial, x, gy, ch, scale[ch], mean[ch], invstd[ch], sg[ch], sgd[ch], count, gx););
    return KN_OK;
}

kn_status kn_cpu_lrn(int64_t n, int64_t c, int64_t spatial, int64_t size, float alpha, float beta,
                     float bias, const float *x, float *y)
{
    if (size < 1) return kn_error(KN_ERR_INVALID, "lrn: size must be >= 1, got %lld", (long long)size);
    const int64_t lo_off = (size - 1) / 2, hi_off = size - 1 - lo_off; /* floor / ceil of (size-1)/2 */
    const float a = alpha / (float)size;
    KN_OMP_FOR_IF(n * c * spatial > PAR_MIN, collapse(2) schedule(static),
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
        });
    return KN_OK;
}
