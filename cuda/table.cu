/* The KN_CUDA kernel table and kn_cuda_register, which core/kernels.c calls once on the
 * first kn_kernels_get. Entries left NULL make KN_KCALL report them as unsupported. */
#include "cuda/common.h"

static kn_kernels cuda_table;

extern "C" void kn_cuda_register(void)
{
    kn_kernels *t = &cuda_table;
    t->name = "cuda";
    t->device = KN_CUDA;

    t->alloc = kn_cuda_alloc;
    t->free = kn_cuda_free;
    t->memcpy_h2d = kn_cuda_memcpy_h2d;
    t->memcpy_d2h = kn_cuda_memcpy_d2h;
    t->memcpy_d2d = kn_cuda_memcpy_d2d;
    t->memset0 = kn_cuda_memset0;
    t->sync = kn_cuda_sync;
    t->event_record = kn_cuda_event_record;
    t->event_elapsed = kn_cuda_event_elapsed;
    t->event_destroy = kn_cuda_event_destroy;

    t->gemm = kn_cuda_gemm;

    t->conv2d_workspace = kn_cuda_conv2d_workspace;
    t->conv2d_fwd = kn_cuda_conv2d_fwd;
    t->conv2d_bwd_data = kn_cuda_conv2d_bwd_data;
    t->conv2d_bwd_filter = kn_cuda_conv2d_bwd_filter;

    t->maxpool2d_fwd = kn_cuda_maxpool2d_fwd;
    t->maxpool2d_bwd = kn_cuda_maxpool2d_bwd;
    t->avgpool2d_fwd = kn_cuda_avgpool2d_fwd;
    t->avgpool2d_bwd = kn_cuda_avgpool2d_bwd;

    t->batchnorm_infer = kn_cuda_batchnorm_infer;
    t->batchnorm_train = kn_cuda_batchnorm_train;
    t->batchnorm_bwd = kn_cuda_batchnorm_bwd;

    t->unary = kn_cuda_unary;
    t->unary_bwd = kn_cuda_unary_bwd;
    t->binary = kn_cuda_binary;
    t->binary_bwd = kn_cuda_binary_bwd;

    t->reduce = kn_cuda_reduce;
    t->softmax = kn_cuda_softmax;
    t->softmax_bwd = kn_cuda_softmax_bwd;
    t->softmax_xent_fwd = kn_cuda_softmax_xent_fwd;
    t->softmax_xent_bwd = kn_cuda_softmax_xent_bwd;

    t->cast = kn_cuda_cast;
    t->transpose = kn_cuda_transpose;
    t->copy2d = kn_cuda_copy2d;
    t->gather = kn_cuda_gather;
    t->copy_strided = kn_cuda_copy_strided;
    t->add_strided = kn_cuda_add_strided;
    t->fill = kn_cuda_fill;
    t->argreduce = kn_cuda_argreduce;

    t->sgd_step = kn_cuda_sgd_step;
    t->adam_step = kn_cuda_adam_step;

    kn_kernels_register(t);
    kn_device_set_probe(KN_CUDA, kn_cuda_probe);
}
