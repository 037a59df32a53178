/* Optimizers: configuration checks, per-parameter state, and the step that
 * hands each parameter to its device's sgd_step / adam_step kernel. */
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/kernels.h"

/* State of the parameter at one position. */
typedef struct param_state {
    bool init;                   /* buffers allocated and shape recorded */
    int ndim;
    int64_t shape[KN_MAX_DIMS];
    kn_device device;
    kn_tensor buf[2];            /* SGD: velocity (only with momentum); Adam(W): m, v */
    int64_t step;                /* updates applied to this parameter */
} param_state;

struct kn_optimizer {
    kn_optim_config cfg;
    bool bound;      /* the parameter count is fixed by the first step */
    int n;
    param_state *st; /* n entries */
    int64_t steps;
    int bad; /* position of the parameter a failed step refused, else -1 */
    /* scratch for kn_optimizer_step_session, grown as needed */
    kn_tensor **sp;
    const kn_tensor **sg;
    int scap;
};

kn_optim_config kn_optim_defaults(kn_optim_kind kind)
{
    kn_optim_config c = {
        .kind = kind,
        .lr = 1e-3f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = kind == KN_OPTIM_ADAMW ? 1e-2f : 0.0f,
    };
    return c;
}

const char *kn_optim_kind_name(kn_optim_kind kind)
{
    switch (kind) {
    case KN_OPTIM_SGD: return "sgd";
    case KN_OPTIM_ADAM: return "adam";
    case KN_OPTIM_ADAMW: return "adamw";
    }
    return "unknown";
}

kn_status kn_optim_kind_parse(const char *name, kn_optim_kind *kind)
{
    static const kn_optim_kind all[] = {KN_OPTIM_SGD, KN_OPTIM_ADAM, KN_OPTIM_ADAMW};
    for (size_t i = 0; name && i < sizeof all / sizeof *all; i++)
        if (!strcasecmp(name, kn_optim_kind_name(all[i]))) {
            *kind = all[i];
            return KN_OK;
        }
    return kn_error(KN_ERR_INVALID, "unknown optimizer '%s' (expected sgd, adam or adamw)",
                    name ? name : "(null)");
}

/* NaN fails every comparison, so "!(x >= 0)" also refuses NaN. */
static kn_status check_config(const kn_optim_config *c)
{
    if (c->kind != KN_OPTIM_SGD && c->kind != KN_OPTIM_ADAM && c->kind != KN_OPTIM_ADAMW)
        return kn_error(KN_ERR_INVALID, "optimizer kind %d is not sgd, adam or adamw", (int)c->kind);
    if (!(c->lr >= 0) || isinf(c->lr))
        return kn_error(KN_ERR_INVALID, "invalid learning rate %g", (double)c->lr);
    if (!(c->weight_decay >= 0) || isinf(c->weight_decay))
        return kn_error(KN_ERR_INVALID, "invalid weight_decay %g", (double)c->weight_decay);
    if (c->kind == KN_OPTIM_SGD) {
        if (!(c->momentum >= 0) || isinf(c->momentum))
            return kn_error(KN_ERR_INVALID, "invalid momentum %g", (double)c->momentum);
        if (!isfinite(c->dampening))
            return kn_error(KN_ERR_INVALID, "invalid dampening %g", (double)c->dampening);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return kn_error(KN_ERR_INVALID,
                            "Nesterov momentum requires momentum > 0 and zero dampening "
                            "(momentum %g, dampening %g)",
                            (double)c->momentum, (double)c->dampening);
    } else {
        if (!(c->eps >= 0) || isinf(c->eps))
            return kn_error(KN_ERR_INVALID, "invalid eps %g", (double)c->eps);
        if (!(c->beta1 >= 0 && c->beta1 < 1))
            return kn_error(KN_ERR_INVALID, "invalid beta1 %g (must be in [0, 1))", (double)c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            return kn_error(KN_ERR_INVALID, "invalid beta2 %g (must be in [0, 1))", (double)c->beta2);
    }
    return KN_OK;
}

kn_status kn_optimizer_create(kn_optimizer **out, const kn_optim_config *cfg)
{
    *out = NULL;
    if (!cfg) return kn_error(KN_ERR_INVALID, "kn_optimizer_create: no configuration");
    KN_TRY(check_config(cfg));
    kn_optimizer *o = calloc(1, sizeof *o);
    if (!o) return kn_error(KN_ERR_NOMEM, "out of memory creating an optimizer");
    o->cfg = *cfg;
    o->bad = -1;
    *out = o;
    return KN_OK;
}

static void free_state(kn_optimizer *o)
{
    for (int i = 0; i < o->n; i++)
        for (int b = 0; b < 2; b++) kn_tensor_release(&o->st[i].buf[b]);
    free(o->st);
    o->st = NULL;
    o->n = 0;
    o->bound = false;
}

void kn_optimizer_reset(kn_optimizer *opt)
{
    if (opt) free_state(opt);
}

void kn_optimizer_free(kn_optimizer *opt)
{
    if (!opt) return;
    free_state(opt);
    free(opt->sp);
    free(opt->sg);
    free(opt);
}

kn_status kn_optimizer_set_lr(kn_optimizer *opt, float lr)
{
    if (!(lr >= 0) || isinf(lr)) return kn_error(KN_ERR_INVALID, "invalid learning rate %g", (double)lr);
    opt->cfg.lr = lr;
    return KN_OK;
}

float kn_optimizer_get_lr(const kn_optimizer *opt) { return opt->cfg.lr; }
const kn_optim_config *kn_optimizer_config(const kn_optimizer *opt) { return &opt->cfg; }
int64_t kn_optimizer_num_steps(const kn_optimizer *opt) { return opt->steps; }

static int state_buffers(const kn_optim_config *c)
{
    if (c->kind == KN_OPTIM_SGD) return c->momentum != 0 ? 1 : 0;
    return 2;
}

/* Check parameter i against its gradient and its recorded state; allocate the state at
 * the first update. Returns KN_OK with *skip set when there is no gradient. */
static kn_status prepare(kn_optimizer *o, int i, kn_tensor *p, const kn_tensor *g, bool *skip)
{
    char a[96], b[96];
    *skip = !g || !g->data;
    if (*skip) return KN_OK;
    if (!p || !p->data) return kn_error(KN_ERR_INVALID, "parameter %d has no data", i);
    if (p->dtype != KN_FLOAT || g->dtype != KN_FLOAT)
        return kn_error(KN_ERR_UNSUPPORTED, "parameter %d: optimizers update float32 only (param %s, grad %s)",
                        i, kn_dtype_name(p->dtype), kn_dtype_name(g->dtype));
    if (!kn_tensor_same_shape(p, g))
        return kn_error(KN_ERR_SHAPE, "parameter %d has shape %s but its gradient %s", i,
                        kn_shape_str(a, sizeof a, p->ndim, p->shape),
                        kn_shape_str(b, sizeof b, g->ndim, g->shape));
    if (p->device != g->device)
        return kn_error(KN_ERR_DEVICE, "parameter %d is on %s but its gradient on %s", i,
                        kn_device_name(p->device), kn_device_name(g->device));
    param_state *st = &o->st[i];
    if (st->init) {
        if (!kn_shape_equal(st->ndim, st->shape, p->ndim, p->shape))
            return kn_error(KN_ERR_SHAPE,
                            "parameter %d changed shape from %s to %s since the last step "
                            "(optimizer state is kept by position; kn_optimizer_reset to start over)",
                            i, kn_shape_str(a, sizeof a, st->ndim, st->shape),
                            kn_shape_str(b, sizeof b, p->ndim, p->shape));
        if (st->device != p->device)
            return kn_error(KN_ERR_DEVICE, "parameter %d moved from %s to %s since the last step", i,
                            kn_device_name(st->device), kn_device_name(p->device));
        return KN_OK;
    }
    const kn_kernels *k = kn_kernels_get(p->device);
    if (!k) return kn_error(KN_ERR_DEVICE, "parameter %d is on %s, which this build lacks", i,
                            kn_device_name(p->device));
    int nb = state_buffers(&o->cfg);
    for (int j = 0; j < nb; j++) {
        kn_status s = kn_tensor_init_on(&st->buf[j], KN_FLOAT, p->ndim, p->shape, p->device);
        /* Host memory comes zeroed; other devices' does not, and moments must start at 0. */
        if (s == KN_OK && p->device != KN_CPU)
            s = KN_KCALL(k, memset0, st->buf[j].data, kn_tensor_bytes(&st->buf[j]));
        if (s != KN_OK) {
            for (int r = 0; r <= j; r++) kn_tensor_release(&st->buf[r]);
            return kn_error_context(s, "optimizer state for parameter %d: ", i);
        }
    }
    st->ndim = p->ndim;
    memcpy(st->shape, p->shape, sizeof st->shape);
    st->device = p->device;
    st->step = 0;
    st->init = true;
    return KN_OK;
}

kn_status kn_optimizer_step(kn_optimizer *opt, int n, kn_tensor *const *params,
                            const kn_tensor *const *grads)
{
    if (!opt) return kn_error(KN_ERR_INVALID, "kn_optimizer_step: no optimizer");
    opt->bad = -1;
    if (n < 0 || (n > 0 && !params))
        return kn_error(KN_ERR_INVALID, "kn_optimizer_step: %d parameters, params %s", n,
                        params ? "given" : "NULL");
    if (opt->bound && n != opt->n)
        return kn_error(KN_ERR_SHAPE,
                        "optimizer was stepped with %d parameters before, now %d (state is kept "
                        "by position; kn_optimizer_reset to start over)",
                        opt->n, n);
    if (!opt->bound) {
        opt->st = n ? calloc((size_t)n, sizeof *opt->st) : NULL;
        if (n && !opt->st) return kn_error(KN_ERR_NOMEM, "out of memory for %d optimizer states", n);
        opt->n = n;
        opt->bound = true;
    }

    /* Check everything first so a refused step changes nothing. */
    bool any = false;
    for (int i = 0; i < n; i++) {
        bool skip;
        kn_status s = prepare(opt, i, params[i], grads ? grads[i] : NULL, &skip);
        if (s != KN_OK) {
            opt->bad = i;
            return s;
        }
        any |= !skip;
    }
    if (!any) return KN_OK;

    const kn_optim_config *c = &opt->cfg;
    for (int i = 0; i < n; i++) {
        const kn_tensor *g = grads ? grads[i] : NULL;
        if (!g || !g->data) continue;
        kn_tensor *p = params[i];
        param_state *st = &opt->st[i];
        const kn_kernels *k = kn_kernels_get(p->device);
        int64_t numel = kn_tensor_numel(p);
        kn_status s;
        if (c->kind == KN_OPTIM_SGD) {
            s = KN_KCALL(k, sgd_step, numel, p->data, g->data, st->buf[0].data, c->lr, c->momentum,
                         c->dampening, c->weight_decay, c->nesterov, st->step == 0);
        } else {
            s = KN_KCALL(k, adam_step, numel, p->data, g->data, st->buf[0].data, st->buf[1].data,
                         c->lr, c->beta1, c->beta2, c->eps, c->weight_decay,
                         c->kind == KN_OPTIM_ADAMW, st->step + 1);
        }
        if (s != KN_OK) {
            opt->bad = i;
            return kn_error_context(s, "%s step, parameter %d: ", kn_optim_kind_name(c->kind), i);
        }
        st->step++;
    }
    opt->steps++;
    return KN_OK;
}

kn_status kn_optimizer_step_session(kn_optimizer *opt, kn_session *s)
{
    if (!opt || !s) return kn_error(KN_ERR_INVALID, "kn_optimizer_step_session: NULL argument");
    int n = kn_session_num_params(s);
    if (n > opt->scap) {
        kn_tensor **sp = realloc(opt->sp, (size_t)n * sizeof *sp);
        if (!sp) return kn_error(KN_ERR_NOMEM, "out of memory listing %d parameters", n);
        opt->sp = sp;
        const kn_tensor **sg = realloc(opt->sg, (size_t)n * sizeof *sg);
        if (!sg) return kn_error(KN_ERR_NOMEM, "out of memory listing %d parameters", n);
        opt->sg = sg;
        opt->scap = n;
    }
    for (int i = 0; i < n; i++) {
        opt->sp[i] = kn_session_param(s, i);
        opt->sg[i] = kn_session_grad(s, i);
    }
    kn_status st = kn_optimizer_step(opt, n, opt->sp, opt->sg);
    if (st != KN_OK && opt->bad >= 0 && opt->bad < n)
        kn_error_context(st, "'%s': ", kn_session_param_name(s, opt->bad));
    return st;
}
