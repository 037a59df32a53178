/* Test helpers shared by the Criterion suites. */
#ifndef KN_TEST_HELPERS_H
#define KN_TEST_HELPERS_H

#include <criterion/criterion.h>
#include "kiln.h"

/* Fill with uniform values in [lo, hi) from a fixed seed. */
void t_fill_uniform(kn_tensor *t, uint64_t seed, float lo, float hi);
/* Allocate a float tensor with the shape given as varargs: t_new(&t, 2, 3, 4). */
kn_tensor t_new(int ndim, ...);
kn_tensor t_new_rand(uint64_t seed, float lo, float hi, int ndim, ...);
/* Max |a-b| / (atol + rtol*|b|) over all elements; <= 1 means close. */
double t_close_ratio(const float *a, const float *b, int64_t n, double rtol, double atol);
#define T_ASSERT_CLOSE(a, b, n, rtol, atol)                                                  \
    cr_assert(t_close_ratio((a), (b), (n), (rtol), (atol)) <= 1.0,                          \
              "arrays differ: ratio %g (rtol %g atol %g)", t_close_ratio((a), (b), (n), (rtol), (atol)), \
              (double)(rtol), (double)(atol))
/* The same for a float tensor on any device (compared through a host copy) against a
 * host tensor of as many elements. */
double t_tensor_close_ratio(const kn_tensor *got, const kn_tensor *want, double rtol, double atol);
#define T_OK(expr) cr_assert_eq((expr), KN_OK, "%s failed: %s", #expr, kn_last_error())

/* A one-node graph: inputs become graph inputs named in0, in1, ...; outputs out0, ...
 * Returns the node id; attributes can then be set on g. */
int t_single_node_graph(kn_graph **g, const char *op, int n_in, const kn_tensor *in_meta, int n_out);

/* Run one node of g directly (no session) in inference or training mode.
 * outs[] are allocated (caller releases); state[KN_OP_MAX_STATE] persists. */
kn_status t_run_node(kn_graph *g, int node, kn_tensor *const *in, kn_tensor *outs, kn_tensor *state,
                     bool training);

/* Two inference sessions on g: *s0 at level 0 and *s2 at `level` with `disabled`
 * passes off (NULL: none), for tests that compare optimized against plain runs; *s2
 * plans memory whatever the activations' size (plan_min_bytes 0). */
void t_session_pair(const kn_graph *g, int level, const char *disabled, kn_session **s0, kn_session **s2);
/* A training session on g with `replicas` (0 or 1: none), and an Adam optimizer with
 * the default recipe, for the training tests. */
kn_session *t_train_session(const kn_graph *g, int replicas);
/* A session on `device` at optimizer `level` (inference) or for training, with `replicas`. */
kn_session *t_session_on(const kn_graph *g, kn_device device, int level, bool training, int replicas);
kn_optimizer *t_adam(void);

/* Run both sessions on the one input x and assert their first outputs match. */
void t_compare_runs(kn_session *s0, kn_session *s2, const kn_tensor *x, double rtol, double atol);

/* Finite-difference check of node `node`'s backward for every float input in
 * wrt_mask, using loss = sum_j out0_j * r_j with random r. Central differences
 * in double-checked float; asserts |analytic - numeric| <= atol + rtol*|numeric|.
 * Inputs are perturbed in place and restored. */
void t_gradcheck(kn_graph *g, int node, kn_tensor *const *in, unsigned wrt_mask, bool training,
                 float eps, double rtol, double atol);

#endif
