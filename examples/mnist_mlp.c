/* mnist_mlp — train a 784-128-64-10 MLP on MNIST-layout data with kiln.
 *
 *   build/examples/mnist_mlp [DATA_DIR] [EPOCHS]
 *
 * DATA_DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (raw or .gz); by default
 * ./data/mnist, else Debian's Fashion-MNIST. */
#include <stdio.h>
#include <stdlib.h>

#include "kiln.h"

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != KN_OK) {                                             \
            fprintf(stderr, "mnist_mlp: %s\n", kn_last_error());           \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    /* 1. Data: images become float [N, 1, 28, 28] in [0, 1], labels int64 [N]. */
    const char *dir = argc > 1 ? argv[1] : NULL;
    int epochs = argc > 2 ? atoi(argv[2]) : 5;
    if (!dir) CHECK(kn_mnist_default_dir(&dir, NULL));
    kn_mnist data;
    CHECK(kn_mnist_load(&data, dir));
    printf("data: %s (%lld train, %lld test images)\n", dir, (long long)kn_dataset_size(&data.train),
           (long long)kn_dataset_size(&data.test));

    /* 2. The model, layer by layer. Each builder returns the id of its output;
     *    errors are sticky, so we check once at the end. KN_DIM_UNKNOWN is the batch. */
    kn_graph *g;
    CHECK(kn_graph_create(&g));
    kn_graph_seed(g, 1);
    int x = kn_input(g, "input", KN_FLOAT, 4, (int64_t[]){KN_DIM_UNKNOWN, 1, 28, 28});
    int labels = kn_input(g, "labels", KN_INT64, 1, (int64_t[]){KN_DIM_UNKNOWN});
    int h = kn_flatten(g, x);                         /* [B, 784] */
    h = kn_relu(g, kn_linear(g, h, 128, "fc1"));      /* [B, 128] */
    h = kn_relu(g, kn_linear(g, h, 64, "fc2"));       /* [B, 64]  */
    int logits = kn_output(g, kn_linear(g, h, 10, "fc3"));
    kn_softmax_cross_entropy(g, logits, labels);      /* sets the graph's loss */
    CHECK(kn_graph_status(g));

    /* 3. A training session (keeps activations for backward) and Adam. */
    kn_session_opts so = kn_session_defaults();
    so.training = true;
    kn_session *train;
    CHECK(kn_session_create(&train, g, &so));
    kn_optim_config oc = kn_optim_defaults(KN_OPTIM_ADAM);
    oc.lr = 1e-3f;
    kn_optimizer *adam;
    CHECK(kn_optimizer_create(&adam, &oc));
    kn_batch_opts bo = kn_batch_defaults(); /* batch 64, shuffled per epoch */
    kn_batch_iter *batches;
    CHECK(kn_batch_iter_create(&batches, &data.train, &bo));

    /* 4. Train: kn_train_epoch runs forward, backward and the optimizer step per batch.
     *    Evaluate with an inference session, which shares the trained parameters. */
    for (int e = 0; e < epochs; e++) {
        kn_epoch_stats st;
        CHECK(kn_train_epoch(train, adam, batches, e, &st, NULL, NULL));
        kn_session *eval;
        kn_session_opts eo = kn_session_defaults();
        CHECK(kn_session_create(&eval, g, &eo));
        CHECK(kn_evaluate(eval, &data.test, 256, bo.layout, &st.test_accuracy));
        kn_session_free(eval);
        printf("epoch %d: loss %.4f  train acc %.4f  test acc %.4f  (%.0f samples/s)\n", e + 1, st.loss,
               st.train_accuracy, st.test_accuracy, st.samples_per_second);
    }

    kn_batch_iter_free(batches);
    kn_optimizer_free(adam);
    kn_session_free(train);
    kn_graph_free(g);
    kn_mnist_release(&data);
    return 0;
}
