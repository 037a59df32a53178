/* Whole sessions on the GPU against the same sessions on the CPU: the model zoo's
 * inference at levels 0 and 2 and several batch sizes, and training steps (forward,
 * backward, Adam) of the built-in models from the same weights and batches. The
 * kernel-by-kernel checks are in test_cuda.c; these catch what only a graph shows
 * (host reads of device data, views, workspaces, the memory plan, fusions).
 * Every test skips, saying why, where there is no GPU. */
#include "helpers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void need_gpu(void)
{
    if (!kn_device_available(KN_CUDA)) cr_skip_test("no CUDA GPU on this machine");
}

/* Compare a tensor on any device with a host tensor. */
static void expect_close(const char *what, const kn_tensor *got, const kn_tensor *want, double rtol, double atol)
{
    cr_assert_not_null(got, "%s: not produced", what);
    cr_assert(kn_tensor_same_shape(got, want), "%s: shapes differ", what);
    double r = t_tensor_close_ratio(got, want, rtol, atol);
    cr_assert(r <= 1.0, "%s: cuda and cpu differ, ratio %g (rtol %g atol %g)", what, r, rtol, atol);
}

/* Gradients by norm: a weight gradient sums thousands of products (conv1's: 32 x 24 x 24
 * per weight) and cuDNN picks its algorithm by speed (implicit GEMM, FFT, Winograd), so
 * the rounding follows the tensor's size, not each element's (compute-sanitizer's timings
 * once made cuDNN pick another backward-filter algorithm, and elementwise 1e-3 / 1e-5
 * failed by 4e-5). The rms difference stays under 1e-3 of the rms, where float32 lands, and
 * no element is off by more than 1% of the largest; a wrong index or a lost term is far above. */
static void grads_close(const char *what, const kn_tensor *got, const kn_tensor *want)
{
    kn_tensor host = {0};
    T_OK(kn_tensor_to(&host, got, KN_CPU));
    const float *a = host.data, *b = want->data;
    double d2 = 0, b2 = 0, dmax = 0, bmax = 0;
    for (int64_t e = 0; e < kn_tensor_numel(want); e++) {
        const double d = (double)a[e] - (double)b[e];
        d2 += d * d;
        b2 += (double)b[e] * b[e];
        dmax = fmax(dmax, fabs(d));
        bmax = fmax(bmax, fabs((double)b[e]));
    }
    kn_tensor_release(&host);
    const double n = (double)kn_tensor_numel(want), d_rms = sqrt(d2 / n), b_rms = sqrt(b2 / n);
    printf("%s: rms difference %.2g of rms %.2g; largest difference %.2g of largest element %.2g\n", what, d_rms, b_rms,
           dmax, bmax);
    /* the absolute terms cover gradients that are rounding noise on both devices (LeNet's
     * conv biases ahead of BatchNorm are analytically zero) */
    cr_assert(d_rms <= 1e-3 * b_rms + 1e-6 && dmax <= 1e-2 * bmax + 1e-5,
              "%s: cuda and cpu differ: rms difference %g of rms %g, largest difference %g of largest %g", what, d_rms,
              b_rms, dmax, bmax);
}


/* ---- inference: the model zoo ---- */

static void model_matches_cpu(const char *name)
{
    need_gpu();
    char path[256];
    snprintf(path, sizeof path, "tests/data/models/%s/model.onnx", name);
    kn_graph *g;
    T_OK(kn_onnx_load(path, &g));
    const int64_t batches[] = {1, 5, 64};
    for (int level = 0; level <= 2; level += 2) {
        kn_session *cpu = t_session_on(g, KN_CPU, level, false, 0), *gpu = t_session_on(g, KN_CUDA, level, false, 0);
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
            kn_tensor x = t_new_rand(40 + b, 0, 1, 4, batches[b], 1, 28, 28);
            const kn_tensor *ins[1] = {&x};
            T_OK(kn_session_run(cpu, ins, 1));
            T_OK(kn_session_run(gpu, ins, 1));
            const kn_tensor *want = kn_session_output(cpu, 0), *got = kn_session_output(gpu, 0);
            cr_assert_not_null(got);
            cr_assert_eq(got->device, KN_CUDA, "a cuda session's outputs stay on the device");
            char what[160];
            snprintf(what, sizeof what, "%s -O %d batch %lld", name, level, (long long)batches[b]);
            expect_close(what, got, want, 1e-3, 1e-4);
            kn_tensor_release(&x);
        }
        kn_session_free(cpu);
        kn_session_free(gpu);
    }
    kn_graph_free(g);
}

Test(cuda_session, mlp_matches_cpu) { model_matches_cpu("mlp_op13"); }
Test(cuda_session, lenet_bn_matches_cpu) { model_matches_cpu("lenet_bn_op13"); }
Test(cuda_session, lenet_folded_matches_cpu) { model_matches_cpu("lenet_folded_op13"); }
Test(cuda_session, resnet_small_matches_cpu) { model_matches_cpu("resnet_small_op13"); }
Test(cuda_session, dwsep_matches_cpu) { model_matches_cpu("dwsep_op13"); }

/* ---- training: the same steps on both devices ---- */

static void batch(int step, int64_t n, kn_tensor *x, kn_tensor *y)
{
    *x = t_new_rand(100 + step, 0, 1, 4, n, 1, 28, 28);
    T_OK(kn_tensor_init(y, KN_INT64, 1, &n));
    for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = (i * 7 + step) % 10;
}

/* Three SGD-with-momentum steps from one initialisation on the CPU and on the GPU:
 * losses, gradients, the parameters after every step and (LeNet) the BatchNorm running
 * statistics agree. Not Adam: its first step is about lr * sign(g), so a gradient at
 * rounding-noise level (LeNet's conv biases ahead of BatchNorm are analytically zero)
 * moves a parameter by a full lr either way on either device; the Adam kernel is held
 * to its CPU twin in test_cuda.c and to PyTorch in test_train_step.c. */
static kn_optimizer *sgd(void)
{
    kn_optimizer *opt;
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_SGD);
    oc.lr = 0.05f;
    oc.momentum = 0.9f;
    T_OK(kn_optimizer_create(&opt, &oc));
    return opt;
}

static void training_matches_cpu(kn_status (*build)(kn_graph *), const char *name)
{
    need_gpu();
    kn_graph *gc, *gg;
    T_OK(kn_graph_create(&gc));
    kn_graph_seed(gc, 3);
    T_OK(build(gc));
    T_OK(kn_graph_create(&gg));
    kn_graph_seed(gg, 3);
    T_OK(build(gg));
    kn_session *cpu = t_session_on(gc, KN_CPU, 0, true, 0), *gpu = t_session_on(gg, KN_CUDA, 0, true, 0);
    kn_optimizer *oc = sgd(), *og = sgd();
    for (int step = 0; step < 3; step++) {
        kn_tensor x, y;
        batch(step, 32, &x, &y);
        const kn_tensor *ins[2] = {&x, &y};
        T_OK(kn_session_run(cpu, ins, 2));
        T_OK(kn_session_run(gpu, ins, 2));
        float lc = kn_session_loss(cpu), lg = kn_session_loss(gpu);
        cr_assert_float_eq(lg, lc, 1e-4f * (1 + fabsf(lc)), "%s step %d: loss %g on cuda, %g on cpu", name, step, lg, lc);
        T_OK(kn_session_backward(cpu));
        T_OK(kn_session_backward(gpu));
        cr_assert_eq(kn_session_num_params(gpu), kn_session_num_params(cpu));
        for (int i = 0; i < kn_session_num_params(cpu); i++) {
            char what[200];
            snprintf(what, sizeof what, "%s step %d: grad of %s", name, step, kn_session_param_name(cpu, i));
            grads_close(what, kn_session_grad(gpu, i), kn_session_grad(cpu, i));
        }
        T_OK(kn_optimizer_step_session(oc, cpu));
        T_OK(kn_optimizer_step_session(og, gpu));
        for (int i = 0; i < kn_session_num_params(cpu); i++) {
            char what[200];
            snprintf(what, sizeof what, "%s step %d: %s after Adam", name, step, kn_session_param_name(cpu, i));
            expect_close(what, kn_session_param(gpu, i), kn_session_param(cpu, i), 1e-4, 1e-5);
        }
        kn_tensor_release(&x);
        kn_tensor_release(&y);
    }
    T_OK(kn_session_sync_graph(gpu));
    int checked = 0;
    for (int v = 0; v < gc->n_values; v++) {
        if (gc->values[v].kind != KN_VALUE_CONST || !strstr(gc->values[v].name, ".running_")) continue;
        int w = kn_graph_find_value(gg, gc->values[v].name);
        cr_assert_geq(w, 0);
        expect_close(gc->values[v].name, &gg->values[w].data, &gc->values[v].data, 1e-4, 1e-6);
        checked++;
    }
    if (!strcmp(name, "lenet")) cr_assert_gt(checked, 0, "LeNet has BatchNorm running statistics");
    kn_optimizer_free(oc);
    kn_optimizer_free(og);
    kn_session_free(cpu);
    kn_session_free(gpu);
    kn_graph_free(gc);
    kn_graph_free(gg);
}

Test(cuda_session, mlp_training_matches_cpu) { training_matches_cpu(kn_model_mlp, "mlp"); }
Test(cuda_session, lenet_training_matches_cpu) { training_matches_cpu(kn_model_lenet, "lenet"); }

/* A kernel the CUDA table lacks: inference runs that node on the CPU (and says how
 * many nodes do), with the CPU's answer; training refuses with an error naming the
 * kernel and the device. */
Test(cuda_session, node_without_cuda_kernel_runs_on_the_host)
{
    need_gpu();
    const kn_kernels *k = kn_kernels_get(KN_CUDA);
    cr_assert_not_null(k);
    if (k->lrn) cr_skip_test("LRN has a CUDA kernel now: pick another op for this check");
    kn_tensor x = t_new_rand(7, -1, 1, 4, 2, 5, 6, 6);
    kn_graph *g;
    int node = t_single_node_graph(&g, "LRN", 1, &x, 1);
    T_OK(kn_node_set_int(g, node, "size", 3));
    const kn_tensor *ins[1] = {&x};
    for (int level = 0; level <= 2; level += 2) {
        kn_session *cpu = t_session_on(g, KN_CPU, level, false, 0), *gpu = t_session_on(g, KN_CUDA, level, false, 0);
        for (int run = 0; run < 2; run++) { /* the second run goes straight to the host */
            T_OK(kn_session_run(cpu, ins, 1));
            T_OK(kn_session_run(gpu, ins, 1));
            cr_assert_eq(kn_session_output(gpu, 0)->device, KN_CUDA, "the output is on the device all the same");
            expect_close("LRN on the host", kn_session_output(gpu, 0), kn_session_output(cpu, 0), 1e-6, 1e-7);
        }
        cr_assert_eq(kn_session_nodes_on_host(gpu), 1);
        cr_assert_eq(kn_session_nodes_on_host(cpu), 0);
        kn_session_free(cpu);
        kn_session_free(gpu);
    }
    kn_graph_free(g);
    /* training: x -> LRN -> Flatten -> Linear -> cross-entropy */
    kn_graph *tg;
    T_OK(kn_graph_create(&tg));
    int xi = kn_input(tg, "x", KN_FLOAT, 4, x.shape), lab = kn_input(tg, "labels", KN_INT64, 1, x.shape), nd = -1;
    int l = kn_node1(tg, "LRN", 1, &xi, &nd);
    if (nd >= 0) T_OK(kn_node_set_int(tg, nd, "size", 3));
    int logits = kn_linear(tg, kn_flatten(tg, kn_node_done(tg, l)), 10, "fc");
    kn_output(tg, logits);
    kn_softmax_cross_entropy(tg, logits, lab);
    T_OK(kn_graph_status(tg));
    kn_tensor y;
    T_OK(kn_tensor_init(&y, KN_INT64, 1, x.shape));
    ((int64_t *)y.data)[0] = 3;
    ((int64_t *)y.data)[1] = 7;
    const kn_tensor *tins[2] = {&x, &y};
    kn_session *tr = t_session_on(tg, KN_CUDA, 0, true, 0);
    kn_status st = kn_session_run(tr, tins, 2);
    cr_assert_eq(st, KN_ERR_UNSUPPORTED, "training: %s", kn_last_error());
    cr_assert(strstr(kn_last_error(), "lrn") && strstr(kn_last_error(), "cuda"), "names kernel and device: %s",
              kn_last_error());
    kn_session_free(tr);
    kn_graph_free(tg);
    kn_tensor_release(&x);
    kn_tensor_release(&y);
}

/* The profiler times GPU nodes with CUDA events, not a sync per node: every node is
 * counted once per run with a positive device time, the times of one run add up to no
 * more than that run's wall time, and the timeline keeps execution order. */
Test(cuda_session, profile_times_nodes_with_device_events)
{
    need_gpu();
    kn_graph *g;
    T_OK(kn_onnx_load("tests/data/models/lenet_bn_op13/model.onnx", &g));
    kn_session_opts o = kn_session_defaults();
    o.device = KN_CUDA;
    o.level = 2;
    o.profile = true;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &o));
    kn_tensor x = t_new_rand(9, 0, 1, 4, 64, 1, 28, 28);
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(s, ins, 1)); /* cold: algorithm search, planning */
    kn_session_profile_reset(s);
    const int runs = 5;
    double wall = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        T_OK(kn_session_run(s, ins, 1));
        T_OK(kn_kernels_get(KN_CUDA)->sync());
        wall += now() - t0;
    }
    kn_node_profile prof[64];
    int n = kn_session_profile(s, prof, 64);
    cr_assert_gt(n, 0);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(prof[i].calls, runs, "%s ran %lld times", prof[i].name, (long long)prof[i].calls);
        cr_assert_gt(prof[i].seconds, 0, "%s has no time", prof[i].name);
        sum += prof[i].seconds;
    }
    cr_assert_leq(sum, wall, "node device times %g s exceed the runs' wall time %g s", sum, wall);
    kn_node_event ev[64 * 5];
    int64_t ne = kn_session_profile_events(s, ev, 64 * 5);
    cr_assert_eq(ne, (int64_t)n * runs);
    for (int64_t i = 1; i < ne; i++)
        cr_assert_geq(ev[i].start + 1e-6, ev[i - 1].start + ev[i - 1].seconds - 1e-6,
                      "event %lld starts before the one before it ends", (long long)i);
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor_release(&x);
}
