/* CPU separable resampling (Resize, Upsample): the op precomputes, per dim and
 * output coordinate, `taps` source indices and weights; an output element is
 * the sum over every combination of taps of x at those indices times the
 * product of their weights. taps == 1 is a plain element copy (nearest, any
 * dtype). */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <string.h>

#define PAR_MIN 16384

kn_status kn_cpu_resize(kn_dtype dtype, int ndim, const int64_t *xshape, const int64_t *yshape, int taps,
                        const int64_t *idx, const float *w, const void *x, void *y)
{
    if (ndim < 1 || ndim > KN_MAX_DIMS || taps < 1)
        return kn_error(KN_ERR_INVALID, "resize: bad rank %d or taps %d", ndim, taps);
    if (taps > 1 && dtype != KN_FLOAT)
        return kn_error(KN_ERR_UNSUPPORTED, "resize with %d taps needs float, got %s", taps, kn_dtype_name(dtype));
    int64_t base[KN_MAX_DIMS], xstr[KN_MAX_DIMS], ny = 1, ncomb = 1;
    int64_t b = 0;
    for (int d = 0; d < ndim; d++) {
        base[d] = b;
        b += yshape[d];
        ny *= yshape[d];
    }
    for (int64_t d = ndim - 1, s = 1; d >= 0; d--) {
        xstr[d] = s;
        s *= xshape[d];
    }
    for (int d = 0; d < ndim; d++) ncomb *= taps;
    const size_t es = kn_dtype_size(dtype);
    KN_OMP_FOR_IF(ny * ncomb > PAR_MIN, schedule(static),
    for (int64_t o = 0; o < ny; o++) {
        int64_t coord[KN_MAX_DIMS], rem = o;
        for (int d = ndim - 1; d >= 0; d--) {
            coord[d] = rem % yshape[d];
            rem /= yshape[d];
        }
        if (taps == 1) {
            int64_t src = 0;
            for (int d = 0; d < ndim; d++) src += idx[base[d] + coord[d]] * xstr[d];
            memcpy((char *)y + (size_t)o * es, (const char *)x + (size_t)src * es, es);
            continue;
        }
        double acc = 0;
        for (int64_t comb = 0; comb < ncomb; comb++) {
            int64_t c = comb, src = 0;
            double wt = 1;
            for (int d = ndim - 1; d >= 0 && wt != 0; d--) {
                int t = (int)(c % taps);
                c /= taps;
                const int64_t at = (base[d] + coord[d]) * taps + t;
                wt *= w[at];
                src += idx[at] * xstr[d];
            }
            if (wt != 0) acc += wt * ((const float *)x)[src];
        }
        ((float *)y)[o] = (float)acc;
    });
    return KN_OK;
}
