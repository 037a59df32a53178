/* kiln info MODEL: what a model is made of. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_value(const kn_graph *g, int v)
{
    const kn_value *val = &g->values[v];
    printf("  %-24s %-8s ", val->name, kn_dtype_name(val->dtype));
    if (val->ndim < 0) { printf("[?]\n"); return; }
    printf("[");
    for (int d = 0; d < val->ndim; d++) {
        if (d) printf(",");
        if (val->shape[d] >= 0) printf("%lld", (long long)val->shape[d]);
        else printf("%s", val->dim_param[d] ? val->dim_param[d] : "?");
    }
    printf("]\n");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int kn_cmd_info(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: kiln info MODEL.onnx\n\nPrints the IR version, opsets, producer, inputs and outputs with\n"
               "shapes and types, an op histogram and the parameter count and bytes.\n");
        return argc == 2 ? 0 : 2;
    }
    kn_graph *g;
    if (kn_onnx_load(argv[1], &g) != KN_OK) return kn_cli_fail("info", NULL);
    printf("model:     %s\n", argv[1]);
    printf("ir:        %lld\n", (long long)g->ir_version);
    printf("opset:     ai.onnx %d\n", g->opset);
    printf("producer:  %s %s\n", g->producer_name ? g->producer_name : "?", g->producer_version ? g->producer_version : "");
    if (g->name && *g->name) printf("graph:     %s\n", g->name);
    printf("inputs (%d):\n", g->n_inputs);
    for (int i = 0; i < g->n_inputs; i++) print_value(g, g->inputs[i]);
    printf("outputs (%d):\n", g->n_outputs);
    for (int i = 0; i < g->n_outputs; i++) print_value(g, g->outputs[i]);
    /* histogram: sort op names, count runs */
    const char **ops = malloc(sizeof(char *) * (size_t)(g->n_nodes ? g->n_nodes : 1));
    if (!ops) { kn_graph_free(g); return kn_cli_fail("info", "out of memory"); }
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead) ops[n++] = g->nodes[i].op_type;
    qsort(ops, (size_t)n, sizeof *ops, cmp_str);
    printf("nodes (%d):\n", n);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && !strcmp(ops[j], ops[i])) j++;
        printf("  %-24s %d\n", ops[i], j - i);
        i = j;
    }
    free(ops);
    int64_t count, bytes;
    kn_graph_param_stats(g, &count, &bytes);
    printf("parameters: %lld (%lld bytes, %.2f MiB)\n", (long long)count, (long long)bytes, (double)bytes / (1 << 20));
    kn_graph_free(g);
    return 0;
}
