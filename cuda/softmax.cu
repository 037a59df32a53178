/* Softmax / LogSoftmax over dim of [outer, dim, inner] and the fused softmax
 * cross-entropy, one warp per row (as reduce.cu): max, then sum of exp, then the
 * normalised outputs, all reading the row through the warp's lanes. */
#include "cuda/common.h"

#include <cfloat>

namespace {

#define WARP_ROWS(r, rows)                                                                       \
    const int lane = threadIdx.x & 31;                                                           \
    const int64_t warps_ = (int64_t)gridDim.x * (blockDim.x >> 5);                               \
    for (int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < (rows); r += warps_)

/* max and log(sum(exp(x - max))) of one strided row. */
__device__ __forceinline__ void row_lse(const float *px, int64_t dim, int64_t inner, int lane, float *mx, float *lse)
{
    float m = -INFINITY;
    for (int64_t k = lane; k < dim; k += 32) m = fmaxf(m, px[k * inner]);
    m = kn_warp_max(m);
    float s = 0;
    for (int64_t k = lane; k < dim; k += 32) s += expf(px[k * inner] - m);
    s = kn_warp_sum(s);
    *mx = m;
    *lse = logf(s);
}

__global__ void softmax_kernel(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y)
{
    WARP_ROWS(r, outer * inner)
    {
        const int64_t o = r / inner, i = r - o * inner, base = o * dim * inner + i;
        float m, lse;
        row_lse(x + base, dim, inner, lane, &m, &lse);
        for (int64_t k = lane; k < dim; k += 32) {
            const float z = x[base + k * inner] - m - lse;
            y[base + k * inner] = log ? z : expf(z);
        }
    }
}

/* softmax: gx += y * (gy - sum(gy * y));  log: gx += gy - exp(y) * sum(gy) */
__global__ void softmax_bwd_kernel(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y,
                                   const float *gy, float *gx)
{
    WARP_ROWS(r, outer * inner)
    {
        const int64_t o = r / inner, i = r - o * inner, base = o * dim * inner + i;
        float s = 0;
        for (int64_t k = lane; k < dim; k += 32) {
            const int64_t j = base + k * inner;
            s += log ? gy[j] : gy[j] * y[j];
        }
        s = kn_warp_sum(s);
        for (int64_t k = lane; k < dim; k += 32) {
            const int64_t j = base + k * inner;
            gx[j] += log ? gy[j] - expf(y[j]) * s : y[j] * (gy[j] - s);
        }
    }
}

/* Per row (n, inner): log_prob over c, the row's weighted loss and weight. A label that is
 * neither ignore_index nor in [0, c) sets *bad. */
__global__ void xent_fwd_kernel(int64_t n, int64_t c, int64_t inner, const float *logits, const int64_t *labels,
                                const float *weights, int64_t ignore_index, float *log_prob, float *row_loss,
                                float *row_w, int *bad)
{
    WARP_ROWS(r, n * inner)
    {
        const int64_t o = r / inner, i = r - o * inner, base = o * c * inner + i;
        float m, lse;
        row_lse(logits + base, c, inner, lane, &m, &lse);
        for (int64_t k = lane; k < c; k += 32) log_prob[base + k * inner] = logits[base + k * inner] - m - lse;
        if (lane == 0) {
            const int64_t t = labels[r];
            float l = 0, w = 0;
            if (t != ignore_index) {
                if (t < 0 || t >= c) {
                    atomicOr(bad, 1);
                } else {
                    w = weights ? weights[t] : 1.0f;
                    l = -w * (logits[base + t * inner] - m - lse);
                }
            }
            row_loss[r] = l;
            row_w[r] = w;
        }
    }
}

/* One block: out[0] = sum of row_loss (divided by the summed weight for mean). */
__global__ void xent_total_kernel(int64_t rows, const float *row_loss, const float *row_w, int reduction, float *out)
{
    double s = 0, w = 0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
        s += row_loss[r];
        w += row_w[r];
    }
    s = kn_block_sum_d(s);
    w = kn_block_sum_d(w);
    if (threadIdx.x == 0) out[0] = (float)(reduction == 2 ? s / w : s);
}

/* One block: *wsum = summed weight of the rows that count (for the mean's gradient). */
__global__ void xent_wsum_kernel(int64_t rows, const int64_t *labels, const float *weights, int64_t ignore_index,
                                 int64_t c, float *wsum)
{
    double w = 0;
    for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
        const int64_t t = labels[r];
        if (t != ignore_index && t >= 0 && t < c) w += weights ? weights[t] : 1.0f;
    }
    w = kn_block_sum_d(w);
    if (threadIdx.x == 0) wsum[0] = (float)w;
}

/* glogits += g_row * w[label] * (softmax - onehot(label)) */
__global__ void xent_bwd_kernel(int64_t n, int64_t c, int64_t inner, const float *log_prob, const int64_t *labels,
                                const float *weights, int64_t ignore_index, int reduction, const float *gloss,
                                const float *wsum, float *glogits)
{
    KN_GRID_LOOP(e, n * c * inner) {
        const int64_t o = e / (c * inner), rem = e - o * c * inner, k = rem / inner, i = rem - k * inner;
        const int64_t r = o * inner + i, t = labels[r];
        if (t == ignore_index || t < 0 || t >= c) continue;
        const float g = reduction == 0 ? gloss[r] : reduction == 1 ? gloss[0] : gloss[0] / wsum[0];
        const float w = weights ? weights[t] : 1.0f;
        glogits[e] += g * w * (expf(log_prob[e]) - (k == t ? 1.0f : 0.0f));
    }
}

kn_status check3(const char *what, int64_t a, int64_t b, int64_t c)
{
    if (a < 0 || b < 0 || c < 0)
        return kn_error(KN_ERR_SHAPE, "%s dims [%lld,%lld,%lld] are negative", what, (long long)a, (long long)b,
                        (long long)c);
    return KN_OK;
}

} // namespace

kn_status kn_cuda_softmax(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x, float *y)
{
    KN_TRY(check3("softmax", outer, dim, inner));
    if (outer * dim * inner == 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    softmax_kernel<<<kn_cuda_warp_grid(outer * inner), KN_CUDA_BLOCK, 0, s>>>(log, outer, dim, inner, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_softmax_bwd(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y, const float *gy,
                              float *gx)
{
    KN_TRY(check3("softmax", outer, dim, inner));
    if (outer * dim * inner == 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    softmax_bwd_kernel<<<kn_cuda_warp_grid(outer * inner), KN_CUDA_BLOCK, 0, s>>>(log, outer, dim, inner, y, gy, gx);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_softmax_xent_fwd(int64_t n, int64_t c, int64_t inner, const float *logits, const int64_t *labels,
                                   const float *weights, int64_t ignore_index, int reduction, float *loss,
                                   float *log_prob)
{
    KN_TRY(check3("softmax cross-entropy", n, c, inner));
    if (reduction < 0 || reduction > 2)
        return kn_error(KN_ERR_INVALID, "softmax cross-entropy: reduction %d is not 0, 1 or 2", reduction);
    if (c == 0) return kn_error(KN_ERR_SHAPE, "softmax cross-entropy over zero classes");
    const int64_t rows = n * inner;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    /* scratch: [bad flag (padded to 16 bytes)] [row_w] [row_loss unless reduction none] */
    char *scratch;
    KN_TRY(kn_cuda_scratch((void **)&scratch, 16 + sizeof(float) * (size_t)rows * 2));
    int *bad = (int *)scratch;
    float *row_w = (float *)(scratch + 16), *row_loss = reduction == 0 ? loss : row_w + rows;
    int h_bad = 0;
    cudaError_t e = cudaMemsetAsync(bad, 0, sizeof(int), s);
    if (e == cudaSuccess && rows) {
        xent_fwd_kernel<<<kn_cuda_warp_grid(rows), KN_CUDA_BLOCK, 0, s>>>(n, c, inner, logits, labels, weights,
                                                                          ignore_index, log_prob, row_loss, row_w, bad);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess && reduction != 0) {
        xent_total_kernel<<<1, 1024, 0, s>>>(rows, row_loss, row_w, reduction, loss);
        e = cudaGetLastError();
    }
    /* Bad labels are caller errors the CPU twin reports; finding them costs one sync. */
    if (e == cudaSuccess) e = cudaMemcpyAsync(&h_bad, bad, sizeof(int), cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    kn_cuda_free(scratch);
    KN_CUDA_CHECK(e);
    if (h_bad)
        return kn_error(KN_ERR_INVALID, "softmax cross-entropy: a label is outside [0, %lld) and is not ignore_index %lld",
                        (long long)c, (long long)ignore_index);
    return KN_OK;
}

kn_status kn_cuda_softmax_xent_bwd(int64_t n, int64_t c, int64_t inner, const float *log_prob, const int64_t *labels,
                                   const float *weights, int64_t ignore_index, int reduction, const float *gloss,
                                   float *glogits)
{
    KN_TRY(check3("softmax cross-entropy", n, c, inner));
    if (reduction < 0 || reduction > 2)
        return kn_error(KN_ERR_INVALID, "softmax cross-entropy: reduction %d is not 0, 1 or 2", reduction);
    const int64_t total = n * c * inner;
    if (!total) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    float *wsum = NULL;
    if (reduction == 2) {
        KN_TRY(kn_cuda_scratch((void **)&wsum, sizeof(float)));
        xent_wsum_kernel<<<1, 1024, 0, s>>>(n * inner, labels, weights, ignore_index, c, wsum);
    }
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        xent_bwd_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(n, c, inner, log_prob, labels, weights,
                                                                      ignore_index, reduction, gloss, wsum, glogits);
        e = cudaGetLastError();
    }
    kn_cuda_free(wsum);
    KN_CUDA_CHECK(e);
    return KN_OK;
}
