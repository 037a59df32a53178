/* CPU data movement: strided block copies (Concat, Split), general strided
 * copies and accumulations over up to 16 dims (Slice with steps, Expand,
 * Tile, and the backward of those and of Transpose).
 *
 * Strided loops first simplify the index space: size-1 dims are dropped and
 * adjacent dims that are contiguous with each other in both operands are
 * merged, so a slice of whole rows becomes one long run and the innermost
 * loop is as long as possible. Then the outer dims are walked (in parallel
 * when the work is large) and the innermost dim runs as a tight loop,
 * a memcpy when both sides are contiguous. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>

#define PAR_MIN 65536 /* elements; below this, threads cost more than they save */
#define MAX_SDIMS (2 * KN_MAX_DIMS)

kn_status kn_cpu_copy2d(int64_t rows, size_t row_bytes, const void *src, size_t src_stride,
                        void *dst, size_t dst_stride)
{
    if (rows <= 0 || row_bytes == 0) return KN_OK;
    const char *s = src;
    char *d = dst;
    if (src_stride == row_bytes && dst_stride == row_bytes) {
        memmove(d, s, (size_t)rows * row_bytes);
        return KN_OK;
    }
    KN_OMP_FOR_IF((size_t)rows * row_bytes > 4 * PAR_MIN, schedule(static),
    for (int64_t r = 0; r < rows; r++) memcpy(d + (size_t)r * dst_stride, s + (size_t)r * src_stride, row_bytes););
    return KN_OK;
}

int kn_cpu_strided_simplify(int ndim, const int64_t *shape, const int64_t *xs, const int64_t *ys, int64_t *s,
                    int64_t *a, int64_t *b)
{
    int k = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0) return -1;
        if (shape[d] == 1) continue;
        if (k > 0 && a[k - 1] == xs[d] * shape[d] && b[k - 1] == ys[d] * shape[d]) {
            s[k - 1] *= shape[d];
            a[k - 1] = xs[d];
            b[k - 1] = ys[d];
            continue;
        }
        s[k] = shape[d];
        a[k] = xs[d];
        b[k] = ys[d];
        k++;
    }
    return k;
}

/* Offsets of outer index o (over dims 0..k-2) in both operands. */
static inline void outer_offsets(int k, const int64_t *s, const int64_t *a, const int64_t *b, int64_t o,
                                 int64_t *xo, int64_t *yo)
{
    int64_t xoff = 0, yoff = 0;
    for (int d = k - 2; d >= 0; d--) {
        int64_t i = o % s[d];
        o /= s[d];
        xoff += i * a[d];
        yoff += i * b[d];
    }
    *xo = xoff;
    *yo = yoff;
}

#define ROW_LOOP(T)                                                                   \
    do {                                                                              \
        const T *xp = (const T *)x + xo;                                              \
        T *yp = (T *)y + yo;                                                          \
        for (int64_t i = 0; i < n; i++) yp[i * ys] = xp[i * xs];                      \
    } while (0)

static void copy_row(size_t elem, int64_t n, const void *x, int64_t xo, int64_t xs, void *y, int64_t yo,
                     int64_t ys)
{
    if (xs == 1 && ys == 1) {
        memcpy((char *)y + (size_t)yo * elem, (const char *)x + (size_t)xo * elem, (size_t)n * elem);
        return;
    }
    switch (elem) {
    case 1: ROW_LOOP(uint8_t); break;
    case 2: ROW_LOOP(uint16_t); break;
    case 4: ROW_LOOP(uint32_t); break;
    case 8: ROW_LOOP(uint64_t); break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)y + (size_t)(yo + i * ys) * elem, (const char *)x + (size_t)(xo + i * xs) * elem, elem);
    }
}
#undef ROW_LOOP

kn_status kn_cpu_copy_strided(size_t elem, int ndim, const int64_t *shape, const void *x,
                              const int64_t *xstride, void *y, const int64_t *ystride)
{
    if (ndim < 0 || ndim > MAX_SDIMS)
        return kn_error(KN_ERR_UNSUPPORTED, "copy_strided: rank %d exceeds %d", ndim, MAX_SDIMS);
    int64_t s[MAX_SDIMS], a[MAX_SDIMS], b[MAX_SDIMS];
    int k = kn_cpu_strided_simplify(ndim, shape, xstride, ystride, s, a, b);
    if (k < 0) return KN_OK;
    if (k == 0) {
        memcpy(y, x, elem);
        return KN_OK;
    }
    int64_t outer = 1;
    for (int d = 0; d < k - 1; d++) outer *= s[d];
    const int64_t n = s[k - 1], xs = a[k - 1], ys = b[k - 1];
    KN_OMP_FOR_IF(outer > 1 && outer * n > PAR_MIN, schedule(static),
    for (int64_t o = 0; o < outer; o++) {
        int64_t xo, yo;
        outer_offsets(k, s, a, b, o, &xo, &yo);
        copy_row(elem, n, x, xo, xs, y, yo, ys);
    });
    return KN_OK;
}

kn_status kn_cpu_add_strided(int ndim, const int64_t *shape, const float *x, const int64_t *xstride,
                             float *y, const int64_t *ystride)
{
    if (ndim < 0 || ndim > MAX_SDIMS)
        return kn_error(KN_ERR_UNSUPPORTED, "add_strided: rank %d exceeds %d", ndim, MAX_SDIMS);
    int64_t s[MAX_SDIMS], a[MAX_SDIMS], b[MAX_SDIMS];
    int k = kn_cpu_strided_simplify(ndim, shape, xstride, ystride, s, a, b);
    if (k < 0) return KN_OK;
    if (k == 0) {
        y[0] += x[0];
        return KN_OK;
    }
    /* Walk the dims in an order that keeps a 0-stride (summed) y dim off the parallel
     * loop: parallel only when every outer y stride is non-zero. */
    int64_t outer = 1;
    bool par_safe = true;
    for (int d = 0; d < k - 1; d++) {
        outer *= s[d];
        par_safe &= b[d] != 0;
    }
    const int64_t n = s[k - 1], xs = a[k - 1], ys = b[k - 1];
    KN_OMP_FOR_IF(par_safe && outer > 1 && outer * n > PAR_MIN, schedule(static),
    for (int64_t o = 0; o < outer; o++) {
        int64_t xo, yo;
        outer_offsets(k, s, a, b, o, &xo, &yo);
        const float *xp = x + xo;
        float *yp = y + yo;
        if (ys == 0) {
            float acc = 0.0f;
            for (int64_t i = 0; i < n; i++) acc += xp[i * xs];
            yp[0] += acc;
        } else if (xs == 1 && ys == 1) {
            for (int64_t i = 0; i < n; i++) yp[i] += xp[i];
        } else {
            for (int64_t i = 0; i < n; i++) yp[i * ys] += xp[i * xs];
        }
    });
    return KN_OK;
}
