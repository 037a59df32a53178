/* mnist_lenet — train LeNet-5 with batch normalization on MNIST-layout data.
 *
 *   build/examples/mnist_lenet [DATA_DIR] [EPOCHS]
 *
 * Conv 6@5x5 pad 2 - BN - ReLU - MaxPool 2 - Conv 16@5x5 - BN - ReLU - MaxPool 2 -
 * Flatten - Linear 120 - ReLU - Linear 84 - ReLU - Linear 10. */
#include <stdio.h>
#include <stdlib.h>

#include "kiln.h"

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != KN_OK) {                                             \
            fprintf(stderr, "mnist_lenet: %s\n", kn_last_error());         \
            return 1;                                                      \
        }                                                                  \
    } while (0)

/* conv -> batch norm -> relu -> 2x2 max pool: the repeated LeNet block */
static int conv_block(kn_graph *g, int x, int64_t channels, int64_t pad, const char *conv, const char *bn)
{
    kn_conv2d_opts o = kn_conv2d_defaults(5);
    o.pad = pad;
    int h = kn_conv2d(g, x, channels, &o, conv);
    h = kn_relu(g, kn_batchnorm(g, h, bn));
    return kn_maxpool2d(g, h, 2, 2, 0);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    int epochs = argc > 2 ? atoi(argv[2]) : 3;
    if (!dir) CHECK(kn_mnist_default_dir(&dir, NULL));
    kn_mnist data;
    CHECK(kn_mnist_load(&data, dir));
    printf("data: %s\n", dir);

    kn_graph *g;
    CHECK(kn_graph_create(&g));
    kn_graph_seed(g, 1);
    int x = kn_input(g, "input", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 1, 28, 28});
    int labels = kn_input(g, "labels", KN_INT64, 1, (int64_t[]){KN_DIM_UNKNOWN});
    int h = conv_block(g, x, 6, 2, "conv1", "bn1");  /* [B, 6, 14, 14] */
    h = conv_block(g, h, 16, 0, "conv2", "bn2");      /* [B, 16, 5, 5]  */
    h = kn_relu(g, kn_linear(g, kn_flatten(g, h), 120, "fc1"));
    h = kn_relu(g, kn_linear(g, h, 84, "fc2"));
    int logits = kn_output(g, kn_linear(g, h, 10, "fc3"));
    kn_softmax_cross_entropy(g, logits, labels);
    CHECK(kn_graph_status(g));

    /* In a training session BatchNormalization uses batch statistics and updates its
     * running mean/variance in the graph; inference sessions then use those. */
    kn_session_opts so = kn_session_defaults();
    so.training = true;
    so.replicas = KN_REPLICAS_AUTO; /* split each batch across the threads (batch norm stays whole-batch) */
    kn_session *train;
    CHECK(kn_session_create(&train, g, &so));
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    kn_optimizer *adam;
    CHECK(kn_optimizer_create(&adam, &oc));
    kn_batch_opts bo = kn_batch_defaults();
    kn_batch_iter *batches;
    CHECK(kn_batch_iter_create(&batches, &data.train, &bo));

    for (int e = 0; e < epochs; e++) {
        kn_epoch_stats st;
        CHECK(kn_train_epoch(train, adam, batches, e, &st, NULL, NULL));
        kn_session *eval;
        kn_session_opts eo = kn_session_defaults();
        CHECK(kn_session_create(&eval, g, &eo));
        CHECK(kn_evaluate(eval, &data.test, 256, bo.layout, &st.test_accuracy));
        kn_session_free(eval);
        printf("epoch %d: loss %.4f  test acc %.4f  (%.0f samples/s)\n", e + 1, st.loss, st.test_accuracy,
               st.samples_per_second);
    }

    kn_batch_iter_free(batches);
    kn_optimizer_free(adam);
    kn_session_free(train);
    kn_graph_free(g);
    kn_mnist_release(&data);
    return 0;
}
