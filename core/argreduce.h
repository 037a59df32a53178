/* One column of ArgMax / ArgMin, shared by the CPU kernel (core/cpu/reduce.c) and its
 * CUDA twin (cuda/strided.cu), compiled by gcc and nvcc alike, so both follow one rule:
 * the first index on ties (the last with select_last), NaN counts as the extreme, as
 * numpy does. xp points at element 0 of the column; elements are inner apart. */
#ifndef KN_ARGREDUCE_H
#define KN_ARGREDUCE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __CUDACC__
#define KN_HOST_DEVICE __host__ __device__
#else
#define KN_HOST_DEVICE
#endif

static inline KN_HOST_DEVICE int64_t kn_argreduce_column(const float *xp, int64_t dim, int64_t inner, bool is_min,
                                                         bool select_last)
{
    int64_t best = 0;
    float bv = xp[0];
    for (int64_t d = 1; d < dim && !isnan(bv); d++) {
        const float v = xp[d * inner];
        const bool better = isnan(v) || (is_min ? v < bv : v > bv) || (select_last && v == bv);
        if (better) {
            best = d;
            bv = v;
        }
    }
    if (select_last && isnan(bv)) /* the last NaN, as numpy on the reversed axis */
        for (int64_t d = dim - 1; d > best; d--)
            if (isnan(xp[d * inner])) return d;
    return best;
}

#endif
