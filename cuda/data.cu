/* Data movement and conversion: transpose, strided row copies, gather, cast. Movement is
 * by element size (1, 2, 4, 8 bytes as integer words; anything else byte by byte), so
 * one instantiation per size serves every dtype. */
#include "cuda/common.h"

#include <cuda_fp16.h>

namespace {

struct Perm {
    int ndim;
    int64_t oshape[KN_MAX_DIMS]; /* output shape */
    int64_t istride[KN_MAX_DIMS]; /* input stride (elements) of each output dim */
};

template <typename T>
__global__ void transpose_kernel(Perm p, int64_t total, const T *x, T *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t r = e, off = 0;
        for (int d = p.ndim - 1; d >= 0; d--) {
            const int64_t i = r % p.oshape[d];
            r /= p.oshape[d];
            off += i * p.istride[d];
        }
        y[e] = x[off];
    }
}

__global__ void transpose_bytes_kernel(Perm p, int64_t total, size_t elem, const char *x, char *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t r = e, off = 0;
        for (int d = p.ndim - 1; d >= 0; d--) {
            const int64_t i = r % p.oshape[d];
            r /= p.oshape[d];
            off += i * p.istride[d];
        }
        for (size_t b = 0; b < elem; b++) y[(size_t)e * elem + b] = x[(size_t)off * elem + b];
    }
}

template <typename T>
__global__ void gather_kernel(int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx, int64_t nidx,
                              const T *x, T *y)
{
    KN_GRID_LOOP(e, outer * nidx * inner) {
        const int64_t o = e / (nidx * inner), r = e - o * nidx * inner, j = r / inner, i = r - j * inner;
        y[e] = x[(o * axis_dim + idx[j]) * inner + i];
    }
}

__global__ void gather_bytes_kernel(int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx, int64_t nidx,
                                    size_t elem, const char *x, char *y)
{
    KN_GRID_LOOP(e, outer * nidx * inner) {
        const int64_t o = e / (nidx * inner), r = e - o * nidx * inner, j = r / inner, i = r - j * inner;
        const size_t src = (size_t)((o * axis_dim + idx[j]) * inner + i) * elem;
        for (size_t b = 0; b < elem; b++) y[(size_t)e * elem + b] = x[src + b];
    }
}

/* A loaded element: exact integer value for integer sources, the float value for float ones. */
struct Val {
    double f;
    int64_t i;
    bool is_float;
};

__device__ __forceinline__ Val load(kn_dtype t, const void *p, int64_t k)
{
    Val v = {0, 0, false};
    switch (t) {
    case KN_FLOAT: v.f = ((const float *)p)[k]; v.is_float = true; break;
    case KN_DOUBLE: v.f = ((const double *)p)[k]; v.is_float = true; break;
    case KN_FLOAT16: v.f = __half2float(((const __half *)p)[k]); v.is_float = true; break;
    case KN_INT8: v.i = ((const int8_t *)p)[k]; break;
    case KN_INT16: v.i = ((const int16_t *)p)[k]; break;
    case KN_INT32: v.i = ((const int32_t *)p)[k]; break;
    case KN_INT64: v.i = ((const int64_t *)p)[k]; break;
    case KN_UINT8: case KN_BOOL: v.i = ((const uint8_t *)p)[k]; break;
    case KN_UINT16: v.i = ((const uint16_t *)p)[k]; break;
    case KN_UINT32: v.i = ((const uint32_t *)p)[k]; break;
    case KN_UINT64: v.i = (int64_t)((const uint64_t *)p)[k]; v.f = (double)((const uint64_t *)p)[k]; break;
    default: break;
    }
    if (!v.is_float && t != KN_UINT64) v.f = (double)v.i;
    if (v.is_float) v.i = (int64_t)v.f; /* toward zero */
    return v;
}

__device__ __forceinline__ void store(kn_dtype t, void *p, int64_t k, Val v)
{
    switch (t) {
    case KN_FLOAT: ((float *)p)[k] = (float)v.f; break;
    case KN_DOUBLE: ((double *)p)[k] = v.f; break;
    case KN_FLOAT16: ((__half *)p)[k] = __float2half((float)v.f); break;
    case KN_INT8: ((int8_t *)p)[k] = (int8_t)v.i; break;
    case KN_INT16: ((int16_t *)p)[k] = (int16_t)v.i; break;
    case KN_INT32: ((int32_t *)p)[k] = (int32_t)v.i; break;
    case KN_INT64: ((int64_t *)p)[k] = v.i; break;
    case KN_UINT8: ((uint8_t *)p)[k] = (uint8_t)v.i; break;
    case KN_UINT16: ((uint16_t *)p)[k] = (uint16_t)v.i; break;
    case KN_UINT32: ((uint32_t *)p)[k] = (uint32_t)v.i; break;
    case KN_UINT64: ((uint64_t *)p)[k] = v.is_float ? (uint64_t)v.f : (uint64_t)v.i; break;
    case KN_BOOL: ((uint8_t *)p)[k] = v.is_float ? v.f != 0.0 : v.i != 0; break;
    default: break;
    }
}

__global__ void cast_kernel(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y)
{
    KN_GRID_LOOP(k, n) store(to, y, k, load(from, x, k));
}

bool castable(kn_dtype t)
{
    return t != KN_STRING && t != KN_UNDEFINED && kn_dtype_valid((int)t);
}

} // namespace

kn_status kn_cuda_transpose(size_t elem, int ndim, const int64_t *shape, const int *perm, const void *x, void *y)
{
    if (ndim < 0 || ndim > KN_MAX_DIMS) return kn_error(KN_ERR_SHAPE, "transpose of rank %d", ndim);
    Perm p;
    p.ndim = ndim;
    int64_t stride[KN_MAX_DIMS], total = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = total;
        total *= shape[d];
    }
    for (int d = 0; d < ndim; d++) {
        if (perm[d] < 0 || perm[d] >= ndim) return kn_error(KN_ERR_INVALID, "transpose perm[%d] = %d is out of range", d, perm[d]);
        p.oshape[d] = shape[perm[d]];
        p.istride[d] = stride[perm[d]];
    }
    if (!total || !elem) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    const unsigned g = kn_cuda_grid(total);
    switch (elem) {
    case 1: transpose_kernel<uint8_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint8_t *)x, (uint8_t *)y); break;
    case 2: transpose_kernel<uint16_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint16_t *)x, (uint16_t *)y); break;
    case 4: transpose_kernel<uint32_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint32_t *)x, (uint32_t *)y); break;
    case 8: transpose_kernel<uint64_t><<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, (const uint64_t *)x, (uint64_t *)y); break;
    default: transpose_bytes_kernel<<<g, KN_CUDA_BLOCK, 0, s>>>(p, total, elem, (const char *)x, (char *)y); break;
    }
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_copy2d(int64_t rows, size_t row_bytes, const void *src, size_t src_stride, void *dst,
                         size_t dst_stride)
{
    if (rows <= 0 || !row_bytes) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (rows == 1 || (src_stride == row_bytes && dst_stride == row_bytes)) {
        KN_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)rows * row_bytes, cudaMemcpyDeviceToDevice, s));
        return KN_OK;
    }
    KN_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_stride, src, src_stride, row_bytes, (size_t)rows,
                                    cudaMemcpyDeviceToDevice, s));
    return KN_OK;
}

kn_status kn_cuda_gather(size_t elem, int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx,
                         int64_t nidx, const void *x, void *y)
{
    const int64_t total = outer * nidx * inner;
    if (total <= 0 || !elem) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    const unsigned g = kn_cuda_grid(total);
    switch (elem) {
    case 1: gather_kernel<uint8_t><<<g, KN_CUDA_BLOCK, 0, s>>>(outer, axis_dim, inner, idx, nidx, (const uint8_t *)x, (uint8_t *)y); break;
    case 2: gather_kernel<uint16_t><<<g, KN_CUDA_BLOCK, 0, s>>>(outer, axis_dim, inner, idx, nidx, (const uint16_t *)x, (uint16_t *)y); break;
    case 4: gather_kernel<uint32_t><<<g, KN_CUDA_BLOCK, 0, s>>>(outer, axis_dim, inner, idx, nidx, (const uint32_t *)x, (uint32_t *)y); break;
    case 8: gather_kernel<uint64_t><<<g, KN_CUDA_BLOCK, 0, s>>>(outer, axis_dim, inner, idx, nidx, (const uint64_t *)x, (uint64_t *)y); break;
    default: gather_bytes_kernel<<<g, KN_CUDA_BLOCK, 0, s>>>(outer, axis_dim, inner, idx, nidx, elem, (const char *)x, (char *)y); break;
    }
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_cast(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y)
{
    if (!castable(from) || !castable(to))
        return kn_error(KN_ERR_UNSUPPORTED, "cast from %s to %s is not implemented on cuda", kn_dtype_name(from),
                        kn_dtype_name(to));
    if (n <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (from == to) {
        KN_CUDA_CHECK(cudaMemcpyAsync(y, x, (size_t)n * kn_dtype_size(from), cudaMemcpyDeviceToDevice, s));
        return KN_OK;
    }
    cast_kernel<<<kn_cuda_grid(n), KN_CUDA_BLOCK, 0, s>>>(from, to, n, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}
