/* kiln — data-parallel execution of one batch on the CPU ("replicas").
 *
 * On a 2-core machine the kernels of a small model (MNIST-sized GEMMs and
 * convolutions) are too short to split well: each op split across threads
 * pays a fork/join barrier and leaves OpenBLAS with half-sized blocks. A
 * session with replicas instead cuts the batch into R slices along axis 0
 * and runs each slice through its own copy of the plan on its own thread,
 * with single-threaded kernels; the threads meet only where the math couples
 * samples:
 *   - training BatchNormalization all-reduces its per-channel sums (forward
 *     and backward), so statistics are those of the whole batch (sync BN);
 *   - after backward, the replicas' parameter gradients are summed.
 * Each replica's loss gradient is seeded with n_r / N, so for a mean loss the
 * summed gradients are the gradients of the whole batch's loss: the step is
 * the same step, up to float summation order.
 *
 * Which graphs can be split is decided once per session (kn_split_check): every
 * planned node must treat axis-0 rows independently given its other inputs
 * (weights, constants), and a training loss must be a mean over the batch.
 *
 * kn_group is the replicas' meeting point: a spinning barrier that gives up
 * when any replica fails (so an error never deadlocks the others) and a
 * deterministic all-reduce (every replica adds the slots in rank order, so all
 * get bitwise the same sums whatever the timing). */
#ifndef KN_SPLIT_H
#define KN_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nn/graph.h"

#define KN_MAX_REPLICAS 64

typedef struct kn_group kn_group;

kn_status kn_group_create(kn_group **out, int n);
void kn_group_free(kn_group *g);
int kn_group_size(const kn_group *g);
/* Before each parallel run: clear the failure flag. */
void kn_group_reset(kn_group *g);
/* A replica failed: wake and fail everyone waiting, now and later in this run. */
void kn_group_fail(kn_group *g);
bool kn_group_failed(const kn_group *g);
/* Wait for all n replicas; KN_ERR_INTERNAL if another one failed. */
kn_status kn_group_barrier(kn_group *g);
/* buf[0..n) := the sum over replicas of their buf (n may differ per call, never per
 * replica within a call). */
kn_status kn_group_allreduce(kn_group *g, int rank, double *buf, int64_t n);

/* Whether a session with this plan (node ids in execution order) may split its batch
 * across replicas. On false, `why` names the first node or value that prevents it. */
bool kn_split_check(const kn_graph *g, const int *order, int n_order, bool training, char *why,
                    size_t why_len);

#endif
