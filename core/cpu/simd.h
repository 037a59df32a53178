/* AVX-512 helpers shared by the direct convolution kernels (conv.c, pconv.c). */
#ifndef KN_CPU_SIMD_H
#define KN_CPU_SIMD_H

#include <immintrin.h>

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

#endif
