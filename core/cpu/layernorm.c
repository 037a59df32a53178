/* CPU LayerNormalization: one row per OpenMP iteration, statistics in double
 * (rows are short and the two-pass variance keeps cancellation out). The scale
 * and bias gradients are reduced over rows serially so the sum's order is
 * fixed. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

kn_status kn_cpu_layernorm_fwd(int64_t rows, int64_t d, const float *x, const float *scale, const float *bias,
                               float eps, float *y, float *mean, float *invstd)
{
    if (rows < 0 || d <= 0) return kn_error(KN_ERR_SHAPE, "layernorm: bad geometry rows=%lld d=%lld", (long long)rows, (long long)d);
    KN_OMP_FOR_IF(rows * d > 65536, schedule(static),
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double m = 0, v = 0;
        for (int64_t j = 0; j < d; j++) m += xr[j];
        m /= (double)d;
        for (int64_t j = 0; j < d; j++) v += (xr[j] - m) * (xr[j] - m);
        const float mf = (float)m, is = (float)(1.0 / sqrt(v / (double)d + eps));
        for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - mf) * is * scale[j] + (bias ? bias[j] : 0.0f);
        mean[r] = mf;
        invstd[r] = is;
    });
    return KN_OK;
}

/* With xh = (x - mean) * invstd and g = gy * scale:
 * gx = invstd * (g - mean(g) - xh * mean(g * xh)). */
kn_status kn_cpu_layernorm_bwd(int64_t rows, int64_t d, const float *x, const float *gy, const float *scale,
                               const float *mean, const float *invstd, float *gx, float *gscale, float *gbias)
{
    if (rows < 0 || d <= 0) return kn_error(KN_ERR_SHAPE, "layernorm_bwd: bad geometry rows=%lld d=%lld", (long long)rows, (long long)d);
    if (gx) {
        KN_OMP_FOR_IF(rows * d > 65536, schedule(static),
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *gr = gy + r * d;
            const float m = mean[r], is = invstd[r];
            double sg = 0, sgx = 0;
            for (int64_t j = 0; j < d; j++) {
                const double g = (double)gr[j] * scale[j], xh = (xr[j] - m) * is;
                sg += g;
                sgx += g * xh;
            }
            sg /= (double)d;
            sgx /= (double)d;
            for (int64_t j = 0; j < d; j++) {
                const double g = (double)gr[j] * scale[j], xh = (xr[j] - m) * is;
                gx[r * d + j] += (float)(is * (g - sg - xh * sgx));
            }
        });
    }
    for (int64_t r = 0; r < rows && (gscale || gbias); r++)
        for (int64_t j = 0; j < d; j++) {
            const float g = gy[r * d + j];
            if (gscale) gscale[j] += g * (x[r * d + j] - mean[r]) * invstd[r];
            if (gbias) gbias[j] += g;
        }
    return KN_OK;
}
