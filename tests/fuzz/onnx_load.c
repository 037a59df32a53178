/* libFuzzer target: arbitrary bytes through the ONNX reader, static shape inference and
 * the level-2 optimizer (constant folding runs kernels on whatever the model holds).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kn_graph *g = NULL;
    if (kn_onnx_load_buffer(data, size, NULL, &g) != KN_OK) return 0;
    kn_session_opts o = kn_session_defaults();
    o.level = 2;
    kn_session *s;
    if (kn_session_create(&s, g, &o) == KN_OK) kn_session_free(s);
    kn_graph_free(g);
    return 0;
}
