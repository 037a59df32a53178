/* CPU Pad kernels (any dtype by element size) and the fill kernel.
 *
 * Each output dim gets an index map: output index -> input index, or -1 where
 * constant mode pads. Cropping (negative pads) is folded into the maps, so
 * reflect/edge/wrap read the cropped input exactly as numpy.pad would if the
 * crop had happened first. Rows (all dims but the last) whose outer index maps
 * to -1 are constant; the others copy the contiguous middle in one memcpy and
 * map the borders element by element. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <stdlib.h>
#include <string.h>

#define PAR_MIN 65536

static void fill_bytes(size_t elem, int64_t n, uint64_t value, void *y)
{
    switch (elem) {
    case 1: memset(y, (int)(value & 0xff), (size_t)n); break;
    case 2: { uint16_t v = (uint16_t)value, *p = y; for (int64_t i = 0; i < n; i++) p[i] = v; } break;
    case 4: { uint32_t v = (uint32_t)value, *p = y; for (int64_t i = 0; i < n; i++) p[i] = v; } break;
    default: { uint64_t *p = y; for (int64_t i = 0; i < n; i++) p[i] = value; } break;
    }
}

kn_status kn_cpu_fill(size_t elem, int64_t n, uint64_t value, void *y)
{
    if (elem != 1 && elem != 2 && elem != 4 && elem != 8)
        return kn_error(KN_ERR_UNSUPPORTED, "fill of %zu-byte elements is not implemented on cpu", elem);
    if (n <= 0) return KN_OK;
    const int64_t chunk = 1 << 16;
    const int64_t nchunks = (n + chunk - 1) / chunk;
    KN_OMP_FOR_IF(n > PAR_MIN, schedule(static),
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t lo = c * chunk, len = n - lo < chunk ? n - lo : chunk;
        fill_bytes(elem, len, value, (char *)y + (size_t)lo * elem);
    });
    return KN_OK;
}

/* Index in [0, n) that output position j (relative to the cropped input's start) reads,
 * or -1 for a constant. n > 0 unless mode is constant. */
static int64_t pad_source(kn_pad_mode mode, int64_t j, int64_t n)
{
    if (j >= 0 && j < n) return j;
    switch (mode) {
    case KN_PAD_EDGE: return j < 0 ? 0 : n - 1;
    case KN_PAD_WRAP: { int64_t r = j % n; return r < 0 ? r + n : r; }
    case KN_PAD_REFLECT: {
        if (n == 1) return 0;
        int64_t p = 2 * (n - 1), r = j % p;
        if (r < 0) r += p;
        return r < n ? r : p - r;
    }
    default: return -1;
    }
}

typedef struct pad_plan {
    int ndim;
    int64_t oshape[KN_MAX_DIMS], istride[KN_MAX_DIMS];
    int64_t *map[KN_MAX_DIMS]; /* per dim, oshape[d] entries: input index or -1 */
    int64_t *storage;
    int64_t lo, mid, src0;     /* last dim: outputs [lo, lo+mid) copy input [src0, src0+mid) */
} pad_plan;

static void plan_free(pad_plan *p) { free(p->storage); }

static kn_status plan_init(pad_plan *p, kn_pad_mode mode, int ndim, const int64_t *shape,
                           const int64_t *begin, const int64_t *end)
{
    memset(p, 0, sizeof *p);
    if (ndim < 0 || ndim > KN_MAX_DIMS) return kn_error(KN_ERR_SHAPE, "pad: rank %d is out of range", ndim);
    p->ndim = ndim;
    int64_t total = 0, stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        p->istride[d] = stride;
        stride *= shape[d];
    }
    for (int d = 0; d < ndim; d++) {
        int64_t cb = begin[d] < 0 ? -begin[d] : 0, ce = end[d] < 0 ? -end[d] : 0, n = shape[d] - cb - ce;
        p->oshape[d] = shape[d] + begin[d] + end[d];
        if (n < 0 || p->oshape[d] < 0)
            return kn_error(KN_ERR_SHAPE, "pad: dim %d of size %lld cannot be cropped by %lld and %lld", d,
                            (long long)shape[d], (long long)cb, (long long)ce);
        if (mode != KN_PAD_CONSTANT && n == 0 && p->oshape[d] > 0)
            return kn_error(KN_ERR_SHAPE, "pad: dim %d is empty after cropping; %s mode cannot pad it", d,
                            mode == KN_PAD_REFLECT ? "reflect" : mode == KN_PAD_EDGE ? "edge" : "wrap");
        total += p->oshape[d];
    }
    p->storage = malloc(sizeof(int64_t) * (size_t)(total ? total : 1));
    if (!p->storage) return kn_error(KN_ERR_NOMEM, "pad: out of memory for index maps");
    int64_t *m = p->storage;
    for (int d = 0; d < ndim; d++) {
        int64_t cb = begin[d] < 0 ? -begin[d] : 0, ce = end[d] < 0 ? -end[d] : 0, n = shape[d] - cb - ce;
        int64_t pb = begin[d] > 0 ? begin[d] : 0;
        p->map[d] = m;
        for (int64_t o = 0; o < p->oshape[d]; o++) {
            int64_t s = pad_source(mode, o - pb, n);
            m[o] = s < 0 ? -1 : s + cb;
        }
        m += p->oshape[d];
        if (d == ndim - 1) {
            p->lo = pb;
            p->mid = n;
            p->src0 = cb;
        }
    }
    return KN_OK;
}

/* Input offset of output row r (dims 0..ndim-2), or -1 when the row is constant. */
static int64_t row_source(const pad_plan *p, int64_t r)
{
    int64_t off = 0;
    for (int d = p->ndim - 2; d >= 0; d--) {
        int64_t o = r % p->oshape[d];
        r /= p->oshape[d];
        int64_t s = p->map[d][o];
        if (s < 0) return -1;
        off += s * p->istride[d];
    }
    return off;
}

kn_status kn_cpu_pad(kn_pad_mode mode, size_t elem, int ndim, const int64_t *shape, const int64_t *begin,
                     const int64_t *end, uint64_t value, const void *x, void *y)
{
    if (elem != 1 && elem != 2 && elem != 4 && elem != 8)
        return kn_error(KN_ERR_UNSUPPORTED, "pad of %zu-byte elements is not implemented on cpu", elem);
    if (ndim == 0) {
        memcpy(y, x, elem);
        return KN_OK;
    }
    pad_plan p;
    kn_status st = plan_init(&p, mode, ndim, shape, begin, end);
    if (st != KN_OK) { plan_free(&p); return st; }
    const int64_t inner = p.oshape[ndim - 1];
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; d++) rows *= p.oshape[d];
    const int64_t *lmap = p.map[ndim - 1];
    const char *X = x;
    char *Y = y;
    if (inner > 0) {
        KN_OMP_FOR_IF(rows * inner > PAR_MIN && rows > 1, schedule(static),
        for (int64_t r = 0; r < rows; r++) {
            char *out = Y + (size_t)(r * inner) * elem;
            int64_t src = row_source(&p, r);
            if (src < 0) {
                fill_bytes(elem, inner, value, out);
                continue;
            }
            const char *in = X + (size_t)src * elem;
            if (p.mid > 0) memcpy(out + (size_t)p.lo * elem, in + (size_t)p.src0 * elem, (size_t)p.mid * elem);
            for (int64_t o = 0; o < inner; o++) {
                if (o == p.lo && p.mid > 0) { o += p.mid - 1; continue; }
                int64_t s = lmap[o];
                if (s < 0) fill_bytes(elem, 1, value, out + (size_t)o * elem);
                else memcpy(out + (size_t)o * elem, in + (size_t)s * elem, elem);
            }
        });
    }
    plan_free(&p);
    return KN_OK;
}

kn_status kn_cpu_pad_bwd(kn_pad_mode mode, int ndim, const int64_t *shape, const int64_t *begin,
                         const int64_t *end, const float *gy, float *gx)
{
    if (ndim == 0) {
        gx[0] += gy[0];
        return KN_OK;
    }
    pad_plan p;
    kn_status st = plan_init(&p, mode, ndim, shape, begin, end);
    if (st != KN_OK) { plan_free(&p); return st; }
    const int64_t inner = p.oshape[ndim - 1];
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; d++) rows *= p.oshape[d];
    const int64_t *lmap = p.map[ndim - 1];
    /* constant mode reads each input at most once, so rows are independent */
    const bool par = mode == KN_PAD_CONSTANT && rows > 1 && rows * inner > PAR_MIN;
    if (inner > 0) {
        KN_OMP_FOR_IF(par, schedule(static),
        for (int64_t r = 0; r < rows; r++) {
            int64_t src = row_source(&p, r);
            if (src < 0) continue;
            const float *g = gy + r * inner;
            float *dx = gx + src;
            for (int64_t o = 0; o < inner; o++) {
                int64_t s = lmap[o];
                if (s >= 0) dx[s] += g[o];
            }
        });
    }
    plan_free(&p);
    return KN_OK;
}
