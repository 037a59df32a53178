/* Learning-rate schedules in PyTorch's closed forms (StepLR, CosineAnnealingLR),
 * so the rate for an epoch depends on the epoch alone and a resumed run
 * continues exactly where it stopped. */
#include "optim/optim.h"

#include <math.h>

kn_lr_schedule kn_lr_schedule_constant(void) { return (kn_lr_schedule){.kind = KN_LR_CONSTANT}; }

kn_lr_schedule kn_lr_schedule_step(int step_size, float gamma)
{
    return (kn_lr_schedule){.kind = KN_LR_STEP, .step_size = step_size, .gamma = gamma};
}

kn_lr_schedule kn_lr_schedule_cosine(int t_max, float eta_min)
{
    return (kn_lr_schedule){.kind = KN_LR_COSINE, .t_max = t_max, .eta_min = eta_min};
}

kn_status kn_lr_schedule_check(const kn_lr_schedule *s)
{
    if (!s) return kn_error(KN_ERR_INVALID, "no learning-rate schedule");
    switch (s->kind) {
    case KN_LR_CONSTANT: return KN_OK;
    case KN_LR_STEP:
        if (s->step_size <= 0)
            return kn_error(KN_ERR_INVALID, "step schedule: step_size must be > 0, got %d", s->step_size);
        if (!(s->gamma >= 0) || isinf(s->gamma))
            return kn_error(KN_ERR_INVALID, "step schedule: invalid gamma %g", (double)s->gamma);
        return KN_OK;
    case KN_LR_COSINE:
        if (s->t_max <= 0)
            return kn_error(KN_ERR_INVALID, "cosine schedule: t_max must be > 0, got %d", s->t_max);
        if (!(s->eta_min >= 0) || isinf(s->eta_min))
            return kn_error(KN_ERR_INVALID, "cosine schedule: invalid eta_min %g", (double)s->eta_min);
        return KN_OK;
    }
    return kn_error(KN_ERR_INVALID, "unknown learning-rate schedule kind %d", (int)s->kind);
}

float kn_lr_schedule_at(const kn_lr_schedule *s, float base_lr, int epoch)
{
    /* No status to return here: unusable parameters fall back to base_lr (see the header). */
    if (!s || epoch < 0) return base_lr;
    switch (s->kind) {
    case KN_LR_CONSTANT: return base_lr;
    case KN_LR_STEP:
        if (s->step_size <= 0) return base_lr;
        return (float)((double)base_lr * pow((double)s->gamma, (double)(epoch / s->step_size)));
    case KN_LR_COSINE:
        if (s->t_max <= 0) return base_lr;
        return (float)((double)s->eta_min + ((double)base_lr - (double)s->eta_min) *
                                                (1.0 + cos(M_PI * (double)epoch / (double)s->t_max)) / 2.0);
    }
    return base_lr;
}
