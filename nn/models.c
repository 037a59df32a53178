#include "nn/models.h"
#include "nn/builder.h"

#include <string.h>

static const int64_t image_shape[4] = {KN_DIM_UNKNOWN, 1, 28, 28};
static const int64_t label_shape[1] = {KN_DIM_UNKNOWN};

static kn_status finish(kn_graph *g, int logits, int labels)
{
    if (logits >= 0 && g->sticky == KN_OK) {
        kn_status st = kn_graph_rename_value(g, logits, "logits");
        if (st != KN_OK) return st;
    }
    kn_output(g, logits);
    kn_softmax_cross_entropy(g, logits, labels);
    return kn_graph_status(g);
}

kn_status kn_model_mlp(kn_graph *g)
{
    int x = kn_input(g, "input", KN_FLOAT, 4, image_shape);
    int labels = kn_input(g, "labels", KN_INT64, 1, label_shape);
    int h = kn_relu(g, kn_linear(g, kn_flatten(g, x), 128, "fc1"));
    h = kn_relu(g, kn_linear(g, h, 64, "fc2"));
    return finish(g, kn_linear(g, h, 10, "fc3"), labels);
}

kn_status kn_model_lenet(kn_graph *g)
{
    int x = kn_input(g, "input", KN_FLOAT, 4, image_shape);
    int labels = kn_input(g, "labels", KN_INT64, 1, label_shape);
    kn_conv2d_opts c1 = kn_conv2d_defaults(5), c2 = kn_conv2d_defaults(5);
    c1.pad = 2;
    int h = kn_maxpool2d(g, kn_relu(g, kn_batchnorm(g, kn_conv2d(g, x, 6, &c1, "conv1"), "bn1")), 2, 2, 0);
    h = kn_maxpool2d(g, kn_relu(g, kn_batchnorm(g, kn_conv2d(g, h, 16, &c2, "conv2"), "bn2")), 2, 2, 0);
    h = kn_relu(g, kn_linear(g, kn_flatten(g, h), 120, "fc1"));
    h = kn_relu(g, kn_linear(g, h, 84, "fc2"));
    return finish(g, kn_linear(g, h, 10, "fc3"), labels);
}

kn_status kn_model_build(kn_graph *g, const char *name)
{
    if (!strcmp(name, "mlp")) return kn_model_mlp(g);
    if (!strcmp(name, "lenet")) return kn_model_lenet(g);
    return kn_error(KN_ERR_INVALID, "unknown model '%s' (choose mlp or lenet)", name);
}
