/* CPU softmax / log-softmax over dim of [outer, dim, inner] and their
 * backward. Numerically stable: the maximum is subtracted before exp and
 * the sum is kept in double. Each (outer, inner) column is independent and
 * walked with stride inner (stride 1, the common case, vectorises). */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

#define PAR_MIN 16384 /* elements below which threads cost more than they save */

static void softmax_col(bool is_log, int64_t dim, int64_t st, const float *x, float *y)
{
    float m = -INFINITY;
    for (int64_t d = 0; d < dim; d++) m = x[d * st] > m ? x[d * st] : m;
    double s = 0;
    if (is_log) {
        for (int64_t d = 0; d < dim; d++) s += expf(x[d * st] - m);
        /* (x - m) - log(s), not x - (m + log(s)): m + log(s) rounds away log(s) when m is large */
        const float ls = (float)log(s);
        for (int64_t d = 0; d < dim; d++) y[d * st] = (x[d * st] - m) - ls;
    } else {
        for (int64_t d = 0; d < dim; d++) {
            const float e = expf(x[d * st] - m);
            y[d * st] = e;
            s += e;
        }
        const float inv = (float)(1.0 / s);
        for (int64_t d = 0; d < dim; d++) y[d * st] *= inv;
    }
}

kn_status kn_cpu_softmax(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x,
                         float *y)
{
    const int64_t cols = outer * inner;
    KN_OMP_FOR_IF(cols * dim > PAR_MIN, schedule(static),
    for (int64_t col = 0; col < cols; col++) {
        const int64_t o = col / inner, i = col % inner, base = o * dim * inner + i;
        softmax_col(log, dim, inner, x + base, y + base);
    });
    return KN_OK;
}

kn_status kn_cpu_softmax_bwd(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y,
                             const float *gy, float *gx)
{
    const int64_t cols = outer * inner;
    KN_OMP_FOR_IF(cols * dim > PAR_MIN, schedule(static),
    for (int64_t col = 0; col < cols; col++) {
        const int64_t o = col / inner, i = col % inner, base = o * dim * inner + i, st = inner;
        const float *yp = y + base, *gp = gy + base;
        float *gxp = gx + base;
        double s = 0;
        if (log) { /* gx += gy - softmax * sum(gy) */
            for (int64_t d = 0; d < dim; d++) s += gp[d * st];
            for (int64_t d = 0; d < dim; d++) gxp[d * st] += gp[d * st] - expf(yp[d * st]) * (float)s;
        } else { /* gx += y * (gy - sum(gy * y)) */
            for (int64_t d = 0; d < dim; d++) s += (double)gp[d * st] * yp[d * st];
            for (int64_t d = 0; d < dim; d++) gxp[d * st] += yp[d * st] * (gp[d * st] - (float)s);
        }
    });
    return KN_OK;
}
