#include "core/tensor.h"
#include "core/kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kn_device_name(kn_device d)
{
    switch (d) {
    case KN_CPU: return "cpu";
    case KN_CUDA: return "cuda";
    }
    return "unknown";
}

size_t kn_max_alloc_bytes(void)
{
    /* atomic: threads (e.g. a batcher's worker and its callers) allocate concurrently;
     * racing first calls compute the same value */
    static _Atomic size_t cap;
    size_t c = atomic_load_explicit(&cap, memory_order_relaxed);
    if (!c) {
        const char *e = getenv("KILN_MAX_ALLOC_MB");
        long long mb = e ? atoll(e) : 0;
        c = (size_t)(mb > 0 ? mb : 8192) << 20;
        atomic_store_explicit(&cap, c, memory_order_relaxed);
    }
    return c;
}

void *kn_host_alloc(size_t bytes)
{
    size_t rounded = (bytes + KN_ALIGN - 1) / KN_ALIGN * KN_ALIGN;
    if (rounded == 0) rounded = KN_ALIGN;
    void *p = aligned_alloc(KN_ALIGN, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void kn_host_free(void *p) { free(p); }

char *kn_shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "[");
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%s?", i ? "," : "");
        else
            off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%s%lld", i ? "," : "",
                                    (long long)shape[i]);
    }
    snprintf(buf + (off < size ? off : size - 1), off < size ? size - off : 1, "]");
    return buf;
}

kn_status kn_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    char s[160];
    if (ndim < 0 || ndim > KN_MAX_DIMS)
        return kn_error(KN_ERR_SHAPE, "rank %d is outside 0..%d", ndim, KN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return kn_error(KN_ERR_SHAPE, "shape %s has a negative or unknown dim",
                            kn_shape_str(s, sizeof s, ndim, shape));
        if (shape[i] && n > INT64_MAX / shape[i])
            return kn_error(KN_ERR_SHAPE, "shape %s overflows", kn_shape_str(s, sizeof s, ndim, shape));
        n *= shape[i];
    }
    *numel = n;
    return KN_OK;
}

int64_t kn_tensor_numel(const kn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t kn_tensor_bytes(const kn_tensor *t) { return (size_t)kn_tensor_numel(t) * kn_dtype_size(t->dtype); }

bool kn_shape_equal(int na, const int64_t *a, int nb, const int64_t *b)
{
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

bool kn_tensor_same_shape(const kn_tensor *a, const kn_tensor *b)
{
    return kn_shape_equal(a->ndim, a->shape, b->ndim, b->shape);
}

kn_status kn_tensor_meta(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > KN_MAX_DIMS)
        return kn_error(KN_ERR_SHAPE, "rank %d is outside 0..%d", ndim, KN_MAX_DIMS);
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    return KN_OK;
}

/* buffers allocated so far (steady-state checks); atomic as any thread may allocate */
static _Atomic int64_t alloc_count;
int64_t kn_alloc_count(void) { return atomic_load_explicit(&alloc_count, memory_order_relaxed); }

static kn_status buffer_new(kn_buffer **out, size_t bytes, kn_device device, kn_dtype dtype,
                            size_t count)
{
    if (bytes > kn_max_alloc_bytes())
        return kn_error(KN_ERR_NOMEM, "refusing to allocate %zu bytes (limit %zu MiB, KILN_MAX_ALLOC_MB)",
                        bytes, kn_max_alloc_bytes() >> 20);
    kn_buffer *b = calloc(1, sizeof *b);
    if (!b) return kn_error(KN_ERR_NOMEM, "out of memory allocating a buffer header");
    if (device == KN_CPU) {
        b->ptr = kn_host_alloc(bytes);
    } else {
        const kn_kernels *k = kn_kernels_get(device);
        if (!k || !k->alloc) {
            free(b);
            return kn_error(KN_ERR_DEVICE, "device %s is not available in this build",
                            kn_device_name(device));
        }
        if (!kn_device_available(device)) { /* built in, but no GPU or driver on this machine */
            free(b);
            return kn_error(KN_ERR_DEVICE, "device %s has no usable GPU on this machine (no device or driver found)",
                            kn_device_name(device));
        }
        b->ptr = k->alloc(bytes ? bytes : 1);
    }
    if (!b->ptr) {
        free(b);
        return kn_error(KN_ERR_NOMEM, "out of memory allocating %zu bytes on %s", bytes,
                        kn_device_name(device));
    }
    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    b->bytes = bytes;
    b->refs = 1;
    b->device = device;
    b->dtype = dtype;
    b->count = count;
    *out = b;
    return KN_OK;
}

static void buffer_unref(kn_buffer *b)
{
    if (!b || --b->refs > 0) return;
    if (b->dtype == KN_STRING && b->device == KN_CPU) {
        char **s = b->ptr;
        for (size_t i = 0; i < b->count; i++) free(s[i]);
    }
    if (b->device == KN_CPU) {
        kn_host_free(b->ptr);
    } else {
        const kn_kernels *k = kn_kernels_get(b->device);
        if (k && k->free) k->free(b->ptr);
    }
    free(b);
}

kn_status kn_tensor_init_on(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape,
                            kn_device device)
{
    int64_t n;
    memset(t, 0, sizeof *t);
    if (!kn_dtype_size(dtype)) return kn_error(KN_ERR_INVALID, "tensor dtype %d is not supported", (int)dtype);
    KN_TRY(kn_shape_numel(ndim, shape, &n));
    size_t es = kn_dtype_size(dtype);
    if ((uint64_t)n > (uint64_t)SIZE_MAX / es)
        return kn_error(KN_ERR_NOMEM, "tensor of %lld elements is too large", (long long)n);
    KN_TRY(kn_tensor_meta(t, dtype, ndim, shape));
    kn_buffer *b = NULL;
    KN_TRY(buffer_new(&b, (size_t)n * es, device, dtype, (size_t)n));
    t->device = device;
    t->buf = b;
    t->data = b->ptr;
    return KN_OK;
}

kn_status kn_tensor_ensure_on(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape, kn_device device,
                              bool *fresh)
{
    const bool keep = t->data && t->dtype == dtype && t->device == device && kn_shape_equal(t->ndim, t->shape, ndim, shape);
    if (fresh) *fresh = !keep;
    if (keep) return KN_OK;
    kn_tensor_release(t);
    return kn_tensor_init_on(t, dtype, ndim, shape, device);
}

kn_status kn_tensor_init(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape)
{
    return kn_tensor_init_on(t, dtype, ndim, shape, KN_CPU);
}

void kn_tensor_borrow(kn_tensor *t, kn_dtype dtype, int ndim, const int64_t *shape, void *data)
{
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim && i < KN_MAX_DIMS; i++) t->shape[i] = shape[i];
    t->data = data;
}

kn_status kn_tensor_view(kn_tensor *dst, const kn_tensor *src, int ndim, const int64_t *shape,
                         int64_t elem_offset)
{
    int64_t n;
    KN_TRY(kn_shape_numel(ndim, shape, &n));
    if (elem_offset < 0 || elem_offset + n > kn_tensor_numel(src)) {
        char a[160], b[160];
        return kn_error(KN_ERR_SHAPE, "view %s at offset %lld does not fit in tensor %s",
                        kn_shape_str(a, sizeof a, ndim, shape), (long long)elem_offset,
                        kn_shape_str(b, sizeof b, src->ndim, src->shape));
    }
    kn_tensor v;
    KN_TRY(kn_tensor_meta(&v, src->dtype, ndim, shape));
    v.device = src->device;
    v.data = src->data ? (char *)src->data + elem_offset * (int64_t)kn_dtype_size(src->dtype) : NULL;
    v.buf = src->buf;
    if (v.buf) v.buf->refs++;
    *dst = v;
    return KN_OK;
}

kn_status kn_tensor_copy_data(kn_tensor *dst, const kn_tensor *src)
{
    if (dst->dtype != src->dtype || kn_tensor_numel(dst) != kn_tensor_numel(src))
        return kn_error(KN_ERR_SHAPE, "copy between %s[%lld] and %s[%lld]", kn_dtype_name(src->dtype),
                        (long long)kn_tensor_numel(src), kn_dtype_name(dst->dtype),
                        (long long)kn_tensor_numel(dst));
    size_t bytes = kn_tensor_bytes(src);
    if (!bytes) return KN_OK;
    if (src->dtype == KN_STRING) {
        if (src->device != KN_CPU || dst->device != KN_CPU)
            return kn_error(KN_ERR_UNSUPPORTED, "string tensors live on the host only");
        char **d = dst->data, *const *s = src->data;
        for (int64_t i = 0; i < kn_tensor_numel(src); i++) {
            free(d[i]);
            d[i] = s[i] ? strdup(s[i]) : NULL;
            if (s[i] && !d[i]) return kn_error(KN_ERR_NOMEM, "out of memory copying strings");
        }
        return KN_OK;
    }
    if (src->device == KN_CPU && dst->device == KN_CPU) {
        memmove(dst->data, src->data, bytes);
        return KN_OK;
    }
    kn_device dev = src->device != KN_CPU ? src->device : dst->device;
    const kn_kernels *k = kn_kernels_get(dev);
    if (!k) return kn_error(KN_ERR_DEVICE, "device %s is not available", kn_device_name(dev));
    if (src->device == KN_CPU) return KN_KCALL(k, memcpy_h2d, dst->data, src->data, bytes);
    if (dst->device == KN_CPU) return KN_KCALL(k, memcpy_d2h, dst->data, src->data, bytes);
    return KN_KCALL(k, memcpy_d2d, dst->data, src->data, bytes);
}

kn_status kn_tensor_to(kn_tensor *dst, const kn_tensor *src, kn_device device)
{
    kn_tensor t;
    KN_TRY(kn_tensor_init_on(&t, src->dtype, src->ndim, src->shape, device));
    kn_status st = kn_tensor_copy_data(&t, src);
    if (st != KN_OK) {
        kn_tensor_release(&t);
        return st;
    }
    *dst = t;
    return KN_OK;
}

kn_status kn_tensor_clone(kn_tensor *dst, const kn_tensor *src)
{
    if (!src->data) return kn_tensor_meta(dst, src->dtype, src->ndim, src->shape);
    return kn_tensor_to(dst, src, src->device);
}

void kn_tensor_release(kn_tensor *t)
{
    if (!t) return;
    buffer_unref(t->buf);
    t->buf = NULL;
    t->data = NULL;
}

kn_status kn_tensor_create(kn_tensor **out, kn_dtype dtype, int ndim, const int64_t *shape)
{
    kn_tensor *t = malloc(sizeof *t);
    if (!t) return kn_error(KN_ERR_NOMEM, "out of memory");
    kn_status st = kn_tensor_init(t, dtype, ndim, shape);
    if (st != KN_OK) {
        free(t);
        return st;
    }
    *out = t;
    return KN_OK;
}

void kn_tensor_free(kn_tensor *t)
{
    if (!t) return;
    kn_tensor_release(t);
    free(t);
}

int64_t kn_tensor_get_i64(const kn_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case KN_INT64: return ((const int64_t *)d)[i];
    case KN_INT32: return ((const int32_t *)d)[i];
    case KN_INT16: return ((const int16_t *)d)[i];
    case KN_INT8: return ((const int8_t *)d)[i];
    case KN_UINT8: case KN_BOOL: return ((const uint8_t *)d)[i];
    case KN_UINT16: return ((const uint16_t *)d)[i];
    case KN_UINT32: return ((const uint32_t *)d)[i];
    case KN_UINT64: return (int64_t)((const uint64_t *)d)[i];
    case KN_FLOAT: return (int64_t)((const float *)d)[i];
    case KN_DOUBLE: return (int64_t)((const double *)d)[i];
    case KN_FLOAT16: return (int64_t)kn_half_to_float(((const uint16_t *)d)[i]);
    default: return 0;
    }
}

double kn_tensor_get_f64(const kn_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case KN_FLOAT: return ((const float *)d)[i];
    case KN_DOUBLE: return ((const double *)d)[i];
    case KN_FLOAT16: return kn_half_to_float(((const uint16_t *)d)[i]);
    case KN_UINT64: return (double)((const uint64_t *)d)[i];
    default: return (double)kn_tensor_get_i64(t, i);
    }
}
