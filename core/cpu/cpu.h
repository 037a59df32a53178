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

/* batchnorm.c */

/* reduce.c, softmax.c, xent.c */

/* transpose.c, copy.c, gather.c, cast.c */

/* misc: pad.c, where.c, dropout.c */

/* optim.c */

#endif
