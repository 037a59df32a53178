#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kn_rng_seed(kn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t kn_rng_next(kn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float kn_rng_uniform(kn_rng *r) { return (float)(kn_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

float kn_rng_normal(kn_rng *r)
{
    double u1 = ((kn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (kn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t kn_rng_below(kn_rng *r, uint64_t n)
{
    /* Lemire's nearly-divisionless method would be faster; rejection keeps it unbiased. */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do { x = kn_rng_next(r); } while (x >= lim);
    return x % n;
}
