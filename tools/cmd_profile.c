/* kiln profile MODEL: per-node time, FLOP/s and bandwidth on random inputs; Chrome trace. */
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: kiln profile MODEL.onnx [-O 0|1|2] [--batch B] [--iters N] [--warmup W] [--threads T]\n"
            "                    [--device cpu|cuda|auto] [--disable PASS,...] [--trace TRACE.json]\n\n"
            "Runs the model on random inputs (symbolic dims, e.g. the batch, set to B; default 1): W warm-up\n"
            "runs (default 10, not reported), then N profiled runs (default 100). Prints one row per node\n"
            "sorted by time: name (fused nodes list what they absorbed), op, calls, total ms,\n"
            "mean us, %% of node time, GFLOP/s, GB/s. --trace writes a Chrome trace-event JSON (one event\n"
            "per node execution) for chrome://tracing or ui.perfetto.dev. Default -O 2.\n");
    return status;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const kn_node_profile *)a)->seconds, y = ((const kn_node_profile *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

int kn_cmd_profile(int argc, char **argv)
{
    kn_cli_perf p = kn_cli_perf_defaults(100, 10);
    const char *trace = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(0);
        int r = kn_cli_perf_option("profile", argc, argv, &i, &p);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(a, "--trace")) {
            if (i + 1 >= argc) return kn_cli_fail("profile", "--trace needs a file name");
            trace = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "kiln profile: unknown option '%s'\n", a);
            return usage(2);
        } else if (!p.model) {
            p.model = a;
        } else {
            fprintf(stderr, "kiln profile: unexpected argument '%s' (one model only)\n", a);
            return usage(2);
        }
    }
    if (!p.model) {
        fprintf(stderr, "kiln profile: no model given\n");
        return usage(2);
    }
    kn_graph *g = NULL;
    kn_session *s = NULL;
    kn_tensor *ins = NULL;
    const kn_tensor **feed = NULL;
    kn_node_profile *prof = NULL;
    int64_t samples;
    int rc = 1;
    if (kn_onnx_load(p.model, &g) != KN_OK) return kn_cli_fail("profile", NULL);
    if (kn_cli_random_inputs("profile", g, p.batch, p.batch_given, &ins, &feed, &samples)) goto done;
    p.sess.profile = true;
    if (kn_session_create(&s, g, &p.sess) != KN_OK || kn_session_warmup(s, feed, g->n_inputs, p.warmup) != KN_OK) {
        kn_cli_fail("profile", NULL);
        goto done;
    }
    kn_session_profile_reset(s); /* warm-up (planning, first-touch) is not what we report */
    double t0 = kn_cli_now();
    for (int it = 0; it < p.iters; it++)
        if (kn_session_run(s, feed, g->n_inputs) != KN_OK) { kn_cli_fail("profile", NULL); goto done; }
    kn_cli_sync(p.sess.device);
    double wall = kn_cli_now() - t0;
    int n = kn_session_profile(s, NULL, 0);
    prof = calloc((size_t)(n ? n : 1), sizeof *prof);
    if (!prof) { kn_cli_fail("profile", "out of memory"); goto done; }
    kn_session_profile(s, prof, n);
    double total = 0;
    int64_t calls = 0;
    int w = 4;
    for (int i = 0; i < n; i++) {
        total += prof[i].seconds;
        calls += prof[i].calls;
        int len = (int)strlen(prof[i].name ? prof[i].name : "");
        if (len > w) w = len;
    }
    qsort(prof, (size_t)n, sizeof *prof, by_time);
    printf("profile %s: -O %d, batch %lld, %d iterations after %d warm-up, %s\n", p.model, p.sess.level,
           (long long)samples, p.iters, p.warmup, kn_device_name(p.sess.device));
    printf("%-*s  %-18s %7s %10s %10s %6s %9s %8s\n", w, "node", "op", "calls", "total ms", "mean us", "%", "GFLOP/s",
           "GB/s");
    for (int i = 0; i < n; i++) {
        const kn_node_profile *q = &prof[i];
        double mean = q->calls ? q->seconds / (double)q->calls : 0;
        double gflops = q->seconds > 0 ? q->flops * (double)q->calls / q->seconds * 1e-9 : 0;
        double gbs = q->seconds > 0 ? q->bytes * (double)q->calls / q->seconds * 1e-9 : 0;
        printf("%-*s  %-18s %7lld %10.3f %10.2f %6.1f %9.2f %8.2f\n", w, q->name ? q->name : "", q->op_type,
               (long long)q->calls, q->seconds * 1e3, mean * 1e6, total > 0 ? 100 * q->seconds / total : 0, gflops, gbs);
    }
    printf("node time %.3f ms per run over %d nodes; wall %.3f ms per run (%.1f samples/s)\n",
           p.iters ? total / p.iters * 1e3 : 0, n, wall / p.iters * 1e3, wall > 0 ? (double)samples * p.iters / wall : 0);
    if (trace) {
        if (kn_session_write_trace(s, trace) != KN_OK) { kn_cli_fail("profile", NULL); goto done; }
        int64_t events = kn_session_profile_events(s, NULL, 0);
        printf("wrote %s: %lld events%s\n", trace, (long long)events,
               events < calls ? " (the event limit was reached: later executions are not in the trace)" : "");
    }
    rc = 0;
done:
    free(prof);
    kn_session_free(s);
    kn_cli_free_inputs(ins, feed, g ? g->n_inputs : 0);
    kn_graph_free(g);
    return rc;
}
