/* kiln — a small seeded PRNG (xoshiro256**, seeded by splitmix64), so runs are
 * deterministic for a seed: parameter init, shuffling, dropout masks. */
#ifndef KN_RNG_H
#define KN_RNG_H

#include <stdint.h>

typedef struct kn_rng { uint64_t s[4]; } kn_rng;

void kn_rng_seed(kn_rng *r, uint64_t seed);
uint64_t kn_rng_next(kn_rng *r);
/* Uniform in [0, 1). */
float kn_rng_uniform(kn_rng *r);
/* Standard normal (Box-Muller). */
float kn_rng_normal(kn_rng *r);
/* Uniform integer in [0, n). */
uint64_t kn_rng_below(kn_rng *r, uint64_t n);

#endif
