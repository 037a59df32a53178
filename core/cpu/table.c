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

    .unary = kn_cpu_unary,
    .unary_bwd = kn_cpu_unary_bwd,
    .binary = kn_cpu_binary,
    .binary_bwd = kn_cpu_binary_bwd,

    /* conv */
    .conv2d_workspace = kn_cpu_conv2d_workspace,
    .conv2d_fwd = kn_cpu_conv2d_fwd,
    .conv2d_bwd_data = kn_cpu_conv2d_bwd_data,
    .conv2d_bwd_filter = kn_cpu_conv2d_bwd_filter,

    /* pool */
    .maxpool2d_fwd = kn_cpu_maxpool2d_fwd,
    .maxpool2d_bwd = kn_cpu_maxpool2d_bwd,
    .avgpool2d_fwd = kn_cpu_avgpool2d_fwd,
    .avgpool2d_bwd = kn_cpu_avgpool2d_bwd,

    /* batchnorm */

    /* reduce, softmax, xent */

    /* transpose, copy, gather, cast */

    /* misc: pad, where, dropout */

    /* optim */
};
