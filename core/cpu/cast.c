/* CPU Cast between every numeric dtype (bool, signed and unsigned integers,
 * float16, float, double). Each element is read as a double (float sources),
 * an int64 (signed, bool) or a uint64 (unsigned) and stored through the
 * destination's conversion:
 *   - to bool: x != 0 (NaN is true);
 *   - float to integer: truncation toward zero; NaN gives 0 and values
 *     beyond the destination's range saturate (C leaves those undefined);
 *   - integer to narrower integer: wraps modulo 2^bits (as numpy);
 *   - to float16: round to nearest even through float.
 * Strings are refused: Cast to or from string needs text formatting that the
 * ops layer does not offer. */
#include "core/cpu/cpu.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define PAR_MIN 65536

/* saturating float -> integer (truncating) */
#define F2I(NAME, T, LO, HI)                                                  \
    static inline T NAME(double v)                                            \
    {                                                                         \
        if (isnan(v)) return 0;                                               \
        if (v <= (double)(LO)) return (LO);                                   \
        if (v >= (double)(HI)) return (HI);                                   \
        return (T)v;                                                          \
    }
F2I(f2_i8, int8_t, INT8_MIN, INT8_MAX)
F2I(f2_i16, int16_t, INT16_MIN, INT16_MAX)
F2I(f2_i32, int32_t, INT32_MIN, INT32_MAX)
F2I(f2_u8, uint8_t, 0, UINT8_MAX)
F2I(f2_u16, uint16_t, 0, UINT16_MAX)
F2I(f2_u32, uint32_t, 0, UINT32_MAX)
#undef F2I
/* 64-bit bounds are not exact doubles: compare against 2^63 / 2^64 */
static inline int64_t f2_i64(double v)
{
    if (isnan(v)) return 0;
    if (v >= 9223372036854775808.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
static inline uint64_t f2_u64(double v)
{
    if (isnan(v) || v <= 0) return 0;
    if (v >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)v;
}

/* One loop per (source kind, destination dtype): LOAD(i) yields the source value as SRC_T. */
#define STORE_LOOPS(SRC_IS_FLOAT, LOAD)                                                                \
    switch (to) {                                                                                      \
    case KN_FLOAT: LOOP(float, (float)(LOAD)); break;                                                  \
    case KN_DOUBLE: LOOP(double, (double)(LOAD)); break;                                               \
    case KN_FLOAT16: LOOP(uint16_t, kn_float_to_half((float)(LOAD))); break;                           \
    case KN_BOOL: LOOP(uint8_t, (uint8_t)((LOAD) != 0)); break;                                        \
    case KN_INT8: LOOP(int8_t, SRC_IS_FLOAT ? f2_i8((double)(LOAD)) : (int8_t)(LOAD)); break;           \
    case KN_INT16: LOOP(int16_t, SRC_IS_FLOAT ? f2_i16((double)(LOAD)) : (int16_t)(LOAD)); break;       \
    case KN_INT32: LOOP(int32_t, SRC_IS_FLOAT ? f2_i32((double)(LOAD)) : (int32_t)(LOAD)); break;       \
    case KN_INT64: LOOP(int64_t, SRC_IS_FLOAT ? f2_i64((double)(LOAD)) : (int64_t)(LOAD)); break;       \
    case KN_UINT8: LOOP(uint8_t, SRC_IS_FLOAT ? f2_u8((double)(LOAD)) : (uint8_t)(LOAD)); break;        \
    case KN_UINT16: LOOP(uint16_t, SRC_IS_FLOAT ? f2_u16((double)(LOAD)) : (uint16_t)(LOAD)); break;    \
    case KN_UINT32: LOOP(uint32_t, SRC_IS_FLOAT ? f2_u32((double)(LOAD)) : (uint32_t)(LOAD)); break;    \
    case KN_UINT64: LOOP(uint64_t, SRC_IS_FLOAT ? f2_u64((double)(LOAD)) : (uint64_t)(LOAD)); break;    \
    default: return bad(from, to);                                                                     \
    }

#define LOOP(TO, EXPR)                                                                       \
    do {                                                                                     \
        TO *yp = y;                                                                          \
        _Pragma("omp parallel for schedule(static) if (n > PAR_MIN)")                        \
        for (int64_t i = 0; i < n; i++) yp[i] = (EXPR);                                      \
    } while (0)

static kn_status bad(kn_dtype from, kn_dtype to)
{
    if (from == KN_STRING || to == KN_STRING)
        return kn_error(KN_ERR_UNSUPPORTED, "cast from %s to %s: strings are not supported", kn_dtype_name(from),
                        kn_dtype_name(to));
    return kn_error(KN_ERR_UNSUPPORTED, "cast from %s to %s is not supported", kn_dtype_name(from),
                    kn_dtype_name(to));
}

kn_status kn_cpu_cast(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y)
{
    if (from == KN_STRING || to == KN_STRING || kn_dtype_size(from) == 0 || kn_dtype_size(to) == 0)
        return bad(from, to);
    if (n <= 0) return KN_OK;
    if (from == to) {
        if (x != y) memmove(y, x, (size_t)n * kn_dtype_size(from));
        return KN_OK;
    }
    switch (from) {
    case KN_FLOAT: { const float *xp = x; STORE_LOOPS(1, xp[i]) break; }
    case KN_DOUBLE: { const double *xp = x; STORE_LOOPS(1, xp[i]) break; }
    case KN_FLOAT16: { const uint16_t *xp = x; STORE_LOOPS(1, kn_half_to_float(xp[i])) break; }
    case KN_BOOL: { const uint8_t *xp = x; STORE_LOOPS(0, (int64_t)(xp[i] != 0)) break; }
    case KN_INT8: { const int8_t *xp = x; STORE_LOOPS(0, (int64_t)xp[i]) break; }
    case KN_INT16: { const int16_t *xp = x; STORE_LOOPS(0, (int64_t)xp[i]) break; }
    case KN_INT32: { const int32_t *xp = x; STORE_LOOPS(0, (int64_t)xp[i]) break; }
    case KN_INT64: { const int64_t *xp = x; STORE_LOOPS(0, xp[i]) break; }
    case KN_UINT8: { const uint8_t *xp = x; STORE_LOOPS(0, (uint64_t)xp[i]) break; }
    case KN_UINT16: { const uint16_t *xp = x; STORE_LOOPS(0, (uint64_t)xp[i]) break; }
    case KN_UINT32: { const uint32_t *xp = x; STORE_LOOPS(0, (uint64_t)xp[i]) break; }
    case KN_UINT64: { const uint64_t *xp = x; STORE_LOOPS(0, xp[i]) break; }
    default: return bad(from, to);
    }
    return KN_OK;
}
