/* kiln — CPU kernels (internal). Each family lives in its own file; table.c
 * puts them into the KN_CPU kernel table. Semantics are documented on the
 * table entries in core/kernels.h. */
#ifndef KN_CPU_H
#define KN_CPU_H

#include "core/kernels.h"

/* gemm.c */
kn_status kn_cpu_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc, const kn_epilogue *ep);
/* Apply an epilogue to an [m, n] row-major block with leading dimension ldc. */
void kn_cpu_epilogue(int64_t m, int64_t n, float *c, int64_t ldc, const kn_epilogue *ep);

/* pconv.c: inference convolution on prepacked weights (AVX-512 builds, >= 16 output
 * channels, groups of 1; packed_floats is 0 where it does not apply) */
int64_t kn_cpu_conv2d_packed_floats(const kn_conv2d_desc *d);
size_t kn_cpu_conv2d_packed_workspace(const kn_conv2d_desc *d);
kn_status kn_cpu_conv2d_pack_w(const kn_conv2d_desc *d, const float *w, float *packed);
kn_status kn_cpu_conv2d_fwd_packed(const kn_conv2d_desc *d, const float *x, const float *packed, float *y,
                                   const kn_epilogue *ep, const kn_conv_extra *extra, void *ws);

/* pgemm.c: inference GEMM on prepacked weights (AVX-512 builds; elsewhere unavailable) */
bool kn_cpu_gemm_packed_available(void);
int64_t kn_cpu_gemm_packed_floats(int64_t k, int64_t n);
kn_status kn_cpu_gemm_pack_b(bool trans_b, int64_t k, int64_t n, const float *b, int64_t ldb, float *packed);
kn_status kn_cpu_gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *packed, float beta, float *c, int64_t ldc, const kn_epilogue *ep);

/* elementwise.c */
kn_status kn_cpu_unary(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y);
kn_status kn_cpu_unary_bwd(kn_unop op, float alpha, float beta, int64_t n, const float *x,
                           const float *y, const float *gy, float *gx);
kn_status kn_cpu_binary(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a,
                        const void *b, void *y);
kn_status kn_cpu_binary_bwd(kn_binop op, const kn_bcast *bc, const float *a, const float *b,
                            const float *gy, float *ga, float *gb);

/* conv.c */
size_t kn_cpu_conv2d_workspace(const kn_conv2d_desc *d);
kn_status kn_cpu_conv2d_fwd(const kn_conv2d_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws);
kn_status kn_cpu_conv2d_bwd_data(const kn_conv2d_desc *d, const float *w, const float *gy, float *gx,
                                 void *ws);
kn_status kn_cpu_conv2d_bwd_filter(const kn_conv2d_desc *d, const float *x, const float *gy, float *gw,
                                   float *gb, void *ws);

/* pool.c */
kn_status kn_cpu_maxpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y, int64_t *argmax);
kn_status kn_cpu_maxpool2d_bwd(const kn_pool2d_desc *d, const float *gy, const int64_t *argmax, float *gx);
kn_status kn_cpu_avgpool2d_fwd(const kn_pool2d_desc *d, const float *x, float *y);
kn_status kn_cpu_avgpool2d_bwd(const kn_pool2d_desc *d, const float *gy, float *gx);

/* conv3d.c, pool3d.c: N-d (3-D and up) conv and pooling */
size_t kn_cpu_convnd_workspace(const kn_nd_desc *d);
kn_status kn_cpu_convnd_fwd(const kn_nd_desc *d, const float *x, const float *w, float *y,
                            const kn_epilogue *ep, void *ws);
kn_status kn_cpu_convnd_bwd_data(const kn_nd_desc *d, const float *w, const float *gy, float *gx,
                                 void *ws);
kn_status kn_cpu_convnd_bwd_filter(const kn_nd_desc *d, const float *x, const float *gy, float *gw,
                                   float *gb, void *ws);
kn_status kn_cpu_maxpoolnd_fwd(const kn_nd_desc *d, kn_dtype dtype, const void *x, void *y,
                               int64_t *argmax);
kn_status kn_cpu_maxpoolnd_bwd(const kn_nd_desc *d, const float *gy, const int64_t *argmax,
                               float *gx);
kn_status kn_cpu_avgpoolnd_fwd(const kn_nd_desc *d, const float *x, float *y);
kn_status kn_cpu_avgpoolnd_bwd(const kn_nd_desc *d, const float *gy, float *gx);

/* layernorm.c */
kn_status kn_cpu_layernorm_fwd(int64_t rows, int64_t d, const float *x, const float *scale,
                               const float *bias, float eps, float *y, float *mean, float *invstd);
kn_status kn_cpu_layernorm_bwd(int64_t rows, int64_t d, const float *x, const float *gy,
                               const float *scale, const float *mean, const float *invstd,
                               float *gx, float *gscale, float *gbias);

/* batchnorm.c */
kn_status kn_cpu_batchnorm_infer(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, const float *mean,
                                 const float *var, float eps, float *y);
kn_status kn_cpu_batchnorm_train(int64_t n, int64_t c, int64_t spatial, const float *x,
                                 const float *scale, const float *bias, float eps, float momentum,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd);
kn_status kn_cpu_batchnorm_bwd(int64_t n, int64_t c, int64_t spatial, const float *x,
                               const float *gy, const float *scale, const float *save_mean,
                               const float *save_invstd, float *gx, float *gscale, float *gbias);
kn_status kn_cpu_batchnorm_sums(int64_t n, int64_t c, int64_t spatial, const float *x, const float *center, double *out);
kn_status kn_cpu_batchnorm_apply(int64_t n, int64_t c, int64_t spatial, const float *x, const float *scale,
                                 const float *bias, const float *mean, const float *invstd, float *y);
kn_status kn_cpu_batchnorm_grad_sums(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                const float *mean, double *sg, double *sgd);
kn_status kn_cpu_batchnorm_grad_apply(int64_t n, int64_t c, int64_t spatial, const float *x, const float *gy,
                                      const float *scale, const float *mean, const float *invstd, const double *sg,
                                      const double *sgd, double count, float *gx);
kn_status kn_cpu_lrn(int64_t n, int64_t c, int64_t spatial, int64_t size, float alpha, float beta,
                     float bias, const float *x, float *y);

/* reduce.c, softmax.c, xent.c */
kn_status kn_cpu_reduce(kn_redop op, int64_t outer, int64_t dim, int64_t inner, const float *x,
                        float *y);
kn_status kn_cpu_reduce_bwd(kn_redop op, const kn_bcast *bc, int64_t count, const float *x,
                            const float *y, const float *gy, float *gx);
kn_status kn_cpu_argreduce(bool is_min, bool select_last, int64_t outer, int64_t dim, int64_t inner,
                           const float *x, int64_t *y);
kn_status kn_cpu_softmax(bool log, int64_t outer, int64_t dim, int64_t inner, const float *x,
                         float *y);
kn_status kn_cpu_softmax_bwd(bool log, int64_t outer, int64_t dim, int64_t inner, const float *y,
                             const float *gy, float *gx);
kn_status kn_cpu_softmax_xent_fwd(int64_t n, int64_t c, int64_t inner, const float *logits,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, float *loss,
                                  float *log_prob);
kn_status kn_cpu_softmax_xent_bwd(int64_t n, int64_t c, int64_t inner, const float *log_prob,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, const float *gloss,
                                  float *glogits);
kn_status kn_cpu_nll_fwd(int64_t n, int64_t c, int64_t inner, const float *x, const int64_t *labels,
                         const float *weights, int64_t ignore_index, int reduction, float *loss);
kn_status kn_cpu_nll_bwd(int64_t n, int64_t c, int64_t inner, const int64_t *labels,
                         const float *weights, int64_t ignore_index, int reduction,
                         const float *gloss, float *gx);

/* transpose.c, copy.c, gather.c, cast.c */
kn_status kn_cpu_transpose(size_t elem, int ndim, const int64_t *shape, const int *perm,
                           const void *x, void *y);
kn_status kn_cpu_copy2d(int64_t rows, size_t row_bytes, const void *src, size_t src_stride,
                        void *dst, size_t dst_stride);
kn_status kn_cpu_copy_strided(size_t elem, int ndim, const int64_t *shape, const void *x,
                              const int64_t *xstride, void *y, const int64_t *ystride);
kn_status kn_cpu_add_strided(int ndim, const int64_t *shape, const float *x,
                             const int64_t *xstride, float *y, const int64_t *ystride);
kn_status kn_cpu_gather(size_t elem, int64_t outer, int64_t axis_dim, int64_t inner,
                        const int64_t *idx, int64_t nidx, const void *x, void *y);
kn_status kn_cpu_gather_bwd(int64_t outer, int64_t axis_dim, int64_t inner, const int64_t *idx,
                            int64_t nidx, const float *gy, float *gx);
/* Drop size-1 dims of a strided index space and merge neighbours contiguous in both
 * operands (copy.c). Returns the new rank (0 = one element), -1 when it is empty. */
int kn_cpu_strided_simplify(int ndim, const int64_t *shape, const int64_t *xs, const int64_t *ys,
                            int64_t *s, int64_t *a, int64_t *b);
kn_status kn_cpu_cast(kn_dtype from, kn_dtype to, int64_t n, const void *x, void *y);

/* misc: pad.c, where.c, dropout.c */
kn_status kn_cpu_fill(size_t elem, int64_t n, uint64_t value, void *y);
kn_status kn_cpu_pad(kn_pad_mode mode, size_t elem, int ndim, const int64_t *shape,
                     const int64_t *begin, const int64_t *end, uint64_t value, const void *x,
                     void *y);
kn_status kn_cpu_pad_bwd(kn_pad_mode mode, int ndim, const int64_t *shape, const int64_t *begin,
                         const int64_t *end, const float *gy, float *gx);
kn_status kn_cpu_where(size_t elem, const kn_bcast *bc, const int64_t *cstride,
                       const uint8_t *cond, const void *x, const void *y, void *out);
kn_status kn_cpu_where_bwd(const kn_bcast *bc, const int64_t *cstride, const uint8_t *cond,
                           const float *gout, float *gx, float *gy);
kn_status kn_cpu_dropout_fwd(int64_t n, float ratio, float scale, uint64_t seed, const float *x,
                             float *y, uint8_t *mask);
kn_status kn_cpu_dropout_bwd(int64_t n, float scale, const uint8_t *mask, const float *gy,
                             float *gx);

/* optim.c */
kn_status kn_cpu_sgd_step(int64_t n, float *p, const float *g, float *vel, float lr,
                          float momentum, float dampening, float weight_decay, bool nesterov,
                          bool first_step);
kn_status kn_cpu_adam_step(int64_t n, float *p, const float *g, float *m, float *v, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           bool decoupled, int64_t step);

/* index.c, cumsum.c, resize.c: the second ops batch */
kn_status kn_cpu_scatter(kn_dtype dtype, kn_scatter_red red, int64_t n, int64_t inner,
                         const int64_t *idx, const void *upd, void *y);
kn_status kn_cpu_trilu(size_t elem, bool upper, bool accumulate, int64_t batch, int64_t rows,
                       int64_t cols, int64_t k, const void *x, void *y);
kn_status kn_cpu_one_hot(size_t elem, int64_t outer, int64_t depth, int64_t inner,
                         const int64_t *idx, uint64_t off, uint64_t on, void *y);
kn_status kn_cpu_cumsum(kn_dtype dtype, bool exclusive, bool reverse, bool accumulate,
                        int64_t outer, int64_t dim, int64_t inner, const void *x, void *y);
kn_status kn_cpu_resize(kn_dtype dtype, int ndim, const int64_t *xshape, const int64_t *yshape,
                        int taps, const int64_t *idx, const float *w, const void *x, void *y);

#endif
