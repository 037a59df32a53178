/* kiln check MODEL: list every problem in a model (names, cycles, types,
 * shapes, unsupported ops); exit status 1 when there is any. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_SIZE (1 << 16)

int kn_cmd_check(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: kiln check MODEL.onnx\n\nValidates the model: dangling names, cycles, type and shape errors and\n"
               "unsupported ops. Every problem is listed; the exit status is 1 if any was found.\n");
        return argc == 2 ? 0 : 2;
    }
    char *report = calloc(1, REPORT_SIZE);
    if (!report) return kn_cli_fail("check", "out of memory");
    kn_graph *g = NULL;
    int n_import = 0, n_graph = 0;
    if (kn_onnx_load_report(argv[1], &g, report, REPORT_SIZE, &n_import) != KN_OK) {
        free(report);
        return kn_cli_fail("check", NULL);
    }
    fputs(report, stderr);
    report[0] = 0;
    kn_graph_validate(g, report, REPORT_SIZE, &n_graph);
    for (char *line = report, *nl; *line; line = nl + 1) { /* each line names the model */
        nl = strchr(line, '\n');
        if (!nl) { fprintf(stderr, "%s: %s\n", argv[1], line); break; }
        fprintf(stderr, "%s: %.*s\n", argv[1], (int)(nl - line), line);
    }
    free(report);
    kn_graph_free(g);
    int total = n_import + n_graph;
    if (total) {
        fprintf(stderr, "kiln check: %s: %d problem%s\n", argv[1], total, total == 1 ? "" : "s");
        return 1;
    }
    printf("%s: ok\n", argv[1]);
    return 0;
}
