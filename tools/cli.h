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

/* ---- shared by optimize, profile, bench, eval (tools/cli_common.c) ----
 * Each parser prints "kiln <cmd>: ..." on stderr when it fails and returns non-zero. */

/* Strict integer in [lo, hi] for option `opt` (no trailing garbage, no overflow). */
int kn_cli_int(const char *cmd, const char *opt, const char *val, long lo, long hi, long *out);
/* -O L / -OL at argv[*i]: advances *i past the value. */
int kn_cli_level(const char *cmd, int argc, char **argv, int *i, int *level);
/* Comma-separated pass names: every one must be a pass kn_graph_optimize knows. */
int kn_cli_passes(const char *cmd, const char *csv);

/* Options common to the commands that run a model many times. */
typedef struct kn_cli_perf {
    const char *model;
    int64_t batch; /* value for symbolic dims */
    bool batch_given;
    int iters, warmup;
    kn_session_opts sess; /* level, threads, device, disabled_passes */
} kn_cli_perf;

/* Defaults: batch 1, level 2, the given iters and warmup. */
kn_cli_perf kn_cli_perf_defaults(int iters, int warmup);
/* --replicas auto|R (R in 1..64) into *out; 1 = bad value (message printed). */
int kn_cli_replicas(const char *cmd, const char *val, int *out);
/* Consume the option at argv[*i] if it is one of -O, --batch, --iters, --warmup, --threads,
 * --replicas (default auto), --device, --disable: 1 = consumed, 0 = not one of them, -1 = bad value (message printed). */
int kn_cli_perf_option(const char *cmd, int argc, char **argv, int *i, kn_cli_perf *p);

/* Random host inputs for every graph input: symbolic/unknown dims get `batch`, fixed dims
 * stay (a note on stderr when batch_given but nothing is symbolic). float32 uniform in
 * [0, 1), other types zero. *samples = dim 0 of input 0 (1 for a scalar input).
 * Release with kn_cli_free_inputs. */
int kn_cli_random_inputs(const char *cmd, const kn_graph *g, int64_t batch, bool batch_given, kn_tensor **inputs,
                         const kn_tensor ***feed, int64_t *samples);
void kn_cli_free_inputs(kn_tensor *inputs, const kn_tensor **feed, int n);

/* Monotonic seconds. */
double kn_cli_now(void);
/* Wait for the device to finish queued work (timings on asynchronous devices). */
void kn_cli_sync(kn_device d);

#endif
