/* Batch normalization over [n, c, spatial] as own kernels: one block per channel for
 * the statistics (two passes over the channel in double, so the variance does not
 * cancel), then elementwise passes. Own kernels rather than cuDNN because the table's
 * running-stat convention (ONNX momentum, unbiased running variance, saved 1/sqrt(var+eps))
 * is then written out once, exactly as in kernels.h. */
#include "cuda/common.h"

namespace {

__global__ void bn_infer_kernel(int64_t total, int64_t c, int64_t spatial, const float *x, const float *scale,
                                const float *bias, const float *mean, const float *var, float eps, float *y)
{
    KN_GRID_LOOP(e, total) {
        const int64_t ch = (e / spatial) % c;
        const float inv = rsqrtf(var[ch] + eps);
        y[e] = (x[e] - mean[ch]) * inv * scale[ch] + bias[ch];
    }
}

/* Per channel: mean, biased variance -> save_mean, save_invstd, running update. */
__global__ void bn_stats_kernel(int64_t n, int64_t c, int64_t spatial, const float *x, float eps, float momentum,
                                float *running_mean, float *running_var, float *save_mean, float *save_invstd)
{
    const int64_t ch = blockIdx.x, count = n * spatial;
    double s = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
        const int64_t ni = e / spatial, si = e - ni * spatial;
        s += x[(ni * c + ch) * spatial + si];
    }
    const double mean = kn_block_sum_d(s) / (double)count;
    double q = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
        const int64_t ni = e / spatial, si = e - ni * spatial;
        const double d = x[(ni * c + ch) * spatial + si] - mean;
        q += d * d;
    }
    const double m2 = kn_block_sum_d(q);
    if (threadIdx.x == 0) {
        const double var = m2 / (double)count;
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
        if (running_mean) running_mean[ch] = (float)(running_mean[ch] * (double)momentum + mean * (1.0 - momentum));
        if (running_var) {
            const double unbiased = count > 1 ? m2 / (double)(count - 1) : var;
            running_var[ch] = (float)(running_var[ch] * (double)momentum + unbiased * (1.0 - momentum));
        }
    }
}

__global__ void bn_apply_kernel(int64_t total, int64_t c, int64_t spatial, const float *x, const float *scale,
                                const float *bias, const float *mean, const float *invstd, float *y)
{
    KN_GRID_LOOP(e, total) {
        const int64_t ch = (e / spatial) % c;
        y[e] = (x[e] - mean[ch]) * invstd[ch] * scale[ch] + bias[ch];
    }
}

/* Per channel: sum(gy) and sum(gy * xhat); accumulates gbias / gscale and stores both sums. */
__global__ void bn_bwd_reduce_kernel(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                     const float *mean, const float *invstd, float *gscale, float *gbias,
                                     float *sums)
{
    const int64_t ch = blockIdx.x, count = n * spatial;
    const float mu = mean[ch], is = invstd[ch];
    double sg = 0, sgx = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
        const int64_t ni = e / spatial, si = e - ni * spatial, k = (ni * c + ch) * spatial + si;
        sg += gy[k];
        sgx += (double)gy[k] * ((x[k] - mu) * is);
    }
    sg = kn_block_sum_d(sg);
    sgx = kn_block_sum_d(sgx);
    if (threadIdx.x == 0) {
        if (gbias) gbias[ch] += (float)sg;
        if (gscale) gscale[ch] += (float)sgx;
        sums[2 * ch] = (float)sg;
        sums[2 * ch + 1] = (float)sgx;
    }
}

/* gx += scale * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) */
__global__ void bn_bwd_data_kernel(int64_t total, int64_t c, int64_t spatial, int64_t count, const float *x,
                                   const float *gy, const float *scale, const float *mean, const float *invstd,
                                   const float *sums, float *gx)
{
    KN_GRID_LOOP(e, total) {
        const int64_t ch = (e / spatial) % c;
        const float is = invstd[ch], xhat = (x[e] - mean[ch]) * is;
        const float mg = sums[2 * ch] / (float)count, mgx = sums[2 * ch + 1] / (float)count;
        gx[e] += scale[ch] * is * (gy[e] - mg - xhat * mgx);
    }
}

kn_status check_dims(int64_t n, int64_t c, int64_t spatial)
{
    if (n < 0 || c < 0 || spatial < 0 || c > INT32_MAX)
        return kn_error(KN_ERR_SHAPE, "batchnorm dims n=%lld c=%lld spatial=%lld are out of range on CUDA",
                        (long long)n, (long long)c, (long long)spatial);
    return KN_OK;
}

} // namespace

kn_status kn_cuda_batchnorm_infer(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                  const float *bias, const float *mean, const float *var, float eps, float *y)
{
    KN_TRY(check_dims(n, c, spatial));
    const int64_t total = n * c * spatial;
    if (!total) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    bn_infer_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(total, c, spatial, x, scale, bias, mean, var, eps, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_batchnorm_train(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                  const float *bias, float eps, float momentum, float *running_mean,
                                  float *running_var, float *y, float *save_mean, float *save_invstd)
{
    KN_TRY(check_dims(n, c, spatial));
    if (!c) return KN_OK;
    if (n * spatial == 0) return kn_error(KN_ERR_SHAPE, "batchnorm training over an empty batch");
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    bn_stats_kernel<<<(unsigned)c, KN_CUDA_BLOCK, 0, s>>>(n, c, spatial, x, eps, momentum, running_mean,
                                                          running_var, save_mean, save_invstd);
    KN_CUDA_LAUNCHED();
    const int64_t total = n * c * spatial;
    bn_apply_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(total, c, spatial, x, scale, bias, save_mean,
                                                                  save_invstd, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_batchnorm_bwd(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                const float *scale, const float *save_mean, const float *save_invstd, float *gx,
                                float *gscale, float *gbias)
{
    KN_TRY(check_dims(n, c, spatial));
    const int64_t count = n * spatial, total = count * c;
    if (!total) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    float *sums;
    KN_TRY(kn_cuda_scratch((void **)&sums, sizeof(float) * 2 * (size_t)c));
    bn_bwd_reduce_kernel<<<(unsigned)c, KN_CUDA_BLOCK, 0, s>>>(n, c, spatial, x, gy, save_mean, save_invstd,
                                                               gscale, gbias, sums);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && gx)
        bn_bwd_data_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(total, c, spatial, count, x, gy, scale,
                                                                         save_mean, save_invstd, sums, gx);
    if (e == cudaSuccess) e = cudaGetLastError();
    kn_cuda_free(sums); /* stream-ordered: the next user runs after these kernels */
    KN_CUDA_CHECK(e);
    return KN_OK;
}
