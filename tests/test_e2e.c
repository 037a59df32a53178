/* End to end: train the built-in models on a Fashion-MNIST subset and reach a
 * stated accuracy; export them and have onnx.checker (Debian's python3-onnx and
 * PyPI's onnx) accept the files and ONNX Runtime reproduce kiln's outputs. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ./data/mnist when it is complete (a copy carried to a machine without the Debian
 * package), else Debian's Fashion-MNIST. */
static const char *fashion(void)
{
    const char *dir;
    return kn_mnist_default_dir(&dir, NULL) == KN_OK ? dir : KN_MNIST_SYSTEM_DIR;
}
#define FASHION fashion()

/* The first n samples of a dataset, as views (no copy). */
static kn_dataset subset(const kn_dataset *d, int64_t n)
{
    kn_dataset s = {.num_classes = d->num_classes};
    int64_t is[4] = {n, d->images.shape[1], d->images.shape[2], d->images.shape[3]};
    T_OK(kn_tensor_view(&s.images, &d->images, 4, is, 0));
    T_OK(kn_tensor_view(&s.labels, &d->labels, 1, &n, 0));
    return s;
}

/* Train `model` for `epochs` on n_train samples on `device` (batches split across
 * `replicas`); returns test accuracy on n_test, evaluated on the same device. */
static double train_subset_on(kn_device device, const char *model, int64_t n_train, int64_t n_test, int epochs,
                              int replicas, kn_graph **out)
{
    kn_mnist m;
    T_OK(kn_mnist_load(&m, FASHION));
    kn_dataset tr = subset(&m.train, n_train), te = subset(&m.test, n_test);
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 1);
    T_OK(kn_model_build(g, model));
    kn_session *s = t_session_on(g, device, 0, true, replicas);
    const char *why;
    cr_assert_eq(kn_session_replicas(s, &why), replicas > 1 ? replicas : 1, "%s: %s", model, why);
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    kn_optimizer *opt;
    T_OK(kn_optimizer_create(&opt, &oc));
    kn_batch_opts bo = kn_batch_defaults();
    bo.seed = 1;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &tr, &bo));
    for (int e = 0; e < epochs; e++) {
        kn_epoch_stats st;
        T_OK(kn_train_epoch(s, opt, it, e, &st, NULL, NULL));
    }
    T_OK(kn_session_sync_graph(s)); /* trained weights and statistics back into g */
    kn_session *ev;
    kn_session_opts eo = kn_session_defaults();
    eo.level = 2;
    eo.device = device;
    T_OK(kn_session_create(&ev, g, &eo));
    double acc;
    T_OK(kn_evaluate(ev, &te, 500, bo.layout, &acc));
    kn_session_free(ev);
    kn_batch_iter_free(it);
    kn_optimizer_free(opt);
    kn_session_free(s);
    kn_tensor_release(&tr.images); kn_tensor_release(&tr.labels);
    kn_tensor_release(&te.images); kn_tensor_release(&te.labels);
    kn_mnist_release(&m);
    *out = g;
    return acc;
}

static double train_subset(const char *model, int64_t n_train, int64_t n_test, int epochs, int replicas,
                           kn_graph **out)
{
    return train_subset_on(KN_CPU, model, n_train, n_test, epochs, replicas, out);
}

/* Train `model` on the first n samples for `epochs` on `device` (batches split across
 * `replicas`, 0: none) and hold its test accuracy on 2000 samples to `floor`. */
static void expect_learns_on(kn_device device, const char *model, int n, int epochs, int replicas, double floor)
{
    if (device != KN_CPU && !kn_device_available(device)) cr_skip_test("no %s GPU on this machine", kn_device_name(device));
    if (!kn_mnist_dir_complete(FASHION)) cr_skip_test("Fashion-MNIST not installed at %s (apt-get install dataset-fashion-mnist)", FASHION);
    kn_graph *g;
    double acc = train_subset_on(device, model, n, 2000, epochs, replicas, &g);
    cr_assert_geq(acc, floor, "%s test accuracy %.4f after %d epoch(s) on %d samples, %d replicas, %s", model, acc,
                  epochs, n, replicas, kn_device_name(device));
    kn_graph_free(g);
}

static void expect_learns(const char *model, int n, int epochs, int replicas, double floor)
{
    expect_learns_on(KN_CPU, model, n, epochs, replicas, floor);
}

/* PyTorch reaches ~0.80 with the same recipe on the MLP's subset; chance is 0.10 */
Test(e2e, mlp_learns_fashion_mnist_subset, .timeout = 120) { expect_learns("mlp", 12000, 2, 0, 0.78); }
Test(e2e, lenet_learns_fashion_mnist_subset, .timeout = 240) { expect_learns("lenet", 6000, 1, 0, 0.72); }

/* The same with each batch split across 2 replicas (synchronised batch norm, summed
 * gradients): the epoch loop, the running statistics and evaluation work end to end. */
Test(e2e, lenet_learns_with_replicas, .timeout = 240) { expect_learns("lenet", 6000, 1, 2, 0.72); }

/* The same recipes and floors on the GPU (training and evaluation on the device). */
Test(e2e, mlp_learns_on_cuda, .timeout = 120) { expect_learns_on(KN_CUDA, "mlp", 12000, 2, 0, 0.78); }
Test(e2e, lenet_learns_on_cuda, .timeout = 240) { expect_learns_on(KN_CUDA, "lenet", 6000, 1, 0, 0.72); }

/* ---- interop: trained, exported models checked by the ONNX referees ---- */

static int run_cmd(const char *cmd) { int rc = system(cmd); return rc == -1 ? -1 : WEXITSTATUS(rc); }

static void export_and_check(const char *model, int opset)
{
    const char *build = getenv("KILN_TEST_BUILD") ? getenv("KILN_TEST_BUILD") : "build";
    char venv_ok[512], py[512];
    snprintf(venv_ok, sizeof venv_ok, "%s/venv/.ok", build);
    snprintf(py, sizeof py, "%s/venv/bin/python", build);
    if (!kn_mnist_dir_complete(FASHION)) cr_skip_test("Fashion-MNIST not installed at %s", FASHION);
    kn_graph *g;
    train_subset(model, 2000, 100, 1, 0, &g); /* trained weights and BN statistics */
    char dir[] = "/tmp/kiln_e2eXXXXXX", path[256], in[256], out[256], cmd[2048];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s.onnx", dir, model);
    snprintf(in, sizeof in, "%s/input_0.pb", dir);
    snprintf(out, sizeof out, "%s/output_0.pb", dir);
    kn_onnx_export_opts xo = kn_onnx_export_defaults();
    xo.opset = opset;
    T_OK(kn_onnx_save(g, path, &xo));
    /* kiln's own outputs, from the exported file, optimized */
    kn_graph *back;
    T_OK(kn_onnx_load(path, &back));
    cr_assert_eq(back->n_inputs, 1, "labels and loss are not exported");
    kn_session_opts so = kn_session_defaults();
    so.level = 2;
    kn_session *s;
    T_OK(kn_session_create(&s, back, &so));
    kn_tensor x = t_new_rand(3, 0, 1, 4, 5, 1, 28, 28);
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(s, ins, 1));
    T_OK(kn_tensor_save_pb(in, &x, "input"));
    T_OK(kn_tensor_save_pb(out, kn_session_output(s, 0), back->values[back->outputs[0]].name));
    /* Debian's python3-onnx checker, when installed */
    if (access("/usr/lib/python3/dist-packages/onnx/__init__.py", F_OK) == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('%s'), full_check=True)\"", path);
        cr_assert_eq(run_cmd(cmd), 0, "Debian onnx.checker rejected %s", path);
    }
    if (access(venv_ok, F_OK) == 0) {
        snprintf(cmd, sizeof cmd, "%s tests/interop/check_export.py %s --inputs %s --outputs %s", py, path, in, out);
        cr_assert_eq(run_cmd(cmd), 0, "PyPI onnx.checker or ONNX Runtime disagreed: %s", cmd);
    } else {
        /* a note, not cr_log_warn: Criterion 2.4 turns any warning into a failing exit status */
        fprintf(stderr, "e2e: no interop venv at %s/venv: ONNX Runtime comparison skipped (make venv)\n", build);
    }
    kn_session_free(s);
    kn_tensor_release(&x);
    kn_graph_free(back);
    kn_graph_free(g);
    unlink(path); unlink(in); unlink(out);
    rmdir(dir);
}

Test(e2e, trained_mlp_exports_for_onnxruntime_op13, .timeout = 120) { export_and_check("mlp", 13); }
Test(e2e, trained_lenet_exports_for_onnxruntime_op13, .timeout = 120) { export_and_check("lenet", 13); }
Test(e2e, trained_lenet_exports_for_onnxruntime_op17, .timeout = 120) { export_and_check("lenet", 17); }
Test(e2e, trained_mlp_exports_for_onnxruntime_op11, .timeout = 120) { export_and_check("mlp", 11); }

/* Same seed and thread count: bitwise-identical parameters after training;
 * another seed: different ones (init and shuffling both follow the seed). */
static void train_params(uint64_t seed, kn_tensor *fc1)
{
    kn_mnist m;
    T_OK(kn_mnist_load(&m, FASHION));
    kn_dataset tr = subset(&m.train, 1500);
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, seed);
    T_OK(kn_model_mlp(g));
    kn_session_opts so = kn_session_defaults();
    so.training = true;
    so.seed = seed;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &so));
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    kn_optimizer *opt;
    T_OK(kn_optimizer_create(&opt, &oc));
    kn_batch_opts bo = kn_batch_defaults();
    bo.seed = seed;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &tr, &bo));
    kn_epoch_stats st;
    T_OK(kn_train_epoch(s, opt, it, 0, &st, NULL, NULL));
    T_OK(kn_tensor_clone(fc1, &g->values[kn_graph_find_value(g, "fc1.weight")].data));
    kn_batch_iter_free(it);
    kn_optimizer_free(opt);
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor_release(&tr.images);
    kn_tensor_release(&tr.labels);
    kn_mnist_release(&m);
}

Test(e2e, training_is_deterministic_for_a_seed, .timeout = 120)
{
    if (!kn_mnist_dir_complete(FASHION)) cr_skip_test("Fashion-MNIST not installed at %s", FASHION);
    kn_tensor a, b, c;
    train_params(7, &a);
    train_params(7, &b);
    train_params(8, &c);
    cr_assert_eq(memcmp(a.data, b.data, kn_tensor_bytes(&a)), 0, "same seed, same threads: identical weights");
    cr_assert_neq(memcmp(a.data, c.data, kn_tensor_bytes(&a)), 0, "another seed: other weights");
    kn_tensor_release(&a); kn_tensor_release(&b); kn_tensor_release(&c);
}
