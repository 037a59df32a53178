/* Data-parallel replicas (nn/split.h): the group's barrier and all-reduce, which
 * graphs may be split, split inference and training equal to whole-batch runs,
 * determinism, and errors inside one replica. (The PyTorch training-step fixtures
 * are also run split: tests/test_train_step.c.) */
#include "helpers.h"
#include "nn/split.h"
#include "onnx/onnx.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

Test(replicas, allreduce_sums_in_rank_order_on_every_replica)
{
    kn_group *g;
    T_OK(kn_group_create(&g, 2));
    double out[2][3];
    kn_status st[2] = {KN_ERR_INTERNAL, KN_ERR_INTERNAL};
    int team = 0;
#pragma omp parallel num_threads(2)
    {
        const int r = omp_get_thread_num();
        if (omp_get_num_threads() == 2) {
            if (r == 0) team = 2;
            for (int i = 0; i < 3; i++) out[r][i] = (r + 1) * 10.0 + i;
            st[r] = kn_group_allreduce(g, r, out[r], 3);
            if (st[r] == KN_OK) st[r] = kn_group_barrier(g);
        }
    }
    if (team != 2) {
        fprintf(stderr, "note: OpenMP gave fewer than 2 threads; group test skipped\n");
    } else {
        cr_assert_eq(st[0], KN_OK);
        cr_assert_eq(st[1], KN_OK);
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(out[0][i], 30.0 + 2 * i);
            cr_assert_eq(out[1][i], out[0][i]);
        }
    }
    kn_group_free(g);
}

Test(replicas, barrier_gives_up_when_a_replica_fails)
{
    kn_group *g;
    T_OK(kn_group_create(&g, 2));
    kn_status st = KN_OK;
    int team = 0;
#pragma omp parallel num_threads(2)
    {
        if (omp_get_num_threads() == 2) {
            if (omp_get_thread_num() == 0) {
                team = 2;
                st = kn_group_barrier(g); /* would wait forever for replica 1 */
            } else {
                kn_group_fail(g);
            }
        }
    }
    if (team == 2) {
        cr_assert_eq(st, KN_ERR_INTERNAL);
        cr_assert(strstr(kn_last_error(), "another replica failed"), "%s", kn_last_error());
    }
    cr_assert_eq(kn_group_create(&(kn_group *){NULL}, 0), KN_ERR_INVALID);
    kn_group_free(g);
}

/* A graph the split must refuse, with the node named in the reason. */
static void expect_refused(kn_graph *g, bool training, const char *name_in_why)
{
    kn_session_opts o = kn_session_defaults();
    o.training = training;
    o.replicas = 2;
    kn_session *s;
    T_OK(kn_session_create(&s, g, &o));
    const char *why;
    cr_assert_eq(kn_session_replicas(s, &why), 1);
    cr_assert(strstr(why, name_in_why), "reason '%s' does not name '%s'", why, name_in_why);
    kn_session_free(s);
    kn_graph_free(g);
}

Test(replicas, graphs_that_mix_batch_rows_are_not_split)
{
    static const int64_t shape[2] = {KN_DIM_UNKNOWN, 6};
    kn_graph *g;
    /* a sum over the batch axis */
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, shape), node;
    int y = kn_node1(g, "ReduceSum", 1, &x, &node);
    T_OK(kn_node_set_ints(g, node, "axes", 1, (int64_t[]){0}));
    kn_output(g, kn_node_done(g, y));
    T_OK(kn_graph_status(g));
    expect_refused(g, false, g->nodes[node].name);
    /* Gemm contracting over the batch (transA) */
    T_OK(kn_graph_create(&g));
    x = kn_input(g, "x", KN_FLOAT, 2, shape);
    int w = kn_param_uniform(g, "w", 2, (int64_t[]){4, 3}, 1.0f);
    y = kn_node1(g, "Gemm", 2, (int[]){x, w}, &node);
    T_OK(kn_node_set_int(g, node, "transA", 1));
    kn_output(g, kn_node_done(g, y));
    expect_refused(g, false, "transA");
    /* a fixed batch dimension */
    T_OK(kn_graph_create(&g));
    x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){8, 6});
    kn_output(g, kn_relu(g, x));
    expect_refused(g, false, "'x'");
    /* a loss that is not a plain mean: sum reduction */
    T_OK(kn_graph_create(&g));
    x = kn_input(g, "x", KN_FLOAT, 2, shape);
    int lab = kn_input(g, "labels", KN_INT64, 1, (int64_t[]){KN_DIM_UNKNOWN});
    int logits = kn_output(g, kn_linear(g, x, 3, "fc"));
    y = kn_softmax_cross_entropy(g, logits, lab);
    T_OK(kn_node_set_string(g, g->values[y].producer, "reduction", "sum"));
    expect_refused(g, true, "not a plain mean");
}

static kn_tensor labels(int64_t n, int64_t classes)
{
    kn_tensor y;
    cr_assert_eq(kn_tensor_init(&y, KN_INT64, 1, &n), KN_OK);
    for (int64_t i = 0; i < n; i++) ((int64_t *)y.data)[i] = (i * 7) % classes;
    return y;
}

/* Split inference at O2 equals whole-batch inference on every PyTorch model fixture,
 * for an odd batch (uneven slices). */
Test(replicas, split_inference_matches_whole_batch_on_model_fixtures)
{
    static const char *models[] = {"mlp_op13", "lenet_bn_op13", "resnet_small_op13", "dwsep_op13"};
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/models/%s/model.onnx", models[m]);
        kn_graph *g;
        T_OK(kn_onnx_load(path, &g));
        const kn_value *in = &g->values[g->inputs[0]];
        int64_t shape[KN_MAX_DIMS];
        memcpy(shape, in->shape, sizeof(int64_t) * (size_t)in->ndim);
        shape[0] = 13;
        kn_tensor x;
        T_OK(kn_tensor_init(&x, KN_FLOAT, in->ndim, shape));
        for (int64_t i = 0; i < kn_tensor_numel(&x); i++) ((float *)x.data)[i] = (float)((i * 37) % 101) / 101.0f;
        kn_session *whole, *split;
        kn_session_opts o = kn_session_defaults();
        o.level = 2;
        T_OK(kn_session_create(&whole, g, &o));
        o.replicas = 2;
        T_OK(kn_session_create(&split, g, &o));
        const char *why;
        cr_assert_eq(kn_session_replicas(split, &why), 2, "%s: %s", models[m], why);
        const kn_tensor *feed[1] = {&x};
        for (int rep = 0; rep < 2; rep++) { /* the second run reuses the planned buffers */
            T_OK(kn_session_run(whole, feed, 1));
            T_OK(kn_session_run(split, feed, 1));
            cr_assert(kn_session_last_run_split(split), "%s was not split", models[m]);
            const kn_tensor *a = kn_session_output(whole, 0), *b = kn_session_output(split, 0);
            cr_assert(kn_tensor_same_shape(a, b), "%s: split output shape differs", models[m]);
            T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), 1e-5, 1e-6);
        }
        kn_session_free(whole);
        kn_session_free(split);
        kn_tensor_release(&x);
        kn_graph_free(g);
    }
}

/* Three Adam steps of LeNet (BatchNorm synchronised across replicas) split 2 ways equal
 * the whole-batch steps, and two split runs are bitwise identical. */
static void train_steps(int replicas, int64_t batch, kn_graph **gout, float *loss)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 5);
    T_OK(kn_model_lenet(g));
    kn_session *s = t_train_session(g, replicas);
    kn_optimizer *opt = t_adam();
    kn_tensor x = t_new_rand(11, 0, 1, 4, batch, 1, 28, 28), y = labels(batch, 10);
    const kn_tensor *ins[2] = {&x, &y};
    for (int step = 0; step < 3; step++) {
        T_OK(kn_session_run(s, ins, 2));
        cr_assert_eq(kn_session_last_run_split(s), replicas > 1);
        loss[step] = kn_session_loss(s);
        T_OK(kn_session_backward(s));
        T_OK(kn_optimizer_step_session(opt, s));
    }
    kn_optimizer_free(opt);
    kn_session_free(s);
    kn_tensor_release(&x);
    kn_tensor_release(&y);
    *gout = g;
}

Test(replicas, split_training_matches_whole_batch_and_is_deterministic)
{
    kn_graph *whole, *split, *again;
    float lw[3], ls[3], la[3];
    train_steps(1, 37, &whole, lw);
    train_steps(2, 37, &split, ls);
    train_steps(2, 37, &again, la);
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(ls[i], lw[i], 1e-4f * (1 + fabsf(lw[i])), "step %d loss %g vs %g", i, ls[i], lw[i]);
        cr_assert_eq(la[i], ls[i], "split runs differ at step %d", i);
    }
    for (int v = 0; v < whole->n_values; v++) {
        const kn_value *a = &whole->values[v], *b = &split->values[v], *c = &again->values[v];
        if (a->kind != KN_VALUE_PARAM && a->kind != KN_VALUE_CONST) continue;
        const int64_t n = kn_tensor_numel(&a->data);
        /* Adam's first steps move each weight by ~lr whatever the gradient's size, so
         * gradients at rounding-noise level (conv biases ahead of BN) may step either way */
        cr_assert(t_close_ratio(b->data.data, a->data.data, n, 1e-3, 3e-3) <= 1.0, "%s differs from whole-batch",
                  a->name);
        cr_assert(!memcmp(b->data.data, c->data.data, kn_tensor_bytes(&b->data)), "%s: split runs differ", a->name);
    }
    kn_graph_free(whole);
    kn_graph_free(split);
    kn_graph_free(again);
}

/* A bad label in the second replica's slice: the error is that replica's, the other
 * replica does not hang, and the session works again on good input. */
Test(replicas, an_error_in_one_replica_is_reported_and_the_session_recovers)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    T_OK(kn_model_lenet(g));
    kn_session *s = t_train_session(g, 2);
    kn_tensor x = t_new_rand(2, 0, 1, 4, 16, 1, 28, 28), y = labels(16, 10);
    ((int64_t *)y.data)[12] = 42;
    const kn_tensor *ins[2] = {&x, &y};
    cr_assert_neq(kn_session_run(s, ins, 2), KN_OK);
    cr_assert(strstr(kn_last_error(), "42"), "error does not name the bad label: %s", kn_last_error());
    ((int64_t *)y.data)[12] = 2;
    T_OK(kn_session_run(s, ins, 2));
    cr_assert(kn_session_last_run_split(s));
    T_OK(kn_session_backward(s));
    kn_session_free(s);
    kn_tensor_release(&x);
    kn_tensor_release(&y);
    kn_graph_free(g);
}
