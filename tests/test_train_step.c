/* One training step of the built-in MLP and LeNet against PyTorch 1.13:
 * same weights and batch (tests/data/train_step, made by make_fixtures.py);
 * logits, loss, every gradient, the Adam update and the BatchNorm running
 * statistics must match, on the CPU (whole batch and split across replicas)
 * and on the GPU (skipped, saying why, where there is none). */
#include "helpers.h"
#include "onnx/onnx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATA "tests/data/train_step/"

static void load(const char *dir, const char *prefix, const char *name, kn_tensor *t)
{
    char path[512];
    snprintf(path, sizeof path, DATA "%s/%s%s.pb", dir, prefix, name);
    T_OK(kn_tensor_load_pb(path, t, NULL));
}

/* got may live on the GPU: it is compared through a host copy. */
static void expect_close(const char *what, const kn_tensor *got, const kn_tensor *want, double rtol, double atol)
{
    cr_assert_not_null(got, "%s: no tensor", what);
    cr_assert_eq(kn_tensor_numel(got), kn_tensor_numel(want), "%s: %lld elements, PyTorch has %lld", what,
                 (long long)kn_tensor_numel(got), (long long)kn_tensor_numel(want));
    double r = t_tensor_close_ratio(got, want, rtol, atol);
    cr_assert(r <= 1.0, "%s differs from PyTorch (ratio %g at rtol %g atol %g)", what, r, rtol, atol);
}

/* A host tensor on `device` (the same tensor when that is the CPU). */
static kn_tensor on_device(kn_tensor *t, kn_device device)
{
    if (device == KN_CPU) return *t;
    kn_tensor d;
    T_OK(kn_tensor_to(&d, t, device));
    kn_tensor_release(t);
    return d;
}

static void check_step(const char *dir, kn_status (*build)(kn_graph *), int replicas, kn_device device)
{
    if (device != KN_CPU && !kn_device_available(device))
        cr_skip_test("no %s GPU on this machine", kn_device_name(device));
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    T_OK(build(g));
    /* PyTorch's weights into the graph (names match state_dict keys) */
    int nparams = 0;
    for (int v = 0; v < g->n_values; v++) {
        kn_value *val = &g->values[v];
        if (val->kind != KN_VALUE_PARAM && val->kind != KN_VALUE_CONST) continue;
        kn_tensor t;
        load(dir, "param_", val->name, &t);
        cr_assert_eq(kn_tensor_numel(&t), kn_tensor_numel(&val->data), "%s size", val->name);
        memcpy(val->data.data, t.data, kn_tensor_bytes(&t));
        kn_tensor_release(&t);
        nparams += val->kind == KN_VALUE_PARAM;
    }
    kn_session *s = t_session_on(g, device, 0, true, replicas);
    const char *why;
    cr_assert_eq(kn_session_replicas(s, &why), replicas > 1 ? replicas : 1, "replicas: %s", why);
    kn_tensor x, y, logits, loss;
    load(dir, "", "x", &x);
    load(dir, "", "labels", &y);
    load(dir, "", "logits", &logits);
    load(dir, "", "loss", &loss);
    const kn_tensor *ins[2] = {&x, &y};
    T_OK(kn_session_run(s, ins, 2));
    cr_assert_eq(kn_session_last_run_split(s), replicas > 1, "the batch of %lld was %s", (long long)x.shape[0],
                 kn_session_last_run_split(s) ? "split" : "not split");
    expect_close("logits", kn_session_output(s, 0), &logits, 1e-4, 1e-5);
    cr_assert_float_eq(kn_session_loss(s), ((float *)loss.data)[0], 1e-5f, "loss %g vs PyTorch %g",
                       kn_session_loss(s), ((float *)loss.data)[0]);
    T_OK(kn_session_backward(s));
    cr_assert_eq(kn_session_num_params(s), nparams);
    for (int i = 0; i < kn_session_num_params(s); i++) {
        kn_tensor want;
        load(dir, "grad_", kn_session_param_name(s, i), &want);
        char what[160];
        snprintf(what, sizeof what, "grad of %s", kn_session_param_name(s, i));
        expect_close(what, kn_session_grad(s, i), &want, 1e-3, 1e-6);
        kn_tensor_release(&want);
    }
    /* The Adam update, from PyTorch's own gradients: Adam's first step is about
     * lr * sign(g), so where a gradient is at rounding-noise level (conv1.bias ahead of
     * BatchNorm is analytically zero) kiln's and PyTorch's steps may point either way.
     * Feeding both the same gradients tests the optimizer exactly. */
    int np = kn_session_num_params(s);
    kn_tensor *params[64], tgrads[64];
    const kn_tensor *pgrads[64];
    cr_assert_leq(np, 64);
    for (int i = 0; i < np; i++) {
        params[i] = kn_session_param(s, i);
        load(dir, "grad_", kn_session_param_name(s, i), &tgrads[i]);
        tgrads[i] = on_device(&tgrads[i], device);
        pgrads[i] = &tgrads[i];
    }
    kn_optimizer *opt;
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    oc.lr = 1e-3f;
    T_OK(kn_optimizer_create(&opt, &oc));
    T_OK(kn_optimizer_step(opt, np, params, pgrads));
    for (int i = 0; i < np; i++) {
        kn_tensor want;
        load(dir, "updated_", kn_session_param_name(s, i), &want);
        char what[160];
        snprintf(what, sizeof what, "Adam-updated %s", kn_session_param_name(s, i));
        expect_close(what, params[i], &want, 1e-6, 1e-7);
        kn_tensor_release(&want);
        kn_tensor_release(&tgrads[i]);
    }
    T_OK(kn_session_sync_graph(s)); /* a device session's running statistics back into g */
    for (int v = 0; v < g->n_values; v++) { /* BatchNorm running statistics after the step */
        const kn_value *val = &g->values[v];
        if (val->kind != KN_VALUE_CONST || !strstr(val->name, ".running_")) continue;
        kn_tensor want;
        load(dir, "running_", val->name, &want);
        expect_close(val->name, &val->data, &want, 1e-4, 1e-6);
        kn_tensor_release(&want);
    }
    kn_optimizer_free(opt);
    kn_session_free(s);
    kn_tensor_release(&x); kn_tensor_release(&y); kn_tensor_release(&logits); kn_tensor_release(&loss);
    kn_graph_free(g);
}

Test(train_step, mlp_matches_pytorch) { check_step("mlp", kn_model_mlp, 1, KN_CPU); }
Test(train_step, lenet_matches_pytorch) { check_step("lenet", kn_model_lenet, 1, KN_CPU); }
/* The same step on the GPU: cuBLAS, cuDNN and kiln's CUDA kernels against PyTorch. */
Test(train_step, mlp_on_cuda_matches_pytorch) { check_step("mlp", kn_model_mlp, 1, KN_CUDA); }
Test(train_step, lenet_on_cuda_matches_pytorch) { check_step("lenet", kn_model_lenet, 1, KN_CUDA); }
/* The same step with the batch split across 2 replicas (nn/split.h): gathered logits,
 * the weighted loss, summed gradients and LeNet's synchronised BatchNorm statistics
 * (batch and running) must still be PyTorch's. */
Test(train_step, mlp_split_matches_pytorch) { check_step("mlp", kn_model_mlp, 2, KN_CPU); }
Test(train_step, lenet_split_matches_pytorch) { check_step("lenet", kn_model_lenet, 2, KN_CPU); }

/* After warm-up a training step (forward, backward, Adam) allocates no tensor buffer:
 * activations, gradients, workspace, optimizer state and views are all reused (on the
 * GPU too, where the caching allocator would hide cudaMalloc calls: this counts kiln's
 * own buffers). */
static void check_steady_state(kn_status (*build)(kn_graph *), int replicas, kn_device device)
{
    if (device != KN_CPU && !kn_device_available(device))
        cr_skip_test("no %s GPU on this machine", kn_device_name(device));
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    T_OK(build(g));
    kn_session *s = t_session_on(g, device, 0, true, replicas);
    kn_optimizer *opt = t_adam();
    const int64_t n = 8;
    kn_tensor x = t_new_rand(3, 0, 1, 4, n, 1, 28, 28), y;
    T_OK(kn_tensor_init(&y, KN_INT64, 1, &n));
    for (int64_t i = 0; i < n; i++) ((int64_t *)y.data)[i] = i % 10;
    const kn_tensor *ins[2] = {&x, &y};
    int64_t before = 0;
    for (int it = 0; it < 5; it++) {
        if (it == 2) before = kn_alloc_count();
        T_OK(kn_session_run(s, ins, 2));
        cr_assert_eq(kn_session_last_run_split(s), replicas > 1);
        T_OK(kn_session_backward(s));
        T_OK(kn_optimizer_step_session(opt, s));
    }
    cr_assert_eq(kn_alloc_count(), before, "steady-state training steps allocated %lld buffers",
                 (long long)(kn_alloc_count() - before));
    kn_optimizer_free(opt);
    kn_session_free(s);
    kn_tensor_release(&x); kn_tensor_release(&y);
    kn_graph_free(g);
}

Test(train_step, mlp_steady_state_allocates_nothing) { check_steady_state(kn_model_mlp, 1, KN_CPU); }
Test(train_step, lenet_steady_state_allocates_nothing) { check_steady_state(kn_model_lenet, 1, KN_CPU); }
Test(train_step, split_steady_state_allocates_nothing) { check_steady_state(kn_model_lenet, 2, KN_CPU); }
Test(train_step, lenet_on_cuda_steady_state_allocates_nothing) { check_steady_state(kn_model_lenet, 1, KN_CUDA); }

/* A weight used by two Gemms (tied): the first gradient into its buffer is written
 * (KN_OP_BWD_OVERWRITE, no zeroing), the second must add to it. Checked against
 * central differences of the session's own loss, with and without replicas. */
static void check_tied_weight(int replicas)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 3);
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 4});
    int t = kn_input(g, "t", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 4});
    int w = kn_param_uniform(g, "w", 2, (int64_t[]){4, 4}, 0.5f);
    int node, h = kn_node1(g, "Gemm", 2, (int[]){x, w}, &node);
    T_OK(kn_node_set_int(g, node, "transB", 1));
    h = kn_tanh(g, kn_node_done(g, h));
    int y = kn_node1(g, "Gemm", 2, (int[]){h, w}, &node);
    y = kn_output(g, kn_node_done(g, y));
    kn_mse_loss(g, y, t);
    T_OK(kn_graph_status(g));
    kn_session *s = t_train_session(g, replicas);
    kn_tensor xt = t_new_rand(4, -1, 1, 2, 8, 4), tt = t_new_rand(5, -1, 1, 2, 8, 4);
    const kn_tensor *ins[2] = {&xt, &tt};
    T_OK(kn_session_run(s, ins, 2));
    cr_assert_eq(kn_session_last_run_split(s), replicas > 1);
    T_OK(kn_session_backward(s));
    cr_assert_eq(kn_session_num_params(s), 1);
    const float *gw = kn_session_grad(s, 0)->data;
    float analytic[16];
    memcpy(analytic, gw, sizeof analytic);
    float *wd = kn_session_param(s, 0)->data;
    for (int i = 0; i < 16; i++) {
        const float keep = wd[i], eps = 1e-2f;
        wd[i] = keep + eps;
        T_OK(kn_session_run(s, ins, 2));
        const double up = kn_session_loss(s);
        wd[i] = keep - eps;
        T_OK(kn_session_run(s, ins, 2));
        const double down = kn_session_loss(s);
        wd[i] = keep;
        const double numeric = (up - down) / (2.0 * eps);
        cr_assert(fabs(analytic[i] - numeric) <= 2e-3 + 2e-2 * fabs(numeric), "dL/dw[%d] = %g, finite differences %g",
                  i, analytic[i], numeric);
    }
    kn_session_free(s);
    kn_tensor_release(&xt);
    kn_tensor_release(&tt);
    kn_graph_free(g);
}

Test(train_step, tied_weight_gradients_add_up) { check_tied_weight(1); }
Test(train_step, tied_weight_gradients_add_up_split) { check_tied_weight(2); }
