/* Strided copies and accumulation (the view ops: slice, expand, transpose, concat and
 * their gradients), fill, and arg-reductions. Shapes and strides travel by value in the
 * launch parameters, so no host array is ever read on the device. */
#include "cuda/common.h"

#include "core/argreduce.h"

namespace {

constexpr int MAX_SDIMS = 2 * KN_MAX_DIMS;

struct Strides {
    int ndim;
    int64_t shape[MAX_SDIMS];
    int64_t xs[MAX_SDIMS]; /* element strides, signed */
    int64_t ys[MAX_SDIMS];
};

/* Element e (row-major over shape) to its x and y offsets. */
__device__ __forceinline__ void offsets(const Strides &p, int64_t e, int64_t *xo, int64_t *yo)
{
    kn_dev_two_offsets(p.ndim, p.shape, p.xs, p.ys, e, xo, yo);
}

template <typename T>
__global__ void copy_strided_kernel(Strides p, int64_t total, const T *x, T *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t xo, yo;
        offsets(p, e, &xo, &yo);
        y[yo] = x[xo];
    }
}

__global__ void copy_strided_bytes_kernel(Strides p, int64_t total, size_t elem, const char *x, char *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t xo, yo;
        offsets(p, e, &xo, &yo);
        for (size_t b = 0; b < elem; b++) y[yo * (int64_t)elem + (int64_t)b] = x[xo * (int64_t)elem + (int64_t)b];
    }
}

/* atomic: some y stride is 0, so several elements add into one location. */
__global__ void add_strided_kernel(Strides p, int64_t total, bool atomic, const float *x, float *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t xo, yo;
        offsets(p, e, &xo, &yo);
        if (atomic) atomicAdd(y + yo, x[xo]);
        else y[yo] += x[xo];
    }
}

template <typename T>
__global__ void fill_kernel(int64_t n, T v, T *y)
{
    KN_GRID_LOOP(i, n) y[i] = v;
}

/* One thread per [outer, inner] column, by the CPU kernel's own column rule. */
__global__ void argreduce_kernel(bool is_min, bool select_last, int64_t outer, int64_t dim, int64_t inner,
                                 const float *x, int64_t *y)
{
    KN_GRID_LOOP(col, outer * inner) {
        const int64_t o = col / inner, i = col % inner;
        y[col] = kn_argreduce_column(x + o * dim * inner + i, dim, inner, is_min, select_last);
    }
}

kn_status pack(const char *what, int ndim, const int64_t *shape, const int64_t *xs, const int64_t *ys, Strides *p,
               int64_t *total)
{
    if (ndim < 0 || ndim > MAX_SDIMS) return kn_error(KN_ERR_UNSUPPORTED, "%s: rank %d exceeds %d", what, ndim, MAX_SDIMS);
    p->ndim = ndim;
    *total = 1;
    for (int d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->xs[d] = xs[d];
        p->ys[d] = ys[d];
        *total *= shape[d];
    }
    return KN_OK;
}

} // namespace

kn_status kn_cuda_copy_strided(size_t elem, int ndim, const int64_t *shape, const void *x, const int64_t *xstride,
                               void *y, const int64_t *ystride)
{
    Strides p;
    int64_t total = 0;
    KN_TRY(pack("copy_strided", ndim, shape, xstride, ystride, &p, &total));
    if (total <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    const unsigned g = kn_cuda_grid(total);
    switch (elem) {
    case 1: copy_strided_kernel<uint8_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint8_t *)x, (uint8_t *)y); break;
    case 2: copy_strided_kernel<uint16_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint16_t *)x, (uint16_t *)y); break;
    case 4: copy_strided_kernel<uint32_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint32_t *)x, (uint32_t *)y); break;
    case 8: copy_strided_kernel<uint64_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint64_t *)x, (uint64_t *)y); break;
    default:
        copy_strided_bytes_kernel<<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, elem, (const char *)x, (char *)y);
        break;
    }
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_add_strided(int ndim, const int64_t *shape, const float *x, const int64_t *xstride, float *y,
                              const int64_t *ystride)
{
    Strides p;
    int64_t total = 0;
    KN_TRY(pack("add_strided", ndim, shape, xstride, ystride, &p, &total));
    if (total <= 0) return KN_OK;
    bool atomic = false;
    for (int d = 0; d < ndim; d++) atomic |= ystride[d] == 0 && shape[d] > 1;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    add_strided_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(p, total, atomic, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_fill(size_t elem, int64_t n, uint64_t value, void *y)
{
    if (n <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    const unsigned g = kn_cuda_grid(n);
    switch (elem) { /* value holds the element in its low bytes, host (little-endian) order */
    case 1: fill_kernel<uint8_t><<<g, KN_CUDA_BLOCK, 0, s>>>(n, (uint8_t)value, (uint8_t *)y); break;
    case 2: fill_kernel<uint16_t><<<g, KN_CUDA_BLOCK, 0, s>>>(n, (uint16_t)value, (uint16_t *)y); break;
    case 4: fill_kernel<uint32_t><<<g, KN_CUDA_BLOCK, 0, s>>>(n, (uint32_t)value, (uint32_t *)y); break;
    case 8: fill_kernel<uint64_t><<<g, KN_CUDA_BLOCK, 0, s>>>(n, value, (uint64_t *)y); break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "fill: element size %zu (1, 2, 4 or 8)", elem);
    }
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_argreduce(bool is_min, bool select_last, int64_t outer, int64_t dim, int64_t inner, const float *x,
                            int64_t *y)
{
    if (dim == 0) return kn_error(KN_ERR_SHAPE, "argmax/argmin over an empty axis");
    if (outer * inner <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    argreduce_kernel<<<kn_cuda_grid(outer * inner), KN_CUDA_BLOCK, 0, s>>>(is_min, select_last, outer, dim, inner, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}
