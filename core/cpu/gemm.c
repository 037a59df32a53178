/* CPU GEMM: OpenBLAS cblas_sgemm plus one fused pass for the epilogue
 * (bias, residual, activation), so a Linear+ReLU touches C twice, not four times. */
#include "core/cpu/cpu.h"

#include <cblas.h>
#include <math.h>

/* One row of the hot cases (bias and/or ReLU, no residual): straight-line loops that vectorise. */
static inline void row_bias_act(int64_t n, float *restrict row, const float *restrict bias, float rb, bool relu)
{
    if (bias && relu) {
        #pragma omp simd
        for (int64_t j = 0; j < n; j++) { const float v = row[j] + bias[j]; row[j] = v > 0 ? v : 0; }
    } else if (bias) {
        #pragma omp simd
        for (int64_t j = 0; j < n; j++) row[j] += bias[j];
    } else if (relu) {
        #pragma omp simd
        for (int64_t j = 0; j < n; j++) { const float v = row[j] + rb; row[j] = v > 0 ? v : 0; }
    } else {
        #pragma omp simd
        for (int64_t j = 0; j < n; j++) row[j] += rb;
    }
}

void kn_cpu_epilogue(int64_t m, int64_t n, float *c, int64_t ldc, const kn_epilogue *ep)
{
    if (!ep || (!ep->bias && !ep->residual && ep->act == KN_ACT_NONE)) return;
    const float *bias = ep->bias, *res = ep->residual;
    const bool per_row = ep->bias_per_row;
    const kn_act act = ep->act;
    const float alpha = ep->alpha, beta = ep->beta;
    const bool fast = !res && (act == KN_ACT_RELU || act == KN_ACT_NONE);
#pragma omp parallel for schedule(static) if (m * n > 32768 && m > 1)
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        const float *rrow = res ? res + i * n : NULL;
        const float rb = bias && per_row ? bias[i] : 0.0f;
        if (fast) { /* the hot cases */
            row_bias_act(n, row, bias && !per_row ? bias : NULL, rb, act == KN_ACT_RELU);
            continue;
        }
        for (int64_t j = 0; j < n; j++) {
            float v = row[j];
            if (bias) v += per_row ? rb : bias[j];
            if (rrow) v += rrow[j];
            row[j] = kn_act_apply(act, alpha, beta, v);
        }
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
