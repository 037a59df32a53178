/* kiln — optimizers (SGD with momentum/Nesterov, Adam, AdamW) and LR schedules.
 *
 * Semantics follow PyTorch exactly (torch.optim.SGD, Adam, AdamW with
 * amsgrad=False, maximize=False; torch.optim.lr_scheduler.StepLR and
 * CosineAnnealingLR in closed form), so a kiln run can be checked against a
 * PyTorch one step by step.
 *
 * An optimizer keeps per-parameter state (SGD: the momentum buffer; Adam(W):
 * first and second moments and the step count) keyed by the parameter's
 * POSITION in the arrays passed to kn_optimizer_step. The state is allocated
 * lazily on the parameter's device at its first update; the parameter list
 * must keep the same length, order, shapes and devices from step to step
 * (kn_optimizer_reset forgets the state when it must change). Updates run
 * through the device kernel table (sgd_step / adam_step), so parameters on a
 * GPU are updated on the GPU.
 *
 * Ownership: kn_optimizer_create returns an optimizer the caller frees with
 * kn_optimizer_free, which also frees all its state. Parameters and gradients
 * are borrowed for the duration of a step only. */
#ifndef KN_OPTIM_H
#define KN_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "nn/session.h"

typedef enum kn_optim_kind {
    KN_OPTIM_SGD = 0, /* momentum, dampening, nesterov, weight_decay (L2 added to the gradient) */
    KN_OPTIM_ADAM,    /* beta1, beta2, eps, weight_decay (L2 added to the gradient) */
    KN_OPTIM_ADAMW    /* beta1, beta2, eps, weight_decay (decoupled: p *= 1 - lr * wd) */
} kn_optim_kind;

typedef struct kn_optim_config {
    kn_optim_kind kind;
    float lr;
    /* SGD */
    float momentum;
    float dampening;
    bool nesterov; /* needs momentum > 0 and dampening == 0, as in PyTorch */
    /* all kinds */
    float weight_decay;
    /* Adam, AdamW */
    float beta1, beta2, eps;
} kn_optim_config;

/* PyTorch's defaults for a kind: lr 1e-3, momentum 0, dampening 0, betas
 * (0.9, 0.999), eps 1e-8, weight_decay 0 (AdamW: 1e-2). */
kn_optim_config kn_optim_defaults(kn_optim_kind kind);
/* "sgd", "adam", "adamw". */
const char *kn_optim_kind_name(kn_optim_kind kind);
/* Parse a name as above (case-insensitive); KN_ERR_INVALID naming it otherwise. */
kn_status kn_optim_kind_parse(const char *name, kn_optim_kind *kind);

typedef struct kn_optimizer kn_optimizer;

/* Validate cfg (the same checks PyTorch makes: lr, momentum, weight_decay,
 * eps >= 0, betas in [0, 1), Nesterov only with momentum and no dampening)
 * and create an optimizer holding a copy of it. */
kn_status kn_optimizer_create(kn_optimizer **out, const kn_optim_config *cfg);
void kn_optimizer_free(kn_optimizer *opt);

/* One update of n float32 parameters from their gradients. grads may be NULL
 * as a whole or per entry (or a gradient without data): that parameter is
 * skipped and its state untouched, as PyTorch skips params whose .grad is
 * None. Each grad must match its parameter's shape and device. Everything is
 * checked (and new state allocated) before any parameter changes, so a
 * refused step leaves all parameters as they were. */
kn_status kn_optimizer_step(kn_optimizer *opt, int n, kn_tensor *const *params,
                            const kn_tensor *const *grads);
/* Step every trainable parameter of a training session with the gradients of
 * its last kn_session_backward. */
kn_status kn_optimizer_step_session(kn_optimizer *opt, kn_session *s);

/* The learning rate used by the next step (schedules call set each epoch). */
kn_status kn_optimizer_set_lr(kn_optimizer *opt, float lr);
float kn_optimizer_get_lr(const kn_optimizer *opt);
/* The optimizer's configuration (lr included); owned by the optimizer. */
const kn_optim_config *kn_optimizer_config(const kn_optimizer *opt);
/* Number of kn_optimizer_step calls that updated something. */
int64_t kn_optimizer_num_steps(const kn_optimizer *opt);
/* Forget all per-parameter state (and the bound parameter count). */
void kn_optimizer_reset(kn_optimizer *opt);

/* ---- learning-rate schedules (per epoch, closed form) ---- */

typedef enum kn_lr_schedule_kind {
    KN_LR_CONSTANT = 0, /* base_lr */
    KN_LR_STEP,         /* base_lr * gamma^floor(epoch / step_size) (StepLR) */
    KN_LR_COSINE        /* eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2 */
} kn_lr_schedule_kind;

typedef struct kn_lr_schedule {
    kn_lr_schedule_kind kind;
    int step_size; /* KN_LR_STEP, > 0 */
    float gamma;   /* KN_LR_STEP */
    int t_max;     /* KN_LR_COSINE, > 0; past t_max the cosine continues, as PyTorch's closed form */
    float eta_min; /* KN_LR_COSINE */
} kn_lr_schedule;

kn_lr_schedule kn_lr_schedule_constant(void);
kn_lr_schedule kn_lr_schedule_step(int step_size, float gamma);
kn_lr_schedule kn_lr_schedule_cosine(int t_max, float eta_min);
/* KN_ERR_INVALID naming the field when a schedule's parameters are unusable. */
kn_status kn_lr_schedule_check(const kn_lr_schedule *s);
/* The learning rate for a 0-based epoch. A schedule that fails
 * kn_lr_schedule_check, or a negative epoch, yields base_lr unchanged. */
float kn_lr_schedule_at(const kn_lr_schedule *s, float base_lr, int epoch);

#endif
