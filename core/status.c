#include "core/status.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];

kn_status kn_error(kn_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    return st;
}

kn_status kn_error_context(kn_status st, const char *fmt, ...)
{
    char old[sizeof last_msg];
    va_list ap;
    memcpy(old, last_msg, sizeof old);
    va_start(ap, fmt);
    int n = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof last_msg) {
        size_t room = sizeof last_msg - (size_t)n;
        memcpy(last_msg + n, old, room - 1);
        last_msg[sizeof last_msg - 1] = '\0';
    }
    return st;
}

const char *kn_last_error(void) { return last_msg; }
void kn_clear_error(void) { last_msg[0] = '\0'; }

const char *kn_status_name(kn_status st)
{
    switch (st) {
    case KN_OK: return "ok";
    case KN_ERR_INVALID: return "invalid";
    case KN_ERR_SHAPE: return "shape";
    case KN_ERR_UNSUPPORTED: return "unsupported";
    case KN_ERR_NOMEM: return "out of memory";
    case KN_ERR_IO: return "io";
    case KN_ERR_FORMAT: return "format";
    case KN_ERR_DEVICE: return "device";
    case KN_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
