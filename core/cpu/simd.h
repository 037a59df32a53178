/* AVX-512 helpers shared by the direct convolution kernels (conv.c, pconv.c). */
#ifndef KN_CPU_SIMD_H
#define KN_CPU_SIMD_H

#include "core/kernels.h"

#include <immintrin.h>
#include <stdbool.h>

/* r[i] (row i) <- column i of the 16x16 matrix whose rows were r[0..15]. */
static inline __attribute__((always_inline)) void tr16x16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int gq = 0; gq < 4; gq++) { /* u[4g + j], 128-bit lane L: rows 4g..4g+3 of column 4L + j */
        u[4 * gq + 0] = _mm512_shuffle_ps(t[4 * gq + 0], t[4 * gq + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * gq + 1] = _mm512_shuffle_ps(t[4 * gq + 0], t[4 * gq + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * gq + 2] = _mm512_shuffle_ps(t[4 * gq + 1], t[4 * gq + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * gq + 3] = _mm512_shuffle_ps(t[4 * gq + 1], t[4 * gq + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) {
        const __m512 x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512 x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
        const __m512 y0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
        const __m512 y1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
        r[j] = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + j] = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(2, 0, 2, 0));
        r[8 + j] = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(3, 1, 3, 1));
        r[12 + j] = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

/* The activations an epilogue applies in registers (kn_act_in_vec), with kn_act_apply's
 * results, NaN included: max/min return their second operand when one is NaN, so
 * ReLU(NaN) = 0 and Clip(NaN) = NaN as kn_cpu_epilogue gives. */
static inline bool kn_act_in_vec(kn_act act)
{
    return act == KN_ACT_NONE || act == KN_ACT_RELU || act == KN_ACT_CLIP || act == KN_ACT_HARDSWISH ||
           act == KN_ACT_LEAKY_RELU;
}

static inline __m512 kn_act_vec(__m512 v, kn_act act, float alpha, float beta)
{
    switch (act) {
    case KN_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case KN_ACT_CLIP: return _mm512_min_ps(_mm512_set1_ps(beta), _mm512_max_ps(_mm512_set1_ps(alpha), v));
    case KN_ACT_HARDSWISH: { /* x * clamp(x / 6 + 1/2, 0, 1) */
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        t = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
        return _mm512_mul_ps(v, t);
    }
    case KN_ACT_LEAKY_RELU: {
        const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(alpha));
    }
    default: return v;
    }
}

/* Max pooling's selection on 16 lanes: v replaces best where v > best, or v is NaN and
 * best is not (a NaN wins, the first NaN stays, ties keep the earlier value). */
static inline __m512 kn_max_sel16(__m512 best, __m512 v)
{
    const __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
    return _mm512_mask_blend_ps(gt | nan, best, v);
}

#endif
