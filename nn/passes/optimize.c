/* The pass pipeline: level-gated, each pass switchable off by name. */
#include "nn/passes/passes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef kn_status (*pass_fn)(kn_graph *, int *);

static const struct { const char *name; int level; pass_fn fn; } pipeline[] = {
    {"fold_constants", 1, kn_pass_fold_constants},
    {"remove_identity", 1, kn_pass_remove_identity},
    {"matmul_add_to_gemm", 1, kn_pass_matmul_add_to_gemm},
    {"fold_batchnorm", 2, kn_pass_fold_batchnorm},
    {"fuse_residual", 2, kn_pass_fuse_residual},
    {"fuse_hardswish", 2, kn_pass_fuse_hardswish},
    {"fuse_activation", 2, kn_pass_fuse_activation},
    {"fuse_pool", 2, kn_pass_fuse_pool},
    {"fuse_side_conv", 2, kn_pass_fuse_side_conv},
    {"pretranspose_gemm", 2, kn_pass_pretranspose_gemm},
    {"remove_dead", 1, kn_pass_remove_dead},
};

int kn_pass_count(void) { return (int)(sizeof pipeline / sizeof *pipeline); }

const char *kn_pass_name(int i, int *level)
{
    if (i < 0 || i >= kn_pass_count()) return NULL;
    if (level) *level = pipeline[i].level;
    return pipeline[i].name;
}

static bool listed(const char *csv, const char *name)
{
    if (!csv) return false;
    size_t n = strlen(name);
    for (const char *p = csv; (p = strstr(p, name)); p += n)
        if ((p == csv || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return true;
    return false;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int live_nodes(const kn_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead;
    return n;
}

kn_status kn_graph_optimize(kn_graph *g, int level, const char *disabled, kn_pass_report *report)
{
    if (level < 0 || level > 2) return kn_error(KN_ERR_INVALID, "optimization level %d is not 0, 1 or 2", level);
    const char *env = getenv("KILN_DISABLE_PASSES");
    kn_pass_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    report->nodes_before = live_nodes(g);
    if (level == 0) {
        report->nodes_after = report->nodes_before;
        return KN_OK;
    }
    /* passes read static shapes (residual fusion, MatMul rank); failures here are the model's */
    KN_TRY(kn_graph_infer_shapes(g));
    for (size_t i = 0; i < sizeof pipeline / sizeof *pipeline; i++) {
        if (pipeline[i].level > level || listed(disabled, pipeline[i].name) || listed(env, pipeline[i].name)) continue;
        kn_pass_result *r = &report->passes[report->n++];
        r->name = pipeline[i].name;
        double t0 = seconds();
        kn_status st = pipeline[i].fn(g, &r->changes);
        if (st != KN_OK) return kn_error_context(st, "pass %s: ", pipeline[i].name);
        r->seconds = seconds() - t0;
    }
    KN_TRY(kn_graph_compact(g));
    report->nodes_after = live_nodes(g);
    return KN_OK;
}
