/* kiln run MODEL -i in.pb ... -o OUTDIR: one inference on TensorProto inputs. */
#include "tools/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: kiln run MODEL.onnx -i IN0.pb [-i IN1.pb ...] -o OUTDIR [--device cpu|cuda|auto] [-O 0|1|2]\n\n"
            "Inputs are TensorProto files in graph-input order. Writes OUTDIR/output_K.pb for each\n"
            "graph output K, named after the output. -O picks the optimizer level (default 1).\n");
    return status;
}

int kn_cmd_run(int argc, char **argv)
{
    const char *model = NULL, *outdir = NULL;
    const char **inputs = calloc((size_t)argc, sizeof(char *));
    int n_in = 0, rc = 1;
    kn_session_opts opts = kn_session_defaults();
    opts.level = 1;
    if (!inputs) return kn_cli_fail("run", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { free(inputs); return usage(0); }
        bool has_arg = i + 1 < argc;
        if (!strcmp(a, "-i") || !strcmp(a, "--input")) {
            if (!has_arg) { free(inputs); return kn_cli_fail("run", "-i needs a file"); }
            inputs[n_in++] = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!has_arg) { free(inputs); return kn_cli_fail("run", "-o needs a directory"); }
            outdir = argv[++i];
        } else if (!strcmp(a, "--device")) {
            if (!has_arg) { free(inputs); return kn_cli_fail("run", "--device needs cpu, cuda or auto"); }
            if (kn_cli_device("run", argv[++i], &opts.device)) { free(inputs); return 1; }
        } else if (!strncmp(a, "-O", 2)) {
            const char *lv = a[2] ? a + 2 : (has_arg ? argv[++i] : "");
            if (strlen(lv) != 1 || lv[0] < '0' || lv[0] > '2') { free(inputs); return kn_cli_fail("run", "-O must be 0, 1 or 2"); }
            opts.level = lv[0] - '0';
        } else if (a[0] == '-') {
            fprintf(stderr, "kiln run: unknown option '%s'\n", a);
            free(inputs);
            return usage(2);
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "kiln run: unexpected argument '%s' (one model only)\n", a);
            free(inputs);
            return usage(2);
        }
    }
    if (!model || !outdir) {
        fprintf(stderr, "kiln run: %s\n", !model ? "no model given" : "no output directory given (-o OUTDIR)");
        free(inputs);
        return usage(2);
    }
    kn_graph *g = NULL;
    kn_session *s = NULL;
    kn_tensor *tens = calloc((size_t)(n_in ? n_in : 1), sizeof *tens);
    const kn_tensor **feed = calloc((size_t)(n_in ? n_in : 1), sizeof *feed);
    char msg[512];
    if (!tens || !feed) { kn_cli_fail("run", "out of memory"); goto done; }
    if (kn_onnx_load(model, &g) != KN_OK) { kn_cli_fail("run", NULL); goto done; }
    if (n_in != g->n_inputs) {
        snprintf(msg, sizeof msg, "%s has %d input%s but %d file%s given with -i", model, g->n_inputs,
                 g->n_inputs == 1 ? "" : "s", n_in, n_in == 1 ? " was" : "s were");
        kn_cli_fail("run", msg);
        goto done;
    }
    for (int i = 0; i < n_in; i++) {
        if (kn_tensor_load_pb(inputs[i], &tens[i], NULL) != KN_OK) { kn_cli_fail("run", NULL); goto done; }
        feed[i] = &tens[i];
    }
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        snprintf(msg, sizeof msg, "cannot create '%s': %s", outdir, strerror(errno));
        kn_cli_fail("run", msg);
        goto done;
    }
    if (kn_session_create(&s, g, &opts) != KN_OK || kn_session_run(s, feed, n_in) != KN_OK) {
        kn_cli_fail("run", NULL);
        goto done;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const kn_tensor *t = kn_session_output(s, k);
        size_t plen = strlen(outdir) + 32;
        char *path = malloc(plen);
        if (!path) { kn_cli_fail("run", "out of memory"); goto done; }
        snprintf(path, plen, "%s/output_%d.pb", outdir, k);
        kn_status st = t ? kn_tensor_save_pb(path, t, g->values[g->outputs[k]].name)
                         : kn_error(KN_ERR_INTERNAL, "output %d was not computed", k);
        free(path);
        if (st != KN_OK) { kn_cli_fail("run", NULL); goto done; }
    }
    rc = 0;
done:
    kn_session_free(s);
    kn_graph_free(g);
    for (int i = 0; tens && i < n_in; i++) kn_tensor_release(&tens[i]);
    free(tens);
    free(feed);
    free(inputs);
    return rc;
}
