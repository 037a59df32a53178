/* kiln — command-line front end. Subcommands are listed in tools/commands.def. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } command;

static const command commands[] = {
#define KN_CMD(name, fn, help) {#name, fn, help},
#include "tools/commands.def"
#undef KN_CMD
};

static void usage(FILE *f)
{
    fprintf(f, "kiln %s — train, run, inspect and optimize neural networks (ONNX)\n\nusage: kiln <command> [options]\n\ncommands:\n",
            KILN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`kiln <command> --help` describes each command.\n");
}

int kn_cli_fail(const char *cmd, const char *msg)
{
    fprintf(stderr, "kiln %s: %s\n", cmd, msg ? msg : kn_last_error());
    return 1;
}

int kn_cli_device(const char *cmd, const char *arg, kn_device *out)
{
    if (!strcmp(arg, "cpu")) { *out = KN_CPU; return 0; }
    if (!strcmp(arg, "cuda")) {
        if (!kn_device_available(KN_CUDA)) {
            fprintf(stderr, "kiln %s: --device cuda: %s\n", cmd,
                    kn_kernels_get(KN_CUDA) ? "no usable CUDA GPU was found" : "kiln was built without CUDA (make CUDA=1)");
            return 1;
        }
        *out = KN_CUDA;
        return 0;
    }
    if (!strcmp(arg, "auto")) {
        if (kn_device_available(KN_CUDA)) { *out = KN_CUDA; return 0; }
        fprintf(stderr, "kiln %s: no usable CUDA GPU, running on cpu\n", cmd);
        *out = KN_CPU;
        return 0;
    }
    fprintf(stderr, "kiln %s: --device must be cpu, cuda or auto (got '%s')\n", cmd, arg);
    return 1;
}

/* libgomp reads its wait policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) once, while it is
 * loaded, before main runs, so the library cannot choose it. Its default lets an idle
 * thread spin ~300k iterations (about a millisecond) at every join and between regions;
 * a training step has dozens of short regions, and on a shared machine those spinning
 * threads take the cores from the threads doing the work (LeNet/MLP at 2 threads ran
 * 20x slower than at 1 thread under load; see BENCHMARKS.md). Unless the user chose a
 * policy, the CLI re-executes itself once with a short spin (GOMP_SPINCOUNT=1000,
 * microseconds), which under load measured as fast as OMP_WAIT_POLICY=passive and keeps
 * a brief spin for back-to-back regions on an idle machine. KILN_OMP_REEXEC=0 opts out;
 * if the exec fails the run simply goes on with the inherited policy. */
static void choose_wait_policy(char **argv)
{
    const char *opt = getenv("KILN_OMP_REEXEC");
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || (opt && !strcmp(opt, "0"))) return;
    if (setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT"); /* exec failed: keep running as we are */
}

int main(int argc, char **argv)
{
    choose_wait_policy(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kiln %s\n", KILN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kiln: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
