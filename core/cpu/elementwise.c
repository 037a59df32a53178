/* CPU elementwise kernels: unary float maps with their derivatives, and
 * numpy-broadcasting binary ops over every numeric dtype. The innermost
 * dimension runs as a tight loop specialised on its strides (both contiguous,
 * one broadcast) so the compiler vectorises the common cases. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAR_MIN 65536 /* below this, threads cost more than they save */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
/* d/dx x tanh(softplus(x)) = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2) */
static inline float mish_d(float v)
{
    const float t = tanhf(v > 20.0f ? v : log1pf(expf(v)));
    return t + v * sigmoidf(v) * (1.0f - t * t);
}

/* One contiguous chunk per thread, or one chunk below PAR_MIN. The loops over a chunk use
 * restrict copies of the pointers: a `parallel for simd` straight over the arrays stayed
 * scalar in GCC 12's outlined body (ReLU backward ran at ~1 element per ns). */
static inline int64_t chunks(int64_t n)
{
#ifdef _OPENMP
    return n > PAR_MIN ? omp_get_max_threads() : 1;
#else
    (void)n;
    return 1;
#endif
}

static inline float hclamp(float t) { return t > 1.0f ? 1.0f : (t < 0.0f ? 0.0f : t); }

kn_status kn_cpu_unary(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y)
{
#define MAP(EXPR)                                                                          \
    do {                                                                                   \
        const int64_t nch = chunks(n);                                                     \
        KN_OMP_FOR_IF(nch > 1, schedule(static),                                           \
        for (int64_t c = 0; c < nch; c++) {                                                \
            const int64_t lo = n * c / nch, hi = n * (c + 1) / nch;                        \
            const float *restrict xr = x;                                                  \
            float *restrict yr = y;                                                        \
            _Pragma("omp simd")                                                            \
            for (int64_t i = lo; i < hi; i++) { const float v = xr[i]; yr[i] = (EXPR); }   \
        });                                                                                \
    } while (0)
    switch (op) {
    case KN_UN_RELU: MAP(v > 0 ? v : 0.0f); break;
    case KN_UN_LEAKY_RELU: MAP(v >= 0 ? v : alpha * v); break;
    case KN_UN_SIGMOID: MAP(sigmoidf(v)); break;
    case KN_UN_TANH: MAP(tanhf(v)); break;
    case KN_UN_EXP: MAP(expf(v)); break;
    case KN_UN_LOG: MAP(logf(v)); break;
    case KN_UN_ABS: MAP(fabsf(v)); break;
    case KN_UN_NEG: MAP(-v); break;
    case KN_UN_SQRT: MAP(sqrtf(v)); break;
    case KN_UN_RECIPROCAL: MAP(1.0f / v); break;
    case KN_UN_ELU: MAP(v >= 0 ? v : alpha * (expf(v) - 1.0f)); break;
    case KN_UN_SELU: MAP(v > 0 ? beta * v : beta * alpha * (expf(v) - 1.0f)); break; /* alpha, gamma=beta */
    case KN_UN_SOFTPLUS: MAP(v > 20.0f ? v : log1pf(expf(v))); break;
    case KN_UN_SOFTSIGN: MAP(v / (1.0f + fabsf(v))); break;
    /* clamps as selects, not fminf/fmaxf: GCC calls libm for those (NaN rules) instead of
     * vectorising; a NaN input now gives NaN (it gave 1 / NaN * 1) */
    case KN_UN_HARDSIGMOID: MAP(hclamp(alpha * v + beta)); break;
    case KN_UN_HARDSWISH: MAP(v * hclamp(v / 6.0f + 0.5f)); break;
    case KN_UN_CLIP: MAP(v < alpha ? alpha : (v > beta ? beta : v)); break;
    case KN_UN_FLOOR: MAP(floorf(v)); break;
    case KN_UN_CEIL: MAP(ceilf(v)); break;
    case KN_UN_ERF: MAP(erff(v)); break;
    case KN_UN_SIN: MAP(sinf(v)); break;
    case KN_UN_COS: MAP(cosf(v)); break;
    case KN_UN_ROUND: MAP(nearbyintf(v)); break; /* ONNX Round: halves to even */
    case KN_UN_SIGN: MAP(v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f)); break;
    case KN_UN_IDENTITY: if (x != y) memmove(y, x, sizeof(float) * (size_t)n); break;
    case KN_UN_GELU: MAP(0.5f * v * (1.0f + erff(v * 0.70710678118654752f))); break;
    case KN_UN_ACOS: MAP(acosf(v)); break;
    case KN_UN_ASIN: MAP(asinf(v)); break;
    case KN_UN_ATAN: MAP(atanf(v)); break;
    case KN_UN_ACOSH: MAP(acoshf(v)); break;
    case KN_UN_ASINH: MAP(asinhf(v)); break;
    case KN_UN_ATANH: MAP(atanhf(v)); break;
    case KN_UN_COSH: MAP(coshf(v)); break;
    case KN_UN_SINH: MAP(sinhf(v)); break;
    case KN_UN_TAN: MAP(tanf(v)); break;
    case KN_UN_MISH: MAP(v * tanhf(v > 20.0f ? v : log1pf(expf(v)))); break;
    case KN_UN_THRESHOLDED_RELU: MAP(v > alpha ? v : 0.0f); break;
    case KN_UN_SHRINK: MAP(v < -alpha ? v + beta : (v > alpha ? v - beta : 0.0f)); break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "unary op %d is not implemented on cpu", (int)op);
    }
#undef MAP
    return KN_OK;
}

kn_status kn_cpu_unary_bwd(kn_unop op, float alpha, float beta, int64_t n, const float *x,
                           const float *y, const float *gy, float *gx)
{
#define ACC(EXPR)                                                                          \
    do {                                                                                   \
        const int64_t nch = chunks(n);                                                     \
        KN_OMP_FOR_IF(nch > 1, schedule(static),                                           \
        for (int64_t c = 0; c < nch; c++) {                                                \
            const int64_t lo = n * c / nch, hi = n * (c + 1) / nch;                        \
            const float *restrict xr = x, *restrict yr = y, *restrict gyr = gy;            \
            float *restrict gxr = gx;                                                      \
            _Pragma("omp simd")                                                            \
            for (int64_t i = lo; i < hi; i++) {                                            \
                const float v = xr[i], o = yr[i];                                          \
                (void)v; (void)o;                                                          \
                gxr[i] += gyr[i] * (EXPR);                                                 \
            }                                                                              \
        });                                                                                \
    } while (0)
    switch (op) {
    case KN_UN_RELU: ACC(v > 0 ? 1.0f : 0.0f); break;
    case KN_UN_LEAKY_RELU: ACC(v >= 0 ? 1.0f : alpha); break;
    case KN_UN_SIGMOID: ACC(o * (1.0f - o)); break;
    case KN_UN_TANH: ACC(1.0f - o * o); break;
    case KN_UN_EXP: ACC(o); break;
    case KN_UN_LOG: ACC(1.0f / v); break;
    case KN_UN_ABS: ACC(v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f)); break;
    case KN_UN_NEG: ACC(-1.0f); break;
    case KN_UN_SQRT: ACC(0.5f / o); break;
    case KN_UN_RECIPROCAL: ACC(-o * o); break;
    case KN_UN_ELU: ACC(v >= 0 ? 1.0f : o + alpha); break;
    case KN_UN_SELU: ACC(v > 0 ? beta : o + beta * alpha); break;
    case KN_UN_SOFTPLUS: ACC(sigmoidf(v)); break;
    case KN_UN_SOFTSIGN: ACC(1.0f / ((1.0f + fabsf(v)) * (1.0f + fabsf(v)))); break;
    case KN_UN_HARDSIGMOID: ACC((alpha * v + beta > 0 && alpha * v + beta < 1) ? alpha : 0.0f); break;
    case KN_UN_HARDSWISH: ACC(v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : v / 3.0f + 0.5f)); break;
    case KN_UN_CLIP: ACC((v >= alpha && v <= beta) ? 1.0f : 0.0f); break;
    case KN_UN_IDENTITY: ACC(1.0f); break;
    case KN_UN_SIN: ACC(cosf(v)); break;
    case KN_UN_COS: ACC(-sinf(v)); break;
    case KN_UN_ERF: ACC(1.1283791670955126f * expf(-v * v)); break;
    case KN_UN_GELU: ACC(0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.3989422804014327f * expf(-0.5f * v * v)); break;
    case KN_UN_FLOOR: case KN_UN_CEIL: case KN_UN_ROUND: case KN_UN_SIGN: break; /* zero almost everywhere */
    case KN_UN_ACOS: ACC(-1.0f / sqrtf(1.0f - v * v)); break;
    case KN_UN_ASIN: ACC(1.0f / sqrtf(1.0f - v * v)); break;
    case KN_UN_ATAN: ACC(1.0f / (1.0f + v * v)); break;
    case KN_UN_ACOSH: ACC(1.0f / sqrtf(v * v - 1.0f)); break;
    case KN_UN_ASINH: ACC(1.0f / sqrtf(v * v + 1.0f)); break;
    case KN_UN_ATANH: ACC(1.0f / (1.0f - v * v)); break;
    case KN_UN_COSH: ACC(sinhf(v)); break;
    case KN_UN_SINH: ACC(coshf(v)); break;
    case KN_UN_TAN: ACC(1.0f + o * o); break;
    case KN_UN_MISH: ACC(mish_d(v)); break;
    case KN_UN_THRESHOLDED_RELU: ACC(v > alpha ? 1.0f : 0.0f); break;
    case KN_UN_SHRINK: ACC(v < -alpha || v > alpha ? 1.0f : 0.0f); break;
    default: return kn_error(KN_ERR_UNSUPPORTED, "gradient of unary op %d is not implemented on cpu", (int)op);
    }
#undef ACC
    return KN_OK;
}

/* ---- binary ---- */

/* Offsets of row `r` (all dims but the last) into a and b. */
static inline void row_offsets(const kn_bcast *bc, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int d = bc->ndim - 2; d >= 0; d--) {
        int64_t i = r % bc->shape[d];
        r /= bc->shape[d];
        a += i * bc->astride[d];
        b += i * bc->bstride[d];
    }
    *oa = a;
    *ob = b;
}

static int64_t bcast_numel(const kn_bcast *bc)
{
    int64_t n = 1;
    for (int d = 0; d < bc->ndim; d++) n *= bc->shape[d];
    return n;
}

/* y = EXPR(x, z) with x from a, z from b, over the broadcast; TI in, TO out. */
#define BINARY_LOOP(TI, TO, EXPR)                                                         \
    do {                                                                                  \
        const TI *A = a;                                                                  \
        const TI *B = b;                                                                  \
        TO *Y = y;                                                                        \
        const int nd = bc->ndim;                                                          \
        const int64_t inner = nd ? bc->shape[nd - 1] : 1;                                 \
        const int64_t sa = nd ? bc->astride[nd - 1] : 0, sb = nd ? bc->bstride[nd - 1] : 0; \
        const int64_t rows = inner ? total / inner : 0;                                   \
        KN_OMP_FOR_IF(total > PAR_MIN && rows > 1, schedule(static),                     \
        for (int64_t r = 0; r < rows; r++) {                                              \
            int64_t oa, ob;                                                               \
            row_offsets(bc, r, &oa, &ob);                                                 \
            const TI *pa = A + oa, *pb = B + ob;                                          \
            TO *py = Y + r * inner;                                                       \
            if (sa == 1 && sb == 1)                                                       \
                for (int64_t j = 0; j < inner; j++) { TI x = pa[j], z = pb[j]; py[j] = (TO)(EXPR); } \
            else if (sa == 1 && sb == 0) {                                                \
                const TI z = pb[0];                                                       \
                for (int64_t j = 0; j < inner; j++) { TI x = pa[j]; py[j] = (TO)(EXPR); } \
            } else if (sa == 0 && sb == 1) {                                              \
                const TI x = pa[0];                                                       \
                for (int64_t j = 0; j < inner; j++) { TI z = pb[j]; py[j] = (TO)(EXPR); } \
            } else                                                                        \
                for (int64_t j = 0; j < inner; j++) { TI x = pa[j * sa], z = pb[j * sb]; py[j] = (TO)(EXPR); } \
        });                                                                               \
    } while (0)

#define MAXV(x, z) ((x) > (z) ? (x) : (z))
#define MINV(x, z) ((x) < (z) ? (x) : (z))

/* Arithmetic and comparisons shared by every numeric type. */
#define NUMERIC_CASES(T)                                                   \
    case KN_BIN_ADD: BINARY_LOOP(T, T, x + z); return KN_OK;               \
    case KN_BIN_SUB: BINARY_LOOP(T, T, x - z); return KN_OK;               \
    case KN_BIN_MUL: BINARY_LOOP(T, T, x * z); return KN_OK;               \
    case KN_BIN_MAX: BINARY_LOOP(T, T, MAXV(x, z)); return KN_OK;          \
    case KN_BIN_MIN: BINARY_LOOP(T, T, MINV(x, z)); return KN_OK;          \
    case KN_BIN_EQUAL: BINARY_LOOP(T, uint8_t, x == z); return KN_OK;      \
    case KN_BIN_LESS: BINARY_LOOP(T, uint8_t, x < z); return KN_OK;        \
    case KN_BIN_GREATER: BINARY_LOOP(T, uint8_t, x > z); return KN_OK;     \
    case KN_BIN_LESS_EQUAL: BINARY_LOOP(T, uint8_t, x <= z); return KN_OK; \
    case KN_BIN_GREATER_EQUAL: BINARY_LOOP(T, uint8_t, x >= z); return KN_OK;

static inline int64_t py_mod_i(int64_t x, int64_t z)
{
    if (z == 0) return 0;
    int64_t r = x % z;
    return (r != 0 && ((r < 0) != (z < 0))) ? r + z : r;
}
static inline double py_mod_f(double x, double z)
{
    double r = fmod(x, z);
    return (r != 0 && ((r < 0) != (z < 0))) ? r + z : r;
}

#define SIGNED_INT_FN(T)                                                                     \
    static kn_status binary_##T(kn_binop op, const kn_bcast *bc, int64_t total, const void *a, \
                                const void *b, void *y)                                      \
    {                                                                                        \
        switch (op) {                                                                        \
            NUMERIC_CASES(T)                                                                 \
        case KN_BIN_DIV: BINARY_LOOP(T, T, z ? x / z : 0); return KN_OK;                     \
        case KN_BIN_MOD: BINARY_LOOP(T, T, py_mod_i(x, z)); return KN_OK;                    \
        case KN_BIN_FMOD: BINARY_LOOP(T, T, z ? x % z : 0); return KN_OK;                    \
        case KN_BIN_POW: BINARY_LOOP(T, T, pow((double)x, (double)z)); return KN_OK;         \
        default: break;                                                                      \
        }                                                                                    \
        return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for " #T, (int)op);  \
    }
#define UNSIGNED_INT_FN(T)                                                                   \
    static kn_status binary_##T(kn_binop op, const kn_bcast *bc, int64_t total, const void *a, \
                                const void *b, void *y)                                      \
    {                                                                                        \
        switch (op) {                                                                        \
            NUMERIC_CASES(T)                                                                 \
        case KN_BIN_DIV: BINARY_LOOP(T, T, z ? x / z : 0); return KN_OK;                     \
        case KN_BIN_MOD: case KN_BIN_FMOD: BINARY_LOOP(T, T, z ? x % z : 0); return KN_OK;   \
        case KN_BIN_POW: BINARY_LOOP(T, T, pow((double)x, (double)z)); return KN_OK;         \
        default: break;                                                                      \
        }                                                                                    \
        return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for " #T, (int)op);  \
    }

typedef double f64;
SIGNED_INT_FN(int8_t)
SIGNED_INT_FN(int16_t)
SIGNED_INT_FN(int32_t)
SIGNED_INT_FN(int64_t)
UNSIGNED_INT_FN(uint8_t)
UNSIGNED_INT_FN(uint16_t)
UNSIGNED_INT_FN(uint32_t)
UNSIGNED_INT_FN(uint64_t)

static kn_status binary_float(kn_binop op, const kn_bcast *bc, int64_t total, const void *a,
                              const void *b, void *y)
{
    switch (op) {
        NUMERIC_CASES(float)
    case KN_BIN_DIV: BINARY_LOOP(float, float, x / z); return KN_OK;
    case KN_BIN_POW: BINARY_LOOP(float, float, powf(x, z)); return KN_OK;
    case KN_BIN_PRELU: BINARY_LOOP(float, float, x >= 0 ? x : x * z); return KN_OK;
    case KN_BIN_MOD: BINARY_LOOP(float, float, (float)py_mod_f(x, z)); return KN_OK;
    case KN_BIN_FMOD: BINARY_LOOP(float, float, fmodf(x, z)); return KN_OK;
    default: break;
    }
    return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for float", (int)op);
}

static kn_status binary_f64(kn_binop op, const kn_bcast *bc, int64_t total, const void *a,
                            const void *b, void *y)
{
    switch (op) {
        NUMERIC_CASES(f64)
    case KN_BIN_DIV: BINARY_LOOP(f64, f64, x / z); return KN_OK;
    case KN_BIN_POW: BINARY_LOOP(f64, f64, pow(x, z)); return KN_OK;
    case KN_BIN_PRELU: BINARY_LOOP(f64, f64, x >= 0 ? x : x * z); return KN_OK;
    case KN_BIN_MOD: BINARY_LOOP(f64, f64, py_mod_f(x, z)); return KN_OK;
    case KN_BIN_FMOD: BINARY_LOOP(f64, f64, fmod(x, z)); return KN_OK;
    default: break;
    }
    return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for double", (int)op);
}

static kn_status binary_bool(kn_binop op, const kn_bcast *bc, int64_t total, const void *a,
                             const void *b, void *y)
{
    switch (op) {
    case KN_BIN_AND: BINARY_LOOP(uint8_t, uint8_t, x && z); return KN_OK;
    case KN_BIN_OR: BINARY_LOOP(uint8_t, uint8_t, x || z); return KN_OK;
    case KN_BIN_XOR: BINARY_LOOP(uint8_t, uint8_t, (!x) != (!z)); return KN_OK;
    case KN_BIN_EQUAL: BINARY_LOOP(uint8_t, uint8_t, x == z); return KN_OK;
    default: break;
    }
    return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for bool", (int)op);
}

kn_status kn_cpu_binary(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a,
                        const void *b, void *y)
{
    int64_t total = bcast_numel(bc);
    if (total == 0) return KN_OK;
    switch (dtype) {
    case KN_FLOAT: return binary_float(op, bc, total, a, b, y);
    case KN_DOUBLE: return binary_f64(op, bc, total, a, b, y);
    case KN_INT8: return binary_int8_t(op, bc, total, a, b, y);
    case KN_INT16: return binary_int16_t(op, bc, total, a, b, y);
    case KN_INT32: return binary_int32_t(op, bc, total, a, b, y);
    case KN_INT64: return binary_int64_t(op, bc, total, a, b, y);
    case KN_UINT8: return binary_uint8_t(op, bc, total, a, b, y);
    case KN_UINT16: return binary_uint16_t(op, bc, total, a, b, y);
    case KN_UINT32: return binary_uint32_t(op, bc, total, a, b, y);
    case KN_UINT64: return binary_uint64_t(op, bc, total, a, b, y);
    case KN_BOOL: return binary_bool(op, bc, total, a, b, y);
    default: break;
    }
    return kn_error(KN_ERR_UNSUPPORTED, "binary ops on %s are not implemented on cpu", kn_dtype_name(dtype));
}

/* Backward: walk the output once, scattering into ga/gb at their broadcast
 * offsets. Serial when an input is broadcast (several outputs share a slot);
 * the same-shape case runs in parallel. */
/* One operand's gradient over a row for Add/Sub/Mul with unit or zero strides (biases,
 * scalars, same-shape operands): d = sign * g[j] * (other operand, or 1), accumulated
 * into grad[j] (stride 1) or summed into grad[0] (stride 0, broadcast). The generic loop
 * below handles every op and stride but stays scalar. */
static void row_grad(int64_t inner, float sign, const float *restrict g, const float *restrict other,
                     int64_t so, int64_t sg, float *restrict grad)
{
    if (sg == 1) {
        if (!other) {
            #pragma omp simd
            for (int64_t j = 0; j < inner; j++) grad[j] += sign * g[j];
        } else if (so == 1) {
            #pragma omp simd
            for (int64_t j = 0; j < inner; j++) grad[j] += sign * g[j] * other[j];
        } else {
            const float o = sign * other[0];
            #pragma omp simd
            for (int64_t j = 0; j < inner; j++) grad[j] += o * g[j];
        }
        return;
    }
    float acc = 0.0f;
    if (!other) {
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < inner; j++) acc += g[j];
    } else if (so == 1) {
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < inner; j++) acc += g[j] * other[j];
    } else {
        #pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < inner; j++) acc += g[j];
        acc *= other[0];
    }
    grad[0] += sign * acc;
}

kn_status kn_cpu_binary_bwd(kn_binop op, const kn_bcast *bc, const float *a, const float *b,
                            const float *gy, float *ga, float *gb)
{
    int64_t total = bcast_numel(bc);
    const int nd = bc->ndim;
    const int64_t inner = nd ? bc->shape[nd - 1] : 1;
    const int64_t sa = nd ? bc->astride[nd - 1] : 0, sb = nd ? bc->bstride[nd - 1] : 0;
    const int64_t rows = inner ? total / inner : 0;
    bool a_full = true, b_full = true;
    for (int d = 0; d < nd; d++) {
        if (bc->shape[d] > 1 && bc->astride[d] == 0) a_full = false;
        if (bc->shape[d] > 1 && bc->bstride[d] == 0) b_full = false;
    }
    if (op != KN_BIN_ADD && op != KN_BIN_SUB && op != KN_BIN_MUL && op != KN_BIN_DIV &&
        op != KN_BIN_POW && op != KN_BIN_MAX && op != KN_BIN_MIN && op != KN_BIN_PRELU)
        return kn_error(KN_ERR_UNSUPPORTED, "gradient of binary op %d is not implemented", (int)op);
    KN_OMP_FOR_IF(total > PAR_MIN && a_full && b_full, schedule(static),
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa, ob;
        row_offsets(bc, r, &oa, &ob);
        const float *g = gy + r * inner;
        if ((op == KN_BIN_ADD || op == KN_BIN_SUB || op == KN_BIN_MUL) && (sa == 0 || sa == 1) &&
            (sb == 0 || sb == 1)) {
            const bool mul = op == KN_BIN_MUL;
            if (ga) row_grad(inner, 1.0f, g, mul ? b + ob : NULL, sb, sa, ga + oa);
            if (gb) row_grad(inner, op == KN_BIN_SUB ? -1.0f : 1.0f, g, mul ? a + oa : NULL, sa, sb, gb + ob);
            continue;
        }
        for (int64_t j = 0; j < inner; j++) {
            const int64_t ia = oa + j * sa, ib = ob + j * sb;
            const float x = a[ia], z = b[ib], d = g[j];
            float da, db;
            switch (op) {
            case KN_BIN_ADD: da = d; db = d; break;
            case KN_BIN_SUB: da = d; db = -d; break;
            case KN_BIN_MUL: da = d * z; db = d * x; break;
            case KN_BIN_DIV: da = d / z; db = -d * x / (z * z); break;
            case KN_BIN_POW: da = d * z * powf(x, z - 1.0f); db = x > 0 ? d * powf(x, z) * logf(x) : 0.0f; break;
            case KN_BIN_MAX: da = x >= z ? d : 0.0f; db = x >= z ? 0.0f : d; break;
            case KN_BIN_MIN: da = x <= z ? d : 0.0f; db = x <= z ? 0.0f : d; break;
            default: /* PRELU */ da = x >= 0 ? d : d * z; db = x >= 0 ? 0.0f : d * x; break;
            }
            if (ga) ga[ia] += da;
            if (gb) gb[ib] += db;
        }
    });
    return KN_OK;
}
