/* kiln train: train a built-in model on MNIST-layout IDX data. */
#include "tools/cli.h"
#include "optim/train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct train_args {
    const char *model, *data, *optimizer, *report, *out, *device, *schedule;
    int epochs, threads, opset, replicas;
    int64_t batch;
    float lr, momentum, weight_decay;
    uint64_t seed;
} train_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kiln train [--model mlp|lenet] [--data DIR] [--epochs N] [--batch B]\n"
            "                  [--optimizer adam|adamw|sgd] [--lr LR] [--momentum M] [--weight-decay WD]\n"
            "                  [--schedule constant|cosine|step] [--seed S] [--threads T] [--replicas auto|R]\n"
            "                  [--device cpu|cuda|auto] [--report FILE.json] [--out MODEL.onnx] [--opset N]\n\n"
            "Trains on the four MNIST-layout IDX files in DIR (raw or .gz). Default data: ./data/mnist when it\n"
            "holds them, else Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist).\n"
            "Defaults: mlp, 5 epochs, batch 64, adam, lr 1e-3, seed 1, all cores, cpu.\n"
            "--replicas: split each batch across R threads, each running the whole model on its slice\n"
            "(data parallel; batch norm shares whole-batch statistics); auto (default) = one per thread for\n"
            "models with convolutions or pooling, off for GEMM-only models (each GEMM is split instead);\n"
            "1 = off.\n");
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "kiln train: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, train_args *a)
{
    *a = (train_args){.model = "mlp", .optimizer = "adam", .device = "cpu", .schedule = "constant",
                      .epochs = 5, .batch = 64, .lr = 1e-3f, .seed = 1, .opset = 13, .replicas = KN_REPLICAS_AUTO};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return -1; }
        if (i + 1 >= argc) { fprintf(stderr, "kiln train: %s needs a value (see kiln train --help)\n", o); return 1; }
        const char *v = argv[++i];
        double d;
        if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--data")) a->data = v;
        else if (!strcmp(o, "--optimizer")) a->optimizer = v;
        else if (!strcmp(o, "--report")) a->report = v;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--device")) a->device = v;
        else if (!strcmp(o, "--schedule")) a->schedule = v;
        else if (!strcmp(o, "--epochs")) { if (parse_num(o, v, 1, 100000, &d)) return 1; a->epochs = (int)d; }
        else if (!strcmp(o, "--batch")) { if (parse_num(o, v, 1, 1 << 20, &d)) return 1; a->batch = (int64_t)d; }
        else if (!strcmp(o, "--threads")) { if (parse_num(o, v, 0, 1024, &d)) return 1; a->threads = (int)d; }
        else if (!strcmp(o, "--replicas")) { if (kn_cli_replicas("train", v, &a->replicas)) return 1; }
        else if (!strcmp(o, "--opset")) { if (parse_num(o, v, 7, 21, &d)) return 1; a->opset = (int)d; }
        else if (!strcmp(o, "--lr")) { if (parse_num(o, v, 0, 100, &d)) return 1; a->lr = (float)d; }
        else if (!strcmp(o, "--momentum")) { if (parse_num(o, v, 0, 1, &d)) return 1; a->momentum = (float)d; }
        else if (!strcmp(o, "--weight-decay")) { if (parse_num(o, v, 0, 10, &d)) return 1; a->weight_decay = (float)d; }
        else if (!strcmp(o, "--seed")) { if (parse_num(o, v, 0, 1e18, &d)) return 1; a->seed = (uint64_t)d; }
        else { fprintf(stderr, "kiln train: unknown option '%s' (see kiln train --help)\n", o); return 1; }
    }
    return 0;
}

typedef struct progress_state { bool tty; int epochs; } progress_state;

static void progress(void *user, const kn_epoch_stats *s, int64_t total)
{
    progress_state *p = user;
    if (!p->tty) return;
    int width = 30, filled = total ? (int)(width * s->samples / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %3d%%  loss %.4f  acc %.4f  %.0f samples/s ", s->epoch + 1, p->epochs, bar,
            total ? (int)(100 * s->samples / total) : 100, s->loss, s->train_accuracy, s->samples_per_second);
    fflush(stderr);
}

static kn_status write_report(const char *path, const train_args *a, const char *dataset, const kn_epoch_stats *ep,
                              int n, double final_acc)
{
    FILE *f = fopen(path, "w");
    if (!f) return kn_error(KN_ERR_IO, "cannot write report '%s': %s", path, strerror(errno));
    fprintf(f, "{\n  \"model\": \"%s\",\n  \"dataset\": \"%s\",\n  \"optimizer\": \"%s\",\n  \"batch\": %lld,\n"
               "  \"lr\": %g,\n  \"seed\": %llu,\n  \"threads\": %d,\n  \"epochs\": [\n",
            a->model, dataset, a->optimizer, (long long)a->batch, (double)a->lr, (unsigned long long)a->seed,
            kn_get_num_threads());
    for (int i = 0; i < n; i++)
        fprintf(f, "    {\"epoch\": %d, \"seconds\": %.4f, \"loss\": %.6f, \"train_accuracy\": %.6f, "
                   "\"test_accuracy\": %.6f, \"samples_per_second\": %.1f}%s\n",
                ep[i].epoch + 1, ep[i].seconds, ep[i].loss, ep[i].train_accuracy, ep[i].test_accuracy,
                ep[i].samples_per_second, i + 1 < n ? "," : "");
    fprintf(f, "  ],\n  \"test_accuracy\": %.6f\n}\n", final_acc);
    if (fclose(f) != 0) return kn_error(KN_ERR_IO, "cannot write report '%s': %s", path, strerror(errno));
    return KN_OK;
}

static kn_status export_model(const kn_graph *g, const char *path, int opset)
{
    kn_onnx_export_opts xo = kn_onnx_export_defaults();
    xo.opset = opset;
    KN_TRY(kn_onnx_save(g, path, &xo));
    fprintf(stderr, "kiln train: wrote %s\n", path);
    return KN_OK;
}

int kn_cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : 2;
    kn_device device;
    if (kn_cli_device("train", a.device, &device)) return 1;
    kn_optim_config oc;
    kn_optim_kind kind;
    if (kn_optim_kind_parse(a.optimizer, &kind) != KN_OK) return kn_cli_fail("train", NULL);
    oc = kn_optim_defaults(kind);
    oc.lr = a.lr;
    oc.weight_decay = a.weight_decay;
    if (kind == KN_OPTIM_SGD) oc.momentum = a.momentum;
    kn_lr_schedule sched = kn_lr_schedule_constant();
    if (!strcmp(a.schedule, "cosine")) sched = kn_lr_schedule_cosine(a.epochs, 0.0f);
    else if (!strcmp(a.schedule, "step")) sched = kn_lr_schedule_step(1 + a.epochs / 3, 0.1f);
    else if (strcmp(a.schedule, "constant")) {
        fprintf(stderr, "kiln train: --schedule must be constant, cosine or step (got '%s')\n", a.schedule);
        return 2;
    }
    kn_set_num_threads(a.threads);

    const char *dir = a.data, *what = NULL;
    if (!dir && kn_mnist_default_dir(&dir, &what) != KN_OK) return kn_cli_fail("train", NULL);
    fprintf(stderr, "kiln train: data %s%s%s%s\n", dir, what ? " (" : "", what ? what : "", what ? ")" : "");
    kn_mnist data;
    if (kn_mnist_load(&data, dir) != KN_OK) return kn_cli_fail("train", NULL);

    kn_graph *g = NULL;
    kn_session *train = NULL, *eval = NULL;
    kn_optimizer *opt = NULL;
    kn_batch_iter *it = NULL;
    kn_epoch_stats *ep = calloc((size_t)a.epochs, sizeof *ep);
    kn_status st = ep ? kn_graph_create(&g) : kn_error(KN_ERR_NOMEM, "out of memory");
    if (st == KN_OK) {
        g->opset = a.opset;
        kn_graph_seed(g, a.seed);
        st = kn_model_build(g, a.model);
    }
    kn_session_opts so = kn_session_defaults();
    so.device = device;
    so.training = true;
    so.seed = a.seed;
    so.replicas = a.replicas;
    if (st == KN_OK) st = kn_session_create(&train, g, &so);
    if (st == KN_OK) st = kn_optimizer_create(&opt, &oc);
    kn_batch_opts bo = kn_batch_defaults();
    bo.batch_size = a.batch;
    bo.seed = a.seed;
    if (st == KN_OK) st = kn_batch_iter_create(&it, &data.train, &bo);
    progress_state ps = {.tty = isatty(2), .epochs = a.epochs};
    double final_acc = 0;
    int done = 0;
    const char *spin = getenv("GOMP_SPINCOUNT");
    fprintf(stderr, "kiln train: %s, %d epochs, batch %lld, %s lr %g, %d threads%s%s%s, %s\n", a.model, a.epochs,
            (long long)a.batch, a.optimizer, (double)a.lr, kn_get_num_threads(), spin ? " (GOMP_SPINCOUNT " : "",
            spin ? spin : "", spin ? ")" : "", kn_device_name(device));
    if (train) {
        const char *why;
        int r = kn_session_replicas(train, &why);
        if (r > 1) fprintf(stderr, "kiln train: data parallel, %d replicas of batch/%d rows\n", r, r);
        else if (*why) fprintf(stderr, "kiln train: no replicas (%s)\n", why);
    }
    for (int e = 0; st == KN_OK && e < a.epochs; e++) {
        kn_optimizer_set_lr(opt, kn_lr_schedule_at(&sched, a.lr, e));
        if ((st = kn_train_epoch(train, opt, it, e, &ep[e], progress, &ps)) != KN_OK) break;
        if ((st = kn_session_sync_graph(train)) != KN_OK) break; /* GPU-trained weights to the host graph */
        /* a fresh inference session sees the current parameters and BN running stats */
        kn_session_opts eo = kn_session_defaults();
        eo.device = device;
        eo.replicas = a.replicas;
        if ((st = kn_session_create(&eval, g, &eo)) != KN_OK) break;
        st = kn_evaluate(eval, &data.test, 256, bo.layout, &ep[e].test_accuracy);
        kn_session_free(eval);
        eval = NULL;
        if (st != KN_OK) break;
        final_acc = ep[e].test_accuracy;
        done = e + 1;
        if (ps.tty) fprintf(stderr, "\r\033[K");
        printf("epoch %d/%d  loss %.4f  train_acc %.4f  test_acc %.4f  %.1fs  %.0f samples/s\n", e + 1, a.epochs,
               ep[e].loss, ep[e].train_accuracy, ep[e].test_accuracy, ep[e].seconds, ep[e].samples_per_second);
        fflush(stdout);
    }
    if (st == KN_OK) printf("test accuracy %.4f\n", final_acc);
    if (st == KN_OK && a.report) st = write_report(a.report, &a, dir, ep, done, final_acc);
    if (st == KN_OK && a.out) st = export_model(g, a.out, a.opset);
    rc = st == KN_OK ? 0 : kn_cli_fail("train", NULL);
    kn_batch_iter_free(it);
    kn_optimizer_free(opt);
    kn_session_free(train);
    kn_graph_free(g);
    kn_mnist_release(&data);
    free(ep);
    return rc;
}
