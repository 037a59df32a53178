/* CPU reductions over dim of [outer, dim, inner], their gradient, and
 * ArgMax/ArgMin. The reduced axis is walked outermost and a block of up to
 * BLOCK contiguous inner positions innermost, so memory is read in order
 * whatever inner is; accumulators are double (sums of many floats). */
#include "core/argreduce.h"
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

#define PAR_MIN 32768 /* elements below which threads cost more than they save */
#define BLOCK 256

static inline double red_init(kn_redop op)
{
    switch (op) {
    case KN_RED_PROD: return 1.0;
    case KN_RED_MAX: case KN_RED_LOG_SUM_EXP: return -INFINITY;
    case KN_RED_MIN: return INFINITY;
    default: return 0.0;
    }
}

/* Reduce bl adjacent columns starting at x (stride st between reduced elements). */
static void reduce_block(kn_redop op, int64_t dim, int64_t st, int64_t bl, const float *x, float *y)
{
    double acc[BLOCK], mx[BLOCK];
    for (int64_t j = 0; j < bl; j++) acc[j] = red_init(op);
    if (op == KN_RED_LOG_SUM_EXP) { /* max first, so exp never overflows */
        for (int64_t d = 0; d < dim; d++)
            for (int64_t j = 0; j < bl; j++) {
                const double v = x[d * st + j];
                if (v > acc[j] || isnan(v)) acc[j] = v;
            }
        for (int64_t j = 0; j < bl; j++) { mx[j] = isinf(acc[j]) ? 0.0 : acc[j]; acc[j] = 0.0; }
        for (int64_t d = 0; d < dim; d++)
            for (int64_t j = 0; j < bl; j++) acc[j] += exp(x[d * st + j] - mx[j]);
        for (int64_t j = 0; j < bl; j++) y[j] = (float)(mx[j] + log(acc[j]));
        return;
    }
    for (int64_t d = 0; d < dim; d++) {
        const float *xp = x + d * st;
        switch (op) {
        case KN_RED_SUM: case KN_RED_MEAN: case KN_RED_LOG_SUM:
            for (int64_t j = 0; j < bl; j++) acc[j] += xp[j];
            break;
        case KN_RED_SUM_SQUARE: case KN_RED_L2:
            for (int64_t j = 0; j < bl; j++) acc[j] += (double)xp[j] * xp[j];
            break;
        case KN_RED_L1:
            for (int64_t j = 0; j < bl; j++) acc[j] += fabs((double)xp[j]);
            break;
        case KN_RED_PROD:
            for (int64_t j = 0; j < bl; j++) acc[j] *= xp[j];
            break;
        case KN_RED_MAX: /* NaN propagates, as numpy's maximum.reduce */
            for (int64_t j = 0; j < bl; j++) if (xp[j] > acc[j] || isnan(xp[j])) acc[j] = xp[j];
            break;
        case KN_RED_MIN:
            for (int64_t j = 0; j < bl; j++) if (xp[j] < acc[j] || isnan(xp[j])) acc[j] = xp[j];
            break;
        default: break;
        }
    }
    for (int64_t j = 0; j < bl; j++) {
        double v = acc[j];
        if (op == KN_RED_MEAN) v /= (double)dim; /* dim 0 gives NaN, as numpy's mean of nothing */
        else if (op == KN_RED_L2) v = sqrt(v);
        else if (op == KN_RED_LOG_SUM) v = log(v);
        y[j] = (float)v;
    }
}

kn_status kn_cpu_reduce(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x,
                        float *y)
{
    if (op < KN_RED_SUM || op > KN_RED_SUM_SQUARE)
        return kn_error(KN_ERR_UNSUPPORTED, "reduce op %d is not implemented on cpu", (int)op);
    const int64_t nblk = (inner + BLOCK - 1) / BLOCK;
    KN_OMP_FOR_IF(outer * dim * inner > PAR_MIN, collapse(2) schedule(static),
    for (int64_t o = 0; o < outer; o++)
        for (int64_t b = 0; b < nblk; b++) {
            const int64_t i0 = b * BLOCK, bl = inner - i0 < BLOCK ? inner - i0 : BLOCK;
            reduce_block(op, dim, inner, bl, x + o * dim * inner + i0, y + o * inner + i0);
        });
    return KN_OK;
}

kn_status kn_cpu_reduce_bwd(kn_redop op, const kn_bcast *bc, int64_t count, const float *x,
                            const float *y, const float *gy, float *gx)
{
    if (op == KN_RED_PROD)
        return kn_error(KN_ERR_UNSUPPORTED, "the gradient of a product reduction is not implemented on cpu");
    const int nd = bc->ndim;
    const int64_t last = nd ? bc->shape[nd - 1] : 1, sb = nd ? bc->bstride[nd - 1] : 0;
    int64_t total = 1;
    for (int d = 0; d < nd; d++) total *= bc->shape[d];
    const int64_t rows = last ? total / last : 0;
    const double inv_count = count ? 1.0 / (double)count : 0.0;
    KN_OMP_FOR_IF(total > PAR_MIN, schedule(static),
    for (int64_t r = 0; r < rows; r++) {
        int64_t ob = 0, rem = r; /* offset of this row in y: x is contiguous, y is broadcast */
        for (int d = nd - 2; d >= 0; d--) {
            ob += (rem % bc->shape[d]) * bc->bstride[d];
            rem /= bc->shape[d];
        }
        const float *xp = x + r * last;
        float *gxp = gx + r * last;
        for (int64_t j = 0; j < last; j++) {
            const double v = xp[j], yv = y[ob + j * sb], g = gy[ob + j * sb];
            double dv;
            switch (op) {
            case KN_RED_SUM: dv = 1.0; break;
            case KN_RED_MEAN: dv = inv_count; break;
            case KN_RED_MAX: case KN_RED_MIN: dv = v == yv ? 1.0 : 0.0; break;
            case KN_RED_L1: dv = v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); break;
            case KN_RED_L2: dv = yv != 0 ? v / yv : 0.0; break;
            case KN_RED_SUM_SQUARE: dv = 2.0 * v; break;
            case KN_RED_LOG_SUM: dv = exp(-yv); break;
            case KN_RED_LOG_SUM_EXP: dv = exp(v - yv); break;
            default: dv = 0.0; break;
            }
            gxp[j] += (float)(g * dv);
        }
    });
    return KN_OK;
}

kn_status kn_cpu_argreduce(bool is_min, bool select_last, int64_t outer, int64_t dim, int64_t inner,
                           const float *x, int64_t *y)
{
    if (dim == 0) return kn_error(KN_ERR_SHAPE, "argmax/argmin over an empty axis");
    KN_OMP_FOR_IF(outer * dim * inner > PAR_MIN, schedule(static),
    for (int64_t col = 0; col < outer * inner; col++) {
        const int64_t o = col / inner, i = col % inner;
        y[col] = kn_argreduce_column(x + o * dim * inner + i, dim, inner, is_min, select_last);
    });
    return KN_OK;
}
