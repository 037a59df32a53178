/* CPU Where: out = cond ? x : y with three-way numpy broadcasting, any dtype
 * (by element size), and its float32 gradient. Rows (all dims but the last)
 * run in parallel; the innermost dim is a tight loop. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#define PAR_MIN 65536

/* Offsets of output row r into cond, x and y. */
static inline void row_offsets3(const kn_bcast *bc, const int64_t *cs, int64_t r, int64_t *oc, int64_t *ox,
                                int64_t *oy)
{
    int64_t c = 0, a = 0, b = 0;
    for (int d = bc->ndim - 2; d >= 0; d--) {
        int64_t i = r % bc->shape[d];
        r /= bc->shape[d];
        c += i * cs[d];
        a += i * bc->astride[d];
        b += i * bc->bstride[d];
    }
    *oc = c;
    *ox = a;
    *oy = b;
}

static int64_t total_of(const kn_bcast *bc)
{
    int64_t n = 1;
    for (int d = 0; d < bc->ndim; d++) n *= bc->shape[d];
    return n;
}

#define WHERE_LOOP(T)                                                                      \
    do {                                                                                   \
        const T *X = x, *Y = y;                                                            \
        T *O = out;                                                                        \
        _Pragma("omp parallel for schedule(static) if (total > PAR_MIN && rows > 1)")     \
        for (int64_t r = 0; r < rows; r++) {                                               \
            int64_t oc, ox, oy;                                                            \
            row_offsets3(bc, cstride, r, &oc, &ox, &oy);                                   \
            const uint8_t *pc = cond + oc;                                                 \
            const T *px = X + ox, *py = Y + oy;                                            \
            T *po = O + r * inner;                                                         \
            if (sc == 1 && sx == 1 && sy == 1)                                             \
                for (int64_t j = 0; j < inner; j++) po[j] = pc[j] ? px[j] : py[j];         \
            else                                                                           \
                for (int64_t j = 0; j < inner; j++) po[j] = pc[j * sc] ? px[j * sx] : py[j * sy]; \
        }                                                                                  \
    } while (0)

kn_status kn_cpu_where(size_t elem, const kn_bcast *bc, const int64_t *cstride, const uint8_t *cond,
                       const void *x, const void *y, void *out)
{
    const int64_t total = total_of(bc);
    if (total == 0) return KN_OK;
    const int nd = bc->ndim;
    const int64_t inner = nd ? bc->shape[nd - 1] : 1, rows = total / inner;
    const int64_t sc = nd ? cstride[nd - 1] : 0, sx = nd ? bc->astride[nd - 1] : 0, sy = nd ? bc->bstride[nd - 1] : 0;
    switch (elem) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    case 8: WHERE_LOOP(uint64_t); break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "where on %zu-byte elements is not implemented on cpu", elem);
    }
    return KN_OK;
}

kn_status kn_cpu_where_bwd(const kn_bcast *bc, const int64_t *cstride, const uint8_t *cond, const float *gout,
                           float *gx, float *gy)
{
    const int64_t total = total_of(bc);
    if (total == 0) return KN_OK;
    const int nd = bc->ndim;
    const int64_t inner = nd ? bc->shape[nd - 1] : 1, rows = total / inner;
    const int64_t sc = nd ? cstride[nd - 1] : 0, sx = nd ? bc->astride[nd - 1] : 0, sy = nd ? bc->bstride[nd - 1] : 0;
    bool full = true; /* neither gradient is broadcast: rows write disjoint slots */
    for (int d = 0; d < nd; d++)
        if (bc->shape[d] > 1 && ((gx && bc->astride[d] == 0) || (gy && bc->bstride[d] == 0))) full = false;
    KN_OMP_FOR_IF(total > PAR_MIN && rows > 1 && full, schedule(static),
    for (int64_t r = 0; r < rows; r++) {
        int64_t oc, ox, oy;
        row_offsets3(bc, cstride, r, &oc, &ox, &oy);
        const float *g = gout + r * inner;
        for (int64_t j = 0; j < inner; j++) {
            const bool c = cond[oc + j * sc] != 0;
            if (c && gx) gx[ox + j * sx] += g[j];
            if (!c && gy) gy[oy + j * sy] += g[j];
        }
    });
    return KN_OK;
}
