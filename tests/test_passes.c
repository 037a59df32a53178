/* Inference passes: graphs each pass must rewrite and graphs it must leave
 * alone; optimized outputs equal unoptimized ones; the level-2 memory plan. */
#include "helpers.h"
#include "nn/passes/passes.h"
#include "onnx/onnx.h"

#include <stdlib.h>

#include <string.h>

static int count_op(const kn_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return n;
}

/* x[-1,8] -> fc1(16) -> relu -> fc2(16) -> relu -> fc3(4) */
static kn_graph *mlp_graph(void)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 3);
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    int h = kn_relu(g, kn_linear(g, x, 16, "fc1"));
    h = kn_relu(g, kn_linear(g, h, 16, "fc2"));
    kn_output(g, kn_linear(g, h, 4, "fc3"));
    T_OK(kn_graph_status(g));
    return g;
}

/* An optimized copy of g at `level` (g is left as it is); r may be NULL. */
static kn_graph *optimized_clone(const kn_graph *g, int level, kn_pass_report *r)
{
    kn_graph *c;
    T_OK(kn_graph_clone(&c, g));
    T_OK(kn_graph_optimize(c, level, NULL, r));
    return c;
}

static void run_and_compare(const kn_graph *g, int level, const char *disabled, int batch)
{
    kn_session *s0, *s2;
    t_session_pair(g, level, disabled, &s0, &s2);
    kn_tensor x = t_new_rand(11, -1, 1, 2, batch, 8);
    t_compare_runs(s0, s2, &x, 1e-5, 1e-6);
    kn_session_free(s0);
    kn_session_free(s2);
    kn_tensor_release(&x);
}

Test(passes, gemm_relu_fuses_and_matches)
{
    kn_graph *g = mlp_graph();
    kn_pass_report r;
    kn_graph *c = optimized_clone(g, 2, &r);
    cr_assert_eq(count_op(c, "FusedGemm"), 2, "fc1+relu and fc2+relu fuse");
    cr_assert_eq(count_op(c, "Relu"), 0);
    cr_assert_eq(count_op(c, "Gemm"), 1, "fc3 has no activation");
    bool named = false;
    for (int i = 0; i < c->n_nodes; i++) named |= strstr(c->nodes[i].name, "fc1+") != NULL;
    cr_assert(named, "a fused node's name lists what it absorbed");
    cr_assert_eq(r.nodes_before, 5);
    cr_assert_eq(r.nodes_after, 3);
    run_and_compare(g, 2, NULL, 5);
    kn_graph_free(c);
    kn_graph_free(g);
}

Test(passes, activation_with_two_consumers_is_left_alone)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    int h = kn_linear(g, x, 8, "fc1");
    int r = kn_relu(g, h);
    kn_output(g, kn_add(g, r, h)); /* fc1's output also feeds the Add */
    T_OK(kn_graph_status(g));
    kn_graph *c = optimized_clone(g, 2, NULL);
    cr_assert_eq(count_op(c, "FusedGemm"), 0);
    cr_assert_eq(count_op(c, "Relu"), 1);
    run_and_compare(g, 2, NULL, 3);
    kn_graph_free(c);
    kn_graph_free(g);
}

Test(passes, graph_output_is_not_fused_away)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    int h = kn_linear(g, x, 8, "fc1");
    kn_output(g, h);
    kn_output(g, kn_relu(g, h));
    T_OK(kn_graph_status(g));
    T_OK(kn_graph_optimize(g, 2, NULL, NULL));
    cr_assert_eq(count_op(g, "FusedGemm"), 0, "fc1's output is a graph output");
    kn_graph_free(g);
}

Test(passes, disabled_by_name)
{
    kn_graph *g = mlp_graph();
    kn_pass_report r;
    T_OK(kn_graph_optimize(g, 2, "fuse_activation", &r));
    cr_assert_eq(count_op(g, "FusedGemm"), 0);
    for (int i = 0; i < r.n; i++) cr_assert_str_neq(r.passes[i].name, "fuse_activation");
    kn_graph_free(g);
}

Test(passes, constants_fold_and_dead_nodes_go)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 4});
    int a = kn_param_fill(g, "a", 1, (int64_t[]){4}, 2.0f, KN_VALUE_CONST);
    int b = kn_param_fill(g, "b", 1, (int64_t[]){4}, 3.0f, KN_VALUE_CONST);
    int ab = kn_node_done(g, kn_node1(g, "Mul", 2, (int[]){a, b}, NULL)); /* constant: 6 */
    kn_relu(g, x); /* dead: nothing uses it */
    kn_output(g, kn_add(g, x, ab));
    T_OK(kn_graph_status(g));
    kn_pass_report r;
    kn_graph *c = optimized_clone(g, 1, &r);
    cr_assert_eq(count_op(c, "Mul"), 0, "Mul of two constants folds");
    cr_assert_eq(count_op(c, "Relu"), 0, "the unused Relu is removed");
    cr_assert_eq(c->n_nodes, 1);
    int folded = 0, dead = 0;
    for (int i = 0; i < r.n; i++) {
        if (!strcmp(r.passes[i].name, "fold_constants")) folded = r.passes[i].changes;
        if (!strcmp(r.passes[i].name, "remove_dead")) dead = r.passes[i].changes;
    }
    cr_assert_eq(folded, 1);
    cr_assert_eq(dead, 1);
    kn_session *s;
    kn_session_opts o = kn_session_defaults();
    o.level = 1;
    T_OK(kn_session_create(&s, g, &o));
    kn_tensor xt = t_new_rand(1, -1, 1, 2, 2, 4);
    const kn_tensor *ins[1] = {&xt};
    T_OK(kn_session_run(s, ins, 1));
    const float *y = kn_session_output(s, 0)->data, *xd = xt.data;
    for (int i = 0; i < 8; i++) cr_assert_float_eq(y[i], xd[i] + 6.0f, 1e-6f);
    kn_session_free(s);
    kn_tensor_release(&xt);
    kn_graph_free(c);
    kn_graph_free(g);
}

/* Six Linear + Sigmoid layers of width 8: with fusion off, twelve intermediates of
 * rows x 32 bytes to share. */
static kn_graph *sigmoid_chain(void)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int h = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    for (int i = 0; i < 6; i++) h = kn_sigmoid(g, kn_linear(g, h, 8, NULL));
    kn_output(g, h);
    T_OK(kn_graph_status(g));
    return g;
}

Test(passes, level2_memory_plan_reuses_buffers_and_allocates_nothing_in_steady_state)
{
    kn_graph *g = sigmoid_chain();
    kn_session *s0, *s2;
    t_session_pair(g, 2, "fuse_activation", &s0, &s2);
    kn_tensor x = t_new_rand(5, -1, 1, 2, 32, 8);
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(s0, ins, 1));
    T_OK(kn_session_run(s2, ins, 1));
    cr_assert(kn_session_memory_planned(s2));
    cr_assert_lt(kn_session_activation_bytes(s2), kn_session_activation_bytes(s0),
                 "planned %zu bytes vs %zu unplanned", kn_session_activation_bytes(s2), kn_session_activation_bytes(s0));
    T_OK(kn_session_run(s2, ins, 1));
    int64_t before = kn_alloc_count();
    for (int i = 0; i < 5; i++) T_OK(kn_session_run(s2, ins, 1));
    cr_assert_eq(kn_alloc_count(), before, "steady-state runs allocate nothing");
    const kn_tensor *a = kn_session_output(s0, 0), *b = kn_session_output(s2, 0);
    T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), 1e-6, 1e-7);
    /* a new batch size re-plans and still matches */
    kn_tensor x2 = t_new_rand(6, -1, 1, 2, 3, 8);
    const kn_tensor *ins2[1] = {&x2};
    T_OK(kn_session_run(s0, ins2, 1));
    T_OK(kn_session_run(s2, ins2, 1));
    a = kn_session_output(s0, 0);
    b = kn_session_output(s2, 0);
    cr_assert_eq(b->shape[0], 3);
    T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), 1e-6, 1e-7);
    kn_session_free(s0);
    kn_session_free(s2);
    kn_tensor_release(&x);
    kn_tensor_release(&x2);
    kn_graph_free(g);
}

/* With the default plan_min_bytes the arena is made only for activations over
 * KN_PLAN_MIN_BYTES: a small batch keeps its own buffers (and still allocates nothing in
 * steady state), a large one of the same graph is planned, and both compute the same. */
Test(passes, memory_plan_only_above_plan_min_bytes)
{
    kn_graph *g = sigmoid_chain();
    kn_session_opts o = kn_session_defaults();
    cr_assert_eq(o.plan_min_bytes, KN_PLAN_MIN_BYTES);
    o.level = 2;
    o.disabled_passes = "fuse_activation";
    kn_session *s, *s0 = t_session_on(g, KN_CPU, 0, false, 0);
    T_OK(kn_session_create(&s, g, &o));
    const int64_t rows[3] = {32, 4096, 32};
    for (int r = 0; r < 3; r++) {
        kn_tensor x = t_new_rand(7 + r, -1, 1, 2, rows[r], 8);
        const kn_tensor *ins[1] = {&x};
        T_OK(kn_session_run(s0, ins, 1));
        T_OK(kn_session_run(s, ins, 1));
        const bool big = (size_t)rows[r] * 32 * 12 > KN_PLAN_MIN_BYTES;
        cr_assert_eq(kn_session_memory_planned(s), big, "%lld rows: planned %d", (long long)rows[r],
                     kn_session_memory_planned(s));
        const kn_tensor *a = kn_session_output(s0, 0), *b = kn_session_output(s, 0);
        T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), 1e-6, 1e-7);
        int64_t before = kn_alloc_count();
        for (int i = 0; i < 3; i++) T_OK(kn_session_run(s, ins, 1));
        cr_assert_eq(kn_alloc_count(), before, "%lld rows: steady-state runs allocate nothing", (long long)rows[r]);
        kn_tensor_release(&x);
    }
    kn_session_free(s);
    kn_session_free(s0);
    kn_graph_free(g);
}

static int hardsigmoid_mul_graph(kn_graph **out, float alpha)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    int node, h = kn_node1(g, "HardSigmoid", 1, &x, &node);
    T_OK(kn_node_set_float(g, node, "alpha", alpha));
    T_OK(kn_node_set_float(g, node, "beta", 0.5f));
    h = kn_node_done(g, h);
    kn_output(g, kn_node_done(g, kn_node1(g, "Mul", 2, (int[]){h, x}, NULL)));
    T_OK(kn_graph_status(g));
    *out = g;
    return 0;
}

Test(passes, hardsigmoid_times_x_becomes_hardswish)
{
    kn_graph *g, *c;
    hardsigmoid_mul_graph(&g, 1.0f / 6.0f);
    T_OK(kn_graph_clone(&c, g));
    T_OK(kn_graph_optimize(c, 2, NULL, NULL));
    cr_assert_eq(count_op(c, "HardSwish"), 1);
    cr_assert_eq(count_op(c, "HardSigmoid") + count_op(c, "Mul"), 0);
    kn_session *s0, *s2;
    t_session_pair(g, 2, NULL, &s0, &s2);
    kn_tensor x = t_new_rand(4, -5, 5, 2, 3, 8);
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(s0, ins, 1));
    T_OK(kn_session_run(s2, ins, 1));
    T_ASSERT_CLOSE(kn_session_output(s2, 0)->data, kn_session_output(s0, 0)->data, 24, 1e-6, 1e-6);
    kn_session_free(s0);
    kn_session_free(s2);
    kn_tensor_release(&x);
    kn_graph_free(c);
    kn_graph_free(g);
    /* another slope is not HardSwish: left alone */
    hardsigmoid_mul_graph(&g, 0.2f);
    T_OK(kn_graph_optimize(g, 2, NULL, NULL));
    cr_assert_eq(count_op(g, "HardSwish"), 0);
    cr_assert_eq(count_op(g, "HardSigmoid"), 1);
    kn_graph_free(g);
}

/* Constant Gemm weights with a multiple of 16 outputs are stored transposed (transB
 * 1 -> 0) at level 2, in a new initializer; fc3 (4 outputs) and a B fed by the caller
 * are left alone. */
Test(passes, gemm_weights_pretransposed)
{
    kn_graph *g = mlp_graph();
    kn_pass_report r;
    kn_graph *c = optimized_clone(g, 2, &r);
    int changes = -1;
    for (int i = 0; i < r.n; i++)
        if (!strcmp(r.passes[i].name, "pretranspose_gemm")) changes = r.passes[i].changes;
    cr_assert_eq(changes, 2);
    bool checked = false;
    for (int i = 0; i < c->n_nodes; i++) {
        const kn_node *n = &c->nodes[i];
        if (n->dead || !strstr(n->op_type, "Gemm")) continue;
        int64_t tb = -1;
        T_OK(kn_attr_int(n, "transB", 0, &tb));
        cr_assert_eq(tb, strstr(n->name, "fc3") == n->name ? 1 : 0, "%s: transB %lld", n->name, (long long)tb);
        const kn_value *w = &c->values[n->inputs[1]], *orig = &g->values[kn_graph_find_value(g, "fc1.weight")];
        if (strstr(n->name, "fc1") == n->name) { /* W^T [8, 16] of fc1.weight [16, 8] */
            cr_assert(w->data.shape[0] == 8 && w->data.shape[1] == 16);
            cr_assert_eq(((float *)w->data.data)[1 * 16 + 2], ((float *)orig->data.data)[2 * 8 + 1]);
            checked = true;
        }
    }
    cr_assert(checked, "no Gemm node named fc1...");
    run_and_compare(g, 2, NULL, 6);
    kn_graph_free(c);
    kn_graph_free(g);
    /* B from a graph input: nothing to transpose ahead of time */
    T_OK(kn_graph_create(&g));
    int x = kn_input(g, "x", KN_FLOAT, 2, (int64_t[]){KN_DIM_UNKNOWN, 8});
    int b = kn_input(g, "b", KN_FLOAT, 2, (int64_t[]){4, 8});
    int node, y = kn_node1(g, "Gemm", 2, (int[]){x, b}, &node);
    T_OK(kn_node_set_int(g, node, "transB", 1));
    kn_output(g, kn_node_done(g, y));
    T_OK(kn_graph_optimize(g, 2, NULL, &r));
    int64_t tb = -1;
    T_OK(kn_attr_int(&g->nodes[node], "transB", 0, &tb));
    cr_assert_eq(tb, 1);
    kn_graph_free(g);
}

/* x[-1,3,12,11] -> conv 5@3x3 pad 1 -> relu -> maxpool; `mode` picks what else follows:
 * 0 nothing, 1 a padded pool (not fusable), 2 the conv output also feeds an Add. */
static kn_graph *conv_pool_graph(int mode)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 9);
    int x = kn_input(g, "x", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 3, 12, 11});
    kn_conv2d_opts co = kn_conv2d_defaults(3);
    co.pad = 1;
    int c = kn_conv2d(g, x, 5, &co, "conv");
    int r = kn_relu(g, c);
    int p = mode == 1 ? kn_maxpool2d(g, r, 3, 2, 1) : kn_maxpool2d(g, r, 2, 2, 0);
    kn_output(g, p);
    if (mode == 2) kn_output(g, kn_add(g, c, c));
    T_OK(kn_graph_status(g));
    return g;
}

/* Every output of g at -O 0 and -O 2 on input x (x is released). */
static void compare_levels_on(const kn_graph *g, kn_tensor x, double rtol, double atol)
{
    kn_session *s0, *s2;
    t_session_pair(g, 2, NULL, &s0, &s2);
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(s0, ins, 1));
    T_OK(kn_session_run(s2, ins, 1));
    for (int i = 0; i < g->n_outputs; i++) {
        const kn_tensor *a = kn_session_output(s0, i), *b = kn_session_output(s2, i);
        cr_assert(kn_tensor_same_shape(a, b));
        T_ASSERT_CLOSE(b->data, a->data, kn_tensor_numel(a), rtol, atol);
    }
    kn_session_free(s0);
    kn_session_free(s2);
    kn_tensor_release(&x);
}

static void compare_levels_4d(const kn_graph *g, int batch)
{
    compare_levels_on(g, t_new_rand(13, -1, 1, 4, batch, 3, 12, 11), 1e-5, 1e-6);
}

/* The optimized graph o exported and read back has no kiln ops and computes what g does
 * on x (x is released); returns the read-back graph for op counts. */
static kn_graph *exported_matches(const kn_graph *g, const kn_graph *o, kn_tensor x)
{
    void *buf;
    size_t len;
    T_OK(kn_onnx_save_buffer(o, NULL, &buf, &len));
    kn_graph *back;
    T_OK(kn_onnx_load_buffer(buf, len, NULL, &back));
    free(buf);
    cr_assert_eq(count_op(back, "FusedConv"), 0);
    kn_session *sa, *sb;
    kn_session_opts so = kn_session_defaults();
    T_OK(kn_session_create(&sa, g, &so));
    T_OK(kn_session_create(&sb, back, &so));
    const kn_tensor *ins[1] = {&x};
    T_OK(kn_session_run(sa, ins, 1));
    T_OK(kn_session_run(sb, ins, 1));
    for (int i = 0; i < g->n_outputs; i++) {
        const kn_tensor *ya = kn_session_output(sa, i);
        T_ASSERT_CLOSE(kn_session_output(sb, i)->data, ya->data, kn_tensor_numel(ya), 1e-5, 1e-6);
    }
    kn_session_free(sa);
    kn_session_free(sb);
    kn_tensor_release(&x);
    return back;
}

/* Conv + ReLU + unpadded MaxPool become one FusedConv with a pooling epilogue, equal to
 * the unfused graph for one image (whole-batch path) and several (per-image path), and
 * it exports back to standard Conv + Relu + MaxPool. */
Test(passes, conv_relu_maxpool_fuses_and_exports)
{
    kn_graph *g = conv_pool_graph(0), *c;
    T_OK(kn_graph_clone(&c, g));
    T_OK(kn_graph_optimize(c, 2, NULL, NULL));
    cr_assert_eq(count_op(c, "MaxPool"), 0);
    cr_assert_eq(count_op(c, "FusedConv"), 1);
    for (int i = 0; i < c->n_nodes; i++)
        if (!c->nodes[i].dead && !strcmp(c->nodes[i].op_type, "FusedConv"))
            cr_assert(kn_node_attr(&c->nodes[i], "pool_kernel_shape"), "no pooling on %s", c->nodes[i].name);
    compare_levels_4d(g, 1);
    compare_levels_4d(g, 5);
    /* export the optimized graph: standard ops, same outputs */
    kn_graph *back = exported_matches(g, c, t_new_rand(17, -1, 1, 4, 3, 3, 12, 11));
    cr_assert_eq(count_op(back, "MaxPool"), 1);
    cr_assert_eq(count_op(back, "Relu"), 1);
    kn_graph_free(back);
    kn_graph_free(c);
    kn_graph_free(g);
}

/* With 16 output channels the packed kernel runs the convolution: unpadded, it pools in
 * its registers; padded, the op convolves into scratch and pools (the kernel refuses
 * padding). Both equal the unfused graph, on one image and several. */
Test(passes, packed_conv_pool_padded_and_unpadded)
{
    for (int64_t pad = 0; pad <= 1; pad++) {
        kn_graph *g;
        T_OK(kn_graph_create(&g));
        kn_graph_seed(g, 31);
        int x = kn_input(g, "x", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 3, 12, 11});
        kn_conv2d_opts co = kn_conv2d_defaults(3);
        co.pad = pad;
        kn_output(g, kn_maxpool2d(g, kn_relu(g, kn_conv2d(g, x, 16, &co, "conv")), 2, 2, 0));
        T_OK(kn_graph_status(g));
        kn_graph *o = optimized_clone(g, 2, NULL);
        cr_assert_eq(count_op(o, "MaxPool"), 0, "pad %lld: the pool is fused", (long long)pad);
        compare_levels_4d(g, 1);
        compare_levels_4d(g, 5);
        kn_graph_free(o);
        kn_graph_free(g);
    }
}

Test(passes, padded_pool_or_shared_conv_output_is_not_fused)
{
    for (int mode = 1; mode <= 2; mode++) {
        kn_graph *g = conv_pool_graph(mode), *c;
        T_OK(kn_graph_clone(&c, g));
        T_OK(kn_graph_optimize(c, 2, NULL, NULL));
        cr_assert_eq(count_op(c, "MaxPool"), 1, "mode %d: the pool stays", mode);
        compare_levels_4d(g, 4);
        kn_graph_free(c);
        kn_graph_free(g);
    }
}

/* x[-1,C,10,10] -> A: conv 16@3x3 stride 2 pad 1 -> relu -> B: conv 16@3x3 pad 1, added
 * to S: conv 16@1x1 stride 2 of x, -> relu (a ResNet downsampling block). `mode` changes
 * the shortcut: 0 as in ResNet, 1 padded (pad 1, stride 2: 6x6, not A's 5x5), 2 stride 1
 * (10x10), 3 a 3x3 window, 4 8 output channels, 5 followed by its own Relu. */
static kn_graph *shortcut_graph(int64_t c, int mode)
{
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    kn_graph_seed(g, 21);
    int x = kn_input(g, "x", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, c, 10, 10});
    kn_conv2d_opts co = kn_conv2d_defaults(3);
    co.pad = 1;
    co.stride = 2;
    int a = kn_relu(g, kn_conv2d(g, x, 16, &co, "a"));
    co.stride = 1;
    int b = kn_conv2d(g, a, 16, &co, "b");
    kn_conv2d_opts so = kn_conv2d_defaults(mode == 3 ? 3 : 1);
    so.stride = mode == 2 ? 1 : 2;
    so.pad = mode == 1 || mode == 3 ? 1 : 0;
    int s = kn_conv2d(g, x, mode == 4 ? 8 : 16, &so, "shortcut");
    if (mode == 5) s = kn_relu(g, s);
    if (mode == 0 || mode == 3 || mode == 5) kn_output(g, kn_relu(g, kn_add(g, b, s)));
    else {
        kn_output(g, b);
        kn_output(g, s);
    }
    T_OK(kn_graph_status(g));
    return g;
}

static int side_convs(const kn_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += !g->nodes[i].dead && g->nodes[i].n_outputs == 2 && !strcmp(g->nodes[i].op_type, "FusedConv");
    return n;
}

static void compare_shortcut(const kn_graph *g, int64_t c, int batch)
{
    compare_levels_on(g, t_new_rand(23, -1, 1, 4, batch, c, 10, 10), 1e-4, 1e-5);
}

/* The shortcut rides along A: one FusedConv with two outputs, equal to the unfused graph
 * on one image (rows split across threads) and several, with 16 input channels (the
 * packed kernel computes both) and 8 (too few to pack: two convolutions); it exports back
 * to standard Convs that run the same. */
Test(passes, shortcut_conv_rides_along_and_exports)
{
    for (int64_t c = 8; c <= 16; c += 8) {
        kn_graph *g = shortcut_graph(c, 0), *o;
        T_OK(kn_graph_clone(&o, g));
        kn_pass_report r;
        T_OK(kn_graph_optimize(o, 2, NULL, &r));
        cr_assert_eq(side_convs(o), 1, "c=%lld: the shortcut joins conv a", (long long)c);
        cr_assert_eq(count_op(o, "Conv"), 0);
        bool reported = false;
        for (int i = 0; i < r.n; i++) reported |= !strcmp(r.passes[i].name, "fuse_side_conv") && r.passes[i].changes == 1;
        cr_assert(reported, "fuse_side_conv reports its one change");
        compare_shortcut(g, c, 1);
        compare_shortcut(g, c, 3);
        kn_graph *back = exported_matches(g, o, t_new_rand(29, -1, 1, 4, 2, c, 10, 10));
        cr_assert_eq(count_op(back, "Conv"), 3, "a, b and the shortcut are Convs again");
        kn_graph_free(back);
        kn_graph_free(o);
        kn_graph_free(g);
    }
}

Test(passes, shortcut_conv_that_does_not_fit_is_left_alone)
{
    for (int mode = 1; mode <= 5; mode++) {
        kn_graph *g = shortcut_graph(16, mode), *o;
        T_OK(kn_graph_clone(&o, g));
        T_OK(kn_graph_optimize(o, 2, NULL, NULL));
        cr_assert_eq(side_convs(o), 0, "mode %d: the shortcut stays its own node", mode);
        compare_shortcut(g, 16, 2);
        kn_graph_free(o);
        kn_graph_free(g);
    }
}
