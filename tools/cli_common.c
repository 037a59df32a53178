/* Helpers shared by the performance commands (optimize, profile, bench, eval). */
#include "tools/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int kn_cli_int(const char *cmd, const char *opt, const char *val, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = val ? strtol(val, &end, 10) : 0;
    if (!val || !*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "kiln %s: %s needs an integer from %ld to %ld (got '%s')\n", cmd, opt, lo, hi,
                val ? val : "nothing");
        return 1;
    }
    *out = v;
    return 0;
}

int kn_cli_level(const char *cmd, int argc, char **argv, int *i, int *level)
{
    const char *a = argv[*i];
    const char *lv = a[2] ? a + 2 : (*i + 1 < argc ? argv[++*i] : "");
    if (strlen(lv) != 1 || lv[0] < '0' || lv[0] > '2') {
        fprintf(stderr, "kiln %s: -O must be 0, 1 or 2 (got '%s')\n", cmd, lv);
        return 1;
    }
    *level = lv[0] - '0';
    return 0;
}

int kn_cli_passes(const char *cmd, const char *csv)
{
    for (const char *p = csv; *p;) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (int i = 0; i < kn_pass_count() && !known; i++) {
            const char *name = kn_pass_name(i, NULL);
            known = strlen(name) == n && !strncmp(p, name, n);
        }
        if (!known) {
            fprintf(stderr, "kiln %s: --disable: unknown pass '%.*s' (passes:", cmd, (int)n, p);
            for (int i = 0; i < kn_pass_count(); i++) fprintf(stderr, " %s", kn_pass_name(i, NULL));
            fprintf(stderr, ")\n");
            return 1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

kn_cli_perf kn_cli_perf_defaults(int iters, int warmup)
{
    kn_cli_perf p = {.batch = 1, .iters = iters, .warmup = warmup, .sess = kn_session_defaults()};
    p.sess.level = 2;
    p.sess.replicas = KN_REPLICAS_AUTO;
    return p;
}

int kn_cli_replicas(const char *cmd, const char *val, int *out)
{
    long n;
    if (val && !strcmp(val, "auto")) {
        *out = KN_REPLICAS_AUTO;
        return 0;
    }
    if (!val || kn_cli_int(cmd, "--replicas", val, 1, 64, &n)) {
        if (!val) fprintf(stderr, "kiln %s: --replicas needs auto or a count\n", cmd);
        return 1;
    }
    *out = (int)n;
    return 0;
}

int kn_cli_perf_option(const char *cmd, int argc, char **argv, int *i, kn_cli_perf *p)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long n;
    if (!strncmp(a, "-O", 2)) return kn_cli_level(cmd, argc, argv, i, &p->sess.level) ? -1 : 1;
    if (!strcmp(a, "--batch")) {
        if (kn_cli_int(cmd, a, v, 1, 1 << 20, &n)) return -1;
        p->batch = n;
        p->batch_given = true;
    } else if (!strcmp(a, "--iters")) {
        if (kn_cli_int(cmd, a, v, 1, INT_MAX, &n)) return -1;
        p->iters = (int)n;
    } else if (!strcmp(a, "--warmup")) {
        if (kn_cli_int(cmd, a, v, 0, INT_MAX, &n)) return -1;
        p->warmup = (int)n;
    } else if (!strcmp(a, "--threads")) {
        if (kn_cli_int(cmd, a, v, 1, 4096, &n)) return -1;
        p->sess.threads = (int)n;
    } else if (!strcmp(a, "--replicas")) {
        if (kn_cli_replicas(cmd, v, &p->sess.replicas)) return -1;
    } else if (!strcmp(a, "--device")) {
        if (!v) { fprintf(stderr, "kiln %s: --device needs cpu, cuda or auto\n", cmd); return -1; }
        if (kn_cli_device(cmd, v, &p->sess.device)) return -1;
    } else if (!strcmp(a, "--disable")) {
        if (!v) { fprintf(stderr, "kiln %s: --disable needs a comma-separated list of passes\n", cmd); return -1; }
        if (kn_cli_passes(cmd, v)) return -1;
        p->sess.disabled_passes = v;
    } else {
        return 0;
    }
    ++*i;
    return 1;
}

int kn_cli_random_inputs(const char *cmd, const kn_graph *g, int64_t batch, bool batch_given, kn_tensor **inputs,
                         const kn_tensor ***feed, int64_t *samples)
{
    bool symbolic = false;
    int n = g->n_inputs;
    kn_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
    const kn_tensor **f = calloc((size_t)(n ? n : 1), sizeof *f);
    kn_rng rng;
    kn_rng_seed(&rng, 42);
    *samples = 1;
    if (!t || !f) {
        free(t);
        free(f);
        return kn_cli_fail(cmd, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const kn_value *v = &g->values[g->inputs[i]];
        int64_t shape[KN_MAX_DIMS];
        if (v->ndim < 0 || v->dtype == KN_UNDEFINED) {
            fprintf(stderr, "kiln %s: input '%s' has an unknown %s; cannot make inputs for it\n", cmd, v->name,
                    v->ndim < 0 ? "rank" : "type");
            kn_cli_free_inputs(t, f, i);
            return 1;
        }
        if (v->dtype == KN_STRING) {
            fprintf(stderr, "kiln %s: input '%s' is a string tensor; cannot make inputs for it\n", cmd, v->name);
            kn_cli_free_inputs(t, f, i);
            return 1;
        }
        for (int d = 0; d < v->ndim; d++) {
            shape[d] = v->shape[d] >= 0 ? v->shape[d] : batch;
            symbolic |= v->shape[d] < 0;
        }
        if (kn_tensor_init(&t[i], v->dtype, v->ndim, shape) != KN_OK) {
            kn_cli_free_inputs(t, f, i);
            return kn_cli_fail(cmd, NULL);
        }
        f[i] = &t[i];
        if (v->dtype == KN_FLOAT) {
            float *x = t[i].data;
            for (int64_t k = 0, m = kn_tensor_numel(&t[i]); k < m; k++) x[k] = kn_rng_uniform(&rng);
        }
        if (i == 0 && v->ndim > 0) *samples = shape[0];
    }
    if (batch_given && !symbolic)
        fprintf(stderr, "kiln %s: note: no input has a symbolic dim, --batch %lld has no effect\n", cmd, (long long)batch);
    *inputs = t;
    *feed = f;
    return 0;
}

void kn_cli_free_inputs(kn_tensor *inputs, const kn_tensor **feed, int n)
{
    for (int i = 0; inputs && i < n; i++) kn_tensor_release(&inputs[i]);
    free(inputs);
    free(feed);
}

double kn_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void kn_cli_sync(kn_device d)
{
    const kn_kernels *k = kn_kernels_get(d);
    if (k && k->sync) k->sync();
}
