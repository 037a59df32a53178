/* kiln eval MODEL --data DIR: classification accuracy and throughput on an MNIST-layout test split. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: kiln eval MODEL.onnx [--data DIR] [-O 0|1|2] [--batch B] [--threads T]\n"
            "                 [--replicas auto|R] [--device cpu|cuda|auto]\n\n"
            "Accuracy of a classifier on the test split (t10k-*) of MNIST-layout IDX data, and its\n"
            "throughput. The model takes one float input [N,1,H,W] (or flattened [N,H*W]) and its first\n"
            "output is the logits [N,classes]. Default data: ./data/mnist when it holds the four files,\n"
            "else /usr/share/datasets/fashion-mnist. Defaults: -O 2, batch 256.\n");
    return status;
}

/* dir/base, or dir/base.gz when only that exists (the raw name wins, as in kn_mnist_load). */
static void split_file(char *out, size_t size, const char *dir, const char *base)
{
    struct stat st;
    snprintf(out, size, "%s/%s", dir, base);
    if (stat(out, &st) != 0) {
        snprintf(out, size, "%s/%s.gz", dir, base);
        if (stat(out, &st) != 0) snprintf(out, size, "%s/%s", dir, base); /* the load names it */
    }
}

int kn_cmd_eval(int argc, char **argv)
{
    kn_cli_perf p = kn_cli_perf_defaults(1, 0);
    p.batch = 256;
    const char *dir = NULL, *what = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(0);
        bool perf = !strcmp(a, "--batch") || !strcmp(a, "--threads") || !strcmp(a, "--replicas") ||
                    !strcmp(a, "--device") || !strncmp(a, "-O", 2);
        if (perf) {
            if (kn_cli_perf_option("eval", argc, argv, &i, &p) < 0) return 2;
        } else if (!strcmp(a, "--data")) {
            if (i + 1 >= argc) return kn_cli_fail("eval", "--data needs a directory");
            dir = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "kiln eval: unknown option '%s'\n", a);
            return usage(2);
        } else if (!p.model) {
            p.model = a;
        } else {
            fprintf(stderr, "kiln eval: unexpected argument '%s' (one model only)\n", a);
            return usage(2);
        }
    }
    if (!p.model) {
        fprintf(stderr, "kiln eval: no model given\n");
        return usage(2);
    }
    if (!dir && kn_mnist_default_dir(&dir, &what) != KN_OK) return kn_cli_fail("eval", NULL);
    kn_graph *g = NULL;
    kn_session *s = NULL;
    kn_dataset data;
    char images[1100], labels[1100];
    bool have_data = false;
    char msg[1024];
    int rc = 1;
    if (kn_onnx_load(p.model, &g) != KN_OK) return kn_cli_fail("eval", NULL);
    /* shape checks first: a wrong model should fail before a dataset is read */
    if (g->n_inputs != 1) {
        int o = snprintf(msg, sizeof msg, "%s has %d inputs (", p.model, g->n_inputs);
        for (int i = 0; i < g->n_inputs && o < (int)sizeof msg; i++)
            o += snprintf(msg + o, sizeof msg - (size_t)o, "%s'%s'", i ? ", " : "", g->values[g->inputs[i]].name);
        if (o < (int)sizeof msg)
            snprintf(msg + o, sizeof msg - (size_t)o,
                     "); kiln eval needs an inference model with one image input (export a training graph with "
                     "kiln train --out, which drops the labels and loss)");
        kn_cli_fail("eval", msg);
        goto done;
    }
    const kn_value *in = &g->values[g->inputs[0]];
    if (in->dtype != KN_FLOAT || (in->ndim != 4 && in->ndim != 2)) {
        char sh[160];
        snprintf(msg, sizeof msg, "input '%s' is %s %s; kiln eval needs float [N,1,H,W] or [N,H*W]", in->name,
                 kn_dtype_name(in->dtype), in->ndim < 0 ? "of unknown rank" : kn_shape_str(sh, sizeof sh, in->ndim, in->shape));
        kn_cli_fail("eval", msg);
        goto done;
    }
    fprintf(stderr, "kiln eval: data %s%s%s%s\n", dir, what ? " (" : "", what ? what : "", what ? ")" : "");
    /* only the test split: no need to read (or have) the training files */
    split_file(images, sizeof images, dir, "t10k-images-idx3-ubyte");
    split_file(labels, sizeof labels, dir, "t10k-labels-idx1-ubyte");
    if (kn_dataset_load(&data, images, labels, 10) != KN_OK) { kn_cli_fail("eval", NULL); goto done; }
    have_data = true;
    const kn_dataset *test = &data;
    int64_t h = kn_dataset_height(test), w = kn_dataset_width(test), n = kn_dataset_size(test);
    int64_t want4[4] = {KN_DIM_UNKNOWN, 1, h, w}, want2[2] = {KN_DIM_UNKNOWN, h * w};
    const int64_t *want = in->ndim == 4 ? want4 : want2;
    for (int d = 1; d < in->ndim; d++) {
        if (in->shape[d] >= 0 && in->shape[d] != want[d]) {
            char a[160], b[160];
            snprintf(msg, sizeof msg, "input '%s' has shape %s but the data is %s", in->name,
                     kn_shape_str(a, sizeof a, in->ndim, in->shape), kn_shape_str(b, sizeof b, in->ndim, want));
            kn_cli_fail("eval", msg);
            goto done;
        }
    }
    if (in->shape[0] >= 0) {
        /* a fixed batch dim: every batch must have exactly that size */
        if (p.batch_given && p.batch != in->shape[0]) {
            snprintf(msg, sizeof msg, "input '%s' has a fixed batch of %lld; --batch %lld does not fit", in->name,
                     (long long)in->shape[0], (long long)p.batch);
            kn_cli_fail("eval", msg);
            goto done;
        }
        p.batch = in->shape[0];
        if (n % p.batch) {
            snprintf(msg, sizeof msg, "input '%s' has a fixed batch of %lld, which does not divide the %lld test samples",
                     in->name, (long long)p.batch, (long long)n);
            kn_cli_fail("eval", msg);
            goto done;
        }
    }
    if (kn_session_create(&s, g, &p.sess) != KN_OK) { kn_cli_fail("eval", NULL); goto done; }
    double acc = 0, t0 = kn_cli_now();
    if (kn_evaluate(s, test, p.batch, in->ndim == 4 ? KN_BATCH_NCHW : KN_BATCH_FLAT, &acc) != KN_OK) {
        kn_cli_fail("eval", NULL);
        goto done;
    }
    kn_cli_sync(p.sess.device);
    double sec = kn_cli_now() - t0;
    printf("eval %s: -O %d, batch %lld, %s\n", p.model, p.sess.level, (long long)p.batch, kn_device_name(p.sess.device));
    printf("accuracy %.2f%% on %lld test samples (%s)\n", 100 * acc, (long long)n, dir);
    printf("time %.3f s, throughput %.1f samples/s\n", sec, sec > 0 ? (double)n / sec : 0);
    rc = 0;
done:
    kn_session_free(s);
    if (have_data) kn_dataset_release(&data);
    kn_graph_free(g);
    return rc;
}
