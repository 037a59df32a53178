/* The PyTorch-exported models in tests/data/models at every optimizer level:
 * O1 and O2 agree with O0 and with PyTorch's outputs; O2 actually rewrote the
 * graphs (BN folded, activations fused); the profiler counts work and records
 * one event per node execution. */
#include "helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODELS "tests/data/models"

static int count_op(const kn_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return n;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Run model dir at `level` on every test_data_set_*; compare with PyTorch and with o0 (when
 * given, one tensor per data set) within 1e-4; keep the outputs in `keep` when not NULL. */
static int check_level(const char *dir, int level, kn_tensor *o0, kn_tensor *keep)
{
    char path[600];
    kn_graph *g;
    kn_session *s;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    T_OK(kn_onnx_load(path, &g));
    kn_session_opts o = kn_session_defaults();
    o.level = level;
    T_OK(kn_session_create(&s, g, &o));
    int set = 0;
    for (;; set++) {
        kn_tensor in, want;
        snprintf(path, sizeof path, "%s/test_data_set_%d/input_0.pb", dir, set);
        if (!exists(path)) break;
        cr_assert_lt(set, 8);
        T_OK(kn_tensor_load_pb(path, &in, NULL));
        snprintf(path, sizeof path, "%s/test_data_set_%d/output_0.pb", dir, set);
        T_OK(kn_tensor_load_pb(path, &want, NULL));
        const kn_tensor *feed[1] = {&in};
        T_OK(kn_session_run(s, feed, 1));
        const kn_tensor *got = kn_session_output(s, 0);
        cr_assert_not_null(got);
        cr_assert(kn_tensor_same_shape(got, &want), "%s -O %d set %d: output shape", dir, level, set);
        int64_t n = kn_tensor_numel(&want);
        cr_assert(t_close_ratio(got->data, want.data, n, 1e-4, 1e-4) <= 1.0,
                  "%s -O %d set %d differs from PyTorch (ratio %g)", dir, level, set,
                  t_close_ratio(got->data, want.data, n, 1e-4, 1e-4));
        if (o0)
            cr_assert(t_close_ratio(got->data, o0[set].data, n, 1e-4, 1e-4) <= 1.0,
                      "%s -O %d set %d differs from -O 0 (ratio %g)", dir, level, set,
                      t_close_ratio(got->data, o0[set].data, n, 1e-4, 1e-4));
        if (keep) T_OK(kn_tensor_clone(&keep[set], got));
        kn_tensor_release(&in);
        kn_tensor_release(&want);
    }
    cr_assert_gt(set, 0, "%s has no test_data_set_*", dir);
    kn_session_free(s);
    kn_graph_free(g);
    return set;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Test(models, every_model_every_level_matches_o0_and_pytorch, .timeout = 120)
{
    DIR *d = opendir(MODELS);
    cr_assert_not_null(d, MODELS " not found (run from the repository root)");
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char p[600];
        snprintf(p, sizeof p, MODELS "/%s/model.onnx", e->d_name);
        if (e->d_name[0] != '.' && exists(p)) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    cr_assert_geq(n, 15, "expected the 15 fixture models (5 models x 3 opsets), found %d", n);
    for (int i = 0; i < n; i++) {
        char dir[600];
        kn_tensor o0[8] = {{0}};
        snprintf(dir, sizeof dir, MODELS "/%s", names[i]);
        int sets = check_level(dir, 0, NULL, o0);
        check_level(dir, 1, o0, NULL);
        check_level(dir, 2, o0, NULL);
        for (int k = 0; k < sets; k++) kn_tensor_release(&o0[k]);
        free(names[i]);
    }
}

/* The session's O2 graph of a fixture. */
static void o2_graph_check(const char *model, bool has_bn, int min_fused_conv)
{
    char path[600];
    kn_graph *g;
    kn_session *s;
    snprintf(path, sizeof path, MODELS "/%s/model.onnx", model);
    T_OK(kn_onnx_load(path, &g));
    cr_assert_eq(count_op(g, "BatchNormalization") > 0, has_bn, "%s: BatchNormalization as exported", model);
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    T_OK(kn_session_create(&s, g, &o));
    const kn_graph *og = kn_session_graph(s);
    cr_assert_eq(count_op(og, "BatchNormalization"), 0, "%s: O2 folds every BatchNormalization", model);
    cr_assert_geq(count_op(og, "FusedConv"), min_fused_conv, "%s: O2 fuses activations into Conv (%d FusedConv)",
                  model, count_op(og, "FusedConv"));
    const kn_pass_report *r = kn_session_pass_report(s);
    cr_assert_not_null(r);
    cr_assert_lt(r->nodes_after, r->nodes_before, "%s: O2 removes nodes", model);
    kn_session_free(s);
    kn_graph_free(g);
}

Test(models, o2_folds_batchnorm_and_fuses_activations)
{
    static const char *const opsets[] = {"11", "13", "17"};
    for (int i = 0; i < 3; i++) {
        char m[64];
        snprintf(m, sizeof m, "lenet_bn_op%s", opsets[i]);
        o2_graph_check(m, true, 2);
        snprintf(m, sizeof m, "lenet_folded_op%s", opsets[i]);
        o2_graph_check(m, false, 2);
        snprintf(m, sizeof m, "resnet_small_op%s", opsets[i]);
        o2_graph_check(m, false, 7); /* every conv but the 1x1 shortcut ends in ReLU or the residual Add */
        snprintf(m, sizeof m, "dwsep_op%s", opsets[i]);
        o2_graph_check(m, false, 3); /* the ReLU6 (Clip) convs */
    }
}

/* A profiling level-2 session of a 1x28x28 model, run once on a batch of random x. */
static kn_session *profiled_o2(const char *path, int batch, uint64_t seed, kn_graph **g, kn_tensor *x)
{
    kn_session *s;
    T_OK(kn_onnx_load(path, g));
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    o.profile = true;
    T_OK(kn_session_create(&s, *g, &o));
    *x = t_new_rand(seed, 0, 1, 4, batch, 1, 28, 28);
    const kn_tensor *feed[1] = {x};
    T_OK(kn_session_run(s, feed, 1));
    return s;
}

/* resnet_small at O2: the downsampling block's 1x1 shortcut rides along its first conv
 * (fuse_side_conv), whose profile counts both convolutions' work. */
Test(models, resnet_shortcut_joins_block3_conv1_and_is_profiled)
{
    kn_graph *g;
    kn_tensor x;
    kn_session *s = profiled_o2(MODELS "/resnet_small_op13/model.onnx", 2, 6, &g, &x);
    kn_node_profile p[16];
    const int n = kn_session_profile(s, p, 16);
    int found = 0;
    for (int i = 0; i < n && i < 16; i++)
        if (strstr(p[i].name, "shortcut")) {
            found++;
            cr_assert(!strcmp(p[i].op_type, "FusedConv") && strstr(p[i].name, "block3/conv1"), "%s (%s)", p[i].name, p[i].op_type);
            /* 3x3 16->32 stride 2 and 1x1 16->32 stride 2, 14x14 outputs, batch 2 */
            const double want = 2.0 * 2 * 32 * 14 * 14 * (16 * 9) + 2.0 * 2 * 32 * 14 * 14 * 16;
            cr_assert_float_eq(p[i].flops, want, 0.5, "flops %g, want %g", p[i].flops, want);
        }
    cr_assert_eq(found, 1, "one node holds the shortcut");
    kn_session_free(s);
    kn_tensor_release(&x);
    kn_graph_free(g);
}

Test(models, profile_counts_flops_bytes_and_events)
{
    kn_graph *g;
    kn_tensor x;
    kn_session *s = profiled_o2(MODELS "/lenet_bn_op13/model.onnx", 4, 5, &g, &x);
    const kn_tensor *feed[1] = {&x};
    kn_session_profile_reset(s);
    cr_assert_eq(kn_session_profile_events(s, NULL, 0), 0, "reset forgets events");
    for (int i = 0; i < 3; i++) T_OK(kn_session_run(s, feed, 1));
    int n = kn_session_profile(s, NULL, 0);
    /* conv+bn+relu+pool twice, flatten, fc1+relu, fc2+relu, fc3 */
    cr_assert_eq(n, 6, "lenet_bn at O2 runs 6 nodes, profile lists %d", n);
    kn_node_profile p[6];
    cr_assert_eq(kn_session_profile(s, p, 6), 6);
    bool saw_conv1 = false;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(p[i].calls, 3, "%s ran 3 times", p[i].name);
        cr_assert_geq(p[i].seconds, 0);
        if (!strcmp(p[i].op_type, "FusedConv") && strstr(p[i].name, "conv1")) {
            saw_conv1 = true;
            /* conv1: 6 output channels, 28x28, 1x5x5 kernel, batch 4: 2 * 4*6*28*28 * 25 (the
             * convolution's, though the fused pooling writes 14x14) */
            cr_assert_float_eq(p[i].flops, 2.0 * 4 * 6 * 28 * 28 * 25, 0.5, "conv1 flops %g", p[i].flops);
            /* reads x (4x1x28x28), W (6x1x5x5), B (6); writes the pooled 4x6x14x14, floats */
            cr_assert_float_eq(p[i].bytes, 4.0 * (4 * 28 * 28 + 6 * 25 + 6 + 4 * 6 * 14 * 14), 0.5, "conv1 bytes %g",
                               p[i].bytes);
            cr_assert(strstr(p[i].name, "bn1") && strstr(p[i].name, "Relu") && strstr(p[i].name, "pool"),
                      "fused name lists absorbed nodes: %s", p[i].name);
        }
        if (!strcmp(p[i].op_type, "Gemm") || !strcmp(p[i].op_type, "FusedGemm")) cr_assert_gt(p[i].flops, 0);
        if (!strcmp(p[i].op_type, "Flatten")) cr_assert_eq(p[i].flops, 0, "a view does no arithmetic");
    }
    cr_assert(saw_conv1);
    kn_node_event ev[64];
    int64_t ne = kn_session_profile_events(s, ev, 64);
    cr_assert_eq(ne, 3 * 6, "one event per node execution");
    for (int64_t i = 0; i < ne; i++) {
        cr_assert_eq(ev[i].node, (int)(i % 6), "events follow execution order");
        cr_assert_geq(ev[i].seconds, 0);
        if (i) cr_assert_geq(ev[i].start, ev[i - 1].start + ev[i - 1].seconds - 1e-9, "events do not overlap");
    }
    kn_session_free(s);
    /* profiling off: nothing recorded, and asking for a trace is an error */
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    T_OK(kn_session_create(&s, g, &o));
    T_OK(kn_session_run(s, feed, 1));
    cr_assert_eq(kn_session_profile(s, NULL, 0), 0);
    cr_assert_eq(kn_session_profile_events(s, NULL, 0), 0);
    cr_assert_neq(kn_session_write_trace(s, "/tmp/never-written.json"), KN_OK);
    cr_assert(strstr(kn_last_error(), "profile"), "%s", kn_last_error());
    kn_session_free(s);
    kn_tensor_release(&x);
    kn_graph_free(g);
}
