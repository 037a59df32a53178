/* kiln — status codes and the thread-local last-error message.
 *
 * Every fallible call returns kn_status. On failure the callee records a
 * message naming what is wrong (file, node, field, shape) that kn_last_error()
 * returns until the next error on the same thread. Library code never prints
 * and never exits. */
#ifndef KN_STATUS_H
#define KN_STATUS_H

#include <stdarg.h>

typedef enum kn_status {
    KN_OK = 0,
    KN_ERR_INVALID,     /* bad argument or bad model content */
    KN_ERR_SHAPE,       /* shapes or dtypes do not fit */
    KN_ERR_UNSUPPORTED, /* valid request kiln does not implement */
    KN_ERR_NOMEM,       /* allocation failed or refused as absurd */
    KN_ERR_IO,          /* file system */
    KN_ERR_FORMAT,      /* malformed file (protobuf, IDX, ...) */
    KN_ERR_DEVICE,      /* device (CUDA) failure or device unavailable */
    KN_ERR_INTERNAL     /* a kiln bug: an invariant broke */
} kn_status;

/* Record an error and return it, so `return kn_error(KN_ERR_SHAPE, "...")` works. */
kn_status kn_error(kn_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with context ("node 'conv1': "), keep the status. */
kn_status kn_error_context(kn_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last error on this thread ("" if none). Valid until the next error. */
const char *kn_last_error(void);
void kn_clear_error(void);
const char *kn_status_name(kn_status st);

/* Propagate a failure: KN_TRY(kn_foo(...)); */
#define KN_TRY(expr)                         \
    do {                                     \
        kn_status kn_try_st_ = (expr);       \
        if (kn_try_st_ != KN_OK) return kn_try_st_; \
    } while (0)

#endif
