/* CPU GEMM: OpenBLAS cblas_sgemm plus one fused pass for the epilogue
 * (bias, residual, activation), so a Linear+ReLU touches C twice, not four times. */
#include "core/cpu/cpu.h"

#include <cblas.h>
#include <math.h>

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

static void row_epilogue(int64_t n, float *restrict row, const float *restrict bias, float rb,
                         const float *restrict res, kn_act act, float alpha, float beta)
{
    switch (act) {
    case KN_ACT_NONE: EPI_LOOP(v); break;
    case KN_ACT_RELU: EPI_LOOP(v > 0 ? v : 0.0f); break;
    case KN_ACT_LEAKY_RELU: EPI_LOOP(v >= 0 ? v : alpha * v); break;
    case KN_ACT_CLIP: EPI_LOOP(v < alpha ? alpha : (v > beta ? beta : v)); break;
    case KN_ACT_HARDSWISH: EPI_LOOP(v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f)); break;
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
#pragma omp parallel for schedule(static) if (m * n > 32768 && m > 1)
    for (int64_t i = 0; i < m; i++) {
        const float rb = bias && per_row ? bias[i] : 0.0f;
        row_epilogue(n, c + i * ldc, bias && !per_row ? bias : NULL, rb, res ? res + i * n : NULL, act, alpha, beta);
    }
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
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    }
    kn_cpu_epilogue(m, n, c, ldc, ep);
    return KN_OK;
}
