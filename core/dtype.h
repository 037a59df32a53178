/* kiln — element types, numbered exactly as ONNX TensorProto.DataType so the
 * ONNX reader and writer map them one to one. */
#ifndef KN_DTYPE_H
#define KN_DTYPE_H

#include <stddef.h>
#include <stdbool.h>

typedef enum kn_dtype {
    KN_UNDEFINED = 0,
    KN_FLOAT = 1,
    KN_UINT8 = 2,
    KN_INT8 = 3,
    KN_UINT16 = 4,
    KN_INT16 = 5,
    KN_INT32 = 6,
    KN_INT64 = 7,
    KN_STRING = 8, /* element is a char* owned by the tensor */
    KN_BOOL = 9,   /* one byte, 0 or 1 */
    KN_FLOAT16 = 10,
    KN_DOUBLE = 11,
    KN_UINT32 = 12,
    KN_UINT64 = 13
} kn_dtype;

#define KN_DTYPE_MAX 13

/* Bytes per element; 0 for KN_UNDEFINED or an unknown code. */
size_t kn_dtype_size(kn_dtype t);
/* ONNX spelling ("float", "int64", ...); "undefined" for unknown codes. */
const char *kn_dtype_name(kn_dtype t);
bool kn_dtype_valid(int code);
bool kn_dtype_is_float(kn_dtype t); /* float, double, float16 */
bool kn_dtype_is_int(kn_dtype t);   /* signed or unsigned integers (not bool) */

/* IEEE half <-> single, round to nearest even. */
float kn_half_to_float(unsigned short h);
unsigned short kn_float_to_half(float f);

#endif
