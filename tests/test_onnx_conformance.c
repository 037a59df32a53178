/* ONNX backend test data (Debian libonnx-testdata): every case of node/,
 * pytorch-converted/, pytorch-operator/ and simple/ is imported and run at
 * optimizer level 0, and compared as ONNX's backend runner does (floats with
 * rtol 1e-3, atol 1e-7; everything else exactly; shapes and dtypes must match).
 * data/real/ (full-size models, hundreds of MB) is skipped to keep this quick.
 *
 * tests/conformance/expected_failures.txt lists the cases expected to fail,
 * `dir/name  reason` per line. Any other failure fails the test; a listed case
 * that passes is reported as "now passing". A case that passes at level 0 is
 * run again at level 2 (the full inference optimizer) and must pass there too:
 * the optimizer may not change what a supported model computes.
 * Each case runs in a forked child
 * so a crash or hang in one op is one failed case, not a dead suite.
 * KILN_CONFORMANCE_WRITE=FILE writes every failure with its error to FILE;
 * KILN_ONNX_TESTDATA=DIR reads the cases from DIR instead (a copy carried to a
 * machine without the Debian package).
 *
 * On a GPU every case that passes on the CPU runs again on CUDA at -O 0 and
 * -O 2 and must give the same answer, or fail with the clear error that names
 * a kernel the CUDA table lacks (counted and listed, never a wrong result or a
 * crash). */
#include "helpers.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEBIAN_ROOT "/usr/share/libonnx-testdata/data"
static const char *data_root(void)
{
    const char *e = getenv("KILN_ONNX_TESTDATA");
    return e && *e ? e : DEBIAN_ROOT;
}
#define DATA_ROOT data_root()
#define MSG_MAX 400
#define CASE_TIMEOUT_S 20

static const char *const dirs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static bool close_enough(const kn_tensor *got, const kn_tensor *want, char *msg)
{
    char a[160], b[160];
    if (got->dtype != want->dtype) {
        snprintf(msg, MSG_MAX, "dtype %s, expected %s", kn_dtype_name(got->dtype), kn_dtype_name(want->dtype));
        return false;
    }
    if (!kn_tensor_same_shape(got, want)) {
        snprintf(msg, MSG_MAX, "shape %s, expected %s", kn_shape_str(a, sizeof a, got->ndim, got->shape),
                 kn_shape_str(b, sizeof b, want->ndim, want->shape));
        return false;
    }
    int64_t n = kn_tensor_numel(want);
    for (int64_t i = 0; i < n; i++) {
        if (want->dtype == KN_STRING) {
            if (strcmp(((char **)got->data)[i], ((char **)want->data)[i])) {
                snprintf(msg, MSG_MAX, "string element %lld differs", (long long)i);
                return false;
            }
            continue;
        }
        if (kn_dtype_is_float(want->dtype)) {
            double x = kn_tensor_get_f64(got, i), y = kn_tensor_get_f64(want, i);
            if (isnan(x) && isnan(y)) continue;
            if (x == y) continue; /* equal infinities */
            if (!(fabs(x - y) <= 1e-7 + 1e-3 * fabs(y))) {
                snprintf(msg, MSG_MAX, "element %lld: %.9g, expected %.9g", (long long)i, x, y);
                return false;
            }
        } else if (kn_tensor_get_i64(got, i) != kn_tensor_get_i64(want, i)) {
            snprintf(msg, MSG_MAX, "element %lld: %lld, expected %lld", (long long)i, (long long)kn_tensor_get_i64(got, i),
                     (long long)kn_tensor_get_i64(want, i));
            return false;
        }
    }
    return true;
}

/* One case in this process: 0 = pass, 2 = refused as unsupported, else 1; msg says why. */
static int run_case(const char *dir, int level, kn_device device, char *msg)
{
    char path[1024];
    kn_graph *g = NULL;
    kn_session *s = NULL;
    int rc = 1, sets = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (kn_onnx_load(path, &g) != KN_OK) { snprintf(msg, MSG_MAX, "%s", kn_last_error()); return 1; }
    kn_session_opts o = kn_session_defaults();
    o.level = level;
    o.device = device;
    kn_status st = kn_session_create(&s, g, &o);
    if (st != KN_OK) {
        snprintf(msg, MSG_MAX, "%s", kn_last_error());
        if (st == KN_ERR_UNSUPPORTED) rc = 2;
        goto done;
    }
    for (int set = 0;; set++) {
        char sd[950];
        snprintf(sd, sizeof sd, "%s/test_data_set_%d", dir, set);
        if (!file_exists(sd)) break;
        sets++;
        kn_tensor in[64];
        const kn_tensor *feed[64];
        int n_in = 0;
        bool ok = true;
        for (; n_in < 64; n_in++) {
            snprintf(path, sizeof path, "%.900s/input_%d.pb", sd, n_in);
            if (!file_exists(path)) break;
            if (kn_tensor_load_pb(path, &in[n_in], NULL) != KN_OK) {
                snprintf(msg, MSG_MAX, "%s", kn_last_error());
                ok = false;
                break;
            }
            feed[n_in] = &in[n_in];
        }
        if (ok && (st = kn_session_run(s, feed, n_in)) != KN_OK) {
            snprintf(msg, MSG_MAX, "%s", kn_last_error());
            if (st == KN_ERR_UNSUPPORTED) rc = 2;
            ok = false;
        }
        for (int k = 0; ok && k < g->n_outputs; k++) {
            kn_tensor want;
            snprintf(path, sizeof path, "%.900s/output_%d.pb", sd, k);
            if (kn_tensor_load_pb(path, &want, NULL) != KN_OK) {
                snprintf(msg, MSG_MAX, "%s", kn_last_error());
                ok = false;
                break;
            }
            const kn_tensor *got = kn_session_output(s, k);
            kn_tensor host = {0};
            char why[MSG_MAX];
            if (got && got->device != KN_CPU) {
                if (kn_tensor_to(&host, got, KN_CPU) != KN_OK) {
                    snprintf(msg, MSG_MAX, "output %d: copy to the host: %.300s", k, kn_last_error());
                    ok = false;
                }
                got = &host;
            }
            if (!ok) {
            } else if (!got) { snprintf(msg, MSG_MAX, "output %d was not produced", k); ok = false; }
            else if (!close_enough(got, &want, why)) {
                snprintf(msg, MSG_MAX, "output %d ('%.80s'), data set %d: %.250s", k, g->values[g->outputs[k]].name, set, why);
                ok = false;
            }
            kn_tensor_release(&host);
            kn_tensor_release(&want);
        }
        for (int i = 0; i < n_in; i++) kn_tensor_release(&in[i]);
        if (!ok) goto done;
    }
    if (sets == 0) snprintf(msg, MSG_MAX, "no test_data_set_* directory");
    else rc = 0;
done:
    kn_session_free(s);
    kn_graph_free(g);
    return rc;
}

/* Fork, run, and collect the verdict through a pipe. */
static int run_isolated(const char *dir, int level, kn_device device, char *msg)
{
    int fds[2];
    msg[0] = 0;
    if (pipe(fds) != 0) return run_case(dir, level, device, msg);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(CASE_TIMEOUT_S);
        char m[MSG_MAX] = "";
        int rc = run_case(dir, level, device, m);
        char out[MSG_MAX + 1];
        out[0] = (char)('0' + rc);
        memcpy(out + 1, m, MSG_MAX);
        ssize_t w = write(fds[1], out, 1 + strnlen(m, MSG_MAX - 1) + 1);
        _exit(w > 0 ? 0 : 3);
    }
    close(fds[1]);
    char buf[MSG_MAX + 2] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        snprintf(msg, MSG_MAX, WTERMSIG(status) == SIGALRM ? "timed out after %d s" : "crashed (signal %d)",
                 WTERMSIG(status) == SIGALRM ? CASE_TIMEOUT_S : WTERMSIG(status));
        return 1;
    }
    if (got == 0) { snprintf(msg, MSG_MAX, "child exited %d without a verdict", WEXITSTATUS(status)); return 1; }
    snprintf(msg, MSG_MAX, "%.*s", MSG_MAX - 1, buf + 1);
    return buf[0] == '0' ? 0 : buf[0] == '2' ? 2 : 1;
}

typedef struct { char **names; int n, cap; } name_set;

static void set_add(name_set *s, const char *name)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->names = realloc(s->names, sizeof(char *) * (size_t)s->cap);
        cr_assert_not_null(s->names);
    }
    s->names[s->n++] = strdup(name);
}

static bool set_has(const name_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) return true;
    return false;
}

static void load_expected(name_set *s)
{
    FILE *f = fopen("tests/conformance/expected_failures.txt", "r");
    cr_assert_not_null(f, "tests/conformance/expected_failures.txt not found (run from the repository root)");
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, " \t\n")] = 0;
        if (line[0]) set_add(s, line);
    }
    fclose(f);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The case directories under root, sorted; false when root cannot be read. */
static bool sorted_cases(const char *root, name_set *out)
{
    *out = (name_set){0};
    DIR *dh = opendir(root);
    if (!dh) return false;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (e->d_name[0] != '.') set_add(out, e->d_name);
    closedir(dh);
    qsort(out->names, (size_t)out->n, sizeof(char *), cmp_names);
    return true;
}

/* Messages name the model's path; the list keys cases by dir/name already. */
static void strip_root(char *msg)
{
    char *p;
    char root[600];
    snprintf(root, sizeof root, "%s/", DATA_ROOT);
    while ((p = strstr(msg, root))) {
        char *e = strstr(p, "/model.onnx");
        if (!e) break;
        e += strlen("/model.onnx");
        memmove(p, e + (e[0] == ':' && e[1] == ' ' ? 2 : 0), strlen(e) + 1);
    }
    for (char *c = msg; *c; c++) if (*c == '\n') *c = ' ';
}

Test(onnx_conformance, backend_test_data, .timeout = 600)
{
    if (!file_exists(DATA_ROOT)) cr_skip_test("%s is missing (apt-get install libonnx-testdata)", DATA_ROOT);
    name_set expected = {0}, failed = {0};
    load_expected(&expected);
    const char *write_path = getenv("KILN_CONFORMANCE_WRITE");
    FILE *wf = write_path ? fopen(write_path, "w") : NULL;
    int unexpected = 0, now_passing = 0, o2_failures = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        char root[512];
        snprintf(root, sizeof root, "%s/%s", DATA_ROOT, dirs[d]);
        name_set cases;
        if (!sorted_cases(root, &cases)) continue;
        int pass = 0;
        for (int i = 0; i < cases.n; i++) {
            char dir[900], key[600], msg[MSG_MAX];
            snprintf(dir, sizeof dir, "%s/%s", root, cases.names[i]);
            snprintf(key, sizeof key, "%s/%s", dirs[d], cases.names[i]);
            char model[1100];
            snprintf(model, sizeof model, "%s/model.onnx", dir);
            if (!file_exists(model)) continue;
            int rc = run_isolated(dir, 0, KN_CPU, msg);
            strip_root(msg);
            if (rc == 0) {
                pass++;
                if (set_has(&expected, key)) { printf("now passing: %s\n", key); now_passing++; }
                if (run_isolated(dir, 2, KN_CPU, msg) != 0) {
                    strip_root(msg);
                    printf("FAILS AT -O 2 (passes at -O 0): %s: %s\n", key, msg);
                    if (wf) fprintf(wf, "%s  -O 2: %s\n", key, msg);
                    o2_failures++;
                }
            } else {
                set_add(&failed, key);
                if (wf) fprintf(wf, "%s  %s\n", key, msg);
                if (!set_has(&expected, key)) { printf("UNEXPECTED FAILURE: %s: %s\n", key, msg); unexpected++; }
            }
            free(cases.names[i]);
        }
        printf("conformance %-18s %4d / %4d pass\n", dirs[d], pass, cases.n);
        free(cases.names);
    }
    if (wf) fclose(wf);
    printf("conformance: %d unexpected failures, %d listed cases now passing, %d fail only at -O 2 "
           "(data/real skipped: full-size models)\n",
           unexpected, now_passing, o2_failures);
    fflush(stdout);
    for (int i = 0; i < expected.n; i++) free(expected.names[i]);
    for (int i = 0; i < failed.n; i++) free(failed.names[i]);
    free(expected.names);
    free(failed.names);
    cr_assert_eq(unexpected, 0, "%d conformance cases failed that tests/conformance/expected_failures.txt does not list", unexpected);
    cr_assert_eq(o2_failures, 0, "%d conformance cases pass at -O 0 but fail at -O 2", o2_failures);
}

/* The CUDA pass: every case that passes on the CPU at -O 0, on the GPU at -O 0 and
 * -O 2. A case may fail only as unsupported (a kernel the CUDA table lacks, a
 * host-only output), with the error saying so; never with a wrong answer.
 * Creating a CUDA context costs a good part of a second, so the cases run in one
 * worker process, one line per case back through a pipe; when a case crashes or
 * times out, the worker is restarted after it. */
typedef struct { char key[300], dir[700]; } conf_case;
#define RESTART 4 /* the worker's exit status asking for a fresh worker after the last case */

static void cuda_worker(const conf_case *cs, int from, int n, int fd)
{
    for (int i = from; i < n; i++) {
        char msg[MSG_MAX] = "", line[MSG_MAX + 32];
        int rc, level = 0;
        alarm(3 * CASE_TIMEOUT_S);
        if (run_case(cs[i].dir, 0, KN_CPU, msg) != 0) {
            rc = -1; /* not a CPU pass: not asked of CUDA */
        } else {
            msg[0] = 0;
            rc = run_case(cs[i].dir, 0, KN_CUDA, msg);
            if (rc == 0) rc = run_case(cs[i].dir, level = 2, KN_CUDA, msg);
        }
        strip_root(msg);
        int len = snprintf(line, sizeof line, "%d %d %d %s\n", i, rc, level, msg);
        if (write(fd, line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1)) <= 0) _exit(3);
        /* a failed case may leave the CUDA context unusable (a sticky fault): start afresh */
        if (rc > 0) _exit(RESTART);
    }
    _exit(0);
}

/* Asked in a child: CUDA initialised in this process would not work in the workers
 * forked after it. */
static bool cuda_present(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(kn_device_available(KN_CUDA) ? 0 : 1);
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Test(onnx_conformance, backend_test_data_on_cuda, .timeout = 900)
{
    if (!cuda_present()) cr_skip_test("no CUDA GPU on this machine");
    if (!file_exists(DATA_ROOT)) cr_skip_test("%s is missing (apt-get install libonnx-testdata)", DATA_ROOT);
    conf_case *cs = NULL;
    int n = 0, cap = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        char root[512];
        snprintf(root, sizeof root, "%s/%s", DATA_ROOT, dirs[d]);
        name_set names;
        if (!sorted_cases(root, &names)) continue;
        for (int i = 0; i < names.n; i++) {
            char model[1100];
            snprintf(model, sizeof model, "%s/%s/model.onnx", root, names.names[i]);
            if (file_exists(model)) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 1024;
                    cs = realloc(cs, sizeof *cs * (size_t)cap);
                    cr_assert_not_null(cs);
                }
                snprintf(cs[n].key, sizeof cs[n].key, "%s/%s", dirs[d], names.names[i]);
                snprintf(cs[n].dir, sizeof cs[n].dir, "%s/%s", root, names.names[i]);
                n++;
            }
            free(names.names[i]);
        }
        free(names.names);
    }
    const char *write_path = getenv("KILN_CONFORMANCE_WRITE_CUDA");
    FILE *wf = write_path ? fopen(write_path, "w") : NULL;
    int wrong = 0, pass = 0, unsupported = 0, asked = 0;
    for (int from = 0; from < n;) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        fflush(stdout);
        pid_t pid = fork();
        cr_assert_geq(pid, 0, "fork failed");
        if (pid == 0) {
            close(fds[0]);
            cuda_worker(cs, from, n, fds[1]);
        }
        close(fds[1]);
        FILE *in = fdopen(fds[0], "r");
        cr_assert_not_null(in);
        char line[MSG_MAX + 64];
        int last = from - 1;
        while (fgets(line, sizeof line, in)) {
            int i, rc, level, off = 0;
            if (sscanf(line, "%d %d %d %n", &i, &rc, &level, &off) < 3 || i < 0 || i >= n) continue;
            char *msg = line + off;
            msg[strcspn(msg, "\n")] = 0;
            last = i;
            if (rc == -1) continue;
            asked++;
            if (rc == 0) {
                pass++;
            } else if (rc == 2) {
                unsupported++;
                if (wf) fprintf(wf, "%s  unsupported on cuda: %s\n", cs[i].key, msg);
            } else {
                printf("WRONG ON CUDA (-O %d): %s: %s\n", level, cs[i].key, msg);
                if (wf) fprintf(wf, "%s  -O %d: %s\n", cs[i].key, level, msg);
                wrong++;
            }
        }
        fclose(in);
        int status = 0;
        waitpid(pid, &status, 0);
        if (last + 1 >= n) break;
        if (WIFEXITED(status) && WEXITSTATUS(status) == RESTART) {
            from = last + 1;
            continue;
        }
        /* the worker died inside case last + 1 */
        const char *how = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "timed out" : "crashed";
        printf("WRONG ON CUDA: %s: %s (status %d)\n", cs[last + 1].key, how, status);
        if (wf) fprintf(wf, "%s  %s (status %d)\n", cs[last + 1].key, how, status);
        asked++;
        wrong++;
        from = last + 2;
    }
    if (wf) fclose(wf);
    free(cs);
    printf("conformance on cuda: %d pass, %d unsupported on cuda, %d wrong, of %d cases passing on the cpu\n", pass,
           unsupported, wrong, asked);
    fflush(stdout);
    cr_assert_gt(asked, 0, "no case ran");
    cr_assert_eq(wrong, 0, "%d conformance cases that pass on the cpu fail on cuda other than as unsupported", wrong);
}
