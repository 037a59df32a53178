/* Convolution: the CPU conv2d kernels against direct loops (forward with the
 * bias/residual/activation epilogue, both backward kernels, accumulation), and
 * the Conv, FusedConv and ConvTranspose ops: ONNX attribute semantics (cases
 * ported from the official backend node tests), finite-difference gradients,
 * shape inference with unknown dims, and errors naming the node. */
#include "helpers.h"
#include "core/cpu/cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t dil)
{
    return (in + p0 + p1 - dil * (k - 1) - 1) / s + 1;
}

static void finish_desc(kn_conv2d_desc *d)
{
    d->oh = out_dim(d->h, d->kh, d->stride_h, d->pad_t, d->pad_b, d->dil_h);
    d->ow = out_dim(d->w, d->kw, d->stride_w, d->pad_l, d->pad_r, d->dil_w);
}

/* Direct convolution; the tap (oy,ox,ky,kx) reads x[iy, ix] when inside the image. */
#define FOR_TAPS(d)                                                                                    \
    for (int64_t n = 0; n < (d)->n; n++)                                                               \
        for (int64_t o = 0; o < (d)->oc; o++)                                                          \
            for (int64_t oy = 0; oy < (d)->oh; oy++)                                                   \
                for (int64_t ox = 0; ox < (d)->ow; ox++)                                               \
                    for (int64_t ci = 0; ci < (d)->c / (d)->group; ci++)                               \
                        for (int64_t ky = 0; ky < (d)->kh; ky++)                                       \
                            for (int64_t kx = 0; kx < (d)->kw; kx++)

#define TAP_INDICES(d)                                                                                 \
    const int64_t cg = (d)->c / (d)->group, ocg = (d)->oc / (d)->group, g = o / ocg;                   \
    const int64_t iy = oy * (d)->stride_h - (d)->pad_t + ky * (d)->dil_h;                              \
    const int64_t ix = ox * (d)->stride_w - (d)->pad_l + kx * (d)->dil_w;                              \
    const int64_t yi = ((n * (d)->oc + o) * (d)->oh + oy) * (d)->ow + ox;                              \
    const int64_t wi = ((o * cg + ci) * (d)->kh + ky) * (d)->kw + kx;                                  \
    const int64_t xi = ((n * (d)->c + g * cg + ci) * (d)->h + iy) * (d)->w + ix;                       \
    const bool inside = iy >= 0 && iy < (d)->h && ix >= 0 && ix < (d)->w;

static void ref_fwd(const kn_conv2d_desc *d, const float *x, const float *w, const float *b, const float *res,
                    bool relu, float *y)
{
    int64_t ny = d->n * d->oc * d->oh * d->ow;
    double *acc = calloc((size_t)ny, sizeof *acc);
    FOR_TAPS(d) {
        TAP_INDICES(d);
        if (inside) acc[yi] += (double)x[xi] * w[wi];
    }
    for (int64_t i = 0; i < ny; i++) {
        int64_t o = i / (d->oh * d->ow) % d->oc;
        double v = acc[i] + (b ? b[o] : 0) + (res ? res[i] : 0);
        y[i] = (float)(relu && v < 0 ? 0 : v);
    }
    free(acc);
}

static void ref_bwd(const kn_conv2d_desc *d, const float *x, const float *w, const float *gy, float *gx, float *gw,
                    float *gb)
{
    FOR_TAPS(d) {
        TAP_INDICES(d);
        if (!inside) continue;
        gx[xi] += gy[yi] * w[wi];
        gw[wi] += gy[yi] * x[xi];
    }
    for (int64_t i = 0; i < d->n * d->oc * d->oh * d->ow; i++) gb[i / (d->oh * d->ow) % d->oc] += gy[i];
}

static float *frand(int64_t n, uint64_t seed)
{
    kn_rng r;
    kn_rng_seed(&r, seed);
    float *p = kn_host_alloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = 2.0f * kn_rng_uniform(&r) - 1.0f;
    return p;
}

static void check_kernels(kn_conv2d_desc d)
{
    finish_desc(&d);
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const int64_t nx = d.n * d.c * d.h * d.w, nw = d.oc * (d.c / d.group) * d.kh * d.kw, ny = d.n * d.oc * d.oh * d.ow;
    float *x = frand(nx, 1), *w = frand(nw, 2), *b = frand(d.oc, 3), *res = frand(ny, 4), *gy = frand(ny, 5);
    float *y = frand(ny, 6), *ref = frand(ny, 7);
    void *ws = kn_host_alloc(k->conv2d_workspace(&d) + 1);
    /* full epilogue */
    kn_epilogue ep = {.bias = b, .bias_per_row = true, .residual = res, .act = KN_ACT_RELU};
    T_OK(k->conv2d_fwd(&d, x, w, y, &ep, ws));
    ref_fwd(&d, x, w, b, res, true, ref);
    T_ASSERT_CLOSE(y, ref, ny, 1e-4, 1e-5);
    /* no epilogue */
    T_OK(k->conv2d_fwd(&d, x, w, y, NULL, ws));
    ref_fwd(&d, x, w, NULL, NULL, false, ref);
    T_ASSERT_CLOSE(y, ref, ny, 1e-4, 1e-5);
    /* backward kernels accumulate onto what the buffers hold */
    float *gx = kn_host_alloc(sizeof(float) * (size_t)nx), *gw = kn_host_alloc(sizeof(float) * (size_t)nw);
    float *gb = kn_host_alloc(sizeof(float) * (size_t)d.oc);
    float *rgx = kn_host_alloc(sizeof(float) * (size_t)nx), *rgw = kn_host_alloc(sizeof(float) * (size_t)nw);
    float *rgb = kn_host_alloc(sizeof(float) * (size_t)d.oc);
    for (int64_t i = 0; i < nx; i++) gx[i] = rgx[i] = 0.5f;
    for (int64_t i = 0; i < nw; i++) gw[i] = rgw[i] = 0.25f;
    for (int64_t i = 0; i < d.oc; i++) gb[i] = rgb[i] = -1.0f;
    T_OK(k->conv2d_bwd_data(&d, w, gy, gx, ws));
    T_OK(k->conv2d_bwd_filter(&d, x, gy, gw, gb, ws));
    ref_bwd(&d, x, w, gy, rgx, rgw, rgb);
    T_ASSERT_CLOSE(gx, rgx, nx, 1e-4, 1e-4);
    T_ASSERT_CLOSE(gw, rgw, nw, 1e-4, 1e-4);
    T_ASSERT_CLOSE(gb, rgb, d.oc, 1e-4, 1e-4);
    /* gb may be NULL */
    T_OK(k->conv2d_bwd_filter(&d, x, gy, gw, NULL, ws));
    float *bufs[] = {x, w, b, res, gy, y, ref, gx, gw, gb, rgx, rgw, rgb};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kn_host_free(bufs[i]);
    kn_host_free(ws);
}

/* Strides, dilations and group left at 0 mean 1. */
static kn_conv2d_desc with_defaults(kn_conv2d_desc d)
{
    int64_t *ones[] = {&d.stride_h, &d.stride_w, &d.dil_h, &d.dil_w, &d.group};
    for (size_t i = 0; i < sizeof ones / sizeof *ones; i++)
        if (!*ones[i]) *ones[i] = 1;
    return d;
}
#define DESC(...) with_defaults((kn_conv2d_desc){__VA_ARGS__})

Test(conv_kernel, basic_pad1)
{
    check_kernels(DESC(.n = 3, .c = 3, .h = 7, .w = 6, .oc = 4, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
}
Test(conv_kernel, single_image)
{
    check_kernels(DESC(.n = 1, .c = 2, .h = 9, .w = 8, .oc = 5, .kh = 3, .kw = 2, .pad_t = 1, .pad_b = 0, .pad_l = 0, .pad_r = 1));
}
Test(conv_kernel, stride_dilation_asym_pads_groups)
{
    check_kernels(DESC(.n = 4, .c = 4, .h = 11, .w = 9, .oc = 6, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 3, .dil_h = 2,
                       .dil_w = 2, .pad_t = 1, .pad_l = 0, .pad_b = 2, .pad_r = 3, .group = 2));
}
Test(conv_kernel, depthwise)
{
    check_kernels(DESC(.n = 2, .c = 4, .h = 6, .w = 6, .oc = 8, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
                       .group = 4));
}
Test(conv_kernel, pointwise_fast_path)
{
    check_kernels(DESC(.n = 3, .c = 5, .h = 4, .w = 5, .oc = 3, .kh = 1, .kw = 1));
    check_kernels(DESC(.n = 2, .c = 6, .h = 4, .w = 3, .oc = 4, .kh = 1, .kw = 1, .group = 2));
}
/* Pointwise convs at dwsep's shapes, one image and several, odd channel counts. */
Test(conv_kernel, pointwise_shapes)
{
    check_kernels(DESC(.n = 3, .c = 16, .h = 14, .w = 14, .oc = 32, .kh = 1, .kw = 1));
    check_kernels(DESC(.n = 1, .c = 32, .h = 7, .w = 7, .oc = 64, .kh = 1, .kw = 1));
    check_kernels(DESC(.n = 2, .c = 3, .h = 4, .w = 5, .oc = 33, .kh = 1, .kw = 1));
    check_kernels(DESC(.n = 1, .c = 64, .h = 32, .w = 32, .oc = 64, .kh = 1, .kw = 1));
}
Test(conv_kernel, pointwise_strided)
{
    check_kernels(DESC(.n = 2, .c = 3, .h = 7, .w = 5, .oc = 2, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2));
}
Test(conv_kernel, lenet_shapes)
{
    check_kernels(DESC(.n = 5, .c = 1, .h = 28, .w = 28, .oc = 6, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2));
    check_kernels(DESC(.n = 5, .c = 6, .h = 14, .w = 14, .oc = 16, .kh = 5, .kw = 5));
}
/* The AVX-512 fast paths: tiny-M direct kernels (oc <= 8, kw 3/5/7, channel blocks of 3
 * with remainders, one and two vectors per row), short-row im2col (ow < 16, no padding)
 * and gather-form col2im. */
Test(conv_kernel, fast_path_shapes)
{
    check_kernels(DESC(.n = 3, .c = 2, .h = 12, .w = 20, .oc = 7, .kh = 7, .kw = 7, .pad_t = 3, .pad_l = 3, .pad_b = 3, .pad_r = 3));
    check_kernels(DESC(.n = 3, .c = 3, .h = 6, .w = 9, .oc = 5, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 0, .pad_b = 0, .pad_r = 2));
    check_kernels(DESC(.n = 3, .c = 2, .h = 9, .w = 10, .oc = 9, .kh = 3, .kw = 3));
    check_kernels(DESC(.n = 2, .c = 2, .h = 7, .w = 6, .oc = 12, .kh = 2, .kw = 4));
}
/* The direct forward over blocks of 8 output channels (groups 1, stride 1 or 2, kw
 * 3/5/7, rows of <= 32 outputs): remainder blocks, one vector per row (ow <= 16) and two,
 * row widths at the 16-lane boundary, asymmetric padding, and one image split by channel
 * blocks across threads. */
Test(conv_kernel, direct_forward_shapes)
{
    const int before = kn_get_num_threads();
    kn_set_num_threads(2);
    check_kernels(DESC(.n = 3, .c = 5, .h = 14, .w = 14, .oc = 19, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_kernels(DESC(.n = 2, .c = 3, .h = 16, .w = 16, .oc = 11, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2));
    check_kernels(DESC(.n = 2, .c = 2, .h = 17, .w = 17, .oc = 7, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_kernels(DESC(.n = 2, .c = 2, .h = 9, .w = 25, .oc = 9, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_kernels(DESC(.n = 2, .c = 4, .h = 20, .w = 30, .oc = 24, .kh = 7, .kw = 7, .pad_t = 0, .pad_l = 3, .pad_b = 2, .pad_r = 1));
    check_kernels(DESC(.n = 1, .c = 24, .h = 30, .w = 31, .oc = 40, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    /* stride 2 (phase-split rows): both axes, one axis, odd and even left pads, 7x7 */
    check_kernels(DESC(.n = 2, .c = 3, .h = 15, .w = 29, .oc = 10, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1,
                       .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_kernels(DESC(.n = 2, .c = 2, .h = 9, .w = 64, .oc = 9, .kh = 5, .kw = 5, .stride_h = 1, .stride_w = 2, .pad_t = 2,
                       .pad_l = 2, .pad_b = 2, .pad_r = 1));
    check_kernels(DESC(.n = 3, .c = 2, .h = 20, .w = 13, .oc = 6, .kh = 5, .kw = 3, .stride_h = 2, .stride_w = 1, .pad_t = 0,
                       .pad_l = 0, .pad_b = 1, .pad_r = 0));
    check_kernels(DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 7, .kw = 7, .stride_h = 2, .stride_w = 2, .pad_t = 3,
                       .pad_l = 3, .pad_b = 3, .pad_r = 3));
    kn_set_num_threads(before);
}
Test(conv_kernel, one_dimensional)
{
    check_kernels(DESC(.n = 2, .c = 3, .h = 1, .w = 13, .oc = 2, .kh = 1, .kw = 4, .stride_w = 2, .pad_l = 2, .pad_r = 1));
}
Test(conv_kernel, bad_geometry_is_an_error)
{
    kn_conv2d_desc d = DESC(.n = 1, .c = 3, .h = 4, .w = 4, .oc = 4, .kh = 3, .kw = 3, .group = 2);
    finish_desc(&d);
    float buf[64] = {0};
    cr_assert_eq(kn_kernels_get(KN_CPU)->conv2d_fwd(&d, buf, buf, buf, NULL, buf), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "group=2") != NULL, "%s", kn_last_error());
}

/* ---- the Conv op ---- */

static int conv_graph(kn_graph **g, const char *op, const char *domain, int n_in, kn_tensor *const *in)
{
    int ids[4], out, node;
    T_OK(kn_graph_create(g));
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (!in[i]) { ids[i] = KN_NO_VALUE; continue; }
        T_OK(kn_graph_add_input(*g, name, in[i]->dtype, in[i]->ndim, in[i]->shape, &ids[i]));
    }
    T_OK(kn_graph_add_value(*g, "out0", KN_UNDEFINED, -1, NULL, &out));
    T_OK(kn_graph_add_node(*g, op, domain, "n0", n_in, ids, 1, &out, &node));
    T_OK(kn_graph_add_output(*g, out));
    return node;
}

static void set_ints(kn_graph *g, int node, const char *name, int n, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t v[4] = {a, b, c, d};
    T_OK(kn_node_set_ints(g, node, name, n, v));
}

/* Conv 2-D with strides, asymmetric pads, dilations and groups against the reference. */
Test(conv_op, attributes_match_reference_and_gradients)
{
    kn_tensor x = t_new_rand(11, -1, 1, 4, 2, 4, 6, 5), w = t_new_rand(12, -1, 1, 4, 4, 2, 2, 3), b = t_new_rand(13, -1, 1, 1, 4);
    kn_tensor *in[3] = {&x, &w, &b};
    kn_graph *g;
    int node = conv_graph(&g, "Conv", "", 3, in);
    set_ints(g, node, "strides", 2, 2, 1, 0, 0);
    set_ints(g, node, "pads", 4, 1, 0, 0, 2);
    set_ints(g, node, "dilations", 2, 1, 2, 0, 0);
    T_OK(kn_node_set_int(g, node, "group", 2));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    kn_conv2d_desc d = DESC(.n = 2, .c = 4, .h = 6, .w = 5, .oc = 4, .kh = 2, .kw = 3, .stride_h = 2, .dil_w = 2,
                            .pad_t = 1, .pad_r = 2, .group = 2);
    finish_desc(&d);
    cr_assert_eq(outs[0].ndim, 4);
    cr_assert(outs[0].shape[2] == d.oh && outs[0].shape[3] == d.ow, "out %lldx%lld", (long long)outs[0].shape[2],
              (long long)outs[0].shape[3]);
    float ref[256];
    ref_fwd(&d, x.data, w.data, b.data, NULL, false, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    t_gradcheck(g, node, in, 7, true, 1e-2f, 1e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b);
    kn_graph_free(g);
}

Test(conv_op, one_dimensional_with_gradients)
{
    kn_tensor x = t_new_rand(21, -1, 1, 3, 2, 3, 9), w = t_new_rand(22, -1, 1, 3, 2, 3, 3);
    kn_tensor *in[2] = {&x, &w};
    kn_graph *g;
    int node = conv_graph(&g, "Conv", "", 2, in);
    set_ints(g, node, "strides", 1, 2, 0, 0, 0);
    set_ints(g, node, "pads", 2, 1, 2, 0, 0);
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    kn_conv2d_desc d = DESC(.n = 2, .c = 3, .h = 1, .w = 9, .oc = 2, .kh = 1, .kw = 3, .stride_w = 2, .pad_l = 1, .pad_r = 2);
    finish_desc(&d);
    cr_assert_eq(outs[0].ndim, 3);
    cr_assert_eq(outs[0].shape[2], d.ow);
    float ref[64];
    ref_fwd(&d, x.data, w.data, NULL, NULL, false, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    t_gradcheck(g, node, in, 3, true, 1e-2f, 1e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&w);
    kn_graph_free(g);
}

/* Official node tests test_conv_with_autopad_same and ..._asymmetric_padding. */
static void onnx_case(int h, int w, const char *auto_pad, const int64_t *pads, const float *expect, int eh, int ew)
{
    kn_tensor x = t_new(4, 1, 1, h, w), wt = t_new(4, 1, 1, 3, 3);
    for (int i = 0; i < h * w; i++) ((float *)x.data)[i] = (float)i;
    for (int i = 0; i < 9; i++) ((float *)wt.data)[i] = 1.0f;
    kn_tensor *in[2] = {&x, &wt};
    kn_graph *g;
    int node = conv_graph(&g, "Conv", "", 2, in);
    set_ints(g, node, "kernel_shape", 2, 3, 3, 0, 0);
    set_ints(g, node, "strides", 2, 2, 2, 0, 0);
    if (auto_pad) T_OK(kn_node_set_string(g, node, "auto_pad", auto_pad));
    if (pads) T_OK(kn_node_set_ints(g, node, "pads", 4, pads));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert(outs[0].shape[2] == eh && outs[0].shape[3] == ew);
    T_ASSERT_CLOSE(outs[0].data, expect, eh * ew, 0, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&x); kn_tensor_release(&wt);
    kn_graph_free(g);
}

Test(conv_op, onnx_autopad_same_lower)
{
    const float e[9] = {12, 27, 24, 63, 108, 81, 72, 117, 84};
    onnx_case(5, 5, "SAME_LOWER", NULL, e, 3, 3);
}

Test(conv_op, onnx_asymmetric_padding)
{
    const int64_t pads[4] = {1, 0, 1, 0};
    const float e[8] = {21, 33, 99, 117, 189, 207, 171, 183};
    onnx_case(7, 5, NULL, pads, e, 4, 2);
}

static kn_status infer_only(const char *op, int n_in, const kn_tensor *meta, kn_tensor *out, int64_t group)
{
    kn_graph *g;
    int node = t_single_node_graph(&g, op, n_in, meta, 1);
    if (group > 1) T_OK(kn_node_set_int(g, node, "group", group));
    kn_tensor tin[4], *in[4], *o[1] = {out};
    for (int i = 0; i < n_in; i++) { tin[i] = meta[i]; in[i] = &tin[i]; }
    kn_status st = kn_node_infer(g, &g->nodes[node], in, o);
    kn_graph_free(g);
    return st;
}

Test(conv_op, channel_mismatch_names_node_and_shapes)
{
    kn_tensor meta[2], out;
    int64_t xs[4] = {1, 6, 8, 8}, ws[4] = {6, 2, 3, 3};
    kn_tensor_meta(&meta[0], KN_FLOAT, 4, xs);
    kn_tensor_meta(&meta[1], KN_FLOAT, 4, ws);
    cr_assert_eq(infer_only("Conv", 2, meta, &out, 1), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "node 'n0' (Conv)") && strstr(kn_last_error(), "[6,2,3,3]") &&
              strstr(kn_last_error(), "[1,6,8,8]"), "%s", kn_last_error());
    T_OK(infer_only("Conv", 2, meta, &out, 3)); /* 6 channels = 2 per group x 3 groups */
    cr_assert_eq(infer_only("Conv", 2, meta, &out, 2), KN_ERR_SHAPE); /* 2 per group x 2 groups != 6 */
}

Test(conv_op, three_d_infers_and_double_is_unsupported)
{
    kn_tensor meta[2], out;
    int64_t xs[5] = {1, 2, 4, 4, 4}, ws[5] = {3, 2, 3, 3, 3};
    kn_tensor_meta(&meta[0], KN_FLOAT, 5, xs);
    kn_tensor_meta(&meta[1], KN_FLOAT, 5, ws);
    T_OK(infer_only("Conv", 2, meta, &out, 1)); /* 3-D runs on the N-d kernels */
    cr_assert(out.ndim == 5 && out.shape[1] == 3 && out.shape[2] == 2 && out.shape[4] == 2);
    kn_tensor_meta(&meta[0], KN_DOUBLE, 4, xs);
    kn_tensor_meta(&meta[1], KN_FLOAT, 4, ws);
    cr_assert_eq(infer_only("Conv", 2, meta, &out, 1), KN_ERR_UNSUPPORTED);
    cr_assert(strstr(kn_last_error(), "double"), "%s", kn_last_error());
}

Test(conv_op, kernel_shape_must_match_w)
{
    kn_tensor meta[2], out;
    int64_t xs[4] = {1, 2, 8, 8}, ws[4] = {3, 2, 3, 3};
    kn_tensor_meta(&meta[0], KN_FLOAT, 4, xs);
    kn_tensor_meta(&meta[1], KN_FLOAT, 4, ws);
    kn_graph *g;
    int node = t_single_node_graph(&g, "Conv", 2, meta, 1);
    set_ints(g, node, "kernel_shape", 2, 5, 5, 0, 0);
    kn_tensor *in[2] = {&meta[0], &meta[1]}, *o[1] = {&out};
    cr_assert_eq(kn_node_infer(g, &g->nodes[node], in, o), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "kernel_shape"), "%s", kn_last_error());
    kn_graph_free(g);
}

Test(conv_op, unknown_batch_propagates)
{
    kn_graph *g;
    int x, w, y, node;
    int64_t xs[4] = {KN_DIM_UNKNOWN, 3, 16, KN_DIM_UNKNOWN}, ws[4] = {8, 3, 3, 3};
    T_OK(kn_graph_create(&g));
    T_OK(kn_graph_add_input(g, "x", KN_FLOAT, 4, xs, &x));
    kn_tensor wt;
    T_OK(kn_tensor_init(&wt, KN_FLOAT, 4, ws));
    T_OK(kn_graph_add_initializer(g, "w", &wt, KN_VALUE_PARAM, &w));
    T_OK(kn_graph_add_value(g, "y", KN_UNDEFINED, -1, NULL, &y));
    int ins[2] = {x, w};
    T_OK(kn_graph_add_node(g, "Conv", "", "c1", 2, ins, 1, &y, &node));
    set_ints(g, node, "strides", 2, 2, 2, 0, 0);
    set_ints(g, node, "pads", 4, 1, 1, 1, 1);
    T_OK(kn_graph_add_output(g, y));
    T_OK(kn_graph_infer_shapes(g));
    const kn_value *v = &g->values[y];
    cr_assert_eq(v->ndim, 4);
    cr_assert_eq(v->shape[0], KN_DIM_UNKNOWN);
    cr_assert_eq(v->shape[1], 8);
    cr_assert_eq(v->shape[2], 8);
    cr_assert_eq(v->shape[3], KN_DIM_UNKNOWN);
    kn_graph_free(g);
}

/* ---- kiln.FusedConv ---- */

Test(fused_conv, bias_residual_relu)
{
    kn_tensor x = t_new_rand(31, -1, 1, 4, 3, 4, 7, 6), w = t_new_rand(32, -1, 1, 4, 5, 4, 3, 3), b = t_new_rand(33, -1, 1, 1, 5);
    kn_tensor z = t_new_rand(34, -1, 1, 4, 3, 5, 7, 6);
    kn_tensor *in[4] = {&x, &w, &b, &z};
    kn_graph *g;
    int node = conv_graph(&g, "FusedConv", "kiln", 4, in);
    set_ints(g, node, "pads", 4, 1, 1, 1, 1);
    T_OK(kn_node_set_string(g, node, "activation", "Relu"));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    kn_conv2d_desc d = DESC(.n = 3, .c = 4, .h = 7, .w = 6, .oc = 5, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1);
    finish_desc(&d);
    static float ref[3 * 5 * 7 * 6];
    ref_fwd(&d, x.data, w.data, b.data, z.data, true, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    /* B omitted, residual present, LeakyRelu */
    kn_tensor *in2[4] = {&x, &w, NULL, &z};
    node = conv_graph(&g, "FusedConv", "kiln", 4, in2);
    set_ints(g, node, "pads", 4, 1, 1, 1, 1);
    T_OK(kn_node_set_string(g, node, "activation", "LeakyRelu"));
    float p = 0.1f;
    T_OK(kn_node_set_floats(g, node, "activation_params", 1, &p));
    T_OK(t_run_node(g, node, in2, outs, state, false));
    ref_fwd(&d, x.data, w.data, NULL, z.data, false, ref);
    for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) ref[i] = ref[i] >= 0 ? ref[i] : 0.1f * ref[i];
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b); kn_tensor_release(&z);
}

Test(fused_conv, residual_shape_is_checked)
{
    kn_tensor x = t_new(4, 1, 2, 5, 5), w = t_new(4, 3, 2, 3, 3), z = t_new(4, 1, 3, 5, 5);
    kn_tensor *in[4] = {&x, &w, NULL, &z};
    kn_graph *g;
    int node = conv_graph(&g, "FusedConv", "kiln", 4, in);
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    cr_assert_eq(t_run_node(g, node, in, outs, state, false), KN_ERR_SHAPE); /* output is [1,3,3,3] */
    cr_assert(strstr(kn_last_error(), "node 'n0' (FusedConv)") && strstr(kn_last_error(), "[1,3,5,5]"), "%s",
              kn_last_error());
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&z);
}

/* The side 1x1 (inputs Ws, Bs; output 1): Conv(X, Ws, Bs) with the node's strides, no
 * padding, beside the main convolution; run as two convolutions here (the weights are
 * inputs, not constants, so nothing is packed; the packed pair is in conv_packed and
 * test_passes). A Ws that does not fit names the node and the shapes. */
static int side_graph(kn_graph **g, kn_tensor *const *in, int n_out)
{
    int ids[6], out[2], node;
    T_OK(kn_graph_create(g));
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (!in[i]) { ids[i] = KN_NO_VALUE; continue; }
        T_OK(kn_graph_add_input(*g, name, in[i]->dtype, in[i]->ndim, in[i]->shape, &ids[i]));
    }
    for (int o = 0; o < n_out; o++) {
        char name[16];
        snprintf(name, sizeof name, "out%d", o);
        T_OK(kn_graph_add_value(*g, name, KN_UNDEFINED, -1, NULL, &out[o]));
    }
    T_OK(kn_graph_add_node(*g, "FusedConv", "kiln", "n0", 6, ids, n_out, out, &node));
    for (int o = 0; o < n_out; o++) T_OK(kn_graph_add_output(*g, out[o]));
    set_ints(*g, node, "pads", 4, 1, 1, 1, 1);
    set_ints(*g, node, "strides", 2, 2, 2, 0, 0);
    T_OK(kn_node_set_string(*g, node, "activation", "Relu"));
    return node;
}

Test(fused_conv, side_1x1_beside_the_main_convolution)
{
    kn_tensor x = t_new_rand(41, -1, 1, 4, 2, 4, 9, 8), w = t_new_rand(42, -1, 1, 4, 5, 4, 3, 3), b = t_new_rand(43, -1, 1, 1, 5);
    kn_tensor ws = t_new_rand(44, -1, 1, 4, 5, 4, 1, 1), bs = t_new_rand(45, -1, 1, 1, 5);
    kn_tensor *in[6] = {&x, &w, &b, NULL, &ws, &bs};
    kn_graph *g;
    int node = side_graph(&g, in, 2);
    kn_tensor outs[2] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    kn_conv2d_desc d = DESC(.n = 2, .c = 4, .h = 9, .w = 8, .oc = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                            .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1);
    kn_conv2d_desc sd = DESC(.n = 2, .c = 4, .h = 9, .w = 8, .oc = 5, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2);
    finish_desc(&d);
    finish_desc(&sd);
    cr_assert(d.oh == sd.oh && d.ow == sd.ow && d.oh == 5 && d.ow == 4);
    static float ref[2 * 5 * 5 * 4], sref[2 * 5 * 5 * 4];
    ref_fwd(&d, x.data, w.data, b.data, NULL, true, ref);
    ref_fwd(&sd, x.data, ws.data, bs.data, NULL, false, sref);
    cr_assert(kn_tensor_same_shape(&outs[0], &outs[1]));
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    T_ASSERT_CLOSE(outs[1].data, sref, kn_tensor_numel(&outs[1]), 1e-4, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_tensor_release(&outs[1]);
    kn_graph_free(g);
    /* Ws with 3 input channels for X's 4 */
    kn_tensor bad = t_new(4, 5, 3, 1, 1);
    kn_tensor *in2[6] = {&x, &w, &b, NULL, &bad, &bs};
    node = side_graph(&g, in2, 2);
    cr_assert_eq(t_run_node(g, node, in2, outs, state, false), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "node 'n0' (FusedConv)") && strstr(kn_last_error(), "[5,3,1,1]"), "%s", kn_last_error());
    kn_graph_free(g);
    /* side weights without the side output */
    const int n1 = side_graph(&g, in, 1);
    cr_assert_eq(t_run_node(g, n1, in, outs, state, false), KN_ERR_INVALID);
    cr_assert(strstr(kn_last_error(), "node 'n0' (FusedConv)") && strstr(kn_last_error(), "output 1"), "%s", kn_last_error());
    kn_graph_free(g);
    kn_tensor_release(&bad);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b); kn_tensor_release(&ws); kn_tensor_release(&bs);
}

/* ---- ConvTranspose ---- */

/* Direct scatter form: y[n, g*mg+m, iy*s - p + ky*d] += x[n, c, iy] * w[c, m, ky]. */
static void ref_convtranspose(const kn_conv2d_desc *d, const float *x, const float *w, const float *b, float *y)
{
    /* d describes the forward conv from y to x: d->c = M (y channels), d->oc = C (x channels). */
    int64_t ny = d->n * d->c * d->h * d->w;
    for (int64_t i = 0; i < ny; i++) y[i] = b ? b[i / (d->h * d->w) % d->c] : 0.0f;
    FOR_TAPS(d) {
        TAP_INDICES(d);
        if (inside) y[xi] += x[yi] * w[wi];
    }
}

Test(conv_transpose, onnx_default_and_output_shape)
{
    kn_tensor x = t_new(4, 1, 1, 3, 3), w = t_new(4, 1, 2, 3, 3);
    for (int i = 0; i < 9; i++) ((float *)x.data)[i] = (float)i;
    for (int i = 0; i < 18; i++) ((float *)w.data)[i] = 1.0f;
    kn_tensor *in[2] = {&x, &w};
    kn_graph *g;
    int node = conv_graph(&g, "ConvTranspose", "", 2, in);
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    const float e[25] = {0, 1, 3, 3, 2, 3, 8, 15, 12, 7, 9, 21, 36, 27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
    cr_assert(outs[0].shape[1] == 2 && outs[0].shape[2] == 5 && outs[0].shape[3] == 5);
    T_ASSERT_CLOSE(outs[0].data, e, 25, 0, 1e-5);
    T_ASSERT_CLOSE((float *)outs[0].data + 25, e, 25, 0, 1e-5);
    kn_tensor_release(&outs[0]);
    /* test_convtranspose_output_shape: strides [3,2], output_shape [10,8] beyond the full 9x7
     * output; equals output_padding [1,1] (test_convtranspose_pad) */
    set_ints(g, node, "strides", 2, 3, 2, 0, 0);
    set_ints(g, node, "output_shape", 2, 10, 8, 0, 0);
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert(outs[0].shape[2] == 10 && outs[0].shape[3] == 8);
    const float row0[8] = {0, 0, 1, 1, 3, 2, 2, 0}, row3[8] = {3, 3, 7, 4, 9, 5, 5, 0}, row9[8] = {0};
    T_ASSERT_CLOSE((float *)outs[0].data, row0, 8, 0, 1e-5);
    T_ASSERT_CLOSE((float *)outs[0].data + 24, row3, 8, 0, 1e-5);
    T_ASSERT_CLOSE((float *)outs[0].data + 72, row9, 8, 0, 1e-5);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&w);
}

Test(conv_transpose, strided_grouped_padded_with_gradients)
{
    /* X [2, 4, 3, 4], W [4, 3, 3, 2] group 2 -> M = 6 */
    kn_tensor x = t_new_rand(41, -1, 1, 4, 2, 4, 3, 4), w = t_new_rand(42, -1, 1, 4, 4, 3, 3, 2), b = t_new_rand(43, -1, 1, 1, 6);
    kn_tensor *in[3] = {&x, &w, &b};
    kn_graph *g;
    int node = conv_graph(&g, "ConvTranspose", "", 3, in);
    set_ints(g, node, "strides", 2, 2, 3, 0, 0);
    set_ints(g, node, "pads", 4, 1, 0, 0, 1);
    set_ints(g, node, "output_padding", 2, 1, 0, 0, 0);
    set_ints(g, node, "dilations", 2, 1, 2, 0, 0);
    T_OK(kn_node_set_int(g, node, "group", 2));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    /* out h = 2*(3-1) + 1 + 3 - 1 - 0 = 7, w = 3*(4-1) + 0 + (2-1)*2+1 - 0 - 1 = 11 */
    cr_assert(outs[0].shape[1] == 6 && outs[0].shape[2] == 7 && outs[0].shape[3] == 11, "got [%lld,%lld,%lld]",
              (long long)outs[0].shape[1], (long long)outs[0].shape[2], (long long)outs[0].shape[3]);
    kn_conv2d_desc d = DESC(.n = 2, .c = 6, .h = 7, .w = 11, .oc = 4, .kh = 3, .kw = 2, .oh = 3, .ow = 4, .stride_h = 2,
                            .stride_w = 3, .dil_w = 2, .pad_t = 1, .pad_r = 1, .pad_b = 0, .pad_l = 0, .group = 2);
    static float ref[2 * 6 * 7 * 11];
    ref_convtranspose(&d, x.data, w.data, b.data, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, kn_tensor_numel(&outs[0]), 1e-4, 1e-5);
    t_gradcheck(g, node, in, 7, true, 1e-2f, 1e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&w); kn_tensor_release(&b);
}

Test(conv_transpose, one_dimensional_same_upper)
{
    kn_tensor x = t_new_rand(51, -1, 1, 3, 1, 2, 5), w = t_new_rand(52, -1, 1, 3, 2, 3, 3);
    kn_tensor *in[2] = {&x, &w};
    kn_graph *g;
    int node = conv_graph(&g, "ConvTranspose", "", 2, in);
    set_ints(g, node, "strides", 1, 2, 0, 0, 0);
    T_OK(kn_node_set_string(g, node, "auto_pad", "SAME_UPPER"));
    kn_tensor outs[1] = {0}, state[KN_OP_MAX_STATE] = {0};
    T_OK(t_run_node(g, node, in, outs, state, false));
    cr_assert(outs[0].ndim == 3 && outs[0].shape[1] == 3 && outs[0].shape[2] == 10);
    /* full output 2*4 + 3 = 11, total pad 1: SAME_UPPER pads the start by 0, the end by 1 */
    kn_conv2d_desc d = DESC(.n = 1, .c = 3, .h = 1, .w = 10, .oc = 2, .kh = 1, .kw = 3, .oh = 1, .ow = 5, .stride_w = 2,
                            .pad_r = 1);
    float ref[30];
    ref_convtranspose(&d, x.data, w.data, NULL, ref);
    T_ASSERT_CLOSE(outs[0].data, ref, 30, 1e-4, 1e-5);
    t_gradcheck(g, node, in, 3, true, 1e-2f, 1e-2, 2e-3);
    kn_tensor_release(&outs[0]);
    kn_graph_free(g);
    kn_tensor_release(&x); kn_tensor_release(&w);
}

/* Direct depthwise path (group == c): stride, asymmetric padding, dilation, channel
 * multiplier, 1x1 strided, a single-channel input (c = group = 1, the GEMM path), and a
 * plane big enough to run in parallel. */
Test(conv_kernel, depthwise_direct_geometries)
{
    check_kernels(DESC(.n = 3, .c = 5, .h = 9, .w = 11, .oc = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1,
                       .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 5));
    check_kernels(DESC(.n = 2, .c = 3, .h = 10, .w = 7, .oc = 6, .kh = 3, .kw = 2, .stride_h = 1, .stride_w = 3, .dil_h = 2,
                       .dil_w = 3, .pad_t = 2, .pad_l = 0, .pad_b = 1, .pad_r = 4, .group = 3));
    check_kernels(DESC(.n = 1, .c = 4, .h = 5, .w = 5, .oc = 12, .kh = 5, .kw = 5, .pad_t = 3, .pad_l = 3, .pad_b = 3,
                       .pad_r = 3, .group = 4));
    check_kernels(DESC(.n = 2, .c = 3, .h = 7, .w = 6, .oc = 3, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2, .group = 3));
    check_kernels(DESC(.n = 4, .c = 1, .h = 28, .w = 28, .oc = 6, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2,
                       .pad_r = 2));
    check_kernels(DESC(.n = 2, .c = 32, .h = 40, .w = 37, .oc = 32, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                       .pad_r = 1, .group = 32));
    /* padded phase-split buffer: stride 2 over several 16-column tiles, odd widths, pad > stride */
    check_kernels(DESC(.n = 3, .c = 16, .h = 28, .w = 28, .oc = 16, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 16));
    check_kernels(DESC(.n = 2, .c = 6, .h = 13, .w = 45, .oc = 12, .kh = 3, .kw = 4, .stride_h = 2, .stride_w = 2,
                       .pad_t = 2, .pad_l = 3, .pad_b = 0, .pad_r = 1, .group = 6));
    check_kernels(DESC(.n = 2, .c = 4, .h = 15, .w = 33, .oc = 4, .kh = 5, .kw = 5, .stride_h = 3, .stride_w = 4,
                       .dil_w = 2, .pad_t = 1, .pad_l = 5, .pad_b = 2, .pad_r = 2, .group = 4));
    /* 3x3 stride 2 on rows of <= 32 inputs (even/odd permutes, no padded copy): 16 outputs
     * per row, no padding (15), pads of 2 on the left and top (14) */
    check_kernels(DESC(.n = 2, .c = 5, .h = 31, .w = 31, .oc = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 5));
    check_kernels(DESC(.n = 2, .c = 3, .h = 29, .w = 32, .oc = 3, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .group = 3));
    check_kernels(DESC(.n = 1, .c = 4, .h = 24, .w = 26, .oc = 4, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 2, .pad_l = 2, .pad_b = 1, .pad_r = 2, .group = 4));
    /* 3x3 stride 2 on rows of <= 16 inputs, two output rows per vector: 14 -> 7 (odd row
     * count), 16 -> 8 unpadded (q = 2 reaches past the row), pads of 2 */
    check_kernels(DESC(.n = 2, .c = 5, .h = 14, .w = 14, .oc = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 5));
    check_kernels(DESC(.n = 1, .c = 3, .h = 17, .w = 16, .oc = 3, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_r = 1, .group = 3));
    check_kernels(DESC(.n = 2, .c = 2, .h = 9, .w = 11, .oc = 2, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 2, .pad_l = 2, .pad_b = 0, .pad_r = 1, .group = 2));
    /* 16 channels at a time (rows under 16 wide): a full and a partial block, stride 2, 7x7 */
    check_kernels(DESC(.n = 3, .c = 20, .h = 14, .w = 14, .oc = 20, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                       .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 20));
    check_kernels(DESC(.n = 1, .c = 33, .h = 15, .w = 12, .oc = 33, .kh = 7, .kw = 7, .pad_t = 3, .pad_l = 3, .pad_b = 3,
                       .pad_r = 3, .group = 33));
}

/* Every activation of the epilogue, with and without bias and residual, through the
 * depthwise path, the im2col+GEMM path and the plain GEMM (per-column bias), against
 * kn_act_apply on the unfused result. */
Test(conv_kernel, epilogue_every_activation)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    const kn_act acts[] = {KN_ACT_NONE, KN_ACT_RELU, KN_ACT_LEAKY_RELU, KN_ACT_CLIP, KN_ACT_SIGMOID, KN_ACT_HARDSWISH,
                           KN_ACT_TANH};
    const float alphas[] = {0, 0, 0.1f, 0.0f, 0, 0, 0}, betas[] = {0, 0, 0, 0.5f, 0, 0, 0};
    kn_conv2d_desc descs[] = {
        DESC(.n = 2, .c = 4, .h = 9, .w = 8, .oc = 8, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
             .group = 4),
        DESC(.n = 2, .c = 3, .h = 9, .w = 8, .oc = 5, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1),
        DESC(.n = 2, .c = 20, .h = 9, .w = 8, .oc = 20, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1,
             .group = 20),
        DESC(.n = 2, .c = 3, .h = 28, .w = 28, .oc = 3, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1,
             .pad_l = 1, .pad_b = 1, .pad_r = 1, .group = 3),
    };
    for (size_t di = 0; di < sizeof descs / sizeof *descs; di++) {
        kn_conv2d_desc d = descs[di];
        finish_desc(&d);
        const int64_t nx = d.n * d.c * d.h * d.w, nw = d.oc * (d.c / d.group) * d.kh * d.kw, ny = d.n * d.oc * d.oh * d.ow;
        const int64_t p = d.oh * d.ow;
        float *x = frand(nx, 11), *w = frand(nw, 12), *b = frand(d.oc, 13), *res = frand(ny, 14);
        float *y = frand(ny, 15), *ref = frand(ny, 16), *raw = frand(ny, 17);
        void *ws = kn_host_alloc(k->conv2d_workspace(&d) + 1);
        T_OK(k->conv2d_fwd(&d, x, w, raw, NULL, ws));
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
            for (int mode = 0; mode < 4; mode++) {
                const bool hb = mode & 1, hr = mode & 2;
                kn_epilogue ep = {.bias = hb ? b : NULL, .residual = hr ? res : NULL, .act = acts[a], .alpha = alphas[a],
                                  .beta = betas[a]};
                T_OK(k->conv2d_fwd(&d, x, w, y, &ep, ws));
                for (int64_t i = 0; i < ny; i++)
                    ref[i] = kn_act_apply(acts[a], alphas[a], betas[a],
                                          raw[i] + (hb ? b[i / p % d.oc] : 0.0f) + (hr ? res[i] : 0.0f));
                T_ASSERT_CLOSE(y, ref, ny, 1e-4, 1e-5);
                /* GEMM epilogue, bias per column: C[m = ny / oc, n = oc] */
                const int64_t m = ny / d.oc, nn = d.oc;
                float *c = kn_host_alloc(sizeof(float) * (size_t)ny), *eye = kn_host_alloc(sizeof(float) * (size_t)(nn * nn));
                for (int64_t i = 0; i < nn * nn; i++) eye[i] = i % (nn + 1) == 0 ? 1.0f : 0.0f;
                T_OK(k->gemm(false, false, m, nn, nn, 1.0f, raw, nn, eye, nn, 0.0f, c, nn, &ep));
                for (int64_t i = 0; i < ny; i++)
                    ref[i] = kn_act_apply(acts[a], alphas[a], betas[a],
                                          raw[i] + (hb ? b[i % nn] : 0.0f) + (hr ? res[i] : 0.0f));
                T_ASSERT_CLOSE(c, ref, ny, 1e-5, 1e-6);
                kn_host_free(c);
                kn_host_free(eye);
            }
        float *bufs[] = {x, w, b, res, y, ref, raw};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kn_host_free(bufs[i]);
        kn_host_free(ws);
    }
}

/* One image big enough (>= 1M multiply-adds) that 2+ threads split its output rows. */
Test(conv_kernel, single_image_row_split)
{
    const int before = kn_get_num_threads();
    kn_set_num_threads(2);
    check_kernels(DESC(.n = 1, .c = 16, .h = 28, .w = 27, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                       .pad_r = 1));
    check_kernels(DESC(.n = 1, .c = 32, .h = 29, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 1, .pad_t = 0, .pad_l = 1,
                       .pad_b = 2, .pad_r = 1, .group = 2));
    kn_set_num_threads(before);
}

/* ---- packed-weights forward (core/cpu/pconv.c, level-2 inference) ---- */

/* d through the packed kernel against the direct loops, with bias + residual and each
 * activation; single image (rows split across threads) and several. */
static void check_packed(kn_conv2d_desc d)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    finish_desc(&d);
    const int64_t floats = k->conv2d_packed_floats ? k->conv2d_packed_floats(&d) : 0;
    cr_assert(floats > 0, "packed kernel refused %lldx%lld %lld->%lld k%lldx%lld s%lld,%lld", (long long)d.h,
              (long long)d.w, (long long)d.c, (long long)d.oc, (long long)d.kh, (long long)d.kw,
              (long long)d.stride_h, (long long)d.stride_w);
    const int64_t nx = d.n * d.c * d.h * d.w, nw = d.oc * d.c * d.kh * d.kw, ny = d.n * d.oc * d.oh * d.ow;
    const int64_t p = d.oh * d.ow;
    float *x = frand(nx, 21), *w = frand(nw, 22), *b = frand(d.oc, 23), *res = frand(ny, 24);
    float *y = frand(ny, 25), *raw = frand(ny, 26), *ref = frand(ny, 27), *pk = frand(floats, 28);
    void *ws = kn_host_alloc(k->conv2d_workspace(&d) + 1);
    T_OK(k->conv2d_pack_w(&d, w, pk));
    ref_fwd(&d, x, w, NULL, NULL, false, raw);
    T_OK(k->conv2d_fwd_packed(&d, x, pk, y, NULL, NULL, ws));
    T_ASSERT_CLOSE(y, raw, ny, 1e-4, 1e-5);
    const kn_act acts[] = {KN_ACT_RELU, KN_ACT_CLIP, KN_ACT_HARDSWISH, KN_ACT_LEAKY_RELU, KN_ACT_SIGMOID};
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        const float al = acts[a] == KN_ACT_LEAKY_RELU ? 0.1f : -0.2f, be = 0.3f;
        kn_epilogue ep = {.bias = b, .bias_per_row = true, .residual = a % 2 ? res : NULL, .act = acts[a],
                          .alpha = al, .beta = be};
        T_OK(k->conv2d_fwd_packed(&d, x, pk, y, &ep, NULL, ws));
        for (int64_t i = 0; i < ny; i++)
            ref[i] = kn_act_apply(acts[a], al, be, raw[i] + b[i / p % d.oc] + (a % 2 ? res[i] : 0.0f));
        T_ASSERT_CLOSE(y, ref, ny, 1e-4, 1e-5);
    }
    float *bufs[] = {x, w, b, res, y, raw, ref, pk};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kn_host_free(bufs[i]);
    kn_host_free(ws);
}

#define NEED_PACKED_CONV()                                                                                  \
    do {                                                                                                    \
        const kn_kernels *k_ = kn_kernels_get(KN_CPU);                                                      \
        if (!k_->conv2d_fwd_packed) cr_skip_test("the packed convolution needs an AVX-512 build (this one has none)"); \
    } while (0)

Test(conv_packed, resnet_and_lenet_shapes)
{
    NEED_PACKED_CONV();
    /* 16->16 and 32->32 3x3 pad 1 (one and two channel vectors), stride 2, 1x1 stride 2,
     * LeNet's conv2 (6->16 5x5 unpadded, rows of 8) */
    check_packed(DESC(.n = 3, .c = 16, .h = 28, .w = 28, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 2, .c = 32, .h = 14, .w = 14, .oc = 32, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 2, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 2, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2));
    check_packed(DESC(.n = 3, .c = 6, .h = 12, .w = 12, .oc = 16, .kh = 5, .kw = 5));
    /* dwsep's pointwise convs (planes run as one row of h * w pixels) */
    check_packed(DESC(.n = 3, .c = 16, .h = 14, .w = 14, .oc = 32, .kh = 1, .kw = 1));
    check_packed(DESC(.n = 2, .c = 32, .h = 7, .w = 7, .oc = 64, .kh = 1, .kw = 1));
    check_packed(DESC(.n = 1, .c = 20, .h = 5, .w = 9, .oc = 17, .kh = 1, .kw = 1));
    check_packed(DESC(.n = 1, .c = 64, .h = 16, .w = 16, .oc = 48, .kh = 1, .kw = 1));
}

Test(conv_packed, odd_geometries)
{
    NEED_PACKED_CONV();
    /* channel counts that fill part of a vector block, rows split into uneven tiles (30 ->
     * 15 + 15, 57 -> 3 tiles; 29 with two vectors -> 15 + 14), asymmetric pads and
     * kernels, stride 2 across only one axis, a single output column */
    check_packed(DESC(.n = 2, .c = 3, .h = 9, .w = 30, .oc = 20, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 1, .c = 5, .h = 7, .w = 57, .oc = 17, .kh = 2, .kw = 4, .pad_t = 0, .pad_l = 2, .pad_b = 1, .pad_r = 0));
    check_packed(DESC(.n = 2, .c = 4, .h = 11, .w = 29, .oc = 48, .kh = 3, .kw = 5, .stride_h = 1, .stride_w = 2, .pad_t = 2, .pad_l = 1, .pad_b = 0, .pad_r = 2));
    check_packed(DESC(.n = 2, .c = 8, .h = 13, .w = 6, .oc = 33, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1, .pad_t = 1, .pad_b = 1));
    check_packed(DESC(.n = 3, .c = 16, .h = 5, .w = 3, .oc = 16, .kh = 3, .kw = 3));
    check_packed(DESC(.n = 1, .c = 64, .h = 20, .w = 20, .oc = 80, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
}

/* Padding of at most one column a side is skipped by the tiles instead of copied: every
 * edge the skip rules touch (rows wholly in padding, a right overhang of one or none, a
 * one-pixel row whose only pixel is both edges, odd widths at stride 2), on one image
 * (rows split across threads) and on several; pad_l 2 still takes the copy. */
Test(conv_packed, padding_read_in_place)
{
    NEED_PACKED_CONV();
    check_packed(DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 1, .c = 32, .h = 14, .w = 14, .oc = 32, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 1, .c = 16, .h = 27, .w = 27, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 2, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 0, .pad_l = 0, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 2, .c = 8, .h = 6, .w = 10, .oc = 16, .kh = 3, .kw = 3, .pad_t = 4, .pad_l = 0, .pad_b = 5, .pad_r = 1));
    check_packed(DESC(.n = 1, .c = 8, .h = 9, .w = 1, .oc = 20, .kh = 3, .kw = 3, .pad_t = 2, .pad_l = 1, .pad_b = 0, .pad_r = 1));
    check_packed(DESC(.n = 3, .c = 4, .h = 8, .w = 40, .oc = 40, .kh = 5, .kw = 2, .pad_t = 2, .pad_l = 1, .pad_b = 2, .pad_r = 0));
    check_packed(DESC(.n = 1, .c = 16, .h = 12, .w = 12, .oc = 16, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2));
    kn_conv2d_desc same = DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1);
    kn_conv2d_desc wide = DESC(.n = 1, .c = 16, .h = 12, .w = 12, .oc = 16, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2);
    finish_desc(&same);
    finish_desc(&wide);
    cr_expect_eq(kn_cpu_conv2d_packed_workspace(&same), 0, "3x3 pad 1 should read its input in place, no copy");
    cr_expect_gt(kn_cpu_conv2d_packed_workspace(&wide), 0, "5x5 pad 2 needs the zero-bordered copy");
}

/* The packed kernel with a side 1x1 (kn_conv_extra) against the two reference
 * convolutions: main with bias, residual and ReLU, side with bias; one image (rows split
 * across threads) and several, padding read in place and copied (5x5 pad 2: the side
 * reads tap (2, 2)), strides 1 and 2. A side that does not fit is refused untouched. */
static void check_packed_pair(kn_conv2d_desc d)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    finish_desc(&d);
    kn_conv2d_desc sd = d;
    sd.kh = sd.kw = 1;
    sd.pad_t = sd.pad_l = sd.pad_b = sd.pad_r = 0;
    finish_desc(&sd);
    cr_assert(sd.oh == d.oh && sd.ow == d.ow, "side geometry");
    const int64_t nx = d.n * d.c * d.h * d.w, ny = d.n * d.oc * d.oh * d.ow;
    float *x = frand(nx, 51), *w = frand(d.oc * d.c * d.kh * d.kw, 52), *b = frand(d.oc, 53), *res = frand(ny, 54);
    float *sw = frand(d.oc * d.c, 55), *sb = frand(d.oc, 56), *y = frand(ny, 57), *sy = frand(ny, 58);
    float *ref = frand(ny, 59), *sref = frand(ny, 60);
    float *pk = frand(k->conv2d_packed_floats(&d), 61), *spk = frand(k->conv2d_packed_floats(&sd), 62);
    void *ws = kn_host_alloc(k->conv2d_workspace(&d) + 1);
    T_OK(k->conv2d_pack_w(&d, w, pk));
    T_OK(k->conv2d_pack_w(&sd, sw, spk));
    kn_epilogue ep = {.bias = b, .bias_per_row = true, .residual = res, .act = KN_ACT_RELU};
    kn_epilogue sep = {.bias = sb, .bias_per_row = true};
    const kn_conv_extra side = {.side_packed = spk, .side_y = sy, .side_ep = &sep};
    T_OK(k->conv2d_fwd_packed(&d, x, pk, y, &ep, &side, ws));
    ref_fwd(&d, x, w, b, res, true, ref);
    ref_fwd(&sd, x, sw, sb, NULL, false, sref);
    T_ASSERT_CLOSE(y, ref, ny, 1e-4, 1e-5);
    T_ASSERT_CLOSE(sy, sref, ny, 1e-4, 1e-5);
    kn_epilogue tanh_ep = {.act = KN_ACT_TANH};
    const kn_conv_extra no = {.side_packed = spk, .side_y = sy, .side_ep = &tanh_ep}; /* Tanh is applied after the kernel: not in a side */
    memcpy(ref, y, sizeof(float) * (size_t)ny);
    cr_assert_eq(k->conv2d_fwd_packed(&d, x, pk, y, &ep, &no, ws), KN_ERR_UNSUPPORTED);
    cr_assert(!memcmp(ref, y, sizeof(float) * (size_t)ny), "a refused pair writes nothing");
    float *bufs[] = {x, w, b, res, sw, sb, y, sy, ref, sref, pk, spk};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kn_host_free(bufs[i]);
    kn_host_free(ws);
}

Test(conv_packed, side_1x1_in_the_same_pass)
{
    NEED_PACKED_CONV();
    check_packed_pair(DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed_pair(DESC(.n = 3, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed_pair(DESC(.n = 1, .c = 20, .h = 12, .w = 12, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed_pair(DESC(.n = 2, .c = 16, .h = 11, .w = 13, .oc = 24, .kh = 5, .kw = 5, .pad_t = 2, .pad_l = 2, .pad_b = 2, .pad_r = 2));
    check_packed_pair(DESC(.n = 2, .c = 16, .h = 9, .w = 9, .oc = 48, .kh = 1, .kw = 1));
}

/* The packed kernel writing the 2x2 stride-2 max pooling of its activated output
 * (kn_conv_extra.pool2x2) against the reference conv then a scalar pool: LeNet's conv2,
 * odd output sizes (the last row and column dropped), pooled rows split into chunks,
 * two channel vectors, stride 2, a non-monotonic activation (HardSwish: applied before
 * the max), one image and several; padding or a residual are refused untouched. */
static void check_packed_pool(kn_conv2d_desc d, kn_act act)
{
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    finish_desc(&d);
    const int64_t ph = d.oh / 2, pw = d.ow / 2, ny = d.n * d.oc * d.oh * d.ow, npool = d.n * d.oc * ph * pw;
    float *x = frand(d.n * d.c * d.h * d.w, 71), *w = frand(d.oc * d.c * d.kh * d.kw, 72), *b = frand(d.oc, 73);
    float *raw = frand(ny, 74), *y = frand(npool, 75), *pk = frand(k->conv2d_packed_floats(&d), 76);
    void *ws = kn_host_alloc(k->conv2d_workspace(&d) + 1);
    T_OK(k->conv2d_pack_w(&d, w, pk));
    kn_epilogue ep = {.bias = b, .bias_per_row = true, .act = act, .alpha = 0.1f, .beta = 0.3f};
    const kn_conv_extra pool = {.pool2x2 = true};
    T_OK(k->conv2d_fwd_packed(&d, x, pk, y, &ep, &pool, ws));
    ref_fwd(&d, x, w, NULL, NULL, false, raw);
    const int64_t p = d.oh * d.ow;
    for (int64_t i = 0; i < ny; i++) raw[i] = kn_act_apply(act, 0.1f, 0.3f, raw[i] + b[i / p % d.oc]);
    for (int64_t pl = 0; pl < d.n * d.oc; pl++)
        for (int64_t py = 0; py < ph; py++)
            for (int64_t px = 0; px < pw; px++) {
                const float *r = raw + pl * p + 2 * py * d.ow + 2 * px;
                float m = r[0];
                m = r[1] > m ? r[1] : m;
                m = r[d.ow] > m ? r[d.ow] : m;
                m = r[d.ow + 1] > m ? r[d.ow + 1] : m;
                const float got = y[(pl * ph + py) * pw + px];
                cr_assert(fabsf(got - m) <= 1e-4f + 1e-4f * fabsf(m), "%lldx%lld %lld->%lld n=%lld plane %lld (%lld,%lld): %g, want %g",
                          (long long)d.h, (long long)d.w, (long long)d.c, (long long)d.oc, (long long)d.n, (long long)pl,
                          (long long)py, (long long)px, (double)got, (double)m);
            }
    float *bufs[] = {x, w, b, raw, y, pk};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) kn_host_free(bufs[i]);
    kn_host_free(ws);
}

Test(conv_packed, pooled_2x2_in_registers)
{
    NEED_PACKED_CONV();
    check_packed_pool(DESC(.n = 1, .c = 6, .h = 14, .w = 14, .oc = 16, .kh = 5, .kw = 5), KN_ACT_RELU);
    check_packed_pool(DESC(.n = 3, .c = 6, .h = 14, .w = 14, .oc = 16, .kh = 5, .kw = 5), KN_ACT_RELU);
    check_packed_pool(DESC(.n = 2, .c = 4, .h = 9, .w = 35, .oc = 12 + 8, .kh = 3, .kw = 3), KN_ACT_HARDSWISH);
    check_packed_pool(DESC(.n = 1, .c = 8, .h = 13, .w = 36, .oc = 16, .kh = 3, .kw = 3), KN_ACT_LEAKY_RELU);
    check_packed_pool(DESC(.n = 2, .c = 16, .h = 17, .w = 23, .oc = 48, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2), KN_ACT_CLIP);
    check_packed_pool(DESC(.n = 1, .c = 32, .h = 6, .w = 6, .oc = 16, .kh = 1, .kw = 1), KN_ACT_NONE);
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    kn_conv2d_desc d = DESC(.n = 1, .c = 16, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1);
    finish_desc(&d);
    float *x = frand(16 * 64, 81), *pk = frand(k->conv2d_packed_floats(&d), 82), *y = frand(16 * 64, 83), *keep = frand(16 * 64, 83);
    const kn_conv_extra pool = {.pool2x2 = true};
    cr_assert_eq(k->conv2d_fwd_packed(&d, x, pk, y, NULL, &pool, NULL), KN_ERR_UNSUPPORTED, "padded: refused");
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = 0;
    finish_desc(&d);
    const kn_epilogue res = {.residual = x};
    cr_assert_eq(k->conv2d_fwd_packed(&d, x, pk, y, &res, &pool, NULL), KN_ERR_UNSUPPORTED, "residual: refused");
    cr_assert(!memcmp(y, keep, sizeof(float) * 16 * 64), "a refused call writes nothing");
    kn_host_free(x);
    kn_host_free(pk);
    kn_host_free(y);
    kn_host_free(keep);
}

/* One image on one thread: no row split. */
Test(conv_packed, single_image_one_thread)
{
    NEED_PACKED_CONV();
    const int before = kn_get_num_threads();
    kn_set_num_threads(1);
    check_packed(DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 16, .kh = 3, .kw = 3, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    check_packed(DESC(.n = 1, .c = 16, .h = 28, .w = 28, .oc = 32, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1));
    kn_set_num_threads(before);
}

Test(conv_packed, refuses_what_it_does_not_handle)
{
    NEED_PACKED_CONV();
    const kn_kernels *k = kn_kernels_get(KN_CPU);
    kn_conv2d_desc no[] = {
        DESC(.n = 1, .c = 16, .h = 8, .w = 8, .oc = 8, .kh = 3, .kw = 3),                 /* < 16 output channels */
        DESC(.n = 1, .c = 16, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3, .group = 16), /* grouped */
        DESC(.n = 1, .c = 16, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3, .dil_h = 2, .dil_w = 2),
        DESC(.n = 1, .c = 16, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3, .stride_w = 3),
        DESC(.n = 1, .c = 1, .h = 8, .w = 8, .oc = 16, .kh = 3, .kw = 3),                 /* 9 taps */
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        finish_desc(&no[i]);
        cr_assert_eq(k->conv2d_packed_floats(&no[i]), 0, "case %zu", i);
        float w[1] = {0}, pk[1];
        cr_assert_eq(k->conv2d_pack_w(&no[i], w, pk), KN_ERR_UNSUPPORTED, "case %zu", i);
    }
}
