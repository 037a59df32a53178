/* kiln — the kernel interface: one table of function pointers per device.
 *
 * nn/ ops compute through this table only, so a device is a table: core/cpu
 * fills KN_CPU (OpenBLAS + OpenMP), cuda/ fills KN_CUDA when built in and
 * registers it with kn_kernels_register. A NULL entry means the device lacks
 * that kernel: KN_KCALL turns it into a clear KN_ERR_UNSUPPORTED.
 *
 * Conventions
 * - Pointers are device pointers of the table's device; float32 unless a
 *   kn_dtype argument says otherwise. Shapes are row-major contiguous.
 * - Backward kernels ACCUMULATE into their gradient outputs (g += ...): the
 *   session zeroes gradient buffers once per step, and a value used twice
 *   (residual branches) sums its gradients for free.
 * - Epilogues fuse bias, residual add and activation into the producer:
 *   y = act(acc + bias + residual). Fusion is a graph rewrite plus this
 *   argument, not a second copy of each kernel. */
#ifndef KN_KERNELS_H
#define KN_KERNELS_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "core/dtype.h"
#include "core/tensor.h"

typedef enum kn_act {
    KN_ACT_NONE = 0,
    KN_ACT_RELU,
    KN_ACT_LEAKY_RELU, /* alpha = slope */
    KN_ACT_CLIP,       /* alpha = min, beta = max (ReLU6: 0, 6) */
    KN_ACT_SIGMOID,
    KN_ACT_HARDSWISH,
    KN_ACT_TANH
} kn_act;

typedef struct kn_epilogue {
    const float *bias;     /* NULL, or one value per row (bias_per_row) or per column */
    bool bias_per_row;     /* GEMM: false = per column n (Linear); conv: per output channel */
    const float *residual; /* NULL, or a tensor of the output's shape, added before act */
    kn_act act;
    float alpha, beta;
} kn_epilogue;

/* What a packed convolution (conv2d_fwd_packed) can do besides its output.
 * - A side 1x1 convolution (side_packed non-NULL): same input, same strides, same number
 *   of output channels, no padding, so its output pixel (oy, ox) reads the input pixel
 *   under the main kernel's tap (pad_t, pad_l). A ResNet block's projection shortcut
 *   beside its first 3x3: computed in the same pass over the input, while the rows are in
 *   cache, and in the same parallel region. side_packed is its weights packed by
 *   conv2d_pack_w for the 1x1 geometry; side_y is [n, oc, oh, ow]; side_ep may be NULL.
 * - pool2x2: y is not the convolution's output but its 2x2 stride-2 max pooling (floor:
 *   [n, oc, oh / 2, ow / 2]), taken in registers from the activated tiles, so the full
 *   output never goes to memory (LeNet's conv -> ReLU -> MaxPool). Not with a residual. */
typedef struct kn_conv_extra {
    const float *side_packed;
    float *side_y;
    const kn_epilogue *side_ep;
    bool pool2x2;
} kn_conv_extra;

/* Apply an activation in place over n floats (the reference the epilogues match). */
float kn_act_apply(kn_act act, float alpha, float beta, float x);

typedef enum kn_unop {
    KN_UN_RELU, KN_UN_LEAKY_RELU, KN_UN_SIGMOID, KN_UN_TANH, KN_UN_EXP, KN_UN_LOG,
    KN_UN_ABS, KN_UN_NEG, KN_UN_SQRT, KN_UN_RECIPROCAL, KN_UN_ELU, KN_UN_SELU,
    KN_UN_SOFTPLUS, KN_UN_SOFTSIGN, KN_UN_HARDSIGMOID, KN_UN_HARDSWISH, KN_UN_CLIP,
    KN_UN_FLOOR, KN_UN_CEIL, KN_UN_ERF, KN_UN_SIN, KN_UN_COS, KN_UN_ROUND, KN_UN_SIGN,
    KN_UN_IDENTITY, KN_UN_GELU,
    KN_UN_ACOS, KN_UN_ASIN, KN_UN_ATAN, KN_UN_ACOSH, KN_UN_ASINH, KN_UN_ATANH, KN_UN_COSH,
    KN_UN_SINH, KN_UN_TAN, KN_UN_MISH,
    KN_UN_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
    KN_UN_SHRINK,           /* lambd = alpha, bias = beta */
    KN_UN_COUNT
} kn_unop;

typedef enum kn_binop {
    KN_BIN_ADD, KN_BIN_SUB, KN_BIN_MUL, KN_BIN_DIV, KN_BIN_POW, KN_BIN_MAX, KN_BIN_MIN,
    KN_BIN_PRELU, /* a >= 0 ? a : a * b */
    KN_BIN_MOD,  /* integers: sign of the divisor (Python); floats: fmod */
    KN_BIN_FMOD, /* C fmod / truncated remainder */
    KN_BIN_EQUAL, KN_BIN_LESS, KN_BIN_GREATER, KN_BIN_LESS_EQUAL,
    KN_BIN_GREATER_EQUAL, KN_BIN_AND, KN_BIN_OR, KN_BIN_XOR, KN_BIN_COUNT
} kn_binop;

/* numpy broadcasting: output shape and element strides of each input (0 on broadcast dims). */
typedef struct kn_bcast {
    int ndim;
    int64_t shape[KN_MAX_DIMS];
    int64_t astride[KN_MAX_DIMS];
    int64_t bstride[KN_MAX_DIMS];
} kn_bcast;
/* Fill b from two shapes; KN_ERR_SHAPE (with both shapes in the message) if they don't broadcast. */
kn_status kn_bcast_init(kn_bcast *b, int na, const int64_t *sa, int nb, const int64_t *sb);

/* Pad modes (ONNX Pad `mode`), for the pad kernels of the misc ops. */
typedef enum kn_pad_mode { KN_PAD_CONSTANT, KN_PAD_REFLECT, KN_PAD_EDGE, KN_PAD_WRAP } kn_pad_mode;

typedef enum kn_redop {
    KN_RED_SUM, KN_RED_MEAN, KN_RED_MAX, KN_RED_MIN, KN_RED_PROD, KN_RED_L1, KN_RED_L2,
    KN_RED_LOG_SUM, KN_RED_LOG_SUM_EXP, KN_RED_SUM_SQUARE
} kn_redop;

/* 2-D convolution geometry (1-D convs use h = kh = 1). Weight is [oc, c/group, kh, kw]. */
typedef struct kn_conv2d_desc {
    int64_t n, c, h, w;
    int64_t oc, kh, kw;
    int64_t oh, ow;
    int64_t stride_h, stride_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t dil_h, dil_w;
    int64_t group;
} kn_conv2d_desc;

typedef struct kn_pool2d_desc {
    int64_t n, c, h, w;
    int64_t oh, ow;
    int64_t kh, kw;
    int64_t stride_h, stride_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t dil_h, dil_w;
    bool count_include_pad; /* AveragePool */
} kn_pool2d_desc;

/* N-d window geometry for the 3-D (and any-rank) conv and pooling kernels: x is
 * [n, c, in...], y [n, oc, out...], conv weight [oc, c/group, k...]. Pads may be negative
 * (ConvTranspose's output_shape): taps outside [0, in) are skipped either way. Pooling
 * uses oc = c and ignores group. */
typedef struct kn_nd_desc {
    int rank; /* spatial dims, 1..KN_MAX_DIMS-2 */
    int64_t n, c, oc, group;
    int64_t in[KN_MAX_DIMS], out[KN_MAX_DIMS], k[KN_MAX_DIMS];
    int64_t stride[KN_MAX_DIMS], dil[KN_MAX_DIMS], pad_begin[KN_MAX_DIMS], pad_end[KN_MAX_DIMS];
    bool count_include_pad; /* AveragePool */
} kn_nd_desc;

/* Scatter reductions (ONNX ScatterND / ScatterElements `reduction`). */
typedef enum kn_scatter_red {
    KN_SCATTER_NONE, KN_SCATTER_ADD, KN_SCATTER_MUL, KN_SCATTER_MAX, KN_SCATTER_MIN
} kn_scatter_red;

typedef struct kn_kernels {
    const char *name;
    kn_device device;

    /* memory */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    kn_status (*memcpy_h2d)(void *dst, const void *src, size_t bytes);
    kn_status (*memcpy_d2h)(void *dst, const void *src, size_t bytes);
    kn_status (*memcpy_d2d)(void *dst, const void *src, size_t bytes);
    kn_status (*memset0)(void *dst, size_t bytes);
    kn_status (*sync)(void);
    /* Device timing for the profiler (NULL on the CPU, which times with the host clock):
     * event_record records *ev (created on first use) on the device's stream without
     * waiting; event_elapsed waits for b and gives the seconds from a to b. */
    kn_status (*event_record)(void **ev);
    kn_status (*event_elapsed)(void *a, void *b, double *seconds);
    void (*event_destroy)(void *ev);

    /* C[M,N] = alpha * op(A) op(B) + beta * C, then the epilogue. Row-major. */
    kn_status (*gemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc, const kn_epilogue *ep);
    /* Inference GEMM on weights packed once (B constant): gemm_packed_floats(k, n) floats
     * hold B packed by gemm_pack_b (B [k, n], or [n, k] when trans_b); gemm_packed then
     * computes C = act(alpha * A B + beta * C + bias + residual) like gemm with A not
     * transposed. NULL where the backend has no packed kernel (then use gemm). */
    int64_t (*gemm_packed_floats)(int64_t k, int64_t n);
    kn_status (*gemm_pack_b)(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb, float *packed);
    kn_status (*gemm_packed)(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *packed, float beta, float *c, int64_t ldc, const kn_epilogue *ep);

    /* Convolution: forward with epilogue (bias per output channel); backward kernels accumulate.
     * ws is scratch of conv2d_workspace(d) bytes. gb (bias gradient) may be NULL. */
    size_t (*conv2d_workspace)(const kn_conv2d_desc *d);
    kn_status (*conv2d_fwd)(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws);
    /* Inference convolution on weights packed once: conv2d_packed_floats(d) floats (0 when
     * the backend's packed kernel does not handle d: use conv2d_fwd) hold w packed by
     * conv2d_pack_w; conv2d_fwd_packed is conv2d_fwd on them, with conv2d_workspace(d)
     * bytes of scratch. The packing depends on c, oc and the kernel size, not on n. extra
     * (NULL for none) adds a side 1x1 or a pooling (kn_conv_extra); what the kernel does
     * not handle returns KN_ERR_UNSUPPORTED and writes nothing. NULL where the backend
     * has none. */
    int64_t (*conv2d_packed_floats)(const kn_conv2d_desc *d);
    kn_status (*conv2d_pack_w)(const kn_conv2d_desc *d, const float *w, float *packed);
    kn_status (*conv2d_fwd_packed)(const kn_conv2d_desc *d, const float *x, const float *packed, float *y,
                                   const kn_epilogue *ep, const kn_conv_extra *extra, void *ws);
    kn_status (*conv2d_bwd_data)(const kn_conv2d_desc *d, const float *w, const float *gy,
                                 float *gx, void *ws);
    kn_status (*conv2d_bwd_filter)(const kn_conv2d_desc *d, const float *x, const float *gy,
                                   float *gw, float *gb, void *ws);

    /* Pooling. argmax (flat index into the image plane, per output) may be NULL at inference. */
    kn_status (*maxpool2d_fwd)(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax);
    kn_status (*maxpool2d_bwd)(const kn_pool2d_desc *d, const float *gy, const int64_t *argmax,
                               float *gx);
    kn_status (*avgpool2d_fwd)(const kn_pool2d_desc *d, const float *x, float *y);
    kn_status (*avgpool2d_bwd)(const kn_pool2d_desc *d, const float *gy, float *gx);

    /* Batch normalization over [n, c, spatial]. Training updates the running stats with
     * momentum (ONNX convention: running = running * momentum + batch * (1 - momentum)),
     * uses the unbiased variance for the running update, and saves mean and 1/sqrt(var+eps). */
    kn_status (*batchnorm_infer)(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, const float *mean,
                                 const float *var, float eps, float *y);
    kn_status (*batchnorm_train)(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd);
    kn_status (*batchnorm_bwd)(int64_t n, int64_t c, int64_t spatial, const float *x,
                               const float *gy, const float *scale, const float *save_mean,
                               const float *save_invstd, float *gx, float *gscale, float *gbias);
    /* The same in pieces, for a batch split across replicas (nn/split.h), which all-reduce
     * the per-channel double sums between the pieces. sums: out[ch] = sum(x), or with a
     * center, sum((x - center)^2). apply: y = (x - mean) * invstd * scale + bias.
     * grad_sums: sum(gy), sum(gy * (x - mean)). grad_apply: gx += as batchnorm_bwd with the
     * whole batch's sums over `count` elements. NULL on devices that do not split batches. */
    kn_status (*batchnorm_sums)(int64_t n, int64_t c, int64_t spatial, const float *x, const float *center,
                           double *out);
    kn_status (*batchnorm_apply)(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                 const float *bias, const float *mean, const float *invstd, float *y);
    kn_status (*batchnorm_grad_sums)(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                const float *mean, double *sg, double *sgd);
    kn_status (*batchnorm_grad_apply)(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                      const float *scale, const float *mean, const float *invstd,
                                      const double *sg, const double *sgd, double count, float *gx);

    /* Elementwise. unary_bwd accumulates gx += gy * f'(x) (y = f(x) given too). */
    kn_status (*unary)(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y);
    kn_status (*unary_bwd)(kn_unop op, float alpha, float beta, int64_t n, const float *x,
                           const float *y, const float *gy, float *gx);
    /* y = a op b with broadcasting, in dtype (comparisons write KN_BOOL). */
    kn_status (*binary)(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a,
                        const void *b, void *y);
    /* Float32; accumulates into ga / gb (either may be NULL), reducing over broadcast dims. */
    kn_status (*binary_bwd)(kn_binop op, const kn_bcast *bc, const float *a, const float *b,
                            const float *gy, float *ga, float *gb);

    /* Reduce x of shape [outer, dim, inner] over dim: y is [outer, inner]. Callers fold
     * several adjacent axes into one, or reduce repeatedly. */
    kn_status (*reduce)(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x,
                        float *y);

    /* Softmax / LogSoftmax over dim of [outer, dim, inner]; bwd accumulates. */
    kn_status (*softmax)(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x,
                         float *y);
    kn_status (*softmax_bwd)(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y,
                             const float *gy, float *gx);

    /* Softmax cross-entropy on logits [n, c, inner] and int64 labels [n, inner]. weights
     * (per class) may be NULL. reduction: 0 none (loss [n, inner]), 1 sum, 2 mean.
     * log_prob [n, c, inner] is always written (backward reads it). */
    kn_status (*softmax_xent_fwd)(int64_t n, int64_t c, int64_t inner, const float *logits,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, float *loss,
                                  float *log_prob);
    kn_status (*softmax_xent_bwd)(int64_t n, int64_t c, int64_t inner, const float *log_prob,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, const float *gloss,
                                  float *glogits);

    /* Convert n elements between dtypes (Cast); float->int truncates toward zero,
     * anything->bool is x != 0. Strings are not handled here. */
    kn_status (*cast)(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y);

    /* Data movement in any dtype (elem = element bytes). */
    kn_status (*transpose)(size_t elem, int ndim, const int64_t *shape, const int *perm,
                           const void *x, void *y);
    /* rows x row_bytes block copy between strided rows (concat, split, slice). */
    kn_status (*copy2d)(int64_t rows, size_t row_bytes, const void *src, size_t src_stride,
                        void *dst, size_t dst_stride);
    /* y[o, j, i] = x[o, idx[j], i]; idx already made non-negative and checked. */
    kn_status (*gather)(size_t elem, int64_t outer, int64_t axis_dim, int64_t inner,
                        const int64_t *idx, int64_t nidx, const void *x, void *y);

    /* Optimizer updates over n parameters (see optim/). */
    kn_status (*sgd_step)(int64_t n, float *p, const float *g, float *vel, float lr,
                          float momentum, float dampening, float weight_decay, bool nesterov,
                          bool first_step);
    kn_status (*adam_step)(int64_t n, float *p, const float *g, float *m, float *v, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           bool decoupled, int64_t step);

    /* --- kernels added with the shape/data ops --- */
    /* y[i . ystride] = x[i . xstride] for every index i of shape (ndim <= 2 * KN_MAX_DIMS),
     * element strides, signed: x strides may be 0 (expand, tile) or negative (reversed
     * slices); x and y point at the element of index 0. */
    kn_status (*copy_strided)(size_t elem, int ndim, const int64_t *shape, const void *x,
                              const int64_t *xstride, void *y, const int64_t *ystride);
    /* Float32 y[i . ystride] += x[i . xstride] (backward of slice, expand, transpose, concat,
     * split). A 0 y stride sums over that dim; other y locations must be distinct. */
    kn_status (*add_strided)(int ndim, const int64_t *shape, const float *x,
                             const int64_t *xstride, float *y, const int64_t *ystride);
    /* Float32 gx[o, idx[j], i] += gy[o, j, i] (Gather backward; repeated indices sum).
     * idx already made non-negative and checked. */
    kn_status (*gather_bwd)(int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx,
                            int64_t nidx, const float *gy, float *gx);

    /* --- kernels added with the misc ops (pad, where, dropout, matmul...) --- */

    /* y[i] = value for n elements of elem (1, 2, 4 or 8) bytes; value holds the element's
     * bytes in its low elem bytes (host byte order), so no device pointer is needed. */
    kn_status (*fill)(size_t elem, int64_t n, uint64_t value, void *y);
    /* Pad x (ndim, shape) into y, any dtype of elem bytes. Per dim d, begin[d] / end[d]
     * elements are added before / after (negative: that many are cropped first). Constant
     * mode writes `value` (as in fill); reflect (numpy 'reflect', no edge repeat), edge and
     * wrap read the cropped input, which must be non-empty where they pad. */
    kn_status (*pad)(kn_pad_mode mode, size_t elem, int ndim, const int64_t *shape,
                     const int64_t *begin, const int64_t *end, uint64_t value, const void *x,
                     void *y);
    /* Float32 gradient of pad: gx += the sum of gy over the outputs read from each x. */
    kn_status (*pad_bwd)(kn_pad_mode mode, int ndim, const int64_t *shape, const int64_t *begin,
                         const int64_t *end, const float *gy, float *gx);
    /* out = cond ? x : y over bc->shape: bc->astride walks x, bc->bstride walks y, cstride
     * (bc->ndim entries) walks the bool condition; 0 on broadcast dims. Any dtype. */
    kn_status (*where)(size_t elem, const kn_bcast *bc, const int64_t *cstride,
                       const uint8_t *cond, const void *x, const void *y, void *out);
    /* Float32; accumulates gx += cond ? gout : 0 and gy += cond ? 0 : gout (either may be
     * NULL), reducing over broadcast dims. */
    kn_status (*where_bwd)(const kn_bcast *bc, const int64_t *cstride, const uint8_t *cond,
                           const float *gout, float *gx, float *gy);
    /* Dropout over n floats: mask[i] = (u(seed, i) >= ratio) with u a counter-based uniform
     * in [0, 1) (the same mask for a seed on every device and thread count), and
     * y = x * mask * scale. x and y may alias. */
    kn_status (*dropout_fwd)(int64_t n, float ratio, float scale, uint64_t seed, const float *x,
                             float *y, uint8_t *mask);
    /* gx += gy * mask * scale. */
    kn_status (*dropout_bwd)(int64_t n, float scale, const uint8_t *mask, const float *gy,
                             float *gx);

    /* --- kernels added with normalization/softmax/reduce --- */
    /* Gradient of reduce for any set of axes: bc's output shape is x's shape, astride
     * x's contiguous strides, bstride y's keepdims strides (0 on reduced dims); count
     * is the number of elements reduced into each y. Accumulates gx += gy * dy/dx.
     * MAX/MIN pass the whole gradient to every element equal to the result. */
    kn_status (*reduce_bwd)(kn_redop op, const kn_bcast *bc, int64_t count, const float *x,
                            const float *y, const float *gy, float *gx);
    /* ArgMax / ArgMin over dim of [outer, dim, inner] into int64 [outer, inner]. Ties give
     * the first index (the last with select_last); NaN counts as the extreme (numpy). */
    kn_status (*argreduce)(bool is_min, bool select_last, int64_t outer, int64_t dim,
                           int64_t inner, const float *x, int64_t *y);
    /* Negative log-likelihood on log-probabilities [n, c, inner], labels, weights,
     * ignore_index and reduction as softmax_xent_*; bwd accumulates into gx. */
    kn_status (*nll_fwd)(int64_t n, int64_t c, int64_t inner, const float *x,
                         const int64_t *labels, const float *weights, int64_t ignore_index,
                         int reduction, float *loss);
    kn_status (*nll_bwd)(int64_t n, int64_t c, int64_t inner, const int64_t *labels,
                         const float *weights, int64_t ignore_index, int reduction,
                         const float *gloss, float *gx);
    /* ONNX LRN across channels of [n, c, spatial]:
     * y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta. */
    kn_status (*lrn)(int64_t n, int64_t c, int64_t spatial, int64_t size, float alpha,
                     float beta, float bias, const float *x, float *y);

    /* --- kernels added with conv/pool --- */

    /* --- N-d (3-D and up) conv and pooling: same contracts as the 2-D entries --- */
    size_t (*convnd_workspace)(const kn_nd_desc *d);
    kn_status (*convnd_fwd)(const kn_nd_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws);
    kn_status (*convnd_bwd_data)(const kn_nd_desc *d, const float *w, const float *gy, float *gx,
                                 void *ws);
    kn_status (*convnd_bwd_filter)(const kn_nd_desc *d, const float *x, const float *gy, float *gw,
                                   float *gb, void *ws);
    /* MaxPool in dtype (float, double, float16 and the integer types: max is exact); argmax
     * (flat index into the spatial volume, -1 for an all-padding window) may be NULL. */
    kn_status (*maxpoolnd_fwd)(const kn_nd_desc *d, kn_dtype dtype, const void *x, void *y,
                               int64_t *argmax);
    kn_status (*maxpoolnd_bwd)(const kn_nd_desc *d, const float *gy, const int64_t *argmax,
                               float *gx);
    kn_status (*avgpoolnd_fwd)(const kn_nd_desc *d, const float *x, float *y);
    kn_status (*avgpoolnd_bwd)(const kn_nd_desc *d, const float *gy, float *gx);

    /* --- LayerNormalization --- */
    /* Normalize each of `rows` rows of d floats: mean[r], invstd[r] = 1/sqrt(var + eps)
     * (population variance) are written, y = (x - mean) * invstd * scale + bias with
     * scale, bias (NULL: none) of d values. */
    kn_status (*layernorm_fwd)(int64_t rows, int64_t d, const float *x, const float *scale,
                               const float *bias, float eps, float *y, float *mean, float *invstd);
    /* Accumulates gx, gscale, gbias (each may be NULL). */
    kn_status (*layernorm_bwd)(int64_t rows, int64_t d, const float *x, const float *gy,
                               const float *scale, const float *mean, const float *invstd,
                               float *gx, float *gscale, float *gbias);

    /* --- kernels added with the second ops batch --- */
    /* y[idx[j] * inner + i] (red)= upd[j * inner + i] for j < n, i < inner, in order (a
     * repeated index sees every update; with KN_SCATTER_NONE the last one wins). idx is
     * already non-negative and checked by the op. Reductions other than NONE need a numeric
     * dtype (float, double, float16, int8..int64, uint8..uint64). ScatterND, ScatterElements
     * (inner = 1 with flat element offsets). */
    kn_status (*scatter)(kn_dtype dtype, kn_scatter_red red, int64_t n, int64_t inner,
                         const int64_t *idx, const void *upd, void *y);
    /* Trilu over [batch, rows, cols] of elem-byte elements: keep x[r, c] where c - r >= k
     * (upper) or c - r <= k (lower), write zero bytes elsewhere. accumulate (float32 only):
     * y += the kept elements instead (the backward). */
    kn_status (*trilu)(size_t elem, bool upper, bool accumulate, int64_t batch, int64_t rows,
                       int64_t cols, int64_t k, const void *x, void *y);
    /* CumSum over dim of [outer, dim, inner] in dtype (float, double, int32, int64);
     * exclusive leaves out the element itself, reverse sums from the end. accumulate (float32
     * only): y += the sums (the backward, called with reverse flipped). */
    kn_status (*cumsum)(kn_dtype dtype, bool exclusive, bool reverse, bool accumulate,
                        int64_t outer, int64_t dim, int64_t inner, const void *x, void *y);
    /* y[o, d, i] = d == idx[o * inner + i] ? on : off over [outer, depth, inner]; on and off
     * hold element bits as in fill. An idx outside [0, depth) gives a row of off values. */
    kn_status (*one_hot)(size_t elem, int64_t outer, int64_t depth, int64_t inner,
                         const int64_t *idx, uint64_t off, uint64_t on, void *y);
    /* Separable resampling of x (ndim, xshape) into y (yshape): per dim d and output
     * coordinate o, taps source indices idx[(base_d + o) * taps + t] in [0, xshape[d]) and
     * weights w[...] at the same place, base_d = the sum of yshape over dims before d.
     * taps == 1 copies elements (any dtype, weights ignored: nearest); more taps need float32
     * and sum over the product of the per-dim weights (linear: 2, cubic: 4). */
    kn_status (*resize)(kn_dtype dtype, int ndim, const int64_t *xshape, const int64_t *yshape,
                        int taps, const int64_t *idx, const float *w, const void *x, void *y);
} kn_kernels;

/* The table for a device, or NULL when kiln was built without it. */
const kn_kernels *kn_kernels_get(kn_device device);
/* cuda/ calls this from its init; core never includes cuda/. */
void kn_kernels_register(const kn_kernels *k);
/* True when the device's table exists and the device is usable now (a GPU is present). */
bool kn_device_available(kn_device device);
/* Backends that need a runtime probe (CUDA) set this hook. */
void kn_device_set_probe(kn_device device, bool (*probe)(void));

#define KN_KCALL(k, fn, ...)                                                              \
    ((k)->fn ? (k)->fn(__VA_ARGS__)                                                      \
             : kn_error(KN_ERR_UNSUPPORTED, "kernel '%s' is not implemented on %s", #fn, \
                        (k)->name))

#endif
