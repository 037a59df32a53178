#include "optim/train.h"

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t kn_count_correct(const kn_tensor *logits, const kn_tensor *labels, int64_t n)
{
    const float *l = logits->data;
    const int64_t *y = labels->data;
    int64_t classes = logits->shape[logits->ndim - 1], correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = l + i * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        correct += best == y[i];
    }
    return correct;
}

/* Logits live on the session's device; accuracy is counted on the host. */
static kn_status host_logits(const kn_tensor *logits, kn_tensor *tmp, const kn_tensor **out)
{
    if (logits->device == KN_CPU) {
        *out = logits;
        return KN_OK;
    }
    if (!(tmp->data && kn_tensor_same_shape(tmp, logits))) {
        kn_tensor_release(tmp);
        KN_TRY(kn_tensor_init(tmp, logits->dtype, logits->ndim, logits->shape));
    }
    KN_TRY(kn_tensor_copy_data(tmp, logits));
    *out = tmp;
    return KN_OK;
}

kn_status kn_train_epoch(kn_session *train, kn_optimizer *opt, kn_batch_iter *it, int epoch,
                         kn_epoch_stats *stats, kn_progress_fn progress, void *user)
{
    kn_epoch_stats st = {.epoch = epoch, .test_accuracy = -1};
    kn_tensor tmp = {0};
    kn_status rc = kn_batch_iter_seek_epoch(it, epoch);
    int64_t total = kn_batch_iter_num_samples(it), correct = 0;
    double loss_sum = 0, t0 = now();
    while (rc == KN_OK) {
        const kn_tensor *x, *y;
        int64_t count;
        if ((rc = kn_batch_next(it, &x, &y, &count)) != KN_OK || count == 0) break;
        const kn_tensor *ins[2] = {x, y};
        const kn_tensor *logits;
        if ((rc = kn_session_run(train, ins, 2)) != KN_OK) break;
        if ((rc = kn_session_backward(train)) != KN_OK) break;
        kn_batch_prefetch(it); /* the next batch's rows arrive while the optimizer runs */
        if ((rc = kn_optimizer_step_session(opt, train)) != KN_OK) break;
        if ((rc = host_logits(kn_session_output(train, 0), &tmp, &logits)) != KN_OK) break;
        correct += kn_count_correct(logits, y, count);
        loss_sum += (double)kn_session_loss(train) * (double)count;
        st.samples += count;
        if (progress) {
            st.seconds = now() - t0;
            st.loss = loss_sum / (double)st.samples;
            st.train_accuracy = (double)correct / (double)st.samples;
            st.samples_per_second = (double)st.samples / st.seconds;
            progress(user, &st, total);
        }
    }
    kn_tensor_release(&tmp);
    if (rc != KN_OK) return rc;
    st.seconds = now() - t0;
    st.loss = st.samples ? loss_sum / (double)st.samples : 0;
    st.train_accuracy = st.samples ? (double)correct / (double)st.samples : 0;
    st.samples_per_second = st.seconds > 0 ? (double)st.samples / st.seconds : 0;
    *stats = st;
    return KN_OK;
}

kn_status kn_evaluate(kn_session *eval, const kn_dataset *ds, int64_t batch, kn_batch_layout layout,
                      double *accuracy)
{
    kn_batch_opts o = kn_batch_defaults();
    o.batch_size = batch;
    o.shuffle = false;
    o.layout = layout;
    kn_batch_iter *it;
    KN_TRY(kn_batch_iter_create(&it, ds, &o));
    kn_tensor tmp = {0};
    int64_t correct = 0, seen = 0;
    kn_status rc = KN_OK;
    const kn_graph *g = kn_session_graph(eval);
    for (;;) {
        const kn_tensor *x, *y, *logits;
        int64_t count;
        if ((rc = kn_batch_next(it, &x, &y, &count)) != KN_OK || count == 0) break;
        const kn_tensor *ins[2] = {x, y};
        if ((rc = kn_session_run(eval, ins, g->n_inputs < 2 ? g->n_inputs : 2)) != KN_OK) break;
        if ((rc = host_logits(kn_session_output(eval, 0), &tmp, &logits)) != KN_OK) break;
        correct += kn_count_correct(logits, y, count);
        seen += count;
    }
    kn_tensor_release(&tmp);
    kn_batch_iter_free(it);
    if (rc == KN_OK) *accuracy = seen ? (double)correct / (double)seen : 0;
    return rc;
}
