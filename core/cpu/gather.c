/* CPU Gather along one axis of [outer, axis_dim, inner], any element size,
 * and its float32 backward (a scatter-add). Indices arrive non-negative and
 * checked by the op. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>

#define PAR_MIN 65536

kn_status kn_cpu_gather(size_t elem, int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx,
                        int64_t nidx, const void *x, void *y)
{
    const size_t row = (size_t)inner * elem;
    const int64_t rows = outer * nidx;
    if (rows <= 0 || row == 0) return KN_OK;
    const char *xs = x;
    char *ys = y;
    KN_OMP_FOR_IF(rows * inner > PAR_MIN, schedule(static),
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / nidx, j = r % nidx;
        memcpy(ys + (size_t)r * row, xs + ((size_t)o * (size_t)axis_dim + (size_t)idx[j]) * row, row);
    });
    return KN_OK;
}

kn_status kn_cpu_gather_bwd(int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx, int64_t nidx,
                            const float *gy, float *gx)
{
    /* parallel over outer only: indices may repeat within one outer slice */
    KN_OMP_FOR_IF(outer > 1 && outer * nidx * inner > PAR_MIN, schedule(static),
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < nidx; j++) {
            const float *src = gy + (o * nidx + j) * inner;
            float *dst = gx + (o * axis_dim + idx[j]) * inner;
            for (int64_t i = 0; i < inner; i++) dst[i] += src[i];
        });
    return KN_OK;
}
