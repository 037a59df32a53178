/* 2-D convolution through cuDNN's legacy (v7-style) API, still shipped in cuDNN 9.
 *
 * Warm-up: the first call for a geometry builds its descriptors and benchmarks the
 * algorithms of that direction (cudnnFind*), keeping the fastest that succeeds within
 * the workspace cap; later calls with the same kn_conv2d_desc reuse both. Workspace
 * comes from the caching allocator, so conv2d_workspace asks the caller for nothing.
 *
 * cuDNN pads symmetrically only. Asymmetric pads (ONNX SAME_UPPER/LOWER) are handled by
 * copying x into an explicitly zero-padded buffer and convolving that with no padding;
 * the data gradient of the padded buffer is cropped back into gx. */
#include "cuda/common.h"

#include <cstring>
#include <mutex>
#include <vector>

namespace {

struct ConvPlan {
    kn_conv2d_desc key;
    bool padded; /* asymmetric pads: run on an explicitly padded x */
    int64_t ph, pw; /* padded x height / width when padded */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    bool have_fwd, have_bwd_data, have_bwd_filter;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_bwd_data, ws_bwd_filter;
    cudnnMathType_t mt_fwd, mt_bwd_data, mt_bwd_filter; /* one conv descriptor, three directions */
};

std::mutex plans_mu;
std::vector<ConvPlan *> plans; /* a handful of geometries per model: linear search is fine */

/* Algorithms needing more scratch than this are skipped (KILN_CUDA_CONV_WS_MB overrides). */
size_t ws_cap(void)
{
    const char *e = getenv("KILN_CUDA_CONV_WS_MB");
    long long mb = e ? atoll(e) : 0;
    return (size_t)(mb > 0 ? mb : 1024) << 20;
}

bool fits_int(const kn_conv2d_desc *d)
{
    const int64_t v[] = {d->n, d->c, d->h, d->w, d->oc, d->kh, d->kw, d->oh, d->ow, d->stride_h,
                         d->stride_w, d->pad_t, d->pad_l, d->pad_b, d->pad_r, d->dil_h, d->dil_w, d->group};
    for (int64_t x : v)
        if (x < 0 || x > INT32_MAX) return false;
    return d->group > 0 && d->c % d->group == 0 && d->oc % d->group == 0;
}

kn_status build_plan(const kn_conv2d_desc *d, ConvPlan *p)
{
    memset(p, 0, sizeof *p);
    p->key = *d;
    p->padded = d->pad_t != d->pad_b || d->pad_l != d->pad_r;
    p->ph = d->h + d->pad_t + d->pad_b;
    p->pw = d->w + d->pad_l + d->pad_r;
    const int xh = (int)(p->padded ? p->ph : d->h), xw = (int)(p->padded ? p->pw : d->w);
    const int pad_h = p->padded ? 0 : (int)d->pad_t, pad_w = p->padded ? 0 : (int)d->pad_l;
    KN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
    KN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
    KN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
    KN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
    KN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)d->n, (int)d->c,
                                              xh, xw));
    KN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)d->oc,
                                              (int)(d->c / d->group), (int)d->kh, (int)d->kw));
    KN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, pad_h, pad_w, (int)d->stride_h, (int)d->stride_w,
                                                   (int)d->dil_h, (int)d->dil_w, CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    KN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(p->conv, (int)d->group));
    /* FMA math keeps float32 exact-ish; TF32 only when asked for. */
    KN_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, kn_cuda_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int on, oc, oh, ow;
    KN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &oc, &oh, &ow));
    if (on != d->n || oc != d->oc || oh != d->oh || ow != d->ow)
        return kn_error(KN_ERR_SHAPE, "conv: cuDNN computes output [%d,%d,%d,%d], the caller expects [%lld,%lld,%lld,%lld]",
                        on, oc, oh, ow, (long long)d->n, (long long)d->oc, (long long)d->oh, (long long)d->ow);
    KN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, on, oc, oh, ow));
    return KN_OK;
}

void destroy_plan(ConvPlan *p)
{
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    delete p;
}

kn_status get_plan(const kn_conv2d_desc *d, ConvPlan **out)
{
    /* a capability limit, not bad input: inference then runs the node on the CPU */
    if (d->pad_t < 0 || d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0)
        return kn_error(KN_ERR_UNSUPPORTED, "conv: negative pads (crops) are not implemented on cuda (cuDNN)");
    if (!fits_int(d)) return kn_error(KN_ERR_UNSUPPORTED, "conv: geometry does not fit cuDNN's int dims or groups");
    std::lock_guard<std::mutex> lock(plans_mu);
    for (ConvPlan *p : plans)
        if (!memcmp(&p->key, d, sizeof *d)) {
            *out = p;
            return KN_OK;
        }
    ConvPlan *p = new (std::nothrow) ConvPlan;
    if (!p) return kn_error(KN_ERR_NOMEM, "conv: out of memory for a plan");
    kn_status st = build_plan(d, p);
    if (st != KN_OK) {
        destroy_plan(p);
        return st;
    }
    plans.push_back(p);
    *out = p;
    return KN_OK;
}

/* Pick the fastest benchmarked algorithm that succeeded within the workspace cap; without
 * KILN_CUDA_TF32 skip tensor-op (TF32) variants so results stay float32-accurate. */
template <typename Perf, typename Algo>
kn_status pick(const Perf *perf, int count, const char *dir, Algo *algo, size_t *ws, cudnnMathType_t *mt)
{
    const size_t cap = ws_cap();
    const bool tf32 = kn_cuda_tf32();
    for (int i = 0; i < count; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cap) continue;
        const cudnnMathType_t m = perf[i].mathType;
        if (!tf32 && (m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) continue;
        *algo = perf[i].algo;
        *ws = perf[i].memory;
        /* run it under the math type it was benchmarked with (DEFAULT may mean TF32 on sm_80+) */
        *mt = (!tf32 && m == CUDNN_DEFAULT_MATH) ? CUDNN_FMA_MATH : m;
        return KN_OK;
    }
    return kn_error(KN_ERR_DEVICE, "conv: cuDNN found no %s algorithm within %zu MiB of workspace%s", dir,
                    cap >> 20, tf32 ? "" : " without TF32");
}

__global__ void pad_kernel(int64_t planes, int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t pt,
                           int64_t pl, const float *x, float *xp)
{
    KN_GRID_LOOP(e, planes * ph * pw) {
        const int64_t pl_i = e / (ph * pw), r = e - pl_i * ph * pw, i = r / pw - pt, j = r % pw - pl;
        xp[e] = (i >= 0 && i < h && j >= 0 && j < w) ? x[(pl_i * h + i) * w + j] : 0.0f;
    }
}

__global__ void crop_acc_kernel(int64_t planes, int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t pt,
                                int64_t pl, const float *gp, float *gx)
{
    KN_GRID_LOOP(e, planes * h * w) {
        const int64_t pl_i = e / (h * w), r = e - pl_i * h * w, i = r / w, j = r % w;
        gx[e] += gp[(pl_i * ph + i + pt) * pw + j + pl];
    }
}

kn_status pad_input(const ConvPlan *p, const kn_conv2d_desc *d, const float *x, float **xp)
{
    const int64_t planes = d->n * d->c;
    KN_TRY(kn_cuda_scratch((void **)xp, sizeof(float) * (size_t)(planes * p->ph * p->pw)));
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    pad_kernel<<<kn_cuda_grid(planes * p->ph * p->pw), KN_CUDA_BLOCK, 0, s>>>(planes, d->h, d->w, p->ph, p->pw,
                                                                              d->pad_t, d->pad_l, x, *xp);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

} // namespace

size_t kn_cuda_conv2d_workspace(const kn_conv2d_desc *d)
{
    (void)d;
    return 0; /* cuDNN scratch comes from the caching allocator, sized per chosen algorithm */
}

kn_status kn_cuda_conv2d_fwd(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                             const kn_epilogue *ep, void *ws_unused)
{
    (void)ws_unused;
    if (d->n == 0 || d->oc == 0 || d->oh == 0 || d->ow == 0) return KN_OK;
    ConvPlan *p;
    cudnnHandle_t h;
    KN_TRY(get_plan(d, &p));
    KN_TRY(kn_cuda_cudnn(&h));
    if (!p->have_fwd) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        KN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p->x, p->w, p->conv, p->y,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        KN_TRY(pick(perf, got, "forward", &p->fwd, &p->ws_fwd, &p->mt_fwd));
        p->have_fwd = true;
    }
    KN_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->mt_fwd));
    float *xp = NULL;
    void *ws = NULL;
    kn_status st = KN_OK;
    if (p->padded) st = pad_input(p, d, x, &xp);
    if (st == KN_OK && p->ws_fwd) st = kn_cuda_scratch(&ws, p->ws_fwd);
    if (st == KN_OK) {
        const float one = 1.0f, zero = 0.0f;
        cudnnStatus_t cs = cudnnConvolutionForward(h, &one, p->x, xp ? xp : x, p->w, w, p->conv, p->fwd, ws,
                                                   p->ws_fwd, &zero, p->y, y);
        if (cs != CUDNN_STATUS_SUCCESS)
            st = kn_cuda_fail("cuDNN", cudnnGetErrorString(cs), "cudnnConvolutionForward", __FILE__, __LINE__);
    }
    kn_cuda_free(ws); /* stream order makes the immediate return to the cache safe */
    kn_cuda_free(xp);
    KN_TRY(st);
    if (!ep) return KN_OK;
    kn_epilogue e = *ep;
    e.bias_per_row = true; /* conv bias is one value per output channel, whatever the flag says */
    return kn_cuda_epilogue(d->n * d->oc, d->oh * d->ow, y, d->oh * d->ow, &e, d->oc);
}

kn_status kn_cuda_conv2d_bwd_data(const kn_conv2d_desc *d, const float *w, const float *gy, float *gx,
                                  void *ws_unused)
{
    (void)ws_unused;
    if (d->n == 0 || d->c == 0 || d->h == 0 || d->w == 0) return KN_OK;
    ConvPlan *p;
    cudnnHandle_t h;
    KN_TRY(get_plan(d, &p));
    KN_TRY(kn_cuda_cudnn(&h));
    if (!p->have_bwd_data) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int got = 0;
        KN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p->w, p->y, p->conv, p->x,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        KN_TRY(pick(perf, got, "backward-data", &p->bwd_data, &p->ws_bwd_data, &p->mt_bwd_data));
        p->have_bwd_data = true;
    }
    KN_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->mt_bwd_data));
    const int64_t planes = d->n * d->c;
    float *gp = NULL;
    void *ws = NULL;
    kn_status st = KN_OK;
    if (p->padded) st = kn_cuda_scratch((void **)&gp, sizeof(float) * (size_t)(planes * p->ph * p->pw));
    if (st == KN_OK && p->ws_bwd_data) st = kn_cuda_scratch(&ws, p->ws_bwd_data);
    if (st == KN_OK) {
        /* beta = 1 accumulates into gx as the table requires; the padded buffer starts fresh */
        const float one = 1.0f, zero = 0.0f;
        cudnnStatus_t cs = cudnnConvolutionBackwardData(h, &one, p->w, w, p->y, gy, p->conv, p->bwd_data, ws,
                                                        p->ws_bwd_data, gp ? &zero : &one, p->x, gp ? gp : gx);
        if (cs != CUDNN_STATUS_SUCCESS)
            st = kn_cuda_fail("cuDNN", cudnnGetErrorString(cs), "cudnnConvolutionBackwardData", __FILE__, __LINE__);
    }
    if (st == KN_OK && gp) {
        cudaStream_t s;
        st = kn_cuda_stream(&s);
        if (st == KN_OK) {
            crop_acc_kernel<<<kn_cuda_grid(planes * d->h * d->w), KN_CUDA_BLOCK, 0, s>>>(
                planes, d->h, d->w, p->ph, p->pw, d->pad_t, d->pad_l, gp, gx);
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) st = kn_cuda_fail("CUDA", cudaGetErrorString(e), "crop_acc_kernel", __FILE__, __LINE__);
        }
    }
    kn_cuda_free(ws);
    kn_cuda_free(gp);
    return st;
}

kn_status kn_cuda_conv2d_bwd_filter(const kn_conv2d_desc *d, const float *x, const float *gy, float *gw,
                                    float *gb, void *ws_unused)
{
    (void)ws_unused;
    if (d->oc == 0) return KN_OK;
    if (gb) KN_TRY(kn_cuda_channel_sum_acc(d->n, d->oc, d->oh * d->ow, gy, gb));
    if (!gw || d->n == 0 || d->oh == 0 || d->ow == 0) return KN_OK;
    ConvPlan *p;
    cudnnHandle_t h;
    KN_TRY(get_plan(d, &p));
    KN_TRY(kn_cuda_cudnn(&h));
    if (!p->have_bwd_filter) {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int got = 0;
        KN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p->x, p->y, p->conv, p->w,
                                                                   CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf));
        KN_TRY(pick(perf, got, "backward-filter", &p->bwd_filter, &p->ws_bwd_filter, &p->mt_bwd_filter));
        p->have_bwd_filter = true;
    }
    KN_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->mt_bwd_filter));
    float *xp = NULL;
    void *ws = NULL;
    kn_status st = KN_OK;
    if (p->padded) st = pad_input(p, d, x, &xp);
    if (st == KN_OK && p->ws_bwd_filter) st = kn_cuda_scratch(&ws, p->ws_bwd_filter);
    if (st == KN_OK) {
        const float one = 1.0f;
        cudnnStatus_t cs = cudnnConvolutionBackwardFilter(h, &one, p->x, xp ? xp : x, p->y, gy, p->conv,
                                                          p->bwd_filter, ws, p->ws_bwd_filter, &one, p->w, gw);
        if (cs != CUDNN_STATUS_SUCCESS)
            st = kn_cuda_fail("cuDNN", cudnnGetErrorString(cs), "cudnnConvolutionBackwardFilter", __FILE__, __LINE__);
    }
    kn_cuda_free(ws);
    kn_cuda_free(xp);
    return st;
}
