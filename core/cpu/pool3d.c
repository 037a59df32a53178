/* CPU N-d pooling (3-D and up, and MaxPool on non-float types at any rank):
 * direct loops over each output's window, OpenMP over the n*c volumes (each
 * volume's input and output belong to one thread, so backward needs no atomics). */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

static kn_status check_desc(const kn_nd_desc *d, const char *what, int64_t *vol, int64_t *ovol)
{
    bool ok = d->rank >= 1 && d->rank <= KN_MAX_DIMS - 2 && d->n >= 0 && d->c >= 0;
    *vol = *ovol = 1;
    for (int i = 0; ok && i < d->rank; i++) {
        ok = d->in[i] > 0 && d->out[i] > 0 && d->k[i] > 0 && d->stride[i] > 0 && d->dil[i] > 0;
        *vol *= d->in[i];
        *ovol *= d->out[i];
    }
    if (!ok) return kn_error(KN_ERR_SHAPE, "%s: bad geometry (rank %d, n=%lld c=%lld)", what, d->rank, (long long)d->n, (long long)d->c);
    return KN_OK;
}

/* One output's window: per dim the first input coordinate (start) and the taps
 * [lo, hi) that land inside the input; cnt = taps inside, cnt_pad = taps inside
 * the padded input (count_include_pad; taps past the end padding never count). */
typedef struct win {
    int64_t start[KN_MAX_DIMS], lo[KN_MAX_DIMS], hi[KN_MAX_DIMS];
    int64_t cnt, cnt_pad;
} win;

static void taps(int64_t start, int64_t dil, int64_t k, int64_t lim_lo, int64_t lim_hi, int64_t *lo, int64_t *hi)
{
    int64_t a = start >= lim_lo ? 0 : (lim_lo - start + dil - 1) / dil;
    int64_t b = lim_hi - 1 - start < 0 ? 0 : (lim_hi - 1 - start) / dil + 1;
    if (b > k) b = k;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

static void window_of(const kn_nd_desc *d, int64_t o, win *w)
{
    w->cnt = w->cnt_pad = 1;
    for (int i = d->rank - 1; i >= 0; i--) {
        const int64_t oi = o % d->out[i];
        o /= d->out[i];
        w->start[i] = oi * d->stride[i] - d->pad_begin[i];
        taps(w->start[i], d->dil[i], d->k[i], 0, d->in[i], &w->lo[i], &w->hi[i]);
        int64_t a, b;
        taps(w->start[i], d->dil[i], d->k[i], -d->pad_begin[i], d->in[i] + d->pad_end[i], &a, &b);
        w->cnt *= w->hi[i] - w->lo[i];
        w->cnt_pad *= b - a;
    }
}

/* Visit every in-input tap of window w: BODY sees `xi`, the flat index in the volume. */
#define FOR_TAPS(d, w, BODY)                                                                  \
    do {                                                                                      \
        if ((w).cnt <= 0) break;                                                              \
        int64_t t_[KN_MAX_DIMS];                                                              \
        for (int i = 0; i < (d)->rank; i++) t_[i] = (w).lo[i];                                \
        for (;;) {                                                                            \
            int64_t xi = 0;                                                                   \
            for (int i = 0; i < (d)->rank; i++) xi = xi * (d)->in[i] + (w).start[i] + t_[i] * (d)->dil[i]; \
            BODY;                                                                             \
            int i = (d)->rank - 1;                                                            \
            for (; i >= 0; i--) {                                                             \
                if (++t_[i] < (w).hi[i]) break;                                               \
                t_[i] = (w).lo[i];                                                            \
            }                                                                                 \
            if (i < 0) break;                                                                 \
        }                                                                                     \
    } while (0)

/* NaN wins, as in the 2-D kernel (comparisons with NaN are false, so it would be skipped). */
#define MAXPOOL_T(T, LOAD, ISNAN)                                                             \
    do {                                                                                      \
        const T *X = x;                                                                       \
        T *Y = y;                                                                             \
        _Pragma("omp parallel for schedule(static) if (planes * ovol > 4096)")               \
        for (int64_t pl = 0; pl < planes; pl++) {                                             \
            for (int64_t o = 0; o < ovol; o++) {                                              \
                win w;                                                                        \
                window_of(d, o, &w);                                                          \
                const T *xp = X + pl * vol;                                                   \
                int64_t arg = -1;                                                             \
                T best = 0;                                                                   \
                FOR_TAPS(d, w, {                                                              \
                    const T v = xp[xi];                                                       \
                    if (arg < 0 || LOAD(v) > LOAD(best) || (ISNAN(v) && !ISNAN(best))) { best = v; arg = xi; } \
                });                                                                           \
                Y[pl * ovol + o] = best;                                                      \
                if (argmax) argmax[pl * ovol + o] = arg;                                      \
            }                                                                                 \
        }                                                                                     \
    } while (0)

#define ID(v) (v)
#define NO_NAN(v) ((void)(v), false)
#define H2F(v) kn_half_to_float(v)
#define HNAN(v) isnan(kn_half_to_float(v))

kn_status kn_cpu_maxpoolnd_fwd(const kn_nd_desc *d, kn_dtype dtype, const void *x, void *y, int64_t *argmax)
{
    int64_t vol, ovol;
    KN_TRY(check_desc(d, "maxpoolnd", &vol, &ovol));
    const int64_t planes = d->n * d->c;
    switch (dtype) {
    case KN_FLOAT: MAXPOOL_T(float, ID, isnan); break;
    case KN_DOUBLE: MAXPOOL_T(double, ID, isnan); break;
    case KN_FLOAT16: MAXPOOL_T(uint16_t, H2F, HNAN); break;
    case KN_INT8: MAXPOOL_T(int8_t, ID, NO_NAN); break;
    case KN_UINT8: MAXPOOL_T(uint8_t, ID, NO_NAN); break;
    case KN_INT16: MAXPOOL_T(int16_t, ID, NO_NAN); break;
    case KN_UINT16: MAXPOOL_T(uint16_t, ID, NO_NAN); break;
    case KN_INT32: MAXPOOL_T(int32_t, ID, NO_NAN); break;
    case KN_UINT32: MAXPOOL_T(uint32_t, ID, NO_NAN); break;
    case KN_INT64: MAXPOOL_T(int64_t, ID, NO_NAN); break;
    case KN_UINT64: MAXPOOL_T(uint64_t, ID, NO_NAN); break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "maxpoolnd on %s is not supported", kn_dtype_name(dtype));
    }
    return KN_OK;
}

kn_status kn_cpu_maxpoolnd_bwd(const kn_nd_desc *d, const float *gy, const int64_t *argmax, float *gx)
{
    int64_t vol, ovol;
    KN_TRY(check_desc(d, "maxpoolnd_bwd", &vol, &ovol));
    if (!argmax) return kn_error(KN_ERR_INVALID, "maxpoolnd_bwd needs the argmax saved by the forward pass");
    const int64_t planes = d->n * d->c;
    KN_OMP_FOR_IF(planes * ovol > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t j = 0; j < ovol; j++) {
            const int64_t a = argmax[pl * ovol + j];
            if (a >= 0 && a < vol) gx[pl * vol + a] += gy[pl * ovol + j];
        });
    return KN_OK;
}

kn_status kn_cpu_avgpoolnd_fwd(const kn_nd_desc *d, const float *x, float *y)
{
    int64_t vol, ovol;
    KN_TRY(check_desc(d, "avgpoolnd", &vol, &ovol));
    const int64_t planes = d->n * d->c;
    KN_OMP_FOR_IF(planes * ovol > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < ovol; o++) {
            win w;
            window_of(d, o, &w);
            const float *xp = x + pl * vol;
            float s = 0.0f;
            FOR_TAPS(d, w, s += xp[xi]);
            const int64_t cnt = d->count_include_pad ? w.cnt_pad : w.cnt;
            y[pl * ovol + o] = cnt > 0 ? s / (float)cnt : 0.0f;
        });
    return KN_OK;
}

kn_status kn_cpu_avgpoolnd_bwd(const kn_nd_desc *d, const float *gy, float *gx)
{
    int64_t vol, ovol;
    KN_TRY(check_desc(d, "avgpoolnd_bwd", &vol, &ovol));
    const int64_t planes = d->n * d->c;
    KN_OMP_FOR_IF(planes * ovol > 4096, schedule(static),
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < ovol; o++) {
            win w;
            window_of(d, o, &w);
            const int64_t cnt = d->count_include_pad ? w.cnt_pad : w.cnt;
            if (cnt <= 0) continue;
            const float g = gy[pl * ovol + o] / (float)cnt;
            float *xp = gx + pl * vol;
            FOR_TAPS(d, w, xp[xi] += g);
        });
    return KN_OK;
}
