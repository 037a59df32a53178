/* CPU GEMM: OpenBLAS cblas_sgemm plus one fused pass for the epilogue
 * (bias, residual, activation), so a Linear+ReLU touches C twice, not four times. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <cblas.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One row: v = row + (per-row bias rb | per-column bias[j]) + res[j], then act. The
 * switch on the activation is hoisted out of the loop, so each case is a straight
 * loop the compiler vectorises (Clip, LeakyRelu and HardSwish are pure min/max/fma;
 * Sigmoid and Tanh call expf/tanhf per lane but without a per-element switch). */
#define EPI_LOOP(EXPR)                                                                             \
    do {                                                                                           \
        if (bias && res) {                                                                         \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float v = row[j] + bias[j] + res[j];                                         \
                row[j] = (EXPR);                                                                   \
            }                                                                                      \
        } else if (bias) {                                                                         \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float v = row[j] + bias[j];                                                  \
                row[j] = (EXPR);                                                                   \
            }                                                                                      \
        } else if (res) {                                                                          \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float v = row[j] + rb + res[j];                                              \
                row[j] = (EXPR);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float v = row[j] + rb;                                                       \
                row[j] = (EXPR);                                                                   \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static inline float sigmoid1(float x) { return 1.0f / (1.0f + expf(-x)); }
/* x * clamp(x/6 + 1/2, 0, 1) with comparisons: GCC leaves fminf/fmaxf as libm calls
 * here, which stops the loop from vectorising. */
static inline float hardswish1(float v)
{
    float t = v * (1.0f / 6.0f) + 0.5f;
    t = t < 0.0f ? 0.0f : t;
    t = t > 1.0f ? 1.0f : t;
    return v * t;
}

static void row_epilogue(int64_t n, float *restrict row, const float *restrict bias, float rb,
                         const float *restrict res, kn_act act, float alpha, float beta)
{
    switch (act) {
    case KN_ACT_NONE: EPI_LOOP(v); break;
    case KN_ACT_RELU: EPI_LOOP(v > 0 ? v : 0.0f); break;
    case KN_ACT_LEAKY_RELU: EPI_LOOP(v >= 0 ? v : alpha * v); break;
    case KN_ACT_CLIP: EPI_LOOP(v < alpha ? alpha : (v > beta ? beta : v)); break;
    case KN_ACT_HARDSWISH: EPI_LOOP(hardswish1(v)); break;
    case KN_ACT_SIGMOID: EPI_LOOP(sigmoid1(v)); break;
    case KN_ACT_TANH: EPI_LOOP(tanhf(v)); break;
    default:
        for (int64_t j = 0; j < n; j++) {
            const float v = row[j] + (bias ? bias[j] : rb) + (res ? res[j] : 0.0f);
            row[j] = kn_act_apply(act, alpha, beta, v);
        }
    }
}

void kn_cpu_epilogue(int64_t m, int64_t n, float *c, int64_t ldc, const kn_epilogue *ep)
{
    if (!ep || (!ep->bias && !ep->residual && ep->act == KN_ACT_NONE)) return;
    const float *bias = ep->bias, *res = ep->residual;
    const bool per_row = ep->bias_per_row;
    const kn_act act = ep->act;
    const float alpha = ep->alpha, beta = ep->beta;
    KN_OMP_FOR_IF(m * n > 32768 && m > 1, schedule(static),
    for (int64_t i = 0; i < m; i++) {
        const float rb = bias && per_row ? bias[i] : 0.0f;
        row_epilogue(n, c + i * ldc, bias && !per_row ? bias : NULL, rb, res ? res + i * n : NULL, act, alpha, beta);
    });
}

/* A GEMM is split across the OpenMP threads by kiln itself when it has at least this
 * many multiply-adds (m*n*k). OpenBLAS threads such GEMMs too, but at training shapes
 * ([64x784]x[784x128] and its transposes, tens of microseconds) its own split did not
 * scale on two cores (2 threads slower than 1); one parallel region in which each
 * thread calls cblas_sgemm on its own block of C does (Debian's OpenMP OpenBLAS runs
 * single-threaded inside a parallel region). 262144 is OpenBLAS's own threshold
 * (65536 * GEMM_MULTITHREAD_THRESHOLD): below it OpenBLAS stays on one thread, so
 * smaller GEMMs are left to it and run without a fork/join. */
#define SPLIT_MIN_MNK 262144.0

static void gemm_block(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* Split C into one block per thread: by columns (in multiples of 16, the AVX-512 float
 * width, so each block keeps OpenBLAS's full-width kernels), else by rows (multiples of
 * 4) when there are too few columns, a residual (indexed with the full row length) must
 * be added, or A is transposed with >= 64 rows of C (the weight-gradient form G^T X,
 * where a row split measured faster: [128x64]x[64x784] 44 us vs 52 us by columns). The split depends only on the shape and the thread count, and each
 * element of C is still one sequential dot product over k, so results are deterministic. */
static bool gemm_split(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const kn_epilogue *ep)
{
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    if (nt < 2 || omp_in_parallel() || (double)m * (double)n * (double)k < SPLIT_MIN_MNK) return false;
    const bool by_cols = n >= 64 && !(ep && ep->residual) && !(ta && m >= 64);
    const int64_t dim = by_cols ? n : m, align = by_cols ? 16 : 4;
    if (dim < 2 * align) return false;
    int64_t chunk = (dim + nt - 1) / nt;
    chunk = (chunk + align - 1) / align * align;
    nt = (int)((dim + chunk - 1) / chunk);
#pragma omp parallel num_threads(nt)
    {
        const int64_t lo = (int64_t)omp_get_thread_num() * chunk;
        const int64_t len = lo + chunk > dim ? dim - lo : chunk;
        if (len > 0) {
            if (by_cols) {
                const float *bb = tb ? b + lo * ldb : b + lo;
                gemm_block(ta, tb, m, len, k, alpha, a, lda, bb, ldb, beta, c + lo, ldc);
                if (ep) {
                    kn_epilogue e = *ep;
                    if (e.bias && !e.bias_per_row) e.bias += lo;
                    kn_cpu_epilogue(m, len, c + lo, ldc, &e);
                }
            } else {
                const float *aa = ta ? a + lo : a + lo * lda;
                gemm_block(ta, tb, len, n, k, alpha, aa, lda, b, ldb, beta, c + lo * ldc, ldc);
                if (ep) {
                    kn_epilogue e = *ep;
                    if (e.bias && e.bias_per_row) e.bias += lo;
                    if (e.residual) e.residual += lo * n;
                    kn_cpu_epilogue(len, n, c + lo * ldc, ldc, &e);
                }
            }
        }
    }
    return true;
#else
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
    (void)b, (void)ldb, (void)beta, (void)c, (void)ldc, (void)ep;
    return false;
#endif
}

kn_status kn_cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc, const kn_epilogue *ep)
{
    if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return kn_error(KN_ERR_SHAPE, "gemm dims m=%lld n=%lld k=%lld are out of range", (long long)m,
                        (long long)n, (long long)k);
    if (m == 0 || n == 0) return KN_OK;
    if (k == 0) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    } else {
        if (gemm_split(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)) return KN_OK;
        gemm_block(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    kn_cpu_epilogue(m, n, c, ldc, ep);
    return KN_OK;
}
