/* Sliding-window geometry shared by Conv, FusedConv, ConvTranspose and the
 * pooling ops: the ONNX attributes kernel_shape, strides, dilations, pads,
 * auto_pad and ceil_mode, output sizes, the 2-D kernel descriptors that 1-D
 * ops map onto (h = 1) and the N-d descriptors 3-D ops use. Internal to nn/ops. */
#ifndef KN_OPS_WINDOW_H
#define KN_OPS_WINDOW_H

#include "nn/op.h"

enum { KN_AUTOPAD_NOTSET, KN_AUTOPAD_SAME_UPPER, KN_AUTOPAD_SAME_LOWER, KN_AUTOPAD_VALID };

typedef struct kn_window {
    int rank; /* spatial dims */
    int64_t kernel[KN_MAX_DIMS]; /* KN_DIM_UNKNOWN when taken from an unknown W dim */
    int64_t stride[KN_MAX_DIMS], dil[KN_MAX_DIMS];
    int64_t pad_begin[KN_MAX_DIMS], pad_end[KN_MAX_DIMS];
    int auto_pad;
    bool ceil_mode;
} kn_window;

/* Read the window attributes for `rank` spatial dims. kernel_from_w (W's spatial dims, for
 * Conv) is used when kernel_shape is absent and must agree with it when present; NULL
 * makes kernel_shape required (pooling). ceil_mode is read only when `pooling`. */
kn_status kn_window_read(const kn_node *n, int rank, const int64_t *kernel_from_w, bool pooling,
                         kn_window *w);

/* Output spatial dims of a Conv/pool window over input dims `in` (unknown stays unknown);
 * resolves SAME_* and VALID pads into w when the input dims are known. */
kn_status kn_window_out_dims(const kn_node *n, kn_window *w, const int64_t *in, int64_t *out);

/* 2-D descriptors; 1-D windows become h = kh = 1. x is [n, c, spatial], y [n, oc, out]. */
void kn_window_conv_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                         kn_conv2d_desc *d);
void kn_window_pool_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape,
                         bool count_include_pad, kn_pool2d_desc *d);

/* N-d descriptor (any spatial rank), for the 3-D kernels and non-float MaxPool. */
void kn_window_nd_desc(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                       bool count_include_pad, kn_nd_desc *d);

/* Float32 input of rank 3.. KN_MAX_DIMS ([N, C, spatial...]); errors name the node, the op
 * and the shape. kn_window_check_rank checks the rank only. */
kn_status kn_window_check_input(const kn_op_ctx *c, const kn_tensor *x, const char *what);
kn_status kn_window_check_rank(const kn_op_ctx *c, const kn_tensor *x, const char *what);

/* A convolution's geometry on whichever kernels fit: the 2-D ones for 1-D and 2-D
 * windows, the N-d ones (convnd_*) for 3-D and up. Conv, FusedConv and ConvTranspose
 * compute through these. */
typedef struct kn_conv_geom {
    bool nd;
    kn_conv2d_desc d2;
    kn_nd_desc dn;
    int64_t n, c, oc;   /* batch, input and output channels of the convolution */
    int64_t vol, ovol;  /* input and output spatial volume */
} kn_conv_geom;
void kn_conv_geom_init(const kn_window *w, const int64_t *xshape, const int64_t *yshape, int64_t group,
                       kn_conv_geom *g);
size_t kn_conv_geom_ws(const kn_kernels *k, const kn_conv_geom *g);
kn_status kn_conv_geom_fwd(const kn_kernels *k, const kn_conv_geom *g, const float *x, const float *w,
                           const float *packed, float *y, const kn_epilogue *ep, void *ws);
/* W packed for the backend's packed convolution, kept in c->state[0]: only in level-2
 * inference sessions (c->prepack), for a constant W and a 2-D geometry the kernel takes;
 * packed on the first run, NULL otherwise (then pass NULL to kn_conv_geom_fwd). */
kn_status kn_conv_packed_w(kn_op_ctx *c, const kn_conv_geom *d, const float **packed);
/* The same for the weights of input `input`, kept in c->state[slot] (FusedConv's side 1x1). */
kn_status kn_conv_packed_w_at(kn_op_ctx *c, const kn_conv_geom *d, int input, int slot, const float **packed);
/* A Conv/FusedConv node's geometry for this run's input shapes, and its kernel scratch
 * (64-byte multiple). */
kn_status kn_conv_desc(const kn_op_ctx *c, kn_conv_geom *d);
size_t kn_conv_kernel_ws(const kn_op_ctx *c, const kn_conv_geom *d);
kn_status kn_conv_geom_bwd_data(const kn_kernels *k, const kn_conv_geom *g, const float *w, const float *gy,
                                float *gx, void *ws);
kn_status kn_conv_geom_bwd_filter(const kn_kernels *k, const kn_conv_geom *g, const float *x, const float *gy,
                                  float *gw, float *gb, void *ws);

/* Conv and FusedConv share inference and forward (nn/ops/conv.c). */
kn_status kn_conv_infer(kn_op_ctx *c, bool fused);
kn_status kn_conv_forward(kn_op_ctx *c, const kn_tensor *residual, kn_act act, float alpha, float beta);
size_t kn_conv_workspace(kn_op_ctx *c);

#endif
