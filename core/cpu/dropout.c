/* CPU Dropout kernels. The mask is counter-based: element i keeps when a hash
 * of (seed, i) mapped to [0, 1) is >= ratio, so a seed gives the same mask
 * whatever the thread count, and a GPU kernel can draw the very same one. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#define PAR_MIN 65536

static inline float counter_uniform(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

kn_status kn_cpu_dropout_fwd(int64_t n, float ratio, float scale, uint64_t seed, const float *x, float *y,
                             uint8_t *mask)
{
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return kn_error(KN_ERR_INVALID, "dropout ratio %g is outside [0, 1)", (double)ratio);
    KN_OMP_FOR_IF(n > PAR_MIN, simd schedule(static),
    for (int64_t i = 0; i < n; i++) {
        const uint8_t keep = counter_uniform(seed, (uint64_t)i) >= ratio;
        mask[i] = keep;
        y[i] = keep ? x[i] * scale : 0.0f;
    });
    return KN_OK;
}

kn_status kn_cpu_dropout_bwd(int64_t n, float scale, const uint8_t *mask, const float *gy, float *gx)
{
    KN_OMP_FOR_IF(n > PAR_MIN, simd schedule(static),
    for (int64_t i = 0; i < n; i++) gx[i] += mask[i] ? gy[i] * scale : 0.0f;);
    return KN_OK;
}
