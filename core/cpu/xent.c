/* CPU losses on class scores [n, c, inner] with labels [n, inner]:
 * negative log-likelihood on log-probabilities, and softmax cross-entropy
 * (log-softmax then NLL). Positions whose label equals ignore_index weigh
 * nothing; "mean" divides by the summed weights of the other positions
 * (ONNX and PyTorch agree on this). */
#include "core/cpu/cpu.h"
#include "core/threads.h"

#include <math.h>

enum { RED_NONE = 0, RED_SUM = 1, RED_MEAN = 2 };

/* Validate the labels once, before any output is written. */
static kn_status check_labels(int64_t n, int64_t c, int64_t inner, const int64_t *labels,
                              int64_t ignore_index, int reduction)
{
    if (reduction < RED_NONE || reduction > RED_MEAN)
        return kn_error(KN_ERR_INVALID, "loss reduction %d is not one of none/sum/mean", reduction);
    for (int64_t p = 0; p < n * inner; p++) {
        const int64_t t = labels[p];
        if (t != ignore_index && (t < 0 || t >= c))
            return kn_error(KN_ERR_INVALID, "label %lld at position %lld is outside [0, %lld)", (long long)t,
                            (long long)p, (long long)c);
    }
    return KN_OK;
}

static inline double label_weight(int64_t t, const float *weights, int64_t ignore_index)
{
    if (t == ignore_index) return 0.0;
    return weights ? (double)weights[t] : 1.0;
}

static double weight_sum(int64_t npos, const int64_t *labels, const float *weights, int64_t ignore_index)
{
    double s = 0;
    for (int64_t p = 0; p < npos; p++) s += label_weight(labels[p], weights, ignore_index);
    return s;
}

kn_status kn_cpu_nll_fwd(int64_t n, int64_t c, int64_t inner, const float *x, const int64_t *labels,
                         const float *weights, int64_t ignore_index, int reduction, float *loss)
{
    KN_TRY(check_labels(n, c, inner, labels, ignore_index, reduction));
    double total = 0, wsum = 0;
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < inner; i++) {
            const int64_t p = b * inner + i, t = labels[p];
            const double w = label_weight(t, weights, ignore_index);
            const double l = w != 0.0 ? -w * x[(b * c + t) * inner + i] : 0.0;
            if (reduction == RED_NONE) loss[p] = (float)l;
            total += l;
            wsum += w;
        }
    if (reduction == RED_SUM) loss[0] = (float)total;
    else if (reduction == RED_MEAN) loss[0] = (float)(total / wsum); /* all ignored: NaN, as PyTorch */
    return KN_OK;
}

/* d loss / d loss_p for position p, times its weight (the coefficient both backwards share). */
static inline double position_coef(int reduction, const float *gloss, int64_t p, double w, double wsum)
{
    if (reduction == RED_NONE) return gloss[p] * w;
    if (reduction == RED_SUM) return gloss[0] * w;
    return gloss[0] * w / wsum;
}

kn_status kn_cpu_nll_bwd(int64_t n, int64_t c, int64_t inner, const int64_t *labels,
                         const float *weights, int64_t ignore_index, int reduction,
                         const float *gloss, float *gx)
{
    KN_TRY(check_labels(n, c, inner, labels, ignore_index, reduction));
    const double wsum = reduction == RED_MEAN ? weight_sum(n * inner, labels, weights, ignore_index) : 1.0;
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < inner; i++) {
            const int64_t p = b * inner + i, t = labels[p];
            const double w = label_weight(t, weights, ignore_index);
            if (w == 0.0) continue;
            gx[(b * c + t) * inner + i] -= (float)position_coef(reduction, gloss, p, w, wsum);
        }
    return KN_OK;
}

kn_status kn_cpu_softmax_xent_fwd(int64_t n, int64_t c, int64_t inner, const float *logits,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, float *loss,
                                  float *log_prob)
{
    KN_TRY(check_labels(n, c, inner, labels, ignore_index, reduction));
    KN_TRY(kn_cpu_softmax(true, n, c, inner, logits, log_prob));
    return kn_cpu_nll_fwd(n, c, inner, log_prob, labels, weights, ignore_index, reduction, loss);
}

kn_status kn_cpu_softmax_xent_bwd(int64_t n, int64_t c, int64_t inner, const float *log_prob,
                                  const int64_t *labels, const float *weights,
                                  int64_t ignore_index, int reduction, const float *gloss,
                                  float *glogits)
{
    KN_TRY(check_labels(n, c, inner, labels, ignore_index, reduction));
    const double wsum = reduction == RED_MEAN ? weight_sum(n * inner, labels, weights, ignore_index) : 1.0;
    KN_OMP_FOR_IF(n * c * inner > 32768, schedule(static),
    for (int64_t p = 0; p < n * inner; p++) {
        const int64_t b = p / inner, i = p % inner, t = labels[p];
        const double w = label_weight(t, weights, ignore_index);
        if (w == 0.0) continue;
        /* d(-w * log_softmax_t) / d logit_k = coef * (softmax_k - [k == t]) */
        const float coef = (float)position_coef(reduction, gloss, p, w, wsum);
        const float *lp = log_prob + b * c * inner + i;
        float *g = glogits + b * c * inner + i;
        for (int64_t k = 0; k < c; k++) g[k * inner] += coef * (expf(lp[k * inner]) - (k == t ? 1.0f : 0.0f));
    });
    return KN_OK;
}
