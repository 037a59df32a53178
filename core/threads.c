#include "core/threads.h"

#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Provided by OpenBLAS; declared here so no cblas header is needed. */
void openblas_set_num_threads(int num_threads);

static int current_threads;

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
#endif
    openblas_set_num_threads(n);
}

int kn_get_num_threads(void)
{
    if (current_threads == 0) kn_set_num_threads(0);
    return current_threads;
}
