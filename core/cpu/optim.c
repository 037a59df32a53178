/* CPU optimizer updates: one pass over each parameter, PyTorch's
 * torch.optim.SGD / Adam / AdamW single-tensor formulas, element by element.
 * Every branch on the hyper-parameters is hoisted out of the loops so each
 * loop body is straight-line float code the compiler vectorises. */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PAR_MIN 65536 /* below this, threads cost more than they save */

kn_status kn_cpu_sgd_step(int64_t n, float *p, const float *g, float *vel, float lr,
                          float momentum, float dampening, float weight_decay, bool nesterov,
                          bool first_step)
{
    const float wd = weight_decay;
    if (momentum == 0.0f) {
        /* No buffer: p -= lr * (g + wd * p). vel may be NULL. */
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")
        for (int64_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
        return KN_OK;
    }
    if (!vel) return kn_error(KN_ERR_INVALID, "sgd_step: momentum %g needs a velocity buffer", (double)momentum);
    const float damp = 1.0f - dampening;
    if (first_step) {
        /* PyTorch starts the buffer as the (decayed) gradient, undamped. */
        if (nesterov) {
            _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")
            for (int64_t i = 0; i < n; i++) {
                const float d = g[i] + wd * p[i];
                vel[i] = d;
                p[i] -= lr * (d + momentum * d);
            }
        } else {
            _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")
            for (int64_t i = 0; i < n; i++) {
                const float d = g[i] + wd * p[i];
                vel[i] = d;
                p[i] -= lr * d;
            }
        }
    } else if (nesterov) {
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")
        for (int64_t i = 0; i < n; i++) {
            const float d = g[i] + wd * p[i];
            const float b = momentum * vel[i] + damp * d;
            vel[i] = b;
            p[i] -= lr * (d + momentum * b);
        }
    } else {
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")
        for (int64_t i = 0; i < n; i++) {
            const float d = g[i] + wd * p[i];
            const float b = momentum * vel[i] + damp * d;
            vel[i] = b;
            p[i] -= lr * b;
        }
    }
    return KN_OK;
}

#define ADAM_BODY(MEXPR)                                                          \
    _Pragma("omp simd")                                                           \
    for (int64_t i = 0; i < n; i++) {                                             \
        const float pi = p[i] * shrink;                                           \
        const float d = g[i] + l2 * pi;                                           \
        const float mi = (MEXPR);                                                 \
        const float vi = beta2 * v[i] + a2 * d * d;                               \
        m[i] = mi;                                                                \
        v[i] = vi;                                                                \
        p[i] = pi - step_size * (mi / (sqrtf(vi) * inv_bc2_sqrt + eps));              \
    }

static void adam_chunk_near(int64_t n, float *restrict p, const float *restrict g, float *restrict m,
                            float *restrict v, float shrink, float l2, float w1, float beta2, float a2,
                            float step_size, float inv_bc2_sqrt, float eps)
{
    ADAM_BODY(m[i] + w1 * (d - m[i]))
}

static void adam_chunk_far(int64_t n, float *restrict p, const float *restrict g, float *restrict m,
                           float *restrict v, float shrink, float l2, float w1c, float beta2, float a2,
                           float step_size, float inv_bc2_sqrt, float eps)
{
    ADAM_BODY(d - (d - m[i]) * w1c)
}

kn_status kn_cpu_adam_step(int64_t n, float *p, const float *g, float *m, float *v, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           bool decoupled, int64_t step)
{
    if (step < 1) return kn_error(KN_ERR_INVALID, "adam_step: step is 1-based, got %lld", (long long)step);
    /* Bias corrections in double: beta2^step loses precision in float for long runs. */
    const double bc1 = 1.0 - pow((double)beta1, (double)step);
    const double bc2 = 1.0 - pow((double)beta2, (double)step);
    const float step_size = (float)((double)lr / bc1);
    /* PyTorch divides sqrt(v) by sqrt(bc2); multiplying by the reciprocal differs by at most
     * an ulp and leaves one division and one square root per element: the loop is bound by
     * the divide/sqrt unit (3 of them made Adam 17% of an MLP step). */
    const float inv_bc2_sqrt = (float)(1.0 / sqrt(bc2));
    const float l2 = decoupled ? 0.0f : weight_decay;                 /* Adam: added to the gradient */
    const float shrink = decoupled ? 1.0f - lr * weight_decay : 1.0f; /* AdamW: p *= 1 - lr*wd */
    /* m.lerp_(g, 1-beta1) as torch computes it, from whichever end is nearer. */
    const float w1 = 1.0f - beta1;
    const bool near_m = w1 < 0.5f;
    const float a2 = 1.0f - beta2;
    /* Chunks of whole cache lines per thread; each chunk is a plain restrict loop the
     * compiler vectorises (the loop inside an outlined OpenMP body stayed scalar). */
    int64_t chunk = 16384;
#ifdef _OPENMP
    /* one equal chunk per thread (16384-element chunks split a 784x128 weight 4:3 over
     * two threads); elementwise, so the split does not change the result */
    if (n > PAR_MIN) {
        const int64_t nt = omp_get_max_threads();
        chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
    }
#endif
    const int64_t nchunks = (n + chunk - 1) / chunk;
    KN_OMP_FOR_IF(n > PAR_MIN, schedule(static),
    for (int64_t ci = 0; ci < nchunks; ci++) {
        const int64_t i0 = ci * chunk, len = n - i0 < chunk ? n - i0 : chunk;
        if (near_m)
            adam_chunk_near(len, p + i0, g + i0, m + i0, v + i0, shrink, l2, w1, beta2, a2, step_size, inv_bc2_sqrt, eps);
        else
            adam_chunk_far(len, p + i0, g + i0, m + i0, v + i0, shrink, l2, beta1, beta2, a2, step_size, inv_bc2_sqrt, eps);
    });
    return KN_OK;
}
