/* Elementwise kernels: unary maps and their derivatives, numpy-broadcast binary ops
 * (float32; comparisons write bool) and their gradients. The op is a runtime switch
 * inside one kernel: it is uniform across the grid, so the branch costs nothing next to
 * memory traffic, and one kernel per entry keeps the build small. The formulas are
 * those of core/cpu/elementwise.c. */
#include "cuda/common.h"

namespace {

__device__ __forceinline__ float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ __forceinline__ float unary_f(kn_unop op, float alpha, float beta, float v)
{
    switch (op) {
    case KN_UN_RELU: return v > 0 ? v : 0.0f;
    case KN_UN_LEAKY_RELU: return v >= 0 ? v : alpha * v;
    case KN_UN_SIGMOID: return sigm(v);
    case KN_UN_TANH: return tanhf(v);
    case KN_UN_EXP: return expf(v);
    case KN_UN_LOG: return logf(v);
    case KN_UN_ABS: return fabsf(v);
    case KN_UN_NEG: return -v;
    case KN_UN_SQRT: return sqrtf(v);
    case KN_UN_RECIPROCAL: return 1.0f / v;
    case KN_UN_ELU: return v >= 0 ? v : alpha * (expf(v) - 1.0f);
    case KN_UN_SELU: return v > 0 ? beta * v : beta * alpha * (expf(v) - 1.0f);
    case KN_UN_SOFTPLUS: return v > 20.0f ? v : log1pf(expf(v));
    case KN_UN_SOFTSIGN: return v / (1.0f + fabsf(v));
    case KN_UN_HARDSIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * v + beta));
    case KN_UN_HARDSWISH: return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
    case KN_UN_CLIP: return v < alpha ? alpha : (v > beta ? beta : v);
    case KN_UN_FLOOR: return floorf(v);
    case KN_UN_CEIL: return ceilf(v);
    case KN_UN_ERF: return erff(v);
    case KN_UN_SIN: return sinf(v);
    case KN_UN_COS: return cosf(v);
    case KN_UN_ROUND: return rintf(v); /* halves to even, as ONNX Round */
    case KN_UN_SIGN: return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
    case KN_UN_IDENTITY: return v;
    case KN_UN_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case KN_UN_ACOS: return acosf(v);
    case KN_UN_ASIN: return asinf(v);
    case KN_UN_ATAN: return atanf(v);
    case KN_UN_ACOSH: return acoshf(v);
    case KN_UN_ASINH: return asinhf(v);
    case KN_UN_ATANH: return atanhf(v);
    case KN_UN_COSH: return coshf(v);
    case KN_UN_SINH: return sinhf(v);
    case KN_UN_TAN: return tanf(v);
    case KN_UN_MISH: return v * tanhf(v > 20.0f ? v : log1pf(expf(v)));
    case KN_UN_THRESHOLDED_RELU: return v > alpha ? v : 0.0f;
    case KN_UN_SHRINK: return v < -alpha ? v + beta : (v > alpha ? v - beta : 0.0f);
    default: return v;
    }
}

/* d f(x) / dx given x (v) and y = f(x) (o). */
__device__ __forceinline__ float unary_d(kn_unop op, float alpha, float beta, float v, float o)
{
    switch (op) {
    case KN_UN_RELU: return v > 0 ? 1.0f : 0.0f;
    case KN_UN_LEAKY_RELU: return v >= 0 ? 1.0f : alpha;
    case KN_UN_SIGMOID: return o * (1.0f - o);
    case KN_UN_TANH: return 1.0f - o * o;
    case KN_UN_EXP: return o;
    case KN_UN_LOG: return 1.0f / v;
    case KN_UN_ABS: return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f);
    case KN_UN_NEG: return -1.0f;
    case KN_UN_SQRT: return 0.5f / o;
    case KN_UN_RECIPROCAL: return -o * o;
    case KN_UN_ELU: return v >= 0 ? 1.0f : o + alpha;
    case KN_UN_SELU: return v > 0 ? beta : o + beta * alpha;
    case KN_UN_SOFTPLUS: return sigm(v);
    case KN_UN_SOFTSIGN: return 1.0f / ((1.0f + fabsf(v)) * (1.0f + fabsf(v)));
    case KN_UN_HARDSIGMOID: return (alpha * v + beta > 0 && alpha * v + beta < 1) ? alpha : 0.0f;
    case KN_UN_HARDSWISH: return v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : v / 3.0f + 0.5f);
    case KN_UN_CLIP: return (v >= alpha && v <= beta) ? 1.0f : 0.0f;
    case KN_UN_IDENTITY: return 1.0f;
    case KN_UN_SIN: return cosf(v);
    case KN_UN_COS: return -sinf(v);
    case KN_UN_ERF: return 1.1283791670955126f * expf(-v * v);
    case KN_UN_GELU:
        return 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.3989422804014327f * expf(-0.5f * v * v);
    case KN_UN_ACOS: return -1.0f / sqrtf(1.0f - v * v);
    case KN_UN_ASIN: return 1.0f / sqrtf(1.0f - v * v);
    case KN_UN_ATAN: return 1.0f / (1.0f + v * v);
    case KN_UN_ACOSH: return 1.0f / sqrtf(v * v - 1.0f);
    case KN_UN_ASINH: return 1.0f / sqrtf(v * v + 1.0f);
    case KN_UN_ATANH: return 1.0f / (1.0f - v * v);
    case KN_UN_COSH: return sinhf(v);
    case KN_UN_SINH: return coshf(v);
    case KN_UN_TAN: return 1.0f + o * o;
    case KN_UN_MISH: {
        const float t = tanhf(v > 20.0f ? v : log1pf(expf(v)));
        return t + v * sigm(v) * (1.0f - t * t);
    }
    case KN_UN_THRESHOLDED_RELU: return v > alpha ? 1.0f : 0.0f;
    case KN_UN_SHRINK: return v < -alpha || v > alpha ? 1.0f : 0.0f;
    default: return 0.0f; /* FLOOR, CEIL, ROUND, SIGN: zero almost everywhere */
    }
}

__global__ void unary_kernel(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y)
{
    KN_GRID_LOOP(i, n) y[i] = unary_f(op, alpha, beta, x[i]);
}

__global__ void unary_bwd_kernel(kn_unop op, float alpha, float beta, int64_t n, const float *x, const float *y,
                                 const float *gy, float *gx)
{
    KN_GRID_LOOP(i, n) gx[i] += gy[i] * unary_d(op, alpha, beta, x[i], y ? y[i] : 0.0f);
}

/* Offsets of output element e into a and b. */
__device__ __forceinline__ void bcast_offsets(const kn_bcast &bc, int64_t e, int64_t *oa, int64_t *ob)
{
    kn_dev_two_offsets(bc.ndim, bc.shape, bc.astride, bc.bstride, e, oa, ob);
}

__device__ __forceinline__ float py_mod(float x, float z)
{
    const float r = fmodf(x, z);
    return (r != 0 && ((r < 0) != (z < 0))) ? r + z : r;
}

/* Arithmetic result, or for comparisons 0/1 (written as bool by the caller). */
__device__ __forceinline__ float binary_f(kn_binop op, float x, float z)
{
    switch (op) {
    case KN_BIN_ADD: return x + z;
    case KN_BIN_SUB: return x - z;
    case KN_BIN_MUL: return x * z;
    case KN_BIN_DIV: return x / z;
    case KN_BIN_POW: return powf(x, z);
    case KN_BIN_MAX: return x > z ? x : z;
    case KN_BIN_MIN: return x < z ? x : z;
    case KN_BIN_PRELU: return x >= 0 ? x : x * z;
    case KN_BIN_MOD: return py_mod(x, z);
    case KN_BIN_FMOD: return fmodf(x, z);
    case KN_BIN_EQUAL: return x == z;
    case KN_BIN_LESS: return x < z;
    case KN_BIN_GREATER: return x > z;
    case KN_BIN_LESS_EQUAL: return x <= z;
    case KN_BIN_GREATER_EQUAL: return x >= z;
    default: return 0.0f;
    }
}

__global__ void binary_kernel(kn_binop op, kn_bcast bc, int64_t total, bool same, const float *a,
                              const float *b, float *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t ia = e, ib = e;
        if (!same) bcast_offsets(bc, e, &ia, &ib);
        y[e] = binary_f(op, a[ia], b[ib]);
    }
}

__global__ void compare_kernel(kn_binop op, kn_bcast bc, int64_t total, bool same, const float *a,
                               const float *b, uint8_t *y)
{
    KN_GRID_LOOP(e, total) {
        int64_t ia = e, ib = e;
        if (!same) bcast_offsets(bc, e, &ia, &ib);
        y[e] = binary_f(op, a[ia], b[ib]) != 0.0f;
    }
}

__global__ void binary_bwd_kernel(kn_binop op, kn_bcast bc, int64_t total, bool same, bool a_full, bool b_full,
                                  const float *a, const float *b, const float *gy, float *ga, float *gb)
{
    KN_GRID_LOOP(e, total) {
        int64_t ia = e, ib = e;
        if (!same) bcast_offsets(bc, e, &ia, &ib);
        const float x = a[ia], z = b[ib], d = gy[e];
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
        /* an input that is not broadcast owns its slot; a broadcast one is shared: atomics */
        if (ga) { if (a_full) ga[ia] += da; else atomicAdd(ga + ia, da); }
        if (gb) { if (b_full) gb[ib] += db; else atomicAdd(gb + ib, db); }
    }
}

bool is_compare(kn_binop op)
{
    return op == KN_BIN_EQUAL || op == KN_BIN_LESS || op == KN_BIN_GREATER || op == KN_BIN_LESS_EQUAL ||
           op == KN_BIN_GREATER_EQUAL;
}

int64_t bcast_numel(const kn_bcast *bc, bool *same, bool *a_full, bool *b_full)
{
    int64_t n = 1, cs = 1;
    *same = *a_full = *b_full = true;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        if (bc->shape[d] != 1 && (bc->astride[d] != cs || bc->bstride[d] != cs)) *same = false;
        if (bc->shape[d] > 1 && bc->astride[d] == 0) *a_full = false;
        if (bc->shape[d] > 1 && bc->bstride[d] == 0) *b_full = false;
        cs *= bc->shape[d];
        n *= bc->shape[d];
    }
    return n;
}

} // namespace

kn_status kn_cuda_unary(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y)
{
    if ((int)op < 0 || op >= KN_UN_COUNT) return kn_error(KN_ERR_UNSUPPORTED, "unary op %d is not implemented on cuda", (int)op);
    if (n <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    unary_kernel<<<kn_cuda_grid(n), KN_CUDA_BLOCK, 0, s>>>(op, alpha, beta, n, x, y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_unary_bwd(kn_unop op, float alpha, float beta, int64_t n, const float *x, const float *y,
                            const float *gy, float *gx)
{
    if ((int)op < 0 || op >= KN_UN_COUNT)
        return kn_error(KN_ERR_UNSUPPORTED, "gradient of unary op %d is not implemented on cuda", (int)op);
    if (n <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    unary_bwd_kernel<<<kn_cuda_grid(n), KN_CUDA_BLOCK, 0, s>>>(op, alpha, beta, n, x, y, gy, gx);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_binary(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a, const void *b, void *y)
{
    if (dtype != KN_FLOAT)
        return kn_error(KN_ERR_UNSUPPORTED, "binary ops on %s are not implemented on cuda (float only)",
                        kn_dtype_name(dtype));
    if (op == KN_BIN_AND || op == KN_BIN_OR || op == KN_BIN_XOR || (int)op < 0 || op >= KN_BIN_COUNT)
        return kn_error(KN_ERR_UNSUPPORTED, "binary op %d is not defined for float", (int)op);
    bool same, af, bf;
    const int64_t total = bcast_numel(bc, &same, &af, &bf);
    if (!total) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    if (is_compare(op))
        compare_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(op, *bc, total, same, (const float *)a,
                                                                      (const float *)b, (uint8_t *)y);
    else
        binary_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(op, *bc, total, same, (const float *)a,
                                                                     (const float *)b, (float *)y);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_binary_bwd(kn_binop op, const kn_bcast *bc, const float *a, const float *b, const float *gy,
                             float *ga, float *gb)
{
    if (op != KN_BIN_ADD && op != KN_BIN_SUB && op != KN_BIN_MUL && op != KN_BIN_DIV && op != KN_BIN_POW &&
        op != KN_BIN_MAX && op != KN_BIN_MIN && op != KN_BIN_PRELU)
        return kn_error(KN_ERR_UNSUPPORTED, "gradient of binary op %d is not implemented", (int)op);
    bool same, af, bf;
    const int64_t total = bcast_numel(bc, &same, &af, &bf);
    if (!total || (!ga && !gb)) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    binary_bwd_kernel<<<kn_cuda_grid(total), KN_CUDA_BLOCK, 0, s>>>(op, *bc, total, same, af, bf, a, b, gy, ga, gb);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}
