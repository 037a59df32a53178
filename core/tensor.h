/* kiln — tensors.
 *
 * A kn_tensor is a small value struct (it lives in arrays, on the stack, in a
 * session): dtype, row-major contiguous shape of up to KN_MAX_DIMS dims, a
 * device tag and a data pointer. Storage is a refcounted kn_buffer (64-byte
 * aligned on the host); views share the buffer and point at an offset.
 *
 * Ownership: a tensor initialised by kn_tensor_init/view/clone holds one
 * reference to its buffer and must be given back with kn_tensor_release.
 * A shape-only tensor (data == NULL, buf == NULL) holds nothing. */
#ifndef KN_TENSOR_H
#define KN_TENSOR_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/dtype.h"
#include "core/status.h"

#define KN_MAX_DIMS 8
#define KN_ALIGN 64

typedef enum kn_device { KN_CPU = 0, KN_CUDA = 1 } kn_device;
#define KN_NUM_DEVICES 2
const char *kn_device_name(kn_device d);

typedef struct kn_buffer {
    void *ptr;
    size_t bytes;
    int refs;
    kn_device device;
    kn_dtype dtype; /* KN_STRING buffers free their strings */
    size_t count;   /* elements, for strings */
} kn_buffer;

typedef struct kn_tensor {
    kn_dtype dtype;
    kn_device device;
    int ndim;
    int64_t shape[KN_MAX_DIMS];
    void *data;     /* first element; NULL for a shape-only tensor */
    kn_buffer *buf; /* owner of data, NULL when data is borrowed */
} kn_tensor;

/* Largest single allocation kiln will attempt (bytes); env KILN_MAX_ALLOC_MB
 * overrides the default of 8192 MiB. Guards against absurd dims in files. */
size_t kn_max_alloc_bytes(void);

/* Element count of a shape with overflow/negative checks; sets an error naming the shape. */
kn_status kn_shape_numel(int ndim, const int64_t *shape, int64_t *numel);
int64_t kn_tensor_numel(const kn_tensor *t);
size_t kn_tensor_bytes(const kn_tensor *t);
bool kn_shape_equal(int na, const int64_t *a, int nb, const int64_t *b);
bool kn_tensor_same_shape(const kn_tensor *a, const kn_tensor *b);
/* "[64,1,28,28]" into buf; returns buf. */
char *kn_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

/* Shape-only tensor: no data, nothing to release. */
kn_status kn_tensor_meta(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape);
/* Allocate zeroed host storage. */
kn_status kn_tensor_init(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape);
/* Allocate storage on a device (CPU or CUDA through its kernel table); not zeroed on CUDA. */
kn_status kn_tensor_init_on(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape,
                            kn_device device);
/* Keep t when it already holds dtype x shape on device (*fresh = false), else release it
 * and allocate that (*fresh = true; fresh may be NULL): buffers kept across runs (op
 * state, gathered outputs, staging) allocate only when a shape changes. */
kn_status kn_tensor_ensure_on(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape, kn_device device,
                              bool *fresh);
/* Wrap caller memory without owning it; the caller keeps it alive. */
void kn_tensor_borrow(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape, void *data);
/* A view of src's buffer with a new shape starting elem_offset elements in. */
kn_status kn_tensor_view(kn_tensor *dst, const kn_tensor *src, int ndim, const int64_t *shape,
                         int64_t elem_offset);
/* Deep copy (same device). Strings are duplicated. */
kn_status kn_tensor_clone(kn_tensor *dst, const kn_tensor *src);
/* Copy to another device (or host copy when device is the same). */
kn_status kn_tensor_to(kn_tensor *dst, const kn_tensor *src, kn_device device);
/* Copy data between tensors of equal dtype and element count (any devices). */
kn_status kn_tensor_copy_data(kn_tensor *dst, const kn_tensor *src);
/* Drop the buffer reference and reset to a shape-only tensor. */
void kn_tensor_release(kn_tensor *t);

/* Number of buffers allocated so far in this process (for steady-state checks). */
int64_t kn_alloc_count(void);

/* Heap tensors for API users: kn_tensor_create allocates zeroed host memory,
 * kn_tensor_free releases the storage and the struct. */
kn_status kn_tensor_create(kn_tensor **out, kn_dtype dtype, int ndim, const int64_t *shape);
void kn_tensor_free(kn_tensor *t);

/* Read element i (flat index) of a numeric tensor as int64/double whatever its dtype. */
int64_t kn_tensor_get_i64(const kn_tensor *t, int64_t i);
double kn_tensor_get_f64(const kn_tensor *t, int64_t i);

/* Aligned host allocation used by all host buffers (64-byte aligned, zeroed). */
void *kn_host_alloc(size_t bytes);
void kn_host_free(void *p);

#endif
