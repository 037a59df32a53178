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

/* elementwise.c */
kn_status kn_cpu_unary(kn_unop op, float alpha, float beta, int64_t n, const float *x, float *y);
kn_status kn_cpu_unary_bwd(kn_unop op, float alpha, float beta, int64_t n, const float *x,
                           const float *y, const float *gy, float *gx);
kn_status kn_cpu_binary(kn_binop op, kn_dtype dtype, const kn_bcast *bc, const void *a,
                        const void *b, void *y);
kn_status kn_cpu_binary_bwd(kn_binop op, const kn_bcast *bc, const float *a, const float *b,
                            const float *gy, float *ga, float *gb);

/* conv.c */

/* pool.c */

/* batchnorm.c */

/* reduce.c, softmax.c, xent.c */

/* transpose.c, copy.c, gather.c, cast.c */

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

#endif
