/* optim: SGD (plain, momentum, dampening, Nesterov, weight decay), Adam, AdamW
 * against values worked out by hand from PyTorch's update rules, the
 * optimizer's bookkeeping (state by position, refused steps change nothing),
 * a session step, and the LR schedules.
 *
 * Every case starts from p0 = [1, -2, 0.5] and applies the gradients
 * g1 = [0.1, -0.2, 0.3], g2 = [0.2, 0.1, -0.1], g3 = [-0.3, 0.4, 0.2]. */
#include "helpers.h"

#include <math.h>
#include <string.h>

static const float P0[3] = {1.0f, -2.0f, 0.5f};
static const float G[3][3] = {{0.1f, -0.2f, 0.3f}, {0.2f, 0.1f, -0.1f}, {-0.3f, 0.4f, 0.2f}};

/* Three steps of cfg from P0 with G, checking the parameter after each. */
static void run3(const kn_optim_config *cfg, const float want[3][3])
{
    kn_optimizer *o;
    T_OK(kn_optimizer_create(&o, cfg));
    kn_tensor p = t_new(1, 3), g = t_new(1, 3);
    memcpy(p.data, P0, sizeof P0);
    kn_tensor *ps[1] = {&p};
    const kn_tensor *gs[1] = {&g};
    for (int s = 0; s < 3; s++) {
        memcpy(g.data, G[s], sizeof G[s]);
        T_OK(kn_optimizer_step(o, 1, ps, gs));
        const float *d = p.data;
        for (int i = 0; i < 3; i++)
            cr_assert(fabsf(d[i] - want[s][i]) <= 2e-6f + 2e-6f * fabsf(want[s][i]),
                      "step %d element %d: got %.8f, want %.8f", s + 1, i, (double)d[i],
                      (double)want[s][i]);
    }
    cr_assert_eq(kn_optimizer_num_steps(o), 3);
    kn_tensor_release(&p);
    kn_tensor_release(&g);
    kn_optimizer_free(o);
}

static kn_optim_config sgd(float lr, float momentum, float dampening, float wd, bool nesterov)
{
    kn_optim_config c = kn_optim_defaults(KN_OPTIM_SGD);
    c.lr = lr;
    c.momentum = momentum;
    c.dampening = dampening;
    c.weight_decay = wd;
    c.nesterov = nesterov;
    return c;
}

Test(sgd, plain)
{
    /* p -= 0.1 * g: 1 - 0.01 = 0.99, -2 + 0.02 = -1.98, 0.5 - 0.03 = 0.47, ... */
    static const float want[3][3] = {
        {0.99f, -1.98f, 0.47f},
        {0.97f, -1.99f, 0.48f},
        {1.00f, -2.03f, 0.46f},
    };
    kn_optim_config c = sgd(0.1f, 0, 0, 0, false);
    run3(&c, want);
}

Test(sgd, momentum)
{
    /* b1 = g1 = [0.1,-0.2,0.3]            p1 = p0 - 0.1 b1 = [0.99,-1.98,0.47]
     * b2 = 0.9 b1 + g2 = [0.29,-0.08,0.17]  p2 = [0.961,-1.972,0.453]
     * b3 = 0.9 b2 + g3 = [-0.039,0.328,0.353] p3 = [0.9649,-2.0048,0.4177] */
    static const float want[3][3] = {
        {0.99f, -1.98f, 0.47f},
        {0.961f, -1.972f, 0.453f},
        {0.9649f, -2.0048f, 0.4177f},
    };
    kn_optim_config c = sgd(0.1f, 0.9f, 0, 0, false);
    run3(&c, want);
}

Test(sgd, dampening)
{
    /* The first buffer is the raw gradient (PyTorch does not damp it):
     * b1 = g1; b2 = 0.9 b1 + 0.5 g2 = [0.19,-0.13,0.22]; p2 = p1 - 0.1 b2 = [0.971,-1.967,0.448]
     * b3 = 0.9 b2 + 0.5 g3 = [0.021,0.083,0.298]; p3 = [0.9689,-1.9753,0.4182] */
    static const float want[3][3] = {
        {0.99f, -1.98f, 0.47f},
        {0.971f, -1.967f, 0.448f},
        {0.9689f, -1.9753f, 0.4182f},
    };
    kn_optim_config c = sgd(0.1f, 0.9f, 0.5f, 0, false);
    run3(&c, want);
}

Test(sgd, nesterov)
{
    /* b1 = g1, step g1 + 0.9 b1 = 1.9 g1 = [0.19,-0.38,0.57]   p1 = [0.981,-1.962,0.443]
     * b2 = [0.29,-0.08,0.17], step g2 + 0.9 b2 = [0.461,0.028,0.053]  p2 = [0.9349,-1.9648,0.4377]
     * b3 = [-0.039,0.328,0.353], step g3 + 0.9 b3 = [-0.3351,0.6952,0.5177]
     *                                             p3 = [0.96841,-2.03432,0.38593] */
    static const float want[3][3] = {
        {0.981f, -1.962f, 0.443f},
        {0.9349f, -1.9648f, 0.4377f},
        {0.96841f, -2.03432f, 0.38593f},
    };
    kn_optim_config c = sgd(0.1f, 0.9f, 0, 0, true);
    run3(&c, want);
}

Test(sgd, weight_decay)
{
    /* d1 = g1 + 0.1 p0 = [0.2,-0.4,0.35]                 p1 = [0.98,-1.96,0.465]
     * d2 = g2 + 0.1 p1 = [0.298,-0.096,-0.0535]           p2 = [0.9502,-1.9504,0.47035]
     * d3 = g3 + 0.1 p2 = [-0.20498,0.20496,0.247035]      p3 = [0.970698,-1.970896,0.4456465] */
    static const float want[3][3] = {
        {0.98f, -1.96f, 0.465f},
        {0.9502f, -1.9504f, 0.47035f},
        {0.970698f, -1.970896f, 0.4456465f},
    };
    kn_optim_config c = sgd(0.1f, 0, 0, 0.1f, false);
    run3(&c, want);
}

Test(sgd, momentum_and_weight_decay)
{
    /* The decayed gradient feeds the buffer: b1 = d1 = [0.2,-0.4,0.35], p1 = [0.98,-1.96,0.465]
     * d2 = g2 + 0.1 p1 = [0.298,-0.096,-0.0535], b2 = 0.9 b1 + d2 = [0.478,-0.456,0.2615]
     * p2 = [0.9322,-1.9144,0.43885]; p3 likewise = [0.909858,-1.894216,0.3909265] */
    static const float want[3][3] = {
        {0.98f, -1.96f, 0.465f},
        {0.9322f, -1.9144f, 0.43885f},
        {0.909858f, -1.894216f, 0.3909265f},
    };
    kn_optim_config c = sgd(0.1f, 0.9f, 0, 0.1f, false);
    run3(&c, want);
}

static kn_optim_config adam(kn_optim_kind kind, float lr, float wd)
{
    kn_optim_config c = kn_optim_defaults(kind);
    c.lr = lr;
    c.weight_decay = wd;
    return c;
}

Test(adam, plain)
{
    /* Step 1: m/bc1 = g, v/bc2 = g^2, so p1 = p0 - 0.1 g/|g| = [0.9,-1.9,0.4].
     * Step 2: m = 0.09 g1 + 0.1 g2 = [0.029,-0.008,0.017], bc1 = 0.19;
     *         v = 0.000999 g1^2 + 0.001 g2^2 = [4.999e-5,4.996e-5,9.991e-5], bc2 = 0.001999;
     *         p2 = p1 - 0.1 (m/0.19) / sqrt(v/0.001999)
     *            = [0.9-0.0965182, -1.9+0.0266337, 0.4-0.0400219]
     * Step 3 likewise with bc1 = 0.271, bc2 = 0.002997001. */
    static const float want[3][3] = {
        {0.9f, -1.9f, 0.4f},
        {0.8034818f, -1.8733663f, 0.3599781f},
        {0.8101417f, -1.9190995f, 0.2996695f},
    };
    kn_optim_config c = adam(KN_OPTIM_ADAM, 0.1f, 0);
    run3(&c, want);
}

Test(adam, l2_weight_decay)
{
    /* The gradient becomes g + 0.1 p: d1 = [0.2,-0.4,0.35] (p1 as plain: sign only),
     * d2 = g2 + 0.1 p1 = [0.29,-0.09,-0.06]; m2 = 0.09 d1 + 0.1 d2 = [0.047,-0.045,0.0255],
     * v2 = 0.000999 d1^2 + 0.001 d2^2; p2 = p1 - 0.1 (m2/0.19)/sqrt(v2/0.001999). */
    static const float want[3][3] = {
        {0.9f, -1.9f, 0.4f},
        {0.8007033f, -1.8182876f, 0.3465378f},
        {0.7694518f, -1.7925703f, 0.2768271f},
    };
    kn_optim_config c = adam(KN_OPTIM_ADAM, 0.1f, 0.1f);
    run3(&c, want);
}

Test(adam, adamw_decoupled)
{
    /* p *= 1 - 0.1*0.1 = 0.99 first, then the plain Adam step on the raw gradient:
     * p1 = 0.99 p0 - 0.1 sign(g1) = [0.89,-1.88,0.395];
     * p2 = 0.99 p1 - (plain step 2 update [0.0965182,-0.0266337,0.0400219])
     *    = [0.8811-0.0965182, -1.8612+0.0266337, 0.39105-0.0400219] */
    static const float want[3][3] = {
        {0.89f, -1.88f, 0.395f},
        {0.7845818f, -1.8345663f, 0.3510281f},
        {0.7833959f, -1.8619538f, 0.2872092f},
    };
    kn_optim_config c = adam(KN_OPTIM_ADAMW, 0.1f, 0.1f);
    run3(&c, want);
}

Test(adam, other_betas_and_eps)
{
    /* beta1 0.5 (the other branch of torch's lerp), beta2 0.9, eps 1e-3, lr 0.01:
     * p1 = p0 - 0.01 g/(|g| + 1e-3) = [1-0.0099010, -2+0.0099502, 0.5-0.0099668] */
    static const float want[3][3] = {
        {0.9900990f, -1.9900498f, 0.4900332f},
        {0.9797849f, -1.9900498f, 0.4885170f},
        {0.9842602f, -1.9984036f, 0.4824833f},
    };
    kn_optim_config c = adam(KN_OPTIM_ADAM, 0.01f, 0);
    c.beta1 = 0.5f;
    c.beta2 = 0.9f;
    c.eps = 1e-3f;
    run3(&c, want);
}

/* The kernels on a size that takes the OpenMP path, against a scalar double loop. */
Test(optim_kernels, large_n_matches_scalar)
{
    const int64_t n = 200003;
    kn_tensor p = t_new_rand(1, -1, 1, 1, (int)n), g = t_new_rand(2, -1, 1, 1, (int)n);
    kn_tensor m = t_new(1, (int)n), v = t_new(1, (int)n), vel = t_new(1, (int)n);
    kn_tensor p2, orig;
    T_OK(kn_tensor_clone(&p2, &p));
    T_OK(kn_tensor_clone(&orig, &p));
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    T_OK(k->sgd_step(n, p.data, g.data, vel.data, 0.05f, 0.9f, 0.1f, 0.01f, false, true));
    T_OK(k->sgd_step(n, p.data, g.data, vel.data, 0.05f, 0.9f, 0.1f, 0.01f, false, false));
    T_OK(k->adam_step(n, p2.data, g.data, m.data, v.data, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, true, 1));
    const float *o = orig.data, *gd = g.data, *pd = p.data, *p2d = p2.data;
    for (int64_t i = 0; i < n; i += 997) {
        double d1 = gd[i] + 0.01 * o[i], q = o[i] - 0.05 * d1;
        double b = 0.9 * d1 + 0.9 * (gd[i] + 0.01 * q);
        q -= 0.05 * b;
        cr_assert(fabs(pd[i] - q) <= 1e-5, "sgd element %lld: %g vs %g", (long long)i, (double)pd[i], q);
        double a = o[i] * (1 - 0.01 * 0.01);
        a -= 0.01 * gd[i] / (fabs(gd[i]) + 1e-8);
        cr_assert(fabs(p2d[i] - a) <= 1e-5, "adamw element %lld: %g vs %g", (long long)i, (double)p2d[i], a);
    }
    kn_tensor *all[] = {&p, &g, &m, &v, &vel, &p2, &orig};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kn_tensor_release(all[i]);
}

Test(optimizer, config_checks)
{
    kn_optimizer *o;
    kn_optim_config c = sgd(0.1f, 0, 0, 0, true);
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID, "Nesterov without momentum");
    cr_assert(strstr(kn_last_error(), "Nesterov") != NULL, "%s", kn_last_error());
    c = sgd(0.1f, 0.9f, 0.1f, 0, true);
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID, "Nesterov with dampening");
    c = sgd(-1, 0, 0, 0, false);
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID);
    c = sgd(NAN, 0, 0, 0, false);
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID);
    c = adam(KN_OPTIM_ADAM, 0.1f, -0.1f);
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID);
    c = adam(KN_OPTIM_ADAM, 0.1f, 0);
    c.beta2 = 1.0f;
    cr_assert_eq(kn_optimizer_create(&o, &c), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "beta2") != NULL, "%s", kn_last_error());

    kn_optim_kind kind;
    T_OK(kn_optim_kind_parse("AdamW", &kind));
    cr_assert_eq(kind, KN_OPTIM_ADAMW);
    cr_assert_eq(kn_optim_kind_parse("rmsprop", &kind), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "rmsprop") != NULL);
    cr_assert_float_eq(kn_optim_defaults(KN_OPTIM_ADAMW).weight_decay, 0.01f, 0);
}

Test(optimizer, lr_set_get_takes_effect)
{
    kn_optimizer *o;
    kn_optim_config c = sgd(0.1f, 0, 0, 0, false);
    T_OK(kn_optimizer_create(&o, &c));
    T_OK(kn_optimizer_set_lr(o, 0.5f));
    cr_assert_float_eq(kn_optimizer_get_lr(o), 0.5f, 0);
    cr_assert_eq(kn_optimizer_set_lr(o, -1), KN_ERR_INVALID);
    kn_tensor p = t_new(1, 2), g = t_new(1, 2);
    ((float *)g.data)[0] = 1;
    ((float *)g.data)[1] = -2;
    kn_tensor *ps[1] = {&p};
    const kn_tensor *gs[1] = {&g};
    T_OK(kn_optimizer_step(o, 1, ps, gs));
    cr_assert_float_eq(((float *)p.data)[0], -0.5f, 1e-7);
    cr_assert_float_eq(((float *)p.data)[1], 1.0f, 1e-7);
    kn_tensor_release(&p);
    kn_tensor_release(&g);
    kn_optimizer_free(o);
}

Test(optimizer, state_by_position_and_refused_steps)
{
    kn_optimizer *o;
    kn_optim_config c = sgd(0.1f, 0.9f, 0, 0, false);
    T_OK(kn_optimizer_create(&o, &c));
    kn_tensor a = t_new(1, 3), ga = t_new_rand(3, -1, 1, 1, 3);
    kn_tensor b = t_new(2, 2, 2), gb = t_new_rand(4, -1, 1, 2, 2, 2);
    kn_tensor *ps[2] = {&a, &b};
    const kn_tensor *gs[2] = {&ga, &gb};

    /* A NULL gradient skips its parameter (and keeps its state fresh). */
    const kn_tensor *gs_skip[2] = {&ga, NULL};
    T_OK(kn_optimizer_step(o, 2, ps, gs_skip));
    for (int i = 0; i < 4; i++) cr_assert_float_eq(((float *)b.data)[i], 0.0f, 0);
    T_OK(kn_optimizer_step(o, 2, ps, gs));

    /* A different count, or a shape change at a position, is refused. */
    cr_assert_eq(kn_optimizer_step(o, 1, ps, gs), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "2 parameters before, now 1") != NULL, "%s", kn_last_error());
    kn_tensor a_snapshot;
    T_OK(kn_tensor_clone(&a_snapshot, &a));
    kn_tensor b2 = t_new(1, 4), gb2 = t_new_rand(5, -1, 1, 1, 4);
    kn_tensor *ps2[2] = {&a, &b2};
    const kn_tensor *gs2[2] = {&ga, &gb2};
    cr_assert_eq(kn_optimizer_step(o, 2, ps2, gs2), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "parameter 1 changed shape from [2,2] to [4]") != NULL, "%s",
              kn_last_error());
    /* ... before anything moved: parameter 0 is unchanged. */
    cr_assert_eq(memcmp(a.data, a_snapshot.data, 3 * sizeof(float)), 0);

    /* Gradient and parameter shapes must agree. */
    const kn_tensor *gs_bad[2] = {&ga, &gb2};
    cr_assert_eq(kn_optimizer_step(o, 2, ps, gs_bad), KN_ERR_SHAPE);

    /* After a reset the new layout is accepted. */
    kn_optimizer_reset(o);
    T_OK(kn_optimizer_step(o, 2, ps2, gs2));
    cr_assert_eq(kn_optimizer_num_steps(o), 3);

    kn_tensor *all[] = {&a, &ga, &b, &gb, &b2, &gb2, &a_snapshot};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kn_tensor_release(all[i]);
    kn_optimizer_free(o);
}

Test(optimizer, momentum_state_follows_each_parameter)
{
    /* Two parameters stepped together evolve as if each had its own optimizer. */
    kn_optim_config c = sgd(0.1f, 0.9f, 0, 0, false);
    kn_optimizer *o;
    T_OK(kn_optimizer_create(&o, &c));
    kn_tensor p1 = t_new(1, 3), p2 = t_new(1, 3), g = t_new(1, 3), z = t_new(1, 3);
    memcpy(p1.data, P0, sizeof P0);
    kn_tensor *ps[2] = {&p1, &p2};
    const kn_tensor *gs[2] = {&g, &z};
    for (int s = 0; s < 3; s++) {
        memcpy(g.data, G[s], sizeof G[s]);
        T_OK(kn_optimizer_step(o, 2, ps, gs));
    }
    static const float want[3] = {0.9649f, -2.0048f, 0.4177f};
    T_ASSERT_CLOSE((const float *)p1.data, want, 3, 1e-5, 1e-6);
    for (int i = 0; i < 3; i++) cr_assert_float_eq(((float *)p2.data)[i], 0.0f, 0);
    kn_tensor *all[] = {&p1, &p2, &g, &z};
    for (size_t i = 0; i < 4; i++) kn_tensor_release(all[i]);
    kn_optimizer_free(o);
}

Test(optimizer, steps_a_training_session)
{
    /* loss = sum(x W^T + b) over a batch of 2: dW = column sums of x per row, db = 2. */
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x, w, b, h, ones, s1, ones2, loss;
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 2, (int64_t[]){2, 3}, &x));
    kn_tensor wt = t_new_rand(5, -1, 1, 2, 4, 3), bt = t_new_rand(6, -0.5f, 0.5f, 1, 4);
    kn_tensor w0, b0;
    T_OK(kn_tensor_clone(&w0, &wt));
    T_OK(kn_tensor_clone(&b0, &bt));
    T_OK(kn_graph_add_initializer(g, "W", &wt, KN_VALUE_PARAM, &w));
    T_OK(kn_graph_add_initializer(g, "B", &bt, KN_VALUE_PARAM, &b));
    kn_tensor o4 = t_new(2, 4, 1), o2 = t_new(2, 1, 2);
    for (int i = 0; i < 4; i++) ((float *)o4.data)[i] = 1;
    for (int i = 0; i < 2; i++) ((float *)o2.data)[i] = 1;
    T_OK(kn_graph_add_initializer(g, "ones4", &o4, KN_VALUE_CONST, &ones));
    T_OK(kn_graph_add_initializer(g, "ones2", &o2, KN_VALUE_CONST, &ones2));
    T_OK(kn_graph_add_value(g, "h", KN_UNDEFINED, -1, NULL, &h));
    T_OK(kn_graph_add_value(g, "s1", KN_UNDEFINED, -1, NULL, &s1));
    T_OK(kn_graph_add_value(g, "loss", KN_UNDEFINED, -1, NULL, &loss));
    int nd;
    T_OK(kn_graph_add_node(g, "Gemm", "", "fc", 3, (int[]){x, w, b}, 1, &h, &nd));
    T_OK(kn_node_set_int(g, nd, "transB", 1));
    T_OK(kn_graph_add_node(g, "Gemm", "", "rowsum", 2, (int[]){h, ones}, 1, &s1, NULL));
    T_OK(kn_graph_add_node(g, "Gemm", "", "colsum", 2, (int[]){ones2, s1}, 1, &loss, NULL));
    T_OK(kn_graph_add_output(g, loss));
    g->loss = loss;

    kn_session_opts so = kn_session_defaults();
    so.training = true;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &so));
    kn_tensor xt = t_new_rand(7, -1, 1, 2, 2, 3);
    const kn_tensor *ins[1] = {&xt};
    T_OK(kn_session_run(s, ins, 1));
    T_OK(kn_session_backward(s));

    kn_optimizer *o;
    kn_optim_config c = sgd(0.1f, 0, 0, 0, false);
    T_OK(kn_optimizer_create(&o, &c));
    T_OK(kn_optimizer_step_session(o, s));

    const float *xd = xt.data;
    float wexp[12], bexp[4];
    for (int r = 0; r < 4; r++) {
        bexp[r] = ((float *)b0.data)[r] - 0.1f * 2.0f;
        for (int k = 0; k < 3; k++) wexp[r * 3 + k] = ((float *)w0.data)[r * 3 + k] - 0.1f * (xd[k] + xd[3 + k]);
    }
    for (int i = 0; i < kn_session_num_params(s); i++) {
        const char *name = kn_session_param_name(s, i);
        const kn_tensor *p = kn_session_param(s, i);
        if (!strcmp(name, "W")) T_ASSERT_CLOSE((const float *)p->data, wexp, 12, 1e-5, 1e-6);
        else if (!strcmp(name, "B")) T_ASSERT_CLOSE((const float *)p->data, bexp, 4, 1e-5, 1e-6);
        else cr_assert_fail("unexpected parameter %s", name);
    }
    /* The session shares parameter storage with the caller's graph: the update shows there. */
    T_ASSERT_CLOSE((const float *)g->values[w].data.data, wexp, 12, 1e-5, 1e-6);
    kn_optimizer_free(o);
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor *all[] = {&wt, &bt, &w0, &b0, &o4, &o2, &xt};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kn_tensor_release(all[i]);
}

/* ---- schedules ---- */

Test(schedule, constant_step_cosine)
{
    kn_lr_schedule c = kn_lr_schedule_constant();
    T_OK(kn_lr_schedule_check(&c));
    cr_assert_float_eq(kn_lr_schedule_at(&c, 0.1f, 0), 0.1f, 0);
    cr_assert_float_eq(kn_lr_schedule_at(&c, 0.1f, 57), 0.1f, 0);

    /* StepLR(step_size 3, gamma 0.1): epochs 0-2 -> 0.1, 3-5 -> 0.01, 6 -> 0.001 */
    kn_lr_schedule st = kn_lr_schedule_step(3, 0.1f);
    T_OK(kn_lr_schedule_check(&st));
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 0), 0.1f, 1e-9);
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 2), 0.1f, 1e-9);
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 3), 0.01f, 1e-9);
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 5), 0.01f, 1e-9);
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 6), 0.001f, 1e-9);

    /* Cosine(T_max 10, eta_min 0.01), base 0.1: 0.01 + 0.09 (1 + cos(pi e / 10)) / 2
     *   e=0: 0.1; e=5: 0.055; e=10: 0.01; e=2: 0.01 + 0.045 (1 + 0.809017) = 0.0914058;
     *   e=15 continues the cosine: same as e=5, 0.055; e=20 back to 0.1. */
    kn_lr_schedule cs = kn_lr_schedule_cosine(10, 0.01f);
    T_OK(kn_lr_schedule_check(&cs));
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 0), 0.1f, 1e-7);
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 2), 0.0914058f, 1e-7);
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 5), 0.055f, 1e-7);
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 10), 0.01f, 1e-7);
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 15), 0.055f, 1e-7);
    cr_assert_float_eq(kn_lr_schedule_at(&cs, 0.1f, 20), 0.1f, 1e-7);
}

Test(schedule, invalid_parameters)
{
    kn_lr_schedule st = kn_lr_schedule_step(0, 0.5f);
    cr_assert_eq(kn_lr_schedule_check(&st), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "step_size") != NULL, "%s", kn_last_error());
    cr_assert_float_eq(kn_lr_schedule_at(&st, 0.1f, 4), 0.1f, 0, "unusable schedules keep base_lr");
    kn_lr_schedule cs = kn_lr_schedule_cosine(-1, 0);
    cr_assert_eq(kn_lr_schedule_check(&cs), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "t_max") != NULL, "%s", kn_last_error());
}
