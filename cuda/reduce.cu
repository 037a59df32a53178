/* Reductions of [outer, dim, inner] over dim, one warp per output: lanes stride the
 * reduced axis and combine with shuffles. That keeps every output independent (no
 * atomics, deterministic) and suits the common shapes: long rows (inner == 1) and
 * the many short rows of per-channel statistics. Accumulation is in double. */
#include "cuda/common.h"

#include <cfloat>

namespace {

__device__ __forceinline__ double warp_max_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double warp_min_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmin(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double warp_prod_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v *= __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void reduce_kernel(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y)
{
    const int lane = threadIdx.x & 31;
    const int64_t rows = outer * inner, warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < rows; r += warps) {
        const int64_t o = r / inner, i = r - o * inner;
        const float *px = x + o * dim * inner + i;
        double acc;
        switch (op) {
        case KN_RED_MAX: {
            double m = -INFINITY;
            for (int64_t k = lane; k < dim; k += 32) m = fmax(m, (double)px[k * inner]);
            acc = warp_max_d(m);
            break;
        }
        case KN_RED_MIN: {
            double m = INFINITY;
            for (int64_t k = lane; k < dim; k += 32) m = fmin(m, (double)px[k * inner]);
            acc = warp_min_d(m);
            break;
        }
        case KN_RED_PROD: {
            double p = 1;
            for (int64_t k = lane; k < dim; k += 32) p *= px[k * inner];
            acc = warp_prod_d(p);
            break;
        }
        case KN_RED_LOG_SUM_EXP: {
            double m = -INFINITY;
            for (int64_t k = lane; k < dim; k += 32) m = fmax(m, (double)px[k * inner]);
            m = warp_max_d(m);
            double s = 0;
            if (isfinite(m))
                for (int64_t k = lane; k < dim; k += 32) s += exp((double)px[k * inner] - m);
            s = kn_warp_sum_d(s);
            acc = isfinite(m) ? m + log(s) : m;
            break;
        }
        default: {
            double s = 0;
            for (int64_t k = lane; k < dim; k += 32) {
                const double v = px[k * inner];
                s += (op == KN_RED_L1) ? fabs(v) : (op == KN_RED_L2 || op == KN_RED_SUM_SQUARE) ? v * v : v;
            }
            s = kn_warp_sum_d(s);
            acc = op == KN_RED_MEAN ? s / (double)dim
                : op == KN_RED_L2   ? sqrt(s)
                : op == KN_RED_LOG_SUM ? log(s)
                                     : s;
        }
        }
        if (lane == 0) y[r] = (float)acc;
    }
}

} // namespace

/* Launch geometry for the one-warp-per-row kernels of reduce.cu and softmax.cu. */
unsigned kn_cuda_warp_grid(int64_t rows)
{
    const int64_t per_block = KN_CUDA_BLOCK / 32;
    int64_t b = (rows + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > 65536) b = 65536;
    return (unsigned)b;
}

kn_status kn_cuda_reduce(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y)
{
    if (op < KN_RED_SUM || op > KN_RED_SUM_SQUARE)
        return kn_error(KN_ERR_UNSUPPORTED, "reduce op %d is not implemented on cuda", (int)op);
    if (outer < 0 || dim < 0 || inner < 0)
        return kn_error(KN_ERR_SHAPE, "reduce dims [%lld,%lld,%lld] are negative", (long long)outer,
                        (long long)dim, (long long)inner);
    if (outer * inner == 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    reduce_kernel<<<kn_cuda_warp_grid(outer * inner), KN_CUDA_BLOCK, 0, s>>>(op, outer, dim, inner, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}
