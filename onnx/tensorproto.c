/* TensorProto <-> kn_tensor: raw_data (little-endian), the typed repeated
 * fields, external data files; and single-tensor .pb files. */
#include "onnx/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool dtype_supported(int code)
{
    return kn_dtype_valid(code) && code != KN_UNDEFINED;
}

/* Reject locations that could reach outside the model's directory. */
static kn_status check_location(const char *what, const char *loc)
{
    if (!loc || !*loc) return kn_error(KN_ERR_FORMAT, "%s: external data has no 'location'", what);
    if (loc[0] == '/')
        return kn_error(KN_ERR_INVALID, "%s: external data location '%s' is absolute; it must be relative to the model's directory",
                        what, loc);
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return kn_error(KN_ERR_INVALID, "%s: external data location '%s' escapes the model's directory", what, loc);
        p += n;
        while (*p == '/') p++;
    }
    return KN_OK;
}

static kn_status parse_u64(const char *what, const char *key, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || s[0] == '-')
        return kn_error(KN_ERR_FORMAT, "%s: external data '%s' is not a number ('%s')", what, key, s ? s : "");
    *out = v;
    return KN_OK;
}

static kn_status read_external(const Onnx__TensorProto *tp, const char *base_dir, const char *what, void *dst,
                               size_t bytes)
{
    const char *loc = NULL;
    uint64_t offset = 0, length = bytes;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (!strcmp(e->key, "location")) loc = e->value;
        else if (!strcmp(e->key, "offset")) KN_TRY(parse_u64(what, "offset", e->value, &offset));
        else if (!strcmp(e->key, "length")) { KN_TRY(parse_u64(what, "length", e->value, &length)); has_length = true; }
    }
    KN_TRY(check_location(what, loc));
    if (!base_dir)
        return kn_error(KN_ERR_INVALID, "%s: external data '%s' needs the model's directory (load from a file)", what, loc);
    if (has_length && length != bytes)
        return kn_error(KN_ERR_FORMAT, "%s: external data length %llu does not match the %zu bytes its dims need",
                        what, (unsigned long long)length, bytes);
    size_t plen = strlen(base_dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    if (!path) return kn_error(KN_ERR_NOMEM, "out of memory");
    snprintf(path, plen, "%s/%s", base_dir, loc);
    FILE *f = fopen(path, "rb");
    if (!f) {
        kn_status st = kn_error(KN_ERR_IO, "%s: cannot open external data file '%s': %s", what, path, strerror(errno));
        free(path);
        return st;
    }
    kn_status st = KN_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || offset > (uint64_t)size || bytes > (uint64_t)size - offset)
        st = kn_error(KN_ERR_FORMAT, "%s: external data file '%s' (%ld bytes) is too short for offset %llu + %zu bytes",
                      what, path, size, (unsigned long long)offset, bytes);
    else if (fseek(f, (long)offset, SEEK_SET) != 0 || fread(dst, 1, bytes, f) != bytes)
        st = kn_error(KN_ERR_IO, "%s: cannot read external data file '%s'", what, path);
    fclose(f);
    free(path);
    return st;
}

/* Values held one per int32 (int8..uint16, bool, float16 bit patterns). */
static void from_int32(kn_dtype dt, const int32_t *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) switch (dt) {
        case KN_INT8: ((int8_t *)dst)[i] = (int8_t)src[i]; break;
        case KN_UINT8: ((uint8_t *)dst)[i] = (uint8_t)src[i]; break;
        case KN_BOOL: ((uint8_t *)dst)[i] = src[i] != 0; break;
        case KN_INT16: ((int16_t *)dst)[i] = (int16_t)src[i]; break;
        case KN_UINT16: case KN_FLOAT16: ((uint16_t *)dst)[i] = (uint16_t)src[i]; break;
        default: ((int32_t *)dst)[i] = src[i]; break;
    }
}

kn_status kn_onnx_tensor_from_pb(const Onnx__TensorProto *tp, const char *base_dir, const char *what,
                                 kn_tensor *out)
{
    int code = tp->has_data_type ? tp->data_type : 0;
    if (!dtype_supported(code))
        return kn_error(code ? KN_ERR_UNSUPPORTED : KN_ERR_FORMAT, "%s: data_type %d is %s", what, code,
                        code ? "not supported by kiln (complex, bfloat16 and float8 are not)" : "missing");
    kn_dtype dt = (kn_dtype)code;
    if (tp->segment) return kn_error(KN_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    if (tp->n_dims > KN_MAX_DIMS)
        return kn_error(KN_ERR_UNSUPPORTED, "%s: rank %zu exceeds kiln's %d", what, tp->n_dims, KN_MAX_DIMS);
    int ndim = (int)tp->n_dims;
    int64_t numel;
    for (int i = 0; i < ndim; i++)
        if (tp->dims[i] < 0) return kn_error(KN_ERR_FORMAT, "%s: dims[%d] = %lld is negative", what, i, (long long)tp->dims[i]);
    kn_status st = kn_shape_numel(ndim, tp->dims, &numel);
    if (st != KN_OK) return kn_error_context(st, "%s: ", what);
    size_t esize = kn_dtype_size(dt);
    if ((uint64_t)numel > kn_max_alloc_bytes() / esize)
        return kn_error(KN_ERR_NOMEM, "%s: %lld elements exceed the %zu MiB allocation limit (KILN_MAX_ALLOC_MB)", what,
                        (long long)numel, kn_max_alloc_bytes() >> 20);
    size_t bytes = (size_t)numel * esize;
    bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external && dt == KN_STRING) return kn_error(KN_ERR_UNSUPPORTED, "%s: external string data is not supported", what);

    /* Check what the message holds against the dims before allocating anything. */
    size_t have = 0;
    const char *field = "";
    if (external) {
        field = "external data";
    } else if (tp->has_raw_data && dt != KN_STRING) {
        field = "raw_data";
        if (tp->raw_data.len != bytes)
            return kn_error(KN_ERR_FORMAT, "%s: raw_data holds %zu bytes but dims %s of %s need %zu", what,
                            tp->raw_data.len, kn_shape_str((char[160]){0}, 160, ndim, tp->dims), kn_dtype_name(dt), bytes);
    } else {
        switch (dt) {
        case KN_FLOAT: have = tp->n_float_data; field = "float_data"; break;
        case KN_DOUBLE: have = tp->n_double_data; field = "double_data"; break;
        case KN_INT64: have = tp->n_int64_data; field = "int64_data"; break;
        case KN_UINT32: case KN_UINT64: have = tp->n_uint64_data; field = "uint64_data"; break;
        case KN_STRING: have = tp->n_string_data; field = "string_data"; break;
        default: have = tp->n_int32_data; field = "int32_data"; break;
        }
        if (have != (size_t)numel)
            return kn_error(KN_ERR_FORMAT, "%s: %s holds %zu values but dims %s need %lld", what, field, have,
                            kn_shape_str((char[160]){0}, 160, ndim, tp->dims), (long long)numel);
    }
    KN_TRY(kn_tensor_init(out, dt, ndim, tp->dims));
    if (numel == 0) return KN_OK;
    void *d = out->data;
    if (external) {
        st = read_external(tp, base_dir, what, d, bytes);
        if (st != KN_OK) kn_tensor_release(out);
        return st;
    }
    if (tp->has_raw_data && dt != KN_STRING) {
        memcpy(d, tp->raw_data.data, bytes); /* kiln runs on little-endian hosts, as raw_data is */
        return KN_OK;
    }
    switch (dt) {
    case KN_FLOAT: memcpy(d, tp->float_data, bytes); break;
    case KN_DOUBLE: memcpy(d, tp->double_data, bytes); break;
    case KN_INT64: memcpy(d, tp->int64_data, bytes); break;
    case KN_UINT64: memcpy(d, tp->uint64_data, bytes); break;
    case KN_UINT32:
        for (int64_t i = 0; i < numel; i++) ((uint32_t *)d)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case KN_STRING:
        for (int64_t i = 0; i < numel; i++) {
            const ProtobufCBinaryData *s = &tp->string_data[i];
            char *c = malloc(s->len + 1);
            if (!c) { kn_tensor_release(out); return kn_error(KN_ERR_NOMEM, "out of memory"); }
            if (s->len) memcpy(c, s->data, s->len);
            c[s->len] = 0;
            ((char **)d)[i] = c;
        }
        break;
    default: from_int32(dt, tp->int32_data, d, numel); break;
    }
    return KN_OK;
}

kn_status kn_onnx_tensor_to_pb(kn_arena *a, const kn_tensor *t, const char *name, Onnx__TensorProto **out)
{
    if (t->device != KN_CPU)
        return kn_error(KN_ERR_INTERNAL, "tensor '%s' must be on the host to be written", name ? name : "");
    Onnx__TensorProto *tp = kn_arena_alloc(a, sizeof *tp);
    if (!tp) return kn_error(KN_ERR_NOMEM, "out of memory");
    onnx__tensor_proto__init(tp);
    tp->name = kn_arena_strdup(a, name ? name : "");
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->ndim;
    tp->dims = kn_arena_alloc(a, sizeof(int64_t) * (size_t)(t->ndim ? t->ndim : 1));
    if (!tp->name || !tp->dims) return kn_error(KN_ERR_NOMEM, "out of memory");
    memcpy(tp->dims, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    int64_t n = kn_tensor_numel(t);
    if (t->dtype == KN_STRING) {
        tp->n_string_data = (size_t)n;
        tp->string_data = kn_arena_alloc(a, sizeof(ProtobufCBinaryData) * (size_t)(n ? n : 1));
        if (!tp->string_data) return kn_error(KN_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            char *s = ((char **)t->data)[i];
            tp->string_data[i].data = (uint8_t *)(s ? s : "");
            tp->string_data[i].len = s ? strlen(s) : 0;
        }
    } else {
        tp->has_raw_data = 1;
        tp->raw_data.len = kn_tensor_bytes(t);
        tp->raw_data.data = t->data; /* referenced until packed */
        if (tp->raw_data.len && !t->data)
            return kn_error(KN_ERR_INVALID, "tensor '%s' has no data to write", name ? name : "");
    }
    *out = tp;
    return KN_OK;
}

kn_status kn_tensor_load_pb(const char *path, kn_tensor *out, char **name_out)
{
    void *buf;
    size_t len;
    if (name_out) *name_out = NULL;
    KN_TRY(kn_onnx_read_file(path, &buf, &len));
    Onnx__TensorProto *tp = len ? onnx__tensor_proto__unpack(NULL, len, buf) : NULL;
    free(buf);
    if (!tp) return kn_error(KN_ERR_FORMAT, "'%s' is %s", path, len ? "not a TensorProto (protobuf parse failed)" : "empty");
    char *dir = kn_onnx_dirname(path);
    char what[64 + 4096];
    snprintf(what, sizeof what, "'%s'", path);
    kn_status st = dir ? kn_onnx_tensor_from_pb(tp, dir, what, out) : kn_error(KN_ERR_NOMEM, "out of memory");
    if (st == KN_OK && name_out && tp->name && !(*name_out = strdup(tp->name))) {
        kn_tensor_release(out);
        st = kn_error(KN_ERR_NOMEM, "out of memory");
    }
    free(dir);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

kn_status kn_tensor_save_pb(const char *path, const kn_tensor *t, const char *name)
{
    kn_arena a = {0};
    kn_tensor host = {0};
    const kn_tensor *src = t;
    if (t->device != KN_CPU) {
        KN_TRY(kn_tensor_to(&host, t, KN_CPU));
        src = &host;
    }
    Onnx__TensorProto *tp;
    kn_status st = kn_onnx_tensor_to_pb(&a, src, name, &tp);
    if (st == KN_OK) {
        size_t len = onnx__tensor_proto__get_packed_size(tp);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) st = kn_error(KN_ERR_NOMEM, "out of memory writing '%s'", path);
        else {
            onnx__tensor_proto__pack(tp, buf);
            st = kn_onnx_write_file(path, buf, len);
            free(buf);
        }
    }
    kn_arena_free(&a);
    kn_tensor_release(&host);
    return st;
}
