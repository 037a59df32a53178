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

/* optim.c */

#endif
