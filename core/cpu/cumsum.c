/* CPU CumSum over dim of [outer, dim, inner]: each (outer, inner) line is an
 * independent running sum, so lines run in parallel. Sums accumulate in the
 * element type (double for float16-free float32 would change results). */
#include "core/cpu/cpu.h"

#define PAR_MIN 65536

#define CUMSUM_LOOP(T, ACC)                                                                   \
    do {                                                                                      \
        const T *xx = x;                                                                      \
        T *yy = y;                                                                            \
        _Pragma("omp parallel for schedule(static) if (outer * dim * inner > PAR_MIN)")       \
        for (int64_t line = 0; line < outer * inner; line++) {                                \
            const int64_t o = line / inner, i = line % inner;                                 \
            T s = 0;                                                                          \
            for (int64_t t = 0; t < dim; t++) {                                               \
                const int64_t d = reverse ? dim - 1 - t : t;                                  \
                const int64_t at = (o * dim + d) * inner + i;                                 \
                T v = xx[at];                                                                 \
                if (!exclusive) s = (T)(s + v);                                               \
                if (ACC) yy[at] = (T)(yy[at] + s); else yy[at] = s;                           \
                if (exclusive) s = (T)(s + v);                                                \
            }                                                                                 \
        }                                                                                     \
    } while (0)

kn_status kn_cpu_cumsum(kn_dtype dtype, bool exclusive, bool reverse, bool accumulate, int64_t outer,
                        int64_t dim, int64_t inner, const void *x, void *y)
{
    if (accumulate && dtype != KN_FLOAT)
        return kn_error(KN_ERR_UNSUPPORTED, "accumulating cumsum on %s is not supported", kn_dtype_name(dtype));
    switch (dtype) {
    case KN_FLOAT:
        if (accumulate) CUMSUM_LOOP(float, 1); else CUMSUM_LOOP(float, 0);
        return KN_OK;
    case KN_DOUBLE: CUMSUM_LOOP(double, 0); return KN_OK;
    case KN_INT32: CUMSUM_LOOP(int32_t, 0); return KN_OK;
    case KN_INT64: CUMSUM_LOOP(int64_t, 0); return KN_OK;
    case KN_UINT32: CUMSUM_LOOP(uint32_t, 0); return KN_OK;
    case KN_UINT64: CUMSUM_LOOP(uint64_t, 0); return KN_OK;
    default:
        return kn_error(KN_ERR_UNSUPPORTED, "cumsum on %s is not supported", kn_dtype_name(dtype));
    }
}
