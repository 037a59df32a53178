#include "core/threads.h"

#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

/* Provided by OpenBLAS; declared here so no cblas header is needed. */
void openblas_set_num_threads(int num_threads);

static int current_threads;

/* Flush denormals to zero (FTZ + DAZ) on every kiln thread: optimizer moments
 * and small activations decay into the denormal range, where x86 arithmetic
 * is ~100x slower, and those values carry no useful precision for training or
 * inference. Set per thread because MXCSR is per thread. */
static void flush_denormals(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

void kn_set_num_threads(int n)
{
    if (n <= 0) {
        const char *env = getenv("KILN_NUM_THREADS");
        n = env ? atoi(env) : 0;
        if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 0) n = 1;
    }
    current_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#pragma omp parallel num_threads(n)
    flush_denormals();
#endif
    flush_denormals();
    openblas_set_num_threads(n);
}

int kn_get_num_threads(void)
{
    if (current_threads == 0) kn_set_num_threads(0);
    return current_threads;
}
