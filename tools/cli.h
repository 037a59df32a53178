/* kiln CLI: shared helpers for subcommands (tools/cmd_*.c). */
#ifndef KN_CLI_H
#define KN_CLI_H

#include "kiln.h"

#define KN_CMD(name, fn, help) int fn(int argc, char **argv);
#include "tools/commands.def"
#undef KN_CMD

/* Print "kiln <cmd>: <message>" to stderr with kn_last_error() when msg is NULL; returns 1. */
int kn_cli_fail(const char *cmd, const char *msg);
/* Parse --device cpu|cuda|auto; auto falls back to CPU with a note on stderr. */
int kn_cli_device(const char *cmd, const char *arg, kn_device *out);

#endif
