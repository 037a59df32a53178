/* kiln — the public C API in one header.
 *
 *   core/   tensors, dtypes, devices, errors, threads, the kernel table
 *   nn/     graph IR, ops, builders, losses, sessions (forward/backward), passes,
 *           the request batcher
 *   optim/  SGD, Adam, AdamW, LR schedules
 *   onnx/   ONNX model import/export
 *
 * Every fallible call returns kn_status; kn_last_error() says what went wrong. */
#ifndef KILN_H
#define KILN_H

#define KILN_VERSION "0.1.0"

#include "core/status.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "core/rng.h"
#include "core/kernels.h"
#include "nn/graph.h"
#include "nn/op.h"
#include "nn/session.h"
#include "nn/batcher.h"
#include "nn/builder.h"
#include "nn/models.h"
#include "nn/passes/passes.h"
#include "nn/data/data.h"
#include "optim/optim.h"
#include "optim/train.h"
#include "onnx/onnx.h"

#endif
