/* kiln — command-line front end. Subcommands are listed in tools/commands.def. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Other tasks runnable right now: the smallest of a few samples of /proc/loadavg's
 * "running/total" field, less this process, so a transient kernel thread or a short
 * command is not taken for a competitor. -1 when it cannot be read. */
static int others_running(void)
{
    int least = -1;
    for (int i = 0; i < 5; i++) {
        FILE *f = fopen("/proc/loadavg", "r");
        if (!f) return -1;
        double l1, l5, l15;
        int run = -1, total;
        int got = fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &run, &total);
        fclose(f);
        if (got != 5) return -1;
        if (least < 0 || run - 1 < least) least = run - 1 < 0 ? 0 : run - 1;
        if (least == 0) break;
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
    }
    return least;
}

/* libgomp reads its wait policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT) once, while it is
 * loaded, before main runs, so the library cannot choose it: unless the user chose a
 * policy, the CLI re-executes itself once with GOMP_SPINCOUNT set. A training step has a
 * handful of parallel regions (the split GEMMs, Adam) a few tens of microseconds apart; a
 * thread that goes to sleep between them costs a futex wake-up (~30 us here) per region.
 * Measured, MLP batch 64 at --threads 2 on 2 cores (samples/s; 1 thread: ~155k):
 *
 *   GOMP_SPINCOUNT          1000   3000   6000   10000   30000   100000   default(300k)
 *   no other busy task      110k   157k   185k   189k    178k    177k     182k
 *   one busy-looping task   105k    67k    49k    41k     26k     20k      15k
 *
 * A spin that bridges the gaps is worth ~1.7x when the cores are ours, and costs up to 7x
 * when another task wants one of them (the spinning thread takes the core the working
 * thread needs; libgomp's default made LeNet/MLP at 2 threads 20x slower than 1 thread on
 * a loaded machine). No single value is robust, so the choice is made per run: 10000
 * (the knee of the idle curve) when no other task is runnable at start-up, else
 * 1000 (as fast as OMP_WAIT_POLICY=passive under load). On a loaded machine --threads 1
 * is faster still (~150k with one busy task). KILN_OMP_REEXEC=0 opts out; if the exec
 * fails the run simply goes on with the inherited policy. */
static void choose_wait_policy(char **argv)
{
    const char *opt = getenv("KILN_OMP_REEXEC");
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || (opt && !strcmp(opt, "0"))) return;
    if (setenv("GOMP_SPINCOUNT", others_running() == 0 ? "10000" : "1000", 1) != 0) return;
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
