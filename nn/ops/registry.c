/* The registry: built from ops.def, so the list lives in one place. */
#include "nn/op.h"

#include <string.h>

#define KN_OP(sym) extern const kn_op_def kn_op_##sym;
#include "nn/ops/ops.def"
#undef KN_OP

static const kn_op_def *const all_ops[] = {
#define KN_OP(sym) &kn_op_##sym,
#include "nn/ops/ops.def"
#undef KN_OP
};

static bool default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

const kn_op_def *kn_op_find(const char *domain, const char *op_type)
{
    if (!op_type) return NULL;
    for (size_t i = 0; i < sizeof all_ops / sizeof *all_ops; i++) {
        const kn_op_def *op = all_ops[i];
        bool same_domain = default_domain(domain) ? default_domain(op->domain)
                                                  : (op->domain && !strcmp(op->domain, domain));
        if (same_domain && !strcmp(op->name, op_type)) return op;
    }
    return NULL;
}

int kn_op_count(void) { return (int)(sizeof all_ops / sizeof *all_ops); }
const kn_op_def *kn_op_at(int i) { return i >= 0 && i < kn_op_count() ? all_ops[i] : NULL; }
