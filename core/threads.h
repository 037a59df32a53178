/* kiln — one knob for all threads: OpenMP loops and OpenBLAS GEMM.
 * kn_set_num_threads(0) means: KILN_NUM_THREADS from the environment, else
 * the number of online cores. */
#ifndef KN_THREADS_H
#define KN_THREADS_H

void kn_set_num_threads(int n);
int kn_get_num_threads(void);

#endif
