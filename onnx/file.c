/* Files and the message arena used by the ONNX reader and writer. */
#include "onnx/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kn_arena_block {
    struct kn_arena_block *next;
    max_align_t data[];
};

void *kn_arena_alloc(kn_arena *a, size_t bytes)
{
    struct kn_arena_block *b = calloc(1, sizeof *b + (bytes ? bytes : 1));
    if (!b) return NULL;
    b->next = a->head;
    a->head = b;
    return b->data;
}

char *kn_arena_strdup(kn_arena *a, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = kn_arena_alloc(a, n);
    if (d) memcpy(d, s ? s : "", n);
    return d;
}

void kn_arena_free(kn_arena *a)
{
    while (a->head) {
        struct kn_arena_block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

kn_status kn_onnx_read_file(const char *path, void **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return kn_error(KN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return kn_error(KN_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    if ((size_t)size > kn_max_alloc_bytes()) {
        fclose(f);
        return kn_error(KN_ERR_NOMEM, "'%s' is %ld bytes, over the %zu MiB limit (KILN_MAX_ALLOC_MB)", path, size,
                        kn_max_alloc_bytes() >> 20);
    }
    void *b = malloc((size_t)size + 1);
    if (!b) {
        fclose(f);
        return kn_error(KN_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, size);
    }
    size_t got = fread(b, 1, (size_t)size, f);
    int err = ferror(f);
    fclose(f);
    if (got != (size_t)size || err) {
        free(b);
        return kn_error(KN_ERR_IO, "short read from '%s'", path);
    }
    *buf = b;
    *len = (size_t)size;
    return KN_OK;
}

kn_status kn_onnx_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return kn_error(KN_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    size_t put = fwrite(buf, 1, len, f);
    int bad = put != len || fflush(f) != 0;
    if (fclose(f) != 0) bad = 1;
    if (bad) return kn_error(KN_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return KN_OK;
}

char *kn_onnx_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}
