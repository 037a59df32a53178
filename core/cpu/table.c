/* The KN_CPU kernel table. */
#include "core/cpu/cpu.h"

#include <string.h>

static void *cpu_alloc(size_t bytes) { return kn_host_alloc(bytes); }
static void cpu_free(void *p) { kn_host_free(p); }
static kn_status cpu_memcpy(void *dst, const void *src, size_t bytes)
{
    memmove(dst, src, bytes);
    return KN_OK;
}
static kn_status cpu_memset0(void *dst, size_t bytes)
{
    memset(dst, 0, bytes);
    return KN_OK;
}
static kn_status cpu_sync(void) { return KN_OK; }

const kn_kernels kn_cpu_kernels = {
    .name = "cpu",
    .device = KN_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memcpy_h2d = cpu_memcpy,
    .memcpy_d2h = cpu_memcpy,
    .memcpy_d2d = cpu_memcpy,
    .memset0 = cpu_memset0,
    .sync = cpu_sync,

    .gemm = kn_cpu_gemm,
#if defined(__AVX512F__)
    .gemm_packed_floats = kn_cpu_gemm_packed_floats,
    .gemm_pack_b = kn_cpu_gemm_pack_b,
    .gemm_packed = kn_cpu_gemm_packed,
#endif

    .unary = kn_cpu_unary,
    .unary_bwd = kn_cpu_unary_bwd,
    .binary = kn_cpu_binary,
    .binary_bwd = kn_cpu_binary_bwd,

    /* conv */
    .conv2d_workspace = kn_cpu_conv2d_workspace,
    .conv2d_fwd = kn_cpu_conv2d_fwd,
#if defined(__AVX512F__)
    .conv2d_packed_floats = kn_cpu_conv2d_packed_floats,
    .conv2d_pack_w = kn_cpu_conv2d_pack_w,
    .conv2d_fwd_packed = kn_cpu_conv2d_fwd_packed,
#endif
    .conv2d_bwd_data = kn_cpu_conv2d_bwd_data,
    .conv2d_bwd_filter = kn_cpu_conv2d_bwd_filter,

    /* pool */
    .maxpool2d_fwd = kn_cpu_maxpool2d_fwd,
    .maxpool2d_bwd = kn_cpu_maxpool2d_bwd,
    .avgpool2d_fwd = kn_cpu_avgpool2d_fwd,
    .avgpool2d_bwd = kn_cpu_avgpool2d_bwd,

    /* N-d conv and pool (conv3d.c, pool3d.c) */
    .convnd_workspace = kn_cpu_convnd_workspace,
    .convnd_fwd = kn_cpu_convnd_fwd,
    .convnd_bwd_data = kn_cpu_convnd_bwd_data,
    .convnd_bwd_filter = kn_cpu_convnd_bwd_filter,
    .maxpoolnd_fwd = kn_cpu_maxpoolnd_fwd,
    .maxpoolnd_bwd = kn_cpu_maxpoolnd_bwd,
    .avgpoolnd_fwd = kn_cpu_avgpoolnd_fwd,
    .avgpoolnd_bwd = kn_cpu_avgpoolnd_bwd,

    /* layernorm */
    .layernorm_fwd = kn_cpu_layernorm_fwd,
    .layernorm_bwd = kn_cpu_layernorm_bwd,

    /* batchnorm */
    .batchnorm_infer = kn_cpu_batchnorm_infer,
    .batchnorm_train = kn_cpu_batchnorm_train,
    .batchnorm_bwd = kn_cpu_batchnorm_bwd,
    .batchnorm_sums = kn_cpu_batchnorm_sums,
    .batchnorm_apply = kn_cpu_batchnorm_apply,
    .batchnorm_grad_sums = kn_cpu_batchnorm_grad_sums,
    .batchnorm_grad_apply = kn_cpu_batchnorm_grad_apply,
    .lrn = kn_cpu_lrn,

    /* reduce, softmax, xent */
    .reduce = kn_cpu_reduce,
    .reduce_bwd = kn_cpu_reduce_bwd,
    .argreduce = kn_cpu_argreduce,
    .softmax = kn_cpu_softmax,
    .softmax_bwd = kn_cpu_softmax_bwd,
    .softmax_xent_fwd = kn_cpu_softmax_xent_fwd,
    .softmax_xent_bwd = kn_cpu_softmax_xent_bwd,
    .nll_fwd = kn_cpu_nll_fwd,
    .nll_bwd = kn_cpu_nll_bwd,

    /* transpose, copy, gather, cast */
    .transpose = kn_cpu_transpose,
    .copy2d = kn_cpu_copy2d,
    .copy_strided = kn_cpu_copy_strided,
    .add_strided = kn_cpu_add_strided,
    .gather = kn_cpu_gather,
    .gather_bwd = kn_cpu_gather_bwd,
    .cast = kn_cpu_cast,

    /* misc: pad, where, dropout */
    .fill = kn_cpu_fill,
    .pad = kn_cpu_pad,
    .pad_bwd = kn_cpu_pad_bwd,
    .where = kn_cpu_where,
    .where_bwd = kn_cpu_where_bwd,
    .dropout_fwd = kn_cpu_dropout_fwd,
    .dropout_bwd = kn_cpu_dropout_bwd,

    /* optim */
    .sgd_step = kn_cpu_sgd_step,
    .adam_step = kn_cpu_adam_step,

    /* second ops batch: index.c, cumsum.c, resize.c */
    .scatter = kn_cpu_scatter,
    .trilu = kn_cpu_trilu,
    .cumsum = kn_cpu_cumsum,
    .one_hot = kn_cpu_one_hot,
    .resize = kn_cpu_resize,
};
