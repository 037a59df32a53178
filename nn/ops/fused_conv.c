/* kiln.FusedConv: Conv with an epilogue, produced by the level-2 optimizer.
 * Inputs X, W, B (optional), Z (optional residual of the output's shape, added
 * before the activation); attributes of Conv plus `activation` and
 * `activation_params` (see kn_fused_activation). Inference only: training graphs
 * keep the unfused ops. */
#include "nn/ops/window.h"

static kn_status fused_conv_infer(kn_op_ctx *c) { return kn_conv_infer(c, true); }

static kn_status fused_conv_forward(kn_op_ctx *c)
{
    kn_act act;
    float alpha, beta;
    KN_TRY(kn_fused_activation(c->node, &act, &alpha, &beta));
    return kn_conv_forward(c, KN_IN(c, 3), act, alpha, beta);
}

const kn_op_def kn_op_fused_conv = {
    .name = "FusedConv", .domain = "kiln", .min_inputs = 2, .max_inputs = 4, .min_outputs = 1, .max_outputs = 1,
    .infer = fused_conv_infer, .forward = fused_conv_forward, .workspace = kn_conv_workspace,
};
