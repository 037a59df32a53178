#include "core/dtype.h"

#include <string.h>
#include <stdint.h>

size_t kn_dtype_size(kn_dtype t)
{
    switch (t) {
    case KN_FLOAT: case KN_INT32: case KN_UINT32: return 4;
    case KN_UINT8: case KN_INT8: case KN_BOOL: return 1;
    case KN_UINT16: case KN_INT16: case KN_FLOAT16: return 2;
    case KN_INT64: case KN_DOUBLE: case KN_UINT64: return 8;
    case KN_STRING: return sizeof(char *);
    default: return 0;
    }
}

const char *kn_dtype_name(kn_dtype t)
{
    static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16",
                                  "int32", "int64", "string", "bool", "float16", "double",
                                  "uint32", "uint64"};
    if ((int)t < 0 || (int)t > KN_DTYPE_MAX) return "undefined";
    return names[t];
}

bool kn_dtype_valid(int code) { return code >= 1 && code <= KN_DTYPE_MAX; }

bool kn_dtype_is_float(kn_dtype t) { return t == KN_FLOAT || t == KN_DOUBLE || t == KN_FLOAT16; }

bool kn_dtype_is_int(kn_dtype t)
{
    return t == KN_UINT8 || t == KN_INT8 || t == KN_UINT16 || t == KN_INT16 || t == KN_INT32 ||
           t == KN_INT64 || t == KN_UINT32 || t == KN_UINT64;
}

float kn_half_to_float(unsigned short h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

unsigned short kn_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (unsigned short)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (unsigned short)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (unsigned short)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (unsigned short)(sign | half);
    }
    uint32_t half = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (unsigned short)half;
}
