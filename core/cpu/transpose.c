/* CPU transpose of any rank <= KN_MAX_DIMS and any element size.
 *
 * The permutation becomes a strided copy (y contiguous, x strides permuted),
 * simplified so dims that stay adjacent merge and size-1 dims vanish: a
 * [N, C, 1] -> [N, 1, C] "transpose" is a plain copy, and NCHW -> NHWC is a
 * batched 2-D transpose of [C, H*W]. Whenever the two innermost dims of the
 * simplified problem swap (x contiguous along the outer one, y along the inner
 * one) a cache-blocked 2-D kernel runs; everything else goes through the
 * generic strided copy. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>

#define TILE 64
#define PAR_MIN 65536

/* y[r * ldy + c] = x[r + c * ldx] over one tile. The tile is staged through a
 * local buffer: x is read along r (contiguous) and y written along c
 * (contiguous), so neither side walks a large (often power-of-two) stride
 * in its inner loop; the strided reads hit the L1-resident buffer. */
#define BLOCK_T(T)                                                                       \
    do {                                                                                 \
        T buf[TILE][TILE];                                                               \
        const T *xp = (const T *)x;                                                      \
        T *yp = (T *)y;                                                                  \
        for (int64_t c = c0; c < c1; c++)                                                \
            for (int64_t r = r0; r < r1; r++) buf[c - c0][r - r0] = xp[r + c * ldx];    \
        for (int64_t r = r0; r < r1; r++)                                                \
            for (int64_t c = c0; c < c1; c++) yp[r * ldy + c] = buf[c - c0][r - r0];    \
    } while (0)

static void tile_copy(size_t elem, const void *x, int64_t ldx, void *y, int64_t ldy, int64_t r0, int64_t r1,
                      int64_t c0, int64_t c1)
{
    switch (elem) {
    case 1: BLOCK_T(uint8_t); break;
    case 2: BLOCK_T(uint16_t); break;
    case 4: BLOCK_T(uint32_t); break;
    case 8: BLOCK_T(uint64_t); break;
    default:
        for (int64_t r = r0; r < r1; r++)
            for (int64_t c = c0; c < c1; c++)
                memcpy((char *)y + (size_t)(r * ldy + c) * elem, (const char *)x + (size_t)(r + c * ldx) * elem, elem);
    }
}
#undef BLOCK_T

kn_status kn_cpu_transpose(size_t elem, int ndim, const int64_t *shape, const int *perm, const void *x, void *y)
{
    if (ndim < 0 || ndim > KN_MAX_DIMS)
        return kn_error(KN_ERR_UNSUPPORTED, "transpose: rank %d exceeds %d", ndim, KN_MAX_DIMS);
    if (elem == 0) return kn_error(KN_ERR_INVALID, "transpose: element size 0");
    int64_t xc[KN_MAX_DIMS], ys[KN_MAX_DIMS], ysh[KN_MAX_DIMS], xs[KN_MAX_DIMS];
    unsigned seen = 0;
    int64_t st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        xc[d] = st;
        st *= shape[d];
    }
    for (int d = 0; d < ndim; d++) {
        if (perm[d] < 0 || perm[d] >= ndim || (seen >> perm[d] & 1))
            return kn_error(KN_ERR_INVALID, "transpose: perm is not a permutation of %d dims", ndim);
        seen |= 1u << perm[d];
        ysh[d] = shape[perm[d]];
        xs[d] = xc[perm[d]];
    }
    st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        ys[d] = st;
        st *= ysh[d];
    }
    int64_t s[KN_MAX_DIMS], a[KN_MAX_DIMS], b[KN_MAX_DIMS];
    int k = kn_cpu_strided_simplify(ndim, ysh, xs, ys, s, a, b);
    if (k < 0) return KN_OK;
    if (k < 2 || a[k - 2] != 1 || b[k - 1] != 1) return kn_cpu_copy_strided(elem, ndim, ysh, x, xs, y, ys);

    /* batched blocked 2-D transpose over the two innermost simplified dims */
    const int64_t R = s[k - 2], C = s[k - 1], ldx = a[k - 1], ldy = b[k - 2];
    int64_t outer = 1;
    for (int d = 0; d < k - 2; d++) outer *= s[d];
    const int64_t rt = (R + TILE - 1) / TILE, ct = (C + TILE - 1) / TILE, tiles = outer * rt * ct;
    KN_OMP_FOR_IF(tiles > 1 && outer * R * C > PAR_MIN, schedule(static),
    for (int64_t t = 0; t < tiles; t++) {
        int64_t o = t / (rt * ct), rem = t % (rt * ct), tr = rem / ct, tc = rem % ct;
        int64_t xo = 0, yo = 0, oo = o;
        for (int d = k - 3; d >= 0; d--) {
            int64_t i = oo % s[d];
            oo /= s[d];
            xo += i * a[d];
            yo += i * b[d];
        }
        int64_t r0 = tr * TILE, c0 = tc * TILE;
        int64_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;
        tile_copy(elem, (const char *)x + (size_t)xo * elem, ldx, (char *)y + (size_t)yo * elem, ldy, r0, r1, c0, c1);
    });
    return KN_OK;
}
