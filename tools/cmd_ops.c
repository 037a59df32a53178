/* kiln ops: list every registered operator (domain, name, trainable or not). */
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

int kn_cmd_ops(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: kiln ops\n\nLists the operators kiln implements; 'grad' marks ops with a backward pass.\n");
        return 0;
    }
    for (int i = 0; i < kn_op_count(); i++) {
        const kn_op_def *op = kn_op_at(i);
        printf("%-8s %-28s %s\n", op->domain && *op->domain ? op->domain : "ai.onnx", op->name,
               op->backward ? "grad" : "");
    }
    return 0;
}
