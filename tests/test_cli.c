/* The kiln binary's optimize, profile, bench and eval commands, run as a user
 * would (KILN_TEST_KILN, set by tools/run-tests.sh; default build/kiln). */
#include "helpers.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODELS "tests/data/models"

static const char *kiln_path(void)
{
    const char *k = getenv("KILN_TEST_KILN");
    k = k && *k ? k : "build/kiln";
    if (access(k, X_OK) != 0) cr_skip_test("kiln binary '%s' not found: build it (make) or set KILN_TEST_KILN", k);
    return k;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_cli_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

typedef struct { int status; char *out, *err; } result;

/* Run "kiln ARGS" (printf-style); stdout and stderr captured separately. */
static result kiln(const char *fmt, ...)
{
    char args[2048], cmd[4096], out[128], err[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s/stdout", tmpdir);
    snprintf(err, sizeof err, "%s/stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", kiln_path(), args, out, err);
    int st = system(cmd);
    result r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0), slurp(out), slurp(err)};
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

#define KILN_OK(r, what) \
    cr_assert_eq((r).status, 0, "%s: exit %d\nstdout:\n%s\nstderr:\n%s", (what), (r).status, (r).out, (r).err)

static void load_pb(const char *path, kn_tensor *t) { T_OK(kn_tensor_load_pb(path, t, NULL)); }

static void assert_close_pb(const char *got_path, const char *want_path, const char *what)
{
    kn_tensor a, b;
    load_pb(got_path, &a);
    load_pb(want_path, &b);
    cr_assert(kn_tensor_same_shape(&a, &b), "%s: shapes differ", what);
    double r = t_close_ratio(a.data, b.data, kn_tensor_numel(&b), 1e-4, 1e-4);
    cr_assert(r <= 1.0, "%s: outputs differ beyond 1e-4 (ratio %g)", what, r);
    kn_tensor_release(&a);
    kn_tensor_release(&b);
}

static int count_op_in_file(const char *path, const char *op)
{
    kn_graph *g;
    T_OK(kn_onnx_load(path, &g));
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    kn_graph_free(g);
    return n;
}

/* ---- optimize ---- */

Test(cli, optimize_writes_standard_onnx_that_runs_like_the_original, .timeout = 180)
{
    static const char *const models[] = {"mlp", "lenet_bn", "lenet_folded", "resnet_small", "dwsep"};
    static const char *const opsets[] = {"11", "13", "17"};
    kiln_path();
    make_tmpdir();
    for (size_t m = 0; m < 5; m++) {
        for (size_t o = 0; o < 3; o++) {
            char dir[256], opt[256], what[300];
            snprintf(dir, sizeof dir, MODELS "/%s_op%s", models[m], opsets[o]);
            snprintf(opt, sizeof opt, "%s/%s_op%s.onnx", tmpdir, models[m], opsets[o]);
            snprintf(what, sizeof what, "%s optimized", dir);
            result r = kiln("optimize %s/model.onnx -O 2 -o %s", dir, opt);
            KILN_OK(r, what);
            cr_assert(strstr(r.out, "fuse_activation") && strstr(r.out, "nodes before") && strstr(r.out, "nodes after"),
                      "summary lists passes and node counts:\n%s", r.out);
            result_free(&r);
            cr_assert_eq(count_op_in_file(opt, "BatchNormalization"), 0, "%s: BN stays folded in the file", what);
            cr_assert_eq(count_op_in_file(opt, "FusedConv") + count_op_in_file(opt, "FusedGemm"), 0,
                         "%s: fused ops are written as standard ONNX", what);
            for (int set = 0; set < 2; set++) {
                char in[300], want[300], out0[300], out2[300];
                snprintf(in, sizeof in, "%s/test_data_set_%d/input_0.pb", dir, set);
                snprintf(want, sizeof want, "%s/test_data_set_%d/output_0.pb", dir, set);
                snprintf(out0, sizeof out0, "%s/orig", tmpdir);
                snprintf(out2, sizeof out2, "%s/opt", tmpdir);
                r = kiln("run %s/model.onnx -O 0 -i %s -o %s", dir, in, out0);
                KILN_OK(r, "run original");
                result_free(&r);
                r = kiln("run %s -O 0 -i %s -o %s", opt, in, out2);
                KILN_OK(r, "run optimized");
                result_free(&r);
                strcat(out0, "/output_0.pb");
                strcat(out2, "/output_0.pb");
                assert_close_pb(out2, out0, what);
                assert_close_pb(out2, want, what);
            }
        }
    }
    /* BN was there before */
    cr_assert_gt(count_op_in_file(MODELS "/lenet_bn_op13/model.onnx", "BatchNormalization"), 0);
    remove_tmpdir();
}

Test(cli, optimize_disable_keeps_a_pass_off)
{
    kiln_path();
    make_tmpdir();
    char opt[128];
    snprintf(opt, sizeof opt, "%s/nofold.onnx", tmpdir);
    result r = kiln("optimize " MODELS "/lenet_bn_op13/model.onnx -O 2 --disable fold_batchnorm -o %s", opt);
    KILN_OK(r, "optimize --disable fold_batchnorm");
    cr_assert_null(strstr(r.out, "fold_batchnorm"), "a disabled pass is not reported as run:\n%s", r.out);
    result_free(&r);
    cr_assert_eq(count_op_in_file(opt, "BatchNormalization"), 2);
    remove_tmpdir();
}

/* ---- a minimal JSON reader: validates the whole text and counts trace events ---- */

typedef struct {
    const char *p;
    int x_events;    /* objects with "ph":"X" */
    int complete;    /* of those, with name, ts, dur, pid, tid and args {op, flops} */
} json;

static void ws(json *j) { while (isspace((unsigned char)*j->p)) j->p++; }
static bool value(json *j, char *str, size_t cap, int *fields);

static bool string(json *j, char *out, size_t cap)
{
    size_t n = 0;
    if (*j->p != '"') return false;
    for (j->p++; *j->p != '"'; j->p++) {
        if (!*j->p || (unsigned char)*j->p < 0x20) return false;
        if (*j->p == '\\') {
            j->p++;
            if (*j->p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!isxdigit((unsigned char)j->p[k])) return false;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) {
                return false;
            }
        }
        if (out && n + 1 < cap) out[n++] = *j->p;
    }
    j->p++;
    if (out) out[n] = 0;
    return true;
}

static bool number(json *j)
{
    char *end;
    if (*j->p != '-' && !isdigit((unsigned char)*j->p)) return false;
    strtod(j->p, &end);
    if (end == j->p) return false;
    j->p = end;
    return true;
}

/* fields: bit set per known member present (for trace events and their args) */
static bool object(json *j, int *fields)
{
    char key[64], sval[64];
    bool is_x = false;
    int have = 0, args = 0;
    j->p++;
    ws(j);
    if (*j->p == '}') { j->p++; return true; }
    for (;;) {
        ws(j);
        if (!string(j, key, sizeof key)) return false;
        ws(j);
        if (*j->p++ != ':') return false;
        ws(j);
        sval[0] = 0;
        const char *start = j->p;
        int sub = 0;
        if (!value(j, sval, sizeof sval, &sub)) return false;
        bool is_num = *start == '-' || isdigit((unsigned char)*start), is_str = *start == '"';
        static const char *const names[] = {"name", "ts", "dur", "pid", "tid", "op", "flops"};
        for (int k = 0; k < 7; k++)
            if (!strcmp(key, names[k]) && ((k == 0 || k == 5) ? is_str : is_num)) have |= 1 << k;
        if (!strcmp(key, "ph") && !strcmp(sval, "X")) is_x = true;
        if (!strcmp(key, "args")) args = sub;
        ws(j);
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == '}') { j->p++; break; }
        return false;
    }
    if (fields) *fields = have;
    if (is_x) {
        j->x_events++;
        if ((have & 0x1f) == 0x1f && (args & 0x60) == 0x60) j->complete++;
    }
    return true;
}

static bool array(json *j)
{
    j->p++;
    ws(j);
    if (*j->p == ']') { j->p++; return true; }
    for (;;) {
        ws(j);
        if (!value(j, NULL, 0, NULL)) return false;
        ws(j);
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == ']') { j->p++; return true; }
        return false;
    }
}

static bool value(json *j, char *str, size_t cap, int *fields)
{
    ws(j);
    switch (*j->p) {
    case '{': return object(j, fields);
    case '[': return array(j);
    case '"': return string(j, str, cap);
    case 't': return !strncmp(j->p, "true", 4) && (j->p += 4);
    case 'f': return !strncmp(j->p, "false", 5) && (j->p += 5);
    case 'n': return !strncmp(j->p, "null", 4) && (j->p += 4);
    default: return number(j);
    }
}

static bool json_parse(const char *text, json *j)
{
    memset(j, 0, sizeof *j);
    j->p = text;
    if (!value(j, NULL, 0, NULL)) return false;
    ws(j);
    return *j->p == 0;
}

Test(cli, json_reader_rejects_broken_json)
{
    json j;
    cr_assert(json_parse("{\"a\": [1, -2.5e3, \"x\\\"y\", true, null, {}]}", &j));
    cr_assert_not(json_parse("{\"a\": [1, 2,]}", &j));
    cr_assert_not(json_parse("{\"a\": 1", &j));
    cr_assert_not(json_parse("{\"a\": \"tab\there\"}", &j));
    cr_assert_not(json_parse("{} {}", &j));
}

/* ---- profile ---- */

/* Node count of a model's O2 session (= events per run). */
static int o2_nodes(const char *model)
{
    kn_graph *g;
    kn_session *s;
    T_OK(kn_onnx_load(model, &g));
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    o.profile = true;
    T_OK(kn_session_create(&s, g, &o));
    int n = kn_session_profile(s, NULL, 0);
    kn_session_free(s);
    kn_graph_free(g);
    return n;
}

Test(cli, profile_table_and_trace_with_one_event_per_node_execution, .timeout = 120)
{
    static const char *const models[] = {"lenet_bn_op13", "resnet_small_op17", "dwsep_op11"};
    kiln_path();
    make_tmpdir();
    for (int m = 0; m < 3; m++) {
        char model[256], trace[256];
        snprintf(model, sizeof model, MODELS "/%s/model.onnx", models[m]);
        snprintf(trace, sizeof trace, "%s/%s.json", tmpdir, models[m]);
        result r = kiln("profile %s --batch 2 --iters 3 --warmup 1 --threads 1 --trace %s", model, trace);
        KILN_OK(r, "profile");
        cr_assert(strstr(r.out, "GFLOP/s") && strstr(r.out, "GB/s") && strstr(r.out, "mean us"), "table header:\n%s", r.out);
        if (m == 0) cr_assert(strstr(r.out, "/conv1/Conv+/bn1/BatchNormalization+/Relu"), "fused names:\n%s", r.out);
        result_free(&r);
        char *text = slurp(trace);
        json j;
        cr_assert(json_parse(text, &j), "%s is not valid JSON", trace);
        int want = 3 * o2_nodes(model);
        cr_assert_eq(j.x_events, want, "%s: %d X events, want 3 runs x nodes = %d", models[m], j.x_events, want);
        cr_assert_eq(j.complete, want, "%s: every event has name, ts, dur, pid, tid, args.op, args.flops", models[m]);
        free(text);
        if (access("/usr/bin/python3", X_OK) == 0) {
            char cmd[600];
            snprintf(cmd, sizeof cmd,
                     "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
                     "x=[e for e in d[\"traceEvents\"] if e[\"ph\"]==\"X\"]; "
                     "sys.exit(0 if len(x)==%d and all(e[\"dur\"]>=0 for e in x) else 1)' '%s'",
                     want, trace);
            cr_assert_eq(system(cmd), 0, "python's json module rejects %s or counts differently", trace);
        }
    }
    remove_tmpdir();
}

/* ---- bench ---- */

static double json_number(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "key %s missing in %s", key, text);
    char *end;
    double v = strtod(p + strlen(pat), &end);
    cr_assert_neq(end, p + strlen(pat), "key %s is not a number in %s", key, text);
    return v;
}

Test(cli, bench_json_has_the_required_keys, .timeout = 120)
{
    kiln_path();
    make_tmpdir();
    result r = kiln("bench " MODELS "/resnet_small_op13/model.onnx --json --batch 4 --iters 5 --warmup 2 -O 1 --threads 1");
    KILN_OK(r, "bench --json");
    json j;
    cr_assert(json_parse(r.out, &j), "bench --json output is not JSON: %s", r.out);
    static const char *const keys[] = {"median_us", "p90_us", "p99_us", "throughput_per_s", "batch", "level"};
    for (int i = 0; i < 6; i++) json_number(r.out, keys[i]);
    cr_assert_float_eq(json_number(r.out, "batch"), 4, 0);
    cr_assert_float_eq(json_number(r.out, "level"), 1, 0);
    cr_assert_float_eq(json_number(r.out, "warmup"), 2, 0);
    double med = json_number(r.out, "median_us"), p90 = json_number(r.out, "p90_us"), p99 = json_number(r.out, "p99_us");
    cr_assert(med > 0 && med <= p90 && p90 <= p99, "median %g <= p90 %g <= p99 %g", med, p90, p99);
    cr_assert_gt(json_number(r.out, "throughput_per_s"), 0);
    cr_assert_gt(json_number(r.out, "first_call_us"), 0);
    cr_assert_float_eq(json_number(r.out, "replicas"), 1, 0, "one thread: batches run whole");
    result_free(&r);
    /* a conv net split across 2 replicas says so; --replicas 1 runs whole batches */
    r = kiln("bench " MODELS "/lenet_bn_op13/model.onnx --json --batch 8 --iters 3 --warmup 1 --threads 2 --replicas 2");
    KILN_OK(r, "bench --replicas 2");
    cr_assert_float_eq(json_number(r.out, "replicas"), 2, 0);
    result_free(&r);
    r = kiln("bench " MODELS "/lenet_bn_op13/model.onnx --json --batch 8 --iters 3 --warmup 1 --threads 2 --replicas 1");
    KILN_OK(r, "bench --replicas 1");
    cr_assert_float_eq(json_number(r.out, "replicas"), 1, 0);
    result_free(&r);
    remove_tmpdir();
}

Test(cli, bench_compare_levels_matches_fused_nodes_to_their_parts, .timeout = 120)
{
    kiln_path();
    make_tmpdir();
    result r = kiln("bench " MODELS "/lenet_bn_op13/model.onnx --compare-levels --iters 3 --warmup 1 --threads 1");
    KILN_OK(r, "bench --compare-levels");
    cr_assert(strstr(r.out, "Conv+BatchNormalization+Relu"), "conv1 at O2 lined up with its three O0 nodes:\n%s", r.out);
    cr_assert(strstr(r.out, "O0 median") && strstr(r.out, "O2 median"), "total speedup line:\n%s", r.out);
    cr_assert_null(strstr(r.out, "no O0 node"), "every O2 node matched:\n%s", r.out);
    result_free(&r);
    remove_tmpdir();
}

/* ---- eval on a small MNIST-layout set whose labels are the model's own O0 predictions ---- */

static void write_idx(const char *path, int ndim, const uint32_t *dims, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint8_t magic[4] = {0, 0, 0x08, (uint8_t)ndim};
    fwrite(magic, 1, 4, f);
    for (int d = 0; d < ndim; d++) {
        uint8_t be[4] = {(uint8_t)(dims[d] >> 24), (uint8_t)(dims[d] >> 16), (uint8_t)(dims[d] >> 8), (uint8_t)dims[d]};
        fwrite(be, 1, 4, f);
    }
    fwrite(data, 1, n, f);
    fclose(f);
}

Test(cli, eval_reports_accuracy_and_throughput, .timeout = 120)
{
    enum { N = 37 };
    kiln_path();
    make_tmpdir();
    static uint8_t pix[N * 28 * 28];
    uint8_t labels[N];
    kn_rng rng;
    kn_rng_seed(&rng, 9);
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)kn_rng_below(&rng, 256);
    /* labels: argmax of lenet_bn at O0 on exactly the pixels eval will feed (x / 255) */
    kn_graph *g;
    kn_session *s;
    T_OK(kn_onnx_load(MODELS "/lenet_bn_op13/model.onnx", &g));
    kn_session_opts o = kn_session_defaults();
    T_OK(kn_session_create(&s, g, &o));
    kn_tensor x = t_new(4, N, 1, 28, 28);
    for (int i = 0; i < N * 28 * 28; i++) ((float *)x.data)[i] = (float)pix[i] / 255.0f;
    const kn_tensor *feed[1] = {&x};
    T_OK(kn_session_run(s, feed, 1));
    const float *logits = kn_session_output(s, 0)->data;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int c = 1; c < 10; c++)
            if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
        labels[i] = (uint8_t)best;
    }
    kn_session_free(s);
    kn_graph_free(g);
    kn_tensor_release(&x);
    char p[256];
    /* the test split only: eval needs no training files */
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", tmpdir);
    write_idx(p, 3, (uint32_t[]){N, 28, 28}, pix, sizeof pix);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", tmpdir);
    write_idx(p, 1, (uint32_t[]){N}, labels, N);
    result r = kiln("eval " MODELS "/lenet_bn_op13/model.onnx --data %s -O 2 --batch 8 --threads 1", tmpdir);
    KILN_OK(r, "eval");
    cr_assert(strstr(r.out, "accuracy 100.00% on 37 test samples"), "O2 predicts what O0 predicts:\n%s", r.out);
    cr_assert(strstr(r.out, "samples/s"), "throughput:\n%s", r.out);
    result_free(&r);
    remove_tmpdir();
}

/* ---- every failure: non-zero exit and a message naming the problem ---- */

Test(cli, bad_arguments_fail_with_a_message, .timeout = 60)
{
    kiln_path();
    make_tmpdir();
    /* a model with a second input, as a training graph's labels would be */
    kn_graph *g;
    T_OK(kn_graph_create(&g));
    int a = kn_input(g, "input", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 1, 28, 28});
    int b = kn_input(g, "labels", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 1, 28, 28});
    kn_output(g, kn_add(g, a, b));
    T_OK(kn_graph_status(g));
    char two[128];
    snprintf(two, sizeof two, "%s/two_inputs.onnx", tmpdir);
    T_OK(kn_onnx_save(g, two, NULL));
    kn_graph_free(g);
    const char *m = MODELS "/lenet_bn_op13/model.onnx";
    struct { char args[400]; const char *needle; } cases[] = {
        {"optimize", "no model given"},
        {"optimize %s", "no output file"},
        {"optimize %s -o /tmp/x.onnx -O 7", "-O must be 0, 1 or 2"},
        {"optimize %s -o /tmp/x.onnx --disable fold_batchnorm,nope", "unknown pass 'nope'"},
        {"optimize %s -o /nonexistent-dir/x.onnx", "/nonexistent-dir/x.onnx"},
        {"optimize /nonexistent.onnx -o /tmp/x.onnx", "/nonexistent.onnx"},
        {"optimize %s -o /tmp/x.onnx --frobnicate", "unknown option '--frobnicate'"},
        {"profile", "no model given"},
        {"profile %s --iters 0", "--iters needs an integer"},
        {"profile %s --batch -3", "--batch needs an integer"},
        {"profile %s --warmup", "--warmup needs an integer"},
        {"profile %s --device tpu", "--device must be cpu, cuda or auto"},
        {"profile %s --iters 1 --warmup 0 --trace /nonexistent-dir/t.json", "/nonexistent-dir/t.json"},
        {"bench %s --batch abc", "--batch needs an integer"},
        {"bench %s --threads 0", "--threads needs an integer"},
        {"bench %s --json --compare-levels", "cannot be combined"},
        {"bench %s --replicas 0", "--replicas needs an integer"},
        {"bench %s --replicas", "--replicas needs auto or a count"},
        {"train --replicas many", "--replicas needs an integer"},
        {"bench %s extra.onnx", "unexpected argument 'extra.onnx'"},
        {"bench /nonexistent.onnx", "/nonexistent.onnx"},
        {"eval", "no model given"},
        {"eval %s --data /nonexistent-dir", "/nonexistent-dir"},
        {"eval %s --data /nonexistent-dir --batch 0", "--batch needs an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[600];
        snprintf(args, sizeof args, cases[i].args, m);
        result r = kiln("%s", args);
        cr_assert_neq(r.status, 0, "kiln %s: exit 0", args);
        cr_assert_lt(r.status, 128, "kiln %s: crashed (%d)\n%s", args, r.status, r.err);
        cr_assert(strstr(r.err, cases[i].needle), "kiln %s: stderr does not say '%s':\n%s", args, cases[i].needle, r.err);
        result_free(&r);
    }
    result r = kiln("eval %s --data /nonexistent-dir", two);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "2 inputs") && strstr(r.err, "'labels'"), "eval names the extra input:\n%s", r.err);
    result_free(&r);
    remove_tmpdir();
}
