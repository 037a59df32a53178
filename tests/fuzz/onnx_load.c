/* libFuzzer target: arbitrary bytes through the ONNX reader, static shape inference, the
 * level-2 optimizer (constant folding runs kernels on whatever the model holds) and one
 * run on small inputs.
 * Any input must end in KN_OK or an error: never a crash, a sanitizer report or a leak.
 * Built and run by `make fuzz` (clang's libFuzzer; FUZZ_SECONDS, default 60). Not a
 * Criterion test: it is not in tests/*.c, so `make test` does not build it. */
#include "kiln.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("KILN_MAX_ALLOC_MB", "256", 1); /* absurd but valid dims fail as NOMEM, not OOM */
    kn_set_num_threads(1);
    return 0;
}

/* Small inputs for every graph input whose type and rank are known (unknown dims 2, at
 * most 4096 elements, values 0.5 / 1), so the kernels run on whatever geometry the model
 * describes. */
static void run_once(kn_session *s, const kn_graph *g)
{
    kn_tensor in[8];
    const kn_tensor *feed[8];
    int n = g->n_inputs;
    if (n > 8) return;
    int made = 0;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        const kn_value *v = &g->values[g->inputs[i]];
        int64_t shape[KN_MAX_DIMS], count = 1;
        ok = v->ndim >= 0 && v->ndim <= KN_MAX_DIMS && (v->dtype == KN_FLOAT || v->dtype == KN_INT64);
        for (int d = 0; ok && d < v->ndim; d++) {
            shape[d] = v->shape[d] < 0 ? 2 : v->shape[d];
            count *= shape[d] ? shape[d] : 1;
            ok = shape[d] <= 4096 && count <= 4096;
        }
        if (ok && kn_tensor_init(&in[i], v->dtype, v->ndim, shape) != KN_OK) ok = false;
        if (!ok) break;
        made++;
        for (int64_t j = 0; j < kn_tensor_numel(&in[i]); j++) {
            if (v->dtype == KN_FLOAT) ((float *)in[i].data)[j] = 0.5f;
            else ((int64_t *)in[i].data)[j] = 1;
        }
        feed[i] = &in[i];
    }
    if (ok) (void)kn_session_run(s, feed, n);
    for (int i = 0; i < made; i++) kn_tensor_release(&in[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_graph *g = NULL;
    if (kn_onnx_load_buffer(data, size, NULL, &g) != KN_OK) return 0;
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    o.plan_min_bytes = 0; /* plan the fuzzed graphs' small activations too */
    kn_session *s;
    if (kn_session_create(&s, g, &o) == KN_OK) {
        run_once(s, kn_session_graph(s));
        kn_session_free(s);
    }
    kn_graph_free(g);
    return 0;
}
