/* kiln optimize MODEL -O L -o OUT.onnx: run the inference passes, write standard ONNX. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: kiln optimize MODEL.onnx -o OUT.onnx [-O 0|1|2] [--disable PASS[,PASS...]]\n\n"
            "Runs the inference optimizer (default -O 2) and writes the result as standard ONNX:\n"
            "kiln's fused ops are expanded back to standard ops, folded BatchNormalization stays\n"
            "folded. Prints each pass with its change count and time, and node counts before and after.\n"
            "Passes:");
    for (int i = 0; i < kn_pass_count(); i++) {
        int level;
        const char *name = kn_pass_name(i, &level);
        fprintf(status ? stderr : stdout, " %s (O%d)", name, level);
    }
    fprintf(status ? stderr : stdout, "\n");
    return status;
}

static int live_nodes(const kn_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead;
    return n;
}

/* "Conv 2, Relu 4, ..." in first-seen order. */
static void print_ops(const kn_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const kn_node *n = &g->nodes[i];
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) seen = !g->nodes[j].dead && !strcmp(g->nodes[j].op_type, n->op_type);
        if (n->dead || seen) continue;
        int count = 0;
        for (int j = i; j < g->n_nodes; j++) count += !g->nodes[j].dead && !strcmp(g->nodes[j].op_type, n->op_type);
        printf(" %s x%d", n->op_type, count);
    }
    printf("\n");
}

int kn_cmd_optimize(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *disabled = NULL;
    int level = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(0);
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!has_arg) return kn_cli_fail("optimize", "-o needs a file name");
            out = argv[++i];
        } else if (!strncmp(a, "-O", 2)) {
            if (kn_cli_level("optimize", argc, argv, &i, &level)) return 2;
        } else if (!strcmp(a, "--disable")) {
            if (!has_arg) return kn_cli_fail("optimize", "--disable needs a comma-separated list of passes");
            disabled = argv[++i];
            if (kn_cli_passes("optimize", disabled)) return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "kiln optimize: unknown option '%s'\n", a);
            return usage(2);
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "kiln optimize: unexpected argument '%s' (one model only)\n", a);
            return usage(2);
        }
    }
    if (!model || !out) {
        fprintf(stderr, "kiln optimize: %s\n", !model ? "no model given" : "no output file given (-o OUT.onnx)");
        return usage(2);
    }
    kn_graph *g = NULL, *check = NULL;
    kn_pass_report r;
    if (kn_onnx_load(model, &g) != KN_OK) return kn_cli_fail("optimize", NULL);
    int rc = 1;
    printf("optimize %s at -O %d\n", model, level);
    printf("nodes before: %d\n", live_nodes(g));
    printf("  ops:");
    print_ops(g);
    if (kn_graph_optimize(g, level, disabled, &r) != KN_OK) { kn_cli_fail("optimize", NULL); goto done; }
    if (r.n) {
        printf("  %-22s %8s %10s\n", "pass", "changes", "time ms");
        double total = 0;
        for (int i = 0; i < r.n; i++) {
            printf("  %-22s %8d %10.3f\n", r.passes[i].name, r.passes[i].changes, r.passes[i].seconds * 1e3);
            total += r.passes[i].seconds;
        }
        printf("  %-22s %8s %10.3f\n", "total", "", total * 1e3);
    }
    printf("nodes after:  %d\n", r.nodes_after);
    printf("  ops:");
    print_ops(g);
    if (kn_onnx_save(g, out, NULL) != KN_OK) { kn_cli_fail("optimize", NULL); goto done; }
    /* read it back: the file must load, and its node count (fused ops expanded) is what users see */
    if (kn_onnx_load(out, &check) != KN_OK) { kn_cli_fail("optimize", NULL); goto done; }
    printf("wrote %s: %d standard ONNX nodes (kiln fused ops expanded)\n", out, live_nodes(check));
    rc = 0;
done:
    kn_graph_free(check);
    kn_graph_free(g);
    return rc;
}
