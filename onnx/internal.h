/* onnx/ private: protobuf-c types and helpers shared by the reader and writer. */
#ifndef KN_ONNX_INTERNAL_H
#define KN_ONNX_INTERNAL_H

#include "onnx/onnx.h"
#include "onnx/onnx.pb-c.h"

/* Bump allocator for building messages to pack: everything is freed at once. */
typedef struct kn_arena {
    struct kn_arena_block *head;
} kn_arena;
void *kn_arena_alloc(kn_arena *a, size_t bytes); /* zeroed; NULL when out of memory */
char *kn_arena_strdup(kn_arena *a, const char *s);
void kn_arena_free(kn_arena *a);

/* Whole-file read (refuses files over kn_max_alloc_bytes); *buf is malloc'd. */
kn_status kn_onnx_read_file(const char *path, void **buf, size_t *len);
kn_status kn_onnx_write_file(const char *path, const void *buf, size_t len);
/* Directory part of a path ("." when there is none); malloc'd. */
char *kn_onnx_dirname(const char *path);

/* TensorProto -> tensor. base_dir resolves external data (NULL refuses it); `what`
 * names the tensor in errors ("initializer 'w'"). */
kn_status kn_onnx_tensor_from_pb(const Onnx__TensorProto *tp, const char *base_dir, const char *what,
                                 kn_tensor *out);
/* tensor -> TensorProto built in the arena; host data is referenced, not copied, so t must
 * outlive the packing. Device tensors must be copied to the host by the caller. */
kn_status kn_onnx_tensor_to_pb(kn_arena *a, const kn_tensor *t, const char *name, Onnx__TensorProto **out);

#endif
