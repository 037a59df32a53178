/* cuda/ internals shared by the .cu files: error macros, the one stream, the
 * library handles, the caching allocator, launch geometry and block reductions.
 * Only the .cu files of cuda/ include this; core reaches cuda/ through the kernel table. */
#ifndef KN_CUDA_COMMON_H
#define KN_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cudnn.h>

extern "C" {
#include "core/kernels.h"
}

/* Turn a failed CUDA / cuBLAS / cuDNN call into KN_ERR_DEVICE naming the call and file:line. */
kn_status kn_cuda_fail(const char *lib, const char *what, const char *expr, const char *file, int line);

#define KN_CUDA_CHECK(x)                                                                         \
    do {                                                                                         \
        cudaError_t kn_e_ = (x);                                                                 \
        if (kn_e_ != cudaSuccess)                                                                \
            return kn_cuda_fail("CUDA", cudaGetErrorString(kn_e_), #x, __FILE__, __LINE__);      \
    } while (0)
#define KN_CUBLAS_CHECK(x)                                                                       \
    do {                                                                                         \
        cublasStatus_t kn_e_ = (x);                                                              \
        if (kn_e_ != CUBLAS_STATUS_SUCCESS)                                                      \
            return kn_cuda_fail("cuBLAS", cublasGetStatusString(kn_e_), #x, __FILE__, __LINE__); \
    } while (0)
#define KN_CUDNN_CHECK(x)                                                                        \
    do {                                                                                         \
        cudnnStatus_t kn_e_ = (x);                                                               \
        if (kn_e_ != CUDNN_STATUS_SUCCESS)                                                       \
            return kn_cuda_fail("cuDNN", cudnnGetErrorString(kn_e_), #x, __FILE__, __LINE__);   \
    } while (0)
/* After a <<<>>> launch: configuration errors surface here, faults at the next sync. */
#define KN_CUDA_LAUNCHED() KN_CUDA_CHECK(cudaGetLastError())

/* Everything kiln does on the GPU is ordered on this one stream (created on first use);
 * that is also what makes reusing freed blocks from the cache safe without events. */
kn_status kn_cuda_stream(cudaStream_t *s);
kn_status kn_cuda_cublas(cublasHandle_t *h);
kn_status kn_cuda_cudnn(cudnnHandle_t *h);
/* KILN_CUDA_TF32=1 lets cuBLAS/cuDNN use TF32 tensor cores (faster, ~1e-3 relative error);
 * off by default so GPU results agree with the CPU within float tolerance. */
bool kn_cuda_tf32(void);

/* Caching allocator (memory.cu): blocks return to per-size-class free lists on free. */
void *kn_cuda_alloc(size_t bytes);
void kn_cuda_free(void *p);
/* Scratch from the cache that sets a KN_ERR_NOMEM message when it fails. */
kn_status kn_cuda_scratch(void **p, size_t bytes);

/* Grid-stride launches: enough blocks to fill the GPU, never more than the work. */
#define KN_CUDA_BLOCK 256
static inline unsigned kn_cuda_grid(int64_t n)
{
    int64_t b = (n + KN_CUDA_BLOCK - 1) / KN_CUDA_BLOCK;
    if (b < 1) b = 1;
    if (b > 65536) b = 65536;
    return (unsigned)b;
}
#define KN_GRID_LOOP(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

/* Row-major element e over shape[0..ndim) to its offsets under two stride sets (the two
 * operands of a broadcast, the source and destination of a strided copy). */
__device__ __forceinline__ void kn_dev_two_offsets(int ndim, const int64_t *shape, const int64_t *sa,
                                                   const int64_t *sb, int64_t e, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        const int64_t i = e % shape[d];
        e /= shape[d];
        a += i * sa[d];
        b += i * sb[d];
    }
    *oa = a;
    *ob = b;
}

__device__ __forceinline__ float kn_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float kn_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double kn_warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/* Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets it. */
__device__ __forceinline__ double kn_block_sum_d(double v)
{
    __shared__ double part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = kn_warp_sum_d(v);
    __syncthreads(); /* part[] may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : 0.0;
    return kn_warp_sum_d(v);
}

/* The activation of kn_act_apply (core/kernels.c), on the device. */
__device__ __forceinline__ float kn_dev_act(kn_act act, float alpha, float beta, float x)
{
    switch (act) {
    case KN_ACT_NONE: return x;
    case KN_ACT_RELU: return x > 0 ? x : 0.0f;
    case KN_ACT_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case KN_ACT_CLIP: return x < alpha ? alpha : (x > beta ? beta : x);
    case KN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case KN_ACT_HARDSWISH: {
        float t = x / 6.0f + 0.5f;
        t = t < 0 ? 0.0f : (t > 1 ? 1.0f : t);
        return x * t;
    }
    case KN_ACT_TANH: return tanhf(x);
    }
    return x;
}

/* y = act(y + bias + residual) over rows x cols (row stride ld); bias is per column, or per
 * row taken modulo bias_mod (conv: rows are n*oc, so the channel is row % oc). */
kn_status kn_cuda_epilogue(int64_t rows, int64_t cols, float *y, int64_t ld, const kn_epilogue *ep,
                           int64_t bias_mod);
/* Blocks for kernels that give each row of a reduction one warp. */
unsigned kn_cuda_warp_grid(int64_t rows);
/* gb[ch] += sum over n and spatial of g[n, ch, spatial] (conv bias gradient). */
kn_status kn_cuda_channel_sum_acc(int64_t n, int64_t c, int64_t spatial, const float *g, float *gb);

/* The entries of the KN_CUDA table, defined across the .cu files and gathered in table.cu. */
kn_status kn_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes);
kn_status kn_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes);
kn_status kn_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes);
kn_status kn_cuda_memset0(void *dst, size_t bytes);
kn_status kn_cuda_sync(void);
bool kn_cuda_probe(void);

kn_status kn_cuda_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc, const kn_epilogue *ep);

size_t kn_cuda_conv2d_workspace(const kn_conv2d_desc *d);
kn_status kn_cuda_conv2d_fwd(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                             const kn_epilogue *ep, void *ws);
kn_status kn_cuda_conv2d_bwd_data(const kn_conv2d_desc *d, const float *w, const float *gy, float *gx,
                                  void *ws);
kn_status kn_cuda_conv2d_bwd_filter(const kn_conv2d_desc *d, const float *x, const float *gy, float *gw,
                                    float *gb, void *ws);

kn_status kn_cuda_maxpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax);
kn_status kn_cuda_maxpool2d_bwd(const kn_pool2d_desc *d, const float *gy, const int64_t *argmax, float *gx);
kn_status kn_cuda_avgpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y);
kn_status kn_cuda_avgpool2d_bwd(const kn_pool2d_desc *d, const float *gy, float *gx);

kn_status kn_cuda_batchnorm_infer(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                  const float *bias, const float *mean, const float *var, float eps, float *y);
kn_status kn_cuda_batchnorm_train(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                  const float *bias, float eps, float momentum, float *running_mean,
                                  float *running_var, float *y, float *save_mean, float *save_invstd);
kn_status kn_cuda_batchnorm_bwd(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                const float *scale, const float *save_mean, const float *save_invstd,
                                float *gx, float *gscale, float *gbias);

kn_status kn_cuda_unary(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y);
kn_status kn_cuda_unary_bwd(kn_unop op, float alpha, float beta, int64_t n, const float *x, const float *y,
                            const float *gy, float *gx);
kn_status kn_cuda_binary(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a, const void *b,
                         void *y);
kn_status kn_cuda_binary_bwd(kn_binop op, const kn_bcast *bc, const float *a, const float *b,
                             const float *gy, float *ga, float *gb);

kn_status kn_cuda_reduce(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y);
kn_status kn_cuda_softmax(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y);
kn_status kn_cuda_softmax_bwd(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y,
                              const float *gy, float *gx);
kn_status kn_cuda_softmax_xent_fwd(int64_t n, int64_t c, int64_t inner, const float *logits,
                                   const int64_t *labels, const float *weights, int64_t ignore_index,
                                   int reduction, float *loss, float *log_prob);
kn_status kn_cuda_softmax_xent_bwd(int64_t n, int64_t c, int64_t inner, const float *log_prob,
                                   const int64_t *labels, const float *weights, int64_t ignore_index,
                                   int reduction, const float *gloss, float *glogits);

kn_status kn_cuda_cast(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y);
kn_status kn_cuda_transpose(size_t elem, int ndim, const int64_t *shape, const int *perm, const void *x,
                            void *y);
kn_status kn_cuda_copy2d(int64_t rows, size_t row_bytes, const void *src, size_t src_stride, void *dst,
                         size_t dst_stride);
kn_status kn_cuda_gather(size_t elem, int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx,
                         int64_t nidx, const void *x, void *y);

kn_status kn_cuda_event_record(void **ev);
kn_status kn_cuda_event_elapsed(void *a, void *b, double *seconds);
void kn_cuda_event_destroy(void *ev);

kn_status kn_cuda_copy_strided(size_t elem, int ndim, const int64_t *shape, const void *x, const int64_t *xstride,
                               void *y, const int64_t *ystride);
kn_status kn_cuda_add_strided(int ndim, const int64_t *shape, const float *x, const int64_t *xstride, float *y,
                              const int64_t *ystride);
kn_status kn_cuda_fill(size_t elem, int64_t n, uint64_t value, void *y);
kn_status kn_cuda_argreduce(bool is_min, bool select_last, int64_t outer, int64_t dim, int64_t inner, const float *x,
                            int64_t *y);

kn_status kn_cuda_sgd_step(int64_t n, float *p, const float *g, float *vel, float lr, float momentum,
                           float dampening, float weight_decay, bool nesterov, bool first_step);
kn_status kn_cuda_adam_step(int64_t n, float *p, const float *g, float *m, float *v, float lr, float beta1,
                            float beta2, float eps, float weight_decay, bool decoupled, int64_t step);

#endif
