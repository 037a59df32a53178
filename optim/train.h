/* kiln — the training loop shared by `kiln train`, the examples and the
 * benchmarks: one epoch of forward/backward/step over a batch iterator, and
 * evaluation of classification accuracy. Models follow nn/models.h: inputs
 * (images, labels), graph output 0 = logits [B, classes], g->loss = mean loss. */
#ifndef KN_TRAIN_H
#define KN_TRAIN_H

#include "nn/session.h"
#include "nn/data/data.h"
#include "optim/optim.h"

typedef struct kn_epoch_stats {
    int epoch;
    double seconds;
    double loss;           /* mean training loss over the epoch */
    double train_accuracy; /* on the training batches, as they were seen */
    double test_accuracy;  /* filled by the caller after kn_evaluate, or -1 */
    double samples_per_second;
    int64_t samples;
} kn_epoch_stats;

/* Called after every batch (done/total in samples); may be NULL. */
typedef void (*kn_progress_fn)(void *user, const kn_epoch_stats *so_far, int64_t total);

/* One epoch: for each batch run forward (training session), backward, optimizer step. */
kn_status kn_train_epoch(kn_session *train, kn_optimizer *opt, kn_batch_iter *it, int epoch,
                         kn_epoch_stats *stats, kn_progress_fn progress, void *user);

/* Accuracy (and mean loss, when the session's graph has one and computes it; else -1)
 * of an inference session over a dataset, in batches of `batch`. */
kn_status kn_evaluate(kn_session *eval, const kn_dataset *ds, int64_t batch, kn_batch_layout layout,
                      double *accuracy);

/* Count rows of logits [n, classes] whose argmax equals the int64 label. */
int64_t kn_count_correct(const kn_tensor *logits, const kn_tensor *labels, int64_t n);

#endif
