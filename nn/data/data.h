/* kiln — training data: IDX files, MNIST-layout datasets, shuffled batches.
 *
 * IDX (the MNIST container): a big-endian header, magic 0x0000TTNN (TT the
 * element type, NN the number of dims), NN big-endian uint32 dims, then the
 * elements. kiln reads unsigned-byte IDX (TT = 0x08), raw or gzipped (zlib
 * reads both). Every refusal names the file and the problem; sizes are
 * checked against the file before anything is allocated.
 *
 * Ownership: kn_idx_read, kn_dataset_load and kn_mnist_load fill caller
 * structs with tensors they own; give them back with kn_tensor_release /
 * kn_dataset_release / kn_mnist_release. A batch iterator borrows its dataset
 * (keep it alive and unchanged until kn_batch_iter_free). */
#ifndef KN_DATA_H
#define KN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

/* Largest element count kn_idx_read accepts from a header: 2^31 bytes, far
 * above any IDX dataset, far below what a corrupt header can claim. */
#define KN_IDX_MAX_BYTES ((int64_t)1 << 31)

/* Read an unsigned-byte IDX file (raw or .gz) into a KN_UINT8 host tensor of
 * its dims. expect_ndim > 0 also requires that many dims (1 for labels, 3 for
 * images); 0 accepts any count from 1 to KN_MAX_DIMS. Errors: KN_ERR_IO
 * (missing/unreadable), KN_ERR_FORMAT (bad magic, wrong type or rank, dims
 * that don't match the file size, truncated or trailing data, corrupt gzip),
 * KN_ERR_NOMEM (absurd dims, refused before allocating). */
kn_status kn_idx_read(const char *path, int expect_ndim, kn_tensor *out);

/* Labelled images in memory (host). */
typedef struct kn_dataset {
    kn_tensor images; /* float [N, 1, H, W], pixels / 255 (so in [0, 1]) */
    kn_tensor labels; /* int64 [N], each in [0, num_classes) */
    int num_classes;
    /* uint8 [N, 1, H, W]: the IDX bytes `images` was made from, kept by kn_dataset_load so
     * batch iterators gather 1 byte per pixel from memory, not 4 (empty for datasets
     * built otherwise; iterators then copy `images`). Must equal images * 255. */
    kn_tensor pixels;
} kn_dataset;

/* Load an images IDX (3 dims: N, H, W) and a labels IDX (1 dim: N) into ds.
 * Counts must agree and every label must be below num_classes (> 0). */
kn_status kn_dataset_load(kn_dataset *ds, const char *images_path, const char *labels_path,
                          int num_classes);
void kn_dataset_release(kn_dataset *ds);
/* Number of samples; height and width of each image. */
int64_t kn_dataset_size(const kn_dataset *ds);
int64_t kn_dataset_height(const kn_dataset *ds);
int64_t kn_dataset_width(const kn_dataset *ds);

/* MNIST layout: a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with .gz (the raw
 * name wins when both exist). 10 classes (MNIST digits, Fashion-MNIST items). */
typedef struct kn_mnist {
    kn_dataset train, test;
} kn_mnist;

kn_status kn_mnist_load(kn_mnist *m, const char *dir);
void kn_mnist_release(kn_mnist *m);
/* True when dir holds all four files (raw or .gz). */
bool kn_mnist_dir_complete(const char *dir);

#define KN_MNIST_LOCAL_DIR "./data/mnist"
#define KN_MNIST_SYSTEM_DIR "/usr/share/datasets/fashion-mnist" /* Debian dataset-fashion-mnist */

/* The data directory to use by default: KN_MNIST_LOCAL_DIR when it holds the
 * four files, else KN_MNIST_SYSTEM_DIR when it does. *dir is one of those two
 * static strings; *what (may be NULL) a short description for messages.
 * KN_ERR_IO naming both places when neither is complete. */
kn_status kn_mnist_default_dir(const char **dir, const char **what);

/* ---- batches ---- */

typedef enum kn_batch_layout {
    KN_BATCH_NCHW = 0, /* images [B, 1, H, W] (convolutional models) */
    KN_BATCH_FLAT      /* images [B, H*W] (MLPs) */
} kn_batch_layout;

typedef struct kn_batch_opts {
    int64_t batch_size; /* > 0 */
    bool shuffle;       /* a new permutation each epoch; false: dataset order */
    bool drop_last;     /* skip the final partial batch instead of returning it short */
    uint64_t seed;      /* permutation of epoch e depends on (seed, e) only */
    kn_batch_layout layout;
} kn_batch_opts;

/* batch_size 64, shuffle on, drop_last off, seed 0, NCHW. */
kn_batch_opts kn_batch_defaults(void);

typedef struct kn_batch_iter kn_batch_iter;

kn_status kn_batch_iter_create(kn_batch_iter **out, const kn_dataset *ds, const kn_batch_opts *opts);
void kn_batch_iter_free(kn_batch_iter *it);

/* The next batch of the current epoch, in iterator-owned host tensors shaped
 * to the batch's true size (the last one may be short unless drop_last);
 * valid until the next call or kn_batch_iter_free. At the end of an epoch it
 * returns KN_OK with *count = 0 and *x = *y = NULL; the call after that
 * starts the next epoch (reshuffled). */
kn_status kn_batch_next(kn_batch_iter *it, const kn_tensor **x, const kn_tensor **y,
                        int64_t *count);
/* The same into caller tensors: x float host [batch_size, 1, H, W] or
 * [batch_size, H*W] (per layout), y int64 host [batch_size]. The first *count
 * rows are written; a short last batch leaves the rest untouched (view the
 * first *count rows with kn_tensor_view to feed them on). */
kn_status kn_batch_next_into(kn_batch_iter *it, kn_tensor *x, kn_tensor *y, int64_t *count);

/* Ask the memory system for the rows of the next batch (it is not gathered yet). The
 * rows are scattered over the whole dataset, so each gather otherwise waits on memory
 * row by row; call this some tens of microseconds before kn_batch_next, late enough that
 * the step's own data does not push the rows out of the cache again (kn_train_epoch
 * calls it before the optimizer step). A no-op at the end of an epoch. */
void kn_batch_prefetch(const kn_batch_iter *it);

/* Start epoch `epoch` (0-based) now: its permutation, from its first batch. */
kn_status kn_batch_iter_seek_epoch(kn_batch_iter *it, int epoch);
/* The epoch the next batch belongs to (0-based). */
int kn_batch_iter_epoch(const kn_batch_iter *it);
/* Batches per epoch, counting a short last one unless drop_last. */
int64_t kn_batch_iter_num_batches(const kn_batch_iter *it);
/* Samples served per epoch (all, or whole batches only with drop_last). */
int64_t kn_batch_iter_num_samples(const kn_batch_iter *it);

#endif
