/* CPU index kernels of the second ops batch: scatter with reductions (ScatterND,
 * ScatterElements), Trilu, one-hot rows (OneHot, Hardmax). Indices arrive
 * non-negative and checked by the ops. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>

#define PAR_MIN 65536

/* One reduction step for a C type. */
#define RED_LOOP(T)                                                                           \
    do {                                                                                      \
        T *yy = y;                                                                            \
        const T *uu = upd;                                                                    \
        for (int64_t j = 0; j < n; j++)                                                       \
            for (int64_t i = 0; i < inner; i++) {                                             \
                T *d = yy + idx[j] * inner + i;                                               \
                T u = uu[j * inner + i];                                                      \
                switch (red) {                                                                \
                case KN_SCATTER_ADD: *d = (T)(*d + u); break;                                 \
                case KN_SCATTER_MUL: *d = (T)(*d * u); break;                                 \
                case KN_SCATTER_MAX: if (u > *d) *d = u; break;                               \
                case KN_SCATTER_MIN: if (u < *d) *d = u; break;                               \
                default: *d = u; break;                                                       \
                }                                                                             \
            }                                                                                 \
    } while (0)

kn_status kn_cpu_scatter(kn_dtype dtype, kn_scatter_red red, int64_t n, int64_t inner, const int64_t *idx,
                         const void *upd, void *y)
{
    if (n <= 0 || inner <= 0) return KN_OK;
    if (red == KN_SCATTER_NONE) {
        /* serial: with repeated indices the last update must win */
        size_t es = kn_dtype_size(dtype), row = (size_t)inner * es;
        for (int64_t j = 0; j < n; j++)
            memcpy((char *)y + (size_t)idx[j] * row, (const char *)upd + (size_t)j * row, row);
        return KN_OK;
    }
    switch (dtype) {
    case KN_FLOAT: RED_LOOP(float); break;
    case KN_DOUBLE: RED_LOOP(double); break;
    case KN_INT8: RED_LOOP(int8_t); break;
    case KN_INT16: RED_LOOP(int16_t); break;
    case KN_INT32: RED_LOOP(int32_t); break;
    case KN_INT64: RED_LOOP(int64_t); break;
    case KN_UINT8: RED_LOOP(uint8_t); break;
    case KN_UINT16: RED_LOOP(uint16_t); break;
    case KN_UINT32: RED_LOOP(uint32_t); break;
    case KN_UINT64: RED_LOOP(uint64_t); break;
    case KN_FLOAT16: {
        uint16_t *yy = y;
        const uint16_t *uu = upd;
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < inner; i++) {
                uint16_t *d = yy + idx[j] * inner + i;
                float a = kn_half_to_float(*d), u = kn_half_to_float(uu[j * inner + i]);
                float r = red == KN_SCATTER_ADD ? a + u : red == KN_SCATTER_MUL ? a * u
                        : red == KN_SCATTER_MAX ? (u > a ? u : a) : (u < a ? u : a);
                *d = kn_float_to_half(r);
            }
        break;
    }
    default:
        return kn_error(KN_ERR_UNSUPPORTED, "scatter reduction on %s is not supported", kn_dtype_name(dtype));
    }
    return KN_OK;
}

kn_status kn_cpu_trilu(size_t elem, bool upper, bool accumulate, int64_t batch, int64_t rows, int64_t cols,
                       int64_t k, const void *x, void *y)
{
    const int64_t nrows = batch * rows;
    KN_OMP_FOR_IF(nrows * cols > PAR_MIN, schedule(static),
    for (int64_t br = 0; br < nrows; br++) {
        const int64_t r = br % rows;
        /* kept columns are [lo, hi) */
        int64_t lo = upper ? r + k : 0, hi = upper ? cols : r + k + 1;
        if (lo < 0) lo = 0;
        if (lo > cols) lo = cols;
        if (hi > cols) hi = cols;
        if (hi < lo) hi = lo;
        if (accumulate) {
            const float *xs = (const float *)x + br * cols;
            float *ys = (float *)y + br * cols;
            for (int64_t c = lo; c < hi; c++) ys[c] += xs[c];
            continue;
        }
        const char *xs = (const char *)x + (size_t)(br * cols) * elem;
        char *ys = (char *)y + (size_t)(br * cols) * elem;
        memset(ys, 0, (size_t)lo * elem);
        memcpy(ys + (size_t)lo * elem, xs + (size_t)lo * elem, (size_t)(hi - lo) * elem);
        memset(ys + (size_t)hi * elem, 0, (size_t)(cols - hi) * elem);
    });
    return KN_OK;
}

kn_status kn_cpu_one_hot(size_t elem, int64_t outer, int64_t depth, int64_t inner, const int64_t *idx,
                         uint64_t off, uint64_t on, void *y)
{
    const int64_t n = outer * depth * inner;
    KN_TRY(kn_cpu_fill(elem, n, off, y));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t d = idx[o * inner + i];
            if (d < 0 || d >= depth) continue;
            memcpy((char *)y + (size_t)((o * depth + d) * inner + i) * elem, &on, elem);
        }
    return KN_OK;
}
