/* GEMM through cuBLAS and the epilogue kernel shared with conv.
 *
 * kiln is row-major, cuBLAS column-major: a row-major C[M,N] is a column-major
 * C^T[N,M], and C^T = op(B)^T op(A)^T, so we call sgemm with the operands swapped
 * and m/n exchanged; the transpose flags keep their meaning. The epilogue runs as one
 * elementwise pass after (cublasLt epilogues cover bias+ReLU/GELU but not residual,
 * leaky/clip/hardswish, or per-row bias, and one kernel for all keeps the semantics
 * identical to core/cpu/gemm.c). */
#include "cuda/common.h"

__global__ void epilogue_kernel(int64_t rows, int64_t cols, float *y, int64_t ld, const float *bias,
                                bool per_row, int64_t bias_mod, const float *res, kn_act act, float alpha,
                                float beta)
{
    const int64_t total = rows * cols;
    KN_GRID_LOOP(e, total) {
        const int64_t i = e / cols, j = e - i * cols;
        float v = y[i * ld + j];
        if (bias) v += per_row ? bias[i % bias_mod] : bias[j];
        if (res) v += res[e];
        y[i * ld + j] = kn_dev_act(act, alpha, beta, v);
    }
}

kn_status kn_cuda_epilogue(int64_t rows, int64_t cols, float *y, int64_t ld, const kn_epilogue *ep,
                           int64_t bias_mod)
{
    if (!ep || (!ep->bias && !ep->residual && ep->act == KN_ACT_NONE) || rows <= 0 || cols <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    epilogue_kernel<<<kn_cuda_grid(rows * cols), KN_CUDA_BLOCK, 0, s>>>(
        rows, cols, y, ld, ep->bias, ep->bias_per_row, bias_mod > 0 ? bias_mod : rows, ep->residual, ep->act,
        ep->alpha, ep->beta);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

__global__ void scale_rows_kernel(int64_t m, int64_t n, float *c, int64_t ldc, float beta)
{
    KN_GRID_LOOP(e, m * n) {
        const int64_t i = e / n, j = e - i * n;
        c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    }
}

/* One block per channel: gb[ch] += sum over n and spatial. */
__global__ void channel_sum_kernel(int64_t n, int64_t c, int64_t spatial, const float *g, float *gb)
{
    const int64_t ch = blockIdx.x, count = n * spatial;
    double acc = 0;
    for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
        const int64_t ni = e / spatial, si = e - ni * spatial;
        acc += g[(ni * c + ch) * spatial + si];
    }
    acc = kn_block_sum_d(acc);
    if (threadIdx.x == 0) gb[ch] += (float)acc;
}

kn_status kn_cuda_channel_sum_acc(int64_t n, int64_t c, int64_t spatial, const float *g, float *gb)
{
    if (c <= 0) return KN_OK;
    if (c > INT32_MAX) return kn_error(KN_ERR_SHAPE, "CUDA: %lld channels is too many", (long long)c);
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    channel_sum_kernel<<<(unsigned)c, KN_CUDA_BLOCK, 0, s>>>(n, c, spatial, g, gb);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc, const kn_epilogue *ep)
{
    if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX ||
        ldb > INT32_MAX || ldc > INT32_MAX)
        return kn_error(KN_ERR_SHAPE, "gemm dims m=%lld n=%lld k=%lld are out of range for cuBLAS",
                        (long long)m, (long long)n, (long long)k);
    if (m == 0 || n == 0) return KN_OK;
    if (k == 0) {
        cudaStream_t s;
        KN_TRY(kn_cuda_stream(&s));
        scale_rows_kernel<<<kn_cuda_grid(m * n), KN_CUDA_BLOCK, 0, s>>>(m, n, c, ldc, beta);
        KN_CUDA_LAUNCHED();
    } else {
        cublasHandle_t h;
        KN_TRY(kn_cuda_cublas(&h));
        KN_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    (int)n, (int)m, (int)k, &alpha, b, (int)ldb, a, (int)lda, &beta, c,
                                    (int)ldc));
    }
    return kn_cuda_epilogue(m, n, c, ldc, ep, m);
}
