/* CPU N-d convolution (3-D and up; any spatial rank works): vol2col + GEMM, the
 * N-d generalisation of conv.c's im2col. Images and groups run one after the
 * other so a single column buffer suffices and OpenBLAS threads each GEMM;
 * vol2col / col2vol thread over input channels (each channel owns its slice of
 * x, so col2vol's accumulation needs no atomics). */
#include "core/cpu/cpu.h"

#include <string.h>

typedef struct nd_geom {
    int64_t cg, ocg; /* channels per group, in and out */
    int64_t kvol;    /* kernel taps: prod k */
    int64_t p;       /* output volume */
    int64_t vol;     /* input volume */
} nd_geom;

static kn_status check_desc(const kn_nd_desc *d, const char *what, nd_geom *g)
{
    bool ok = d->rank >= 1 && d->rank <= KN_MAX_DIMS - 2 && d->n >= 0 && d->c > 0 && d->oc > 0 && d->group > 0 &&
              d->c % d->group == 0 && d->oc % d->group == 0;
    g->kvol = g->p = g->vol = 1;
    for (int i = 0; ok && i < d->rank; i++) {
        ok = d->in[i] > 0 && d->out[i] > 0 && d->k[i] > 0 && d->stride[i] > 0 && d->dil[i] > 0;
        g->kvol *= d->k[i];
        g->p *= d->out[i];
        g->vol *= d->in[i];
    }
    if (!ok)
        return kn_error(KN_ERR_SHAPE, "%s: bad geometry (rank %d, n=%lld c=%lld oc=%lld group=%lld)", what, d->rank,
                        (long long)d->n, (long long)d->c, (long long)d->oc, (long long)d->group);
    g->cg = d->c / d->group;
    g->ocg = d->oc / d->group;
    return KN_OK;
}

size_t kn_cpu_convnd_workspace(const kn_nd_desc *d)
{
    nd_geom g;
    if (check_desc(d, "convnd", &g) != KN_OK) return 0;
    return sizeof(float) * (size_t)(g.cg * g.kvol * g.p);
}

/* Walk every (channel, tap, output position) of one group's column matrix
 * [cg * kvol, p]: BODY sees `row` (the column row), `pp` (output index) and
 * `xi` (the input element's offset within the group's x, or -1 in padding). */
#define COL_WALK(d, g, BODY)                                                                   \
    do {                                                                                       \
        const int r_ = (d)->rank;                                                              \
        _Pragma("omp parallel for schedule(static) if ((g)->cg * (g)->kvol * (g)->p > 65536)") \
        for (int64_t ci = 0; ci < (g)->cg; ci++) {                                             \
            for (int64_t kk = 0; kk < (g)->kvol; kk++) {                                       \
                int64_t off[KN_MAX_DIMS], oc[KN_MAX_DIMS], t = kk;                             \
                for (int i = r_ - 1; i >= 0; i--) {                                            \
                    off[i] = (t % (d)->k[i]) * (d)->dil[i] - (d)->pad_begin[i];                \
                    t /= (d)->k[i];                                                            \
                    oc[i] = 0;                                                                 \
                }                                                                              \
                const int64_t row = ci * (g)->kvol + kk;                                       \
                for (int64_t pp = 0; pp < (g)->p; pp++) {                                      \
                    int64_t xi = 0;                                                            \
                    for (int i = 0; i < r_; i++) {                                             \
                        const int64_t v = oc[i] * (d)->stride[i] + off[i];                     \
                        if (v < 0 || v >= (d)->in[i]) { xi = -1; break; }                      \
                        xi = xi * (d)->in[i] + v;                                              \
                    }                                                                          \
                    if (xi >= 0) xi += ci * (g)->vol;                                          \
                    BODY;                                                                      \
                    for (int i = r_ - 1; i >= 0; i--) {                                        \
                        if (++oc[i] < (d)->out[i]) break;                                      \
                        oc[i] = 0;                                                             \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static void vol2col(const kn_nd_desc *d, const nd_geom *g, const float *x, float *col)
{
    COL_WALK(d, g, col[row * g->p + pp] = xi >= 0 ? x[xi] : 0.0f);
}

static void col2vol(const kn_nd_desc *d, const nd_geom *g, const float *col, float *x)
{
    COL_WALK(d, g, if (xi >= 0) x[xi] += col[row * g->p + pp]);
}

kn_status kn_cpu_convnd_fwd(const kn_nd_desc *d, const float *x, const float *w, float *y, const kn_epilogue *ep,
                            void *ws)
{
    nd_geom g;
    KN_TRY(check_desc(d, "convnd", &g));
    float *col = ws;
    const int64_t kdim = g.cg * g.kvol;
    for (int64_t b = 0; b < d->n; b++)
        for (int64_t gr = 0; gr < d->group; gr++) {
            const int64_t yoff = (b * d->oc + gr * g.ocg) * g.p;
            kn_epilogue e = ep ? *ep : (kn_epilogue){0};
            if (e.bias) e.bias += gr * g.ocg; /* per output channel: rows of this group's block */
            if (e.residual) e.residual += yoff;
            vol2col(d, &g, x + (b * d->c + gr * g.cg) * g.vol, col);
            KN_TRY(kn_cpu_gemm(false, false, g.ocg, g.p, kdim, 1.0f, w + gr * g.ocg * kdim, kdim, col, g.p, 0.0f,
                               y + yoff, g.p, &e));
        }
    return KN_OK;
}

kn_status kn_cpu_convnd_bwd_data(const kn_nd_desc *d, const float *w, const float *gy, float *gx, void *ws)
{
    nd_geom g;
    KN_TRY(check_desc(d, "convnd_bwd_data", &g));
    float *col = ws;
    const int64_t kdim = g.cg * g.kvol;
    for (int64_t b = 0; b < d->n; b++)
        for (int64_t gr = 0; gr < d->group; gr++) {
            KN_TRY(kn_cpu_gemm(true, false, kdim, g.p, g.ocg, 1.0f, w + gr * g.ocg * kdim, kdim,
                               gy + (b * d->oc + gr * g.ocg) * g.p, g.p, 0.0f, col, g.p, NULL));
            col2vol(d, &g, col, gx + (b * d->c + gr * g.cg) * g.vol);
        }
    return KN_OK;
}

kn_status kn_cpu_convnd_bwd_filter(const kn_nd_desc *d, const float *x, const float *gy, float *gw, float *gb,
                                   void *ws)
{
    nd_geom g;
    KN_TRY(check_desc(d, "convnd_bwd_filter", &g));
    float *col = ws;
    const int64_t kdim = g.cg * g.kvol;
    for (int64_t b = 0; b < d->n; b++)
        for (int64_t gr = 0; gr < d->group; gr++) {
            const float *gyg = gy + (b * d->oc + gr * g.ocg) * g.p;
            if (gw) {
                vol2col(d, &g, x + (b * d->c + gr * g.cg) * g.vol, col);
                KN_TRY(kn_cpu_gemm(false, true, g.ocg, kdim, g.p, 1.0f, gyg, g.p, col, g.p, 1.0f,
                                   gw + gr * g.ocg * kdim, kdim, NULL));
            }
            if (gb)
                for (int64_t m = 0; m < g.ocg; m++) {
                    double s = 0;
                    for (int64_t j = 0; j < g.p; j++) s += gyg[m * g.p + j];
                    gb[gr * g.ocg + m] += (float)s;
                }
        }
    return KN_OK;
}
