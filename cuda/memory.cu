/* The device context (one stream, lazily created cuBLAS/cuDNN handles), the caching
 * allocator, copies, and the availability probe.
 *
 * Allocator: cudaMalloc/cudaFree synchronise the device and cost tens of microseconds,
 * so freed blocks go to a free list keyed by their size class and the next request of
 * that class reuses one. Training allocates the same shapes every step, so after the
 * first step no cudaMalloc happens. Reuse needs no events because all work runs on one
 * stream: a kernel that used a freed block is ordered before any kernel that reuses it.
 * When cudaMalloc fails the cache is released and the request retried once. */
#include "cuda/common.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

kn_status kn_cuda_fail(const char *lib, const char *what, const char *expr, const char *file, int line)
{
    return kn_error(KN_ERR_DEVICE, "%s error '%s' in %s (%s:%d)", lib, what, expr, file, line);
}

/* ---- device context ---- */

static std::mutex ctx_mu;
static cudaStream_t ctx_stream;
static cublasHandle_t ctx_cublas;
static cudnnHandle_t ctx_cudnn;

kn_status kn_cuda_stream(cudaStream_t *s)
{
    std::lock_guard<std::mutex> lock(ctx_mu);
    if (!ctx_stream) KN_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx_stream, cudaStreamNonBlocking));
    *s = ctx_stream;
    return KN_OK;
}

bool kn_cuda_tf32(void)
{
    const char *e = getenv("KILN_CUDA_TF32");
    return e && *e && strcmp(e, "0") != 0;
}

kn_status kn_cuda_cublas(cublasHandle_t *h)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    std::lock_guard<std::mutex> lock(ctx_mu);
    if (!ctx_cublas) {
        cublasHandle_t c;
        KN_CUBLAS_CHECK(cublasCreate(&c));
        KN_CUBLAS_CHECK(cublasSetStream(c, s));
        KN_CUBLAS_CHECK(cublasSetMathMode(c, kn_cuda_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
        ctx_cublas = c;
    }
    *h = ctx_cublas;
    return KN_OK;
}

kn_status kn_cuda_cudnn(cudnnHandle_t *h)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    std::lock_guard<std::mutex> lock(ctx_mu);
    if (!ctx_cudnn) {
        cudnnHandle_t c;
        KN_CUDNN_CHECK(cudnnCreate(&c));
        KN_CUDNN_CHECK(cudnnSetStream(c, s));
        ctx_cudnn = c;
    }
    *h = ctx_cudnn;
    return KN_OK;
}

bool kn_cuda_probe(void)
{
    /* Cached: the answer does not change while the process runs. Without libcuda the
     * runtime returns cudaErrorInsufficientDriver / cudaErrorNoDevice, never aborts. */
    static int state = -1;
    if (state < 0) {
        int n = 0;
        cudaError_t e = cudaGetDeviceCount(&n);
        state = e == cudaSuccess && n > 0;
        if (e != cudaSuccess) (void)cudaGetLastError(); /* don't leave a sticky error behind */
    }
    return state == 1;
}

/* ---- caching allocator ---- */

static std::mutex mem_mu;
static std::unordered_map<size_t, std::vector<void *>> mem_free;  /* class size -> blocks */
static std::unordered_map<void *, size_t> mem_live;               /* block -> class size */

/* 512-byte granules up to 1 MiB, then 8 classes per power of two (at most 12.5% waste). */
static size_t size_class(size_t bytes)
{
    if (bytes <= (1u << 20)) return (bytes + 511) & ~(size_t)511;
    size_t p = 1u << 20; /* largest power of two <= bytes */
    while (p <= bytes / 2) p <<= 1;
    const size_t step = p / 8;
    return (bytes + step - 1) / step * step;
}

static void release_cache_locked(void)
{
    for (auto &kv : mem_free)
        for (void *p : kv.second) cudaFree(p);
    mem_free.clear();
}

void *kn_cuda_alloc(size_t bytes)
{
    const size_t cls = size_class(bytes ? bytes : 1);
    std::lock_guard<std::mutex> lock(mem_mu);
    auto it = mem_free.find(cls);
    if (it != mem_free.end() && !it->second.empty()) {
        void *p = it->second.back();
        it->second.pop_back();
        mem_live[p] = cls;
        return p;
    }
    void *p = NULL;
    if (cudaMalloc(&p, cls) != cudaSuccess) {
        (void)cudaGetLastError();
        release_cache_locked();
        if (cudaMalloc(&p, cls) != cudaSuccess) {
            (void)cudaGetLastError();
            return NULL;
        }
    }
    mem_live[p] = cls;
    return p;
}

void kn_cuda_free(void *p)
{
    if (!p) return;
    std::lock_guard<std::mutex> lock(mem_mu);
    auto it = mem_live.find(p);
    if (it == mem_live.end()) return; /* not ours: never hand a foreign pointer to cudaFree */
    mem_free[it->second].push_back(p);
    mem_live.erase(it);
}

kn_status kn_cuda_scratch(void **p, size_t bytes)
{
    *p = kn_cuda_alloc(bytes);
    if (!*p) return kn_error(KN_ERR_NOMEM, "CUDA: out of device memory for %zu bytes of scratch", bytes);
    return KN_OK;
}

/* ---- copies ---- */

kn_status kn_cuda_memcpy_h2d(void *dst, const void *src, size_t bytes)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (!bytes) return KN_OK;
    /* From pageable memory this returns once src has been staged, so the caller may reuse it. */
    KN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
    return KN_OK;
}

kn_status kn_cuda_memcpy_d2h(void *dst, const void *src, size_t bytes)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (!bytes) return KN_OK;
    KN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    KN_CUDA_CHECK(cudaStreamSynchronize(s)); /* the host reads dst next */
    return KN_OK;
}

kn_status kn_cuda_memcpy_d2d(void *dst, const void *src, size_t bytes)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (!bytes || dst == src) return KN_OK;
    KN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
    return KN_OK;
}

kn_status kn_cuda_memset0(void *dst, size_t bytes)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (!bytes) return KN_OK;
    KN_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, s));
    return KN_OK;
}

kn_status kn_cuda_sync(void)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    KN_CUDA_CHECK(cudaStreamSynchronize(s));
    return KN_OK;
}

/* ---- events (the profiler's device clock) ---- */

kn_status kn_cuda_event_record(void **ev)
{
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (!*ev) {
        cudaEvent_t e;
        KN_CUDA_CHECK(cudaEventCreate(&e));
        *ev = (void *)e;
    }
    KN_CUDA_CHECK(cudaEventRecord((cudaEvent_t)*ev, s));
    return KN_OK;
}

kn_status kn_cuda_event_elapsed(void *a, void *b, double *seconds)
{
    float ms = 0;
    KN_CUDA_CHECK(cudaEventSynchronize((cudaEvent_t)b));
    KN_CUDA_CHECK(cudaEventElapsedTime(&ms, (cudaEvent_t)a, (cudaEvent_t)b));
    *seconds = 1e-3 * (double)ms;
    return KN_OK;
}

void kn_cuda_event_destroy(void *ev)
{
    if (ev) cudaEventDestroy((cudaEvent_t)ev);
}
