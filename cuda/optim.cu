/* Optimizer updates, element by element, with the formulas of core/cpu (PyTorch's
 * single-tensor SGD / Adam / AdamW). Hyper-parameter branches are uniform per launch. */
#include "cuda/common.h"

#include <cmath>

namespace {

__global__ void sgd_kernel(int64_t n, float *p, const float *g, float *vel, float lr, float momentum, float damp,
                           float wd, bool nesterov, bool first_step)
{
    KN_GRID_LOOP(i, n) {
        const float d = g[i] + wd * p[i];
        if (momentum == 0.0f) {
            p[i] -= lr * d;
            continue;
        }
        const float b = first_step ? d : momentum * vel[i] + damp * d; /* buffer starts undamped */
        vel[i] = b;
        p[i] -= lr * (nesterov ? d + momentum * b : b);
    }
}

__global__ void adam_kernel(int64_t n, float *p, const float *g, float *m, float *v, float step_size,
                            float bc2_sqrt, float l2, float shrink, float beta1, float beta2, float eps)
{
    const float w1 = 1.0f - beta1, a2 = 1.0f - beta2;
    const bool near_m = w1 < 0.5f; /* m.lerp_(d, 1-beta1) from whichever end is nearer, as torch */
    KN_GRID_LOOP(i, n) {
        const float pi = p[i] * shrink;
        const float d = g[i] + l2 * pi;
        const float mi = near_m ? m[i] + w1 * (d - m[i]) : d - (d - m[i]) * beta1;
        const float vi = beta2 * v[i] + a2 * d * d;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

} // namespace

kn_status kn_cuda_sgd_step(int64_t n, float *p, const float *g, float *vel, float lr, float momentum,
                           float dampening, float weight_decay, bool nesterov, bool first_step)
{
    if (momentum != 0.0f && !vel)
        return kn_error(KN_ERR_INVALID, "sgd_step: momentum %g needs a velocity buffer", (double)momentum);
    if (n <= 0) return KN_OK;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    sgd_kernel<<<kn_cuda_grid(n), KN_CUDA_BLOCK, 0, s>>>(n, p, g, vel, lr, momentum, 1.0f - dampening, weight_decay,
                                                          nesterov, first_step);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}

kn_status kn_cuda_adam_step(int64_t n, float *p, const float *g, float *m, float *v, float lr, float beta1,
                            float beta2, float eps, float weight_decay, bool decoupled, int64_t step)
{
    if (step < 1) return kn_error(KN_ERR_INVALID, "adam_step: step is 1-based, got %lld", (long long)step);
    if (n <= 0) return KN_OK;
    /* bias corrections on the host in double, as the CPU twin */
    const double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
    const float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float l2 = decoupled ? 0.0f : weight_decay, shrink = decoupled ? 1.0f - lr * weight_decay : 1.0f;
    cudaStream_t s;
    KN_TRY(kn_cuda_stream(&s));
    adam_kernel<<<kn_cuda_grid(n), KN_CUDA_BLOCK, 0, s>>>(n, p, g, m, v, step_size, bc2_sqrt, l2, shrink, beta1,
                                                           beta2, eps);
    KN_CUDA_LAUNCHED();
    return KN_OK;
}
