/* Running one node outside a session: used by static shape inference, constant
 * folding and tests. */
#include "nn/op.h"

#include <stdlib.h>
#include <string.h>

static kn_status with_node(const kn_node *n, kn_status st)
{
    if (st == KN_OK) return st;
    if (strncmp(kn_last_error(), "node '", 6) != 0)
        kn_error_context(st, "node '%s' (%s): ", n->name, n->op_type);
    return st;
}

kn_status kn_node_infer(const kn_graph *g, const kn_node *n, kn_tensor *const *in, kn_tensor *const *out)
{
    kn_op_ctx c = {.graph = g, .node = n, .opset = g->opset, .k = kn_kernels_get(KN_CPU), .device = KN_CPU,
                   .n_in = n->n_inputs, .in = in, .n_out = n->n_outputs, .out = out};
    for (int i = 0; i < n->n_outputs; i++) memset(out[i], 0, sizeof *out[i]);
    for (int i = 0; i < n->n_inputs; i++)
        if ((n->op->infer_data >> i & 1) && in[i] && !in[i]->data)
            return kn_node_error(n, KN_ERR_UNSUPPORTED, "input %d must be known to infer shapes", i);
    return with_node(n, n->op->infer(&c));
}

kn_status kn_node_eval(const kn_graph *g, const kn_node *n, kn_tensor *const *in, kn_tensor *outs)
{
    kn_tensor *out[64], state[KN_OP_MAX_STATE];
    if (n->n_outputs > 64) return kn_node_error(n, KN_ERR_UNSUPPORTED, "more than 64 outputs");
    for (int i = 0; i < n->n_outputs; i++) out[i] = &outs[i];
    KN_TRY(kn_node_infer(g, n, in, out));
    kn_status st = KN_OK;
    for (int i = 0; i < n->n_outputs && st == KN_OK; i++) {
        if (outs[i].dtype == KN_UNDEFINED) continue;
        kn_tensor meta = outs[i];
        st = kn_tensor_init(&outs[i], meta.dtype, meta.ndim, meta.shape);
        if (st != KN_OK) memset(&outs[i], 0, sizeof outs[i]);
    }
    memset(state, 0, sizeof state);
    kn_op_ctx c = {.graph = g, .node = n, .opset = g->opset, .k = kn_kernels_get(KN_CPU), .device = KN_CPU,
                   .n_in = n->n_inputs, .in = in, .n_out = n->n_outputs, .out = out, .state = state};
    void *ws = NULL;
    if (st == KN_OK && n->op->workspace) {
        c.ws_bytes = n->op->workspace(&c);
        if (c.ws_bytes && !(ws = c.ws = kn_host_alloc(c.ws_bytes)))
            st = kn_error(KN_ERR_NOMEM, "out of memory for %zu bytes of workspace", c.ws_bytes);
    }
    if (st == KN_OK) st = with_node(n, n->op->forward(&c));
    kn_host_free(ws);
    for (int i = 0; i < KN_OP_MAX_STATE; i++) kn_tensor_release(&state[i]);
    if (st != KN_OK)
        for (int i = 0; i < n->n_outputs; i++) kn_tensor_release(&outs[i]);
    return st;
}
