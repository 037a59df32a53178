/* kiln — one knob for all threads: OpenMP loops and OpenBLAS GEMM.
 * kn_set_num_threads(0) means: KILN_NUM_THREADS from the environment, else
 * the number of online cores. */
#ifndef KN_THREADS_H
#define KN_THREADS_H

void kn_set_num_threads(int n);
int kn_get_num_threads(void);

/* KN_OMP_FOR_IF(cond, clauses, for (...) body): the loop as `omp parallel for clauses`
 * when cond holds, else a plain loop on this thread. `#pragma omp parallel for if (0)`
 * still builds a one-thread team in libgomp: a malloc and ~220 ns per loop (measured,
 * 2026-11-27), paid on every node of a batch-1 inference (7 times per LeNet run, ~12%
 * of it). The body must not hold preprocessor directives (it is a macro argument). */
#define KN_PRAGMA(x) _Pragma(#x)
#define KN_OMP_FOR_IF(cond, clauses, ...)                 \
    do {                                                  \
        if (cond) {                                       \
            KN_PRAGMA(omp parallel for clauses)           \
            __VA_ARGS__                                   \
        } else {                                          \
            __VA_ARGS__                                   \
        }                                                 \
    } while (0)

#endif
