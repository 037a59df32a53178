#include "helpers.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void t_fill_uniform(kn_tensor *t, uint64_t seed, float lo, float hi)
{
    kn_rng r;
    kn_rng_seed(&r, seed);
    float *d = t->data;
    for (int64_t i = 0; i < kn_tensor_numel(t); i++) d[i] = lo + (hi - lo) * kn_rng_uniform(&r);
}

static kn_tensor t_vnew(int ndim, va_list ap)
{
    int64_t shape[KN_MAX_DIMS];
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int);
    kn_tensor t;
    cr_assert_eq(kn_tensor_init(&t, KN_FLOAT, ndim, shape), KN_OK, "%s", kn_last_error());
    return t;
}

kn_tensor t_new(int ndim, ...)
{
    va_list ap;
    va_start(ap, ndim);
    kn_tensor t = t_vnew(ndim, ap);
    va_end(ap);
    return t;
}

kn_tensor t_new_rand(uint64_t seed, float lo, float hi, int ndim, ...)
{
    va_list ap;
    va_start(ap, ndim);
    kn_tensor t = t_vnew(ndim, ap);
    va_end(ap);
    t_fill_uniform(&t, seed, lo, hi);
    return t;
}

double t_close_ratio(const float *a, const float *b, int64_t n, double rtol, double atol)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]), lim = atol + rtol * fabs((double)b[i]);
        if (isnan(a[i]) != isnan(b[i])) return INFINITY;
        if (isnan(a[i])) continue;
        if (d / lim > worst) worst = d / lim;
    }
    return worst;
}

double t_tensor_close_ratio(const kn_tensor *got, const kn_tensor *want, double rtol, double atol)
{
    kn_tensor host = {0};
    if (got->device != KN_CPU) {
        T_OK(kn_tensor_to(&host, got, KN_CPU));
        got = &host;
    }
    double r = t_close_ratio(got->data, want->data, kn_tensor_numel(want), rtol, atol);
    kn_tensor_release(&host);
    return r;
}

int t_single_node_graph(kn_graph **g, const char *op, int n_in, const kn_tensor *in_meta, int n_out)
{
    int in[16], out[16], node;
    T_OK(kn_graph_create(g));
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        T_OK(kn_graph_add_input(*g, name, in_meta[i].dtype, in_meta[i].ndim, in_meta[i].shape, &in[i]));
    }
    for (int i = 0; i < n_out; i++) {
        char name[16];
        snprintf(name, sizeof name, "out%d", i);
        T_OK(kn_graph_add_value(*g, name, KN_UNDEFINED, -1, NULL, &out[i]));
    }
    T_OK(kn_graph_add_node(*g, op, "", "n0", n_in, in, n_out, out, &node));
    for (int i = 0; i < n_out; i++) T_OK(kn_graph_add_output(*g, out[i]));
    return node;
}

static kn_status alloc_outs(kn_op_ctx *c, kn_tensor *outs)
{
    kn_tensor meta[16], *pm[16];
    for (int i = 0; i < c->n_out; i++) { memset(&meta[i], 0, sizeof meta[i]); pm[i] = &meta[i]; }
    kn_tensor *const *real = c->out;
    c->out = pm;
    kn_status st = c->node->op->infer(c);
    c->out = real;
    if (st != KN_OK) return st;
    for (int i = 0; i < c->n_out; i++) {
        kn_tensor_release(&outs[i]);
        memset(&outs[i], 0, sizeof outs[i]);
        if (meta[i].dtype == KN_UNDEFINED) continue;
        KN_TRY(kn_tensor_init(&outs[i], meta[i].dtype, meta[i].ndim, meta[i].shape));
    }
    return KN_OK;
}

kn_status t_run_node(kn_graph *g, int node, kn_tensor *const *in, kn_tensor *outs, kn_tensor *state,
                     bool training)
{
    const kn_node *n = &g->nodes[node];
    kn_tensor *out[16];
    static kn_rng rng;
    kn_rng_seed(&rng, 7);
    for (int i = 0; i < n->n_outputs; i++) out[i] = &outs[i];
    kn_op_ctx c = {.graph = g, .node = n, .opset = g->opset, .training = training,
                   .k = kn_kernels_get(KN_CPU), .device = KN_CPU, .n_in = n->n_inputs, .in = in,
                   .n_out = n->n_outputs, .out = out, .state = state, .rng = &rng};
    KN_TRY(alloc_outs(&c, outs));
    void *ws = NULL;
    if (n->op->workspace) {
        c.ws_bytes = n->op->workspace(&c);
        ws = c.ws = kn_host_alloc(c.ws_bytes ? c.ws_bytes : 1);
    }
    kn_status st = n->op->forward(&c);
    kn_host_free(ws);
    return st;
}

static double weighted_sum(const kn_tensor *o, const float *r)
{
    double s = 0;
    const float *d = o->data;
    for (int64_t i = 0; i < kn_tensor_numel(o); i++) s += (double)d[i] * r[i];
    return s;
}

void t_gradcheck(kn_graph *g, int node, kn_tensor *const *in, unsigned wrt_mask, bool training,
                 float eps, double rtol, double atol)
{
    const kn_node *n = &g->nodes[node];
    kn_tensor outs[16] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, training));
    int64_t no = kn_tensor_numel(&outs[0]);
    kn_tensor r = t_new(1, (int)no);
    t_fill_uniform(&r, 99, -1.0f, 1.0f);
    /* analytic: backward with gout0 = r */
    kn_tensor gin_t[16] = {0}, *gin[16] = {0}, *gout[16] = {0}, *out[16];
    for (int i = 0; i < n->n_inputs; i++)
        if ((wrt_mask >> i & 1) && in[i]) {
            T_OK(kn_tensor_init(&gin_t[i], KN_FLOAT, in[i]->ndim, in[i]->shape));
            gin[i] = &gin_t[i];
        }
    kn_tensor rview;
    kn_tensor_borrow(&rview, KN_FLOAT, outs[0].ndim, outs[0].shape, r.data);
    gout[0] = &rview;
    for (int i = 0; i < n->n_outputs; i++) out[i] = &outs[i];
    static kn_rng rng;
    kn_rng_seed(&rng, 7);
    kn_op_ctx c = {.graph = g, .node = n, .opset = g->opset, .training = training,
                   .k = kn_kernels_get(KN_CPU), .device = KN_CPU, .n_in = n->n_inputs, .in = in,
                   .n_out = n->n_outputs, .out = out, .state = state, .rng = &rng,
                   .gin = gin, .gout = gout};
    void *ws = NULL;
    if (n->op->workspace) {
        c.ws_bytes = n->op->workspace(&c);
        ws = c.ws = kn_host_alloc(c.ws_bytes ? c.ws_bytes : 1);
    }
    cr_assert_not_null(n->op->backward, "%s has no backward", n->op_type);
    T_OK(n->op->backward(&c));
    kn_host_free(ws);
    /* numeric */
    for (int i = 0; i < n->n_inputs; i++) {
        if (!gin[i]) continue;
        float *x = in[i]->data;
        const float *ga = gin[i]->data;
        for (int64_t j = 0; j < kn_tensor_numel(in[i]); j++) {
            float save = x[j];
            kn_tensor o1[16] = {0}, o2[16] = {0}, s1[KN_OP_MAX_STATE] = {0}, s2[KN_OP_MAX_STATE] = {0};
            x[j] = save + eps;
            T_OK(t_run_node(g, node, in, o1, s1, training));
            double lp = weighted_sum(&o1[0], r.data);
            x[j] = save - eps;
            T_OK(t_run_node(g, node, in, o2, s2, training));
            double lm = weighted_sum(&o2[0], r.data);
            x[j] = save;
            double num = (lp - lm) / (2.0 * eps);
            cr_assert(fabs(ga[j] - num) <= atol + rtol * fabs(num),
                      "%s: d/d input %d [%lld]: analytic %.6g, numeric %.6g", n->op_type, i, (long long)j,
                      (double)ga[j], num);
            for (int k = 0; k < n->n_outputs; k++) { kn_tensor_release(&o1[k]); kn_tensor_release(&o2[k]); }
            for (int k = 0; k < KN_OP_MAX_STATE; k++) { kn_tensor_release(&s1[k]); kn_tensor_release(&s2[k]); }
        }
        kn_tensor_release(&gin_t[i]);
    }
    for (int k = 0; k < n->n_outputs; k++) kn_tensor_release(&outs[k]);
    for (int k = 0; k < KN_OP_MAX_STATE; k++) kn_tensor_release(&state[k]);
    kn_tensor_release(&r);
}

void t_session_pair(const kn_graph *g, int level, const char *disabled, kn_session **s0, kn_session **s2)
{
    kn_session_opts o = kn_session_defaults();
    T_OK(kn_session_create(s0, g, &o));
    o.level = level;
    o.disabled_passes = disabled;
    o.plan_min_bytes = 0; /* the tests' small activations go through the arena too */
    T_OK(kn_session_create(s2, g, &o));
}

void t_compare_runs(kn_session *s0, kn_session *s2, const kn_tensor *x, double rtol, double atol)
{
    const kn_tensor *ins[1] = {x};
    T_OK(kn_session_run(s0, ins, 1));
    T_OK(kn_session_run(s2, ins, 1));
    const kn_tensor *a = kn_session_output(s0, 0), *b = kn_session_output(s2, 0);
    cr_assert(kn_tensor_same_shape(a, b));
    T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), rtol, atol);
}

kn_session *t_session_on(const kn_graph *g, kn_device device, int level, bool training, int replicas)
{
    kn_session_opts o = kn_session_defaults();
    o.device = device;
    o.level = level;
    o.training = training;
    o.replicas = replicas;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &o));
    return s;
}

kn_session *t_train_session(const kn_graph *g, int replicas) { return t_session_on(g, KN_CPU, 0, true, replicas); }

kn_optimizer *t_adam(void)
{
    kn_optimizer *opt;
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    T_OK(kn_optimizer_create(&opt, &oc));
    return opt;
}
