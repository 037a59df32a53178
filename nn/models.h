/* kiln — the built-in models (`kiln train --model ...`), built with the layer
 * builders. Each takes an empty graph, adds input "input" [batch, 1, 28, 28]
 * float and "labels" [batch] int64, sets the logits [batch, 10] as the graph
 * output and a softmax cross-entropy loss. */
#ifndef KN_MODELS_H
#define KN_MODELS_H

#include "nn/graph.h"

/* Flatten - Linear 128 - ReLU - Linear 64 - ReLU - Linear 10 */
kn_status kn_model_mlp(kn_graph *g);
/* Conv 6@5x5 pad 2 - BN - ReLU - MaxPool 2 - Conv 16@5x5 - BN - ReLU - MaxPool 2 -
 * Flatten - Linear 120 - ReLU - Linear 84 - ReLU - Linear 10 */
kn_status kn_model_lenet(kn_graph *g);
/* Build a model by name ("mlp", "lenet"); KN_ERR_INVALID naming the choices otherwise. */
kn_status kn_model_build(kn_graph *g, const char *name);

#endif
