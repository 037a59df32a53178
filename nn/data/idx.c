/* IDX reader. zlib's gzread reads gzip and plain files alike, so one path
 * serves both. Nothing is allocated until the header's dims are known to fit
 * the file: exactly for a raw file, within deflate's best compression ratio
 * for a gzipped one. */
#include "nn/data/data.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Deflate cannot compress better than about 1032:1; add room for the gzip
 * header and trailer. A header claiming more than this is lying. */
#define GZ_MAX_RATIO 1032
#define GZ_SLACK 4096

/* Read up to len bytes; returns bytes read, or -1 on a zlib error. */
static int64_t read_full(gzFile f, void *buf, int64_t len)
{
    int64_t got = 0;
    while (got < len) {
        int64_t want = len - got;
        unsigned chunk = want > (1 << 30) ? (1u << 30) : (unsigned)want;
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += r;
    }
    return got;
}

static const char *gz_message(gzFile f)
{
    int code;
    const char *m = gzerror(f, &code);
    if (code == Z_ERRNO) return strerror(errno);
    return m && *m ? m : "unknown zlib error";
}

/* The description of the expected magic, for messages. */
static const char *expected_magic(int expect_ndim)
{
    switch (expect_ndim) {
    case 1: return "0x00000801 (unsigned-byte labels)";
    case 3: return "0x00000803 (unsigned-byte images)";
    default: return "0x000008NN (unsigned-byte IDX, NN dims)";
    }
}

static kn_status read_idx(gzFile f, const char *path, int64_t file_bytes, int expect_ndim,
                          kn_tensor *out)
{
    unsigned char hdr[4];
    int64_t r = read_full(f, hdr, 4);
    if (r < 0) return kn_error(KN_ERR_FORMAT, "%s: %s", path, gz_message(f));
    if (r < 4) return kn_error(KN_ERR_FORMAT, "%s: truncated header (%lld of 4 magic bytes)", path, (long long)r);
    unsigned magic = (unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 | (unsigned)hdr[2] << 8 | hdr[3];
    int ndim = hdr[3];
    if (hdr[0] || hdr[1] || hdr[2] != 0x08 || ndim < 1 || ndim > KN_MAX_DIMS ||
        (expect_ndim > 0 && ndim != expect_ndim))
        return kn_error(KN_ERR_FORMAT, "%s: bad magic 0x%08x, expected %s", path, magic,
                        expected_magic(expect_ndim));

    unsigned char dimb[4 * KN_MAX_DIMS];
    r = read_full(f, dimb, 4 * ndim);
    if (r < 0) return kn_error(KN_ERR_FORMAT, "%s: %s", path, gz_message(f));
    if (r < 4 * ndim)
        return kn_error(KN_ERR_FORMAT, "%s: truncated header (%lld of %d dimension bytes)", path,
                        (long long)r, 4 * ndim);
    int64_t dims[KN_MAX_DIMS], need = 1;
    char sh[160];
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = dimb + 4 * i;
        dims[i] = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]);
    }
    kn_shape_str(sh, sizeof sh, ndim, dims);
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0) return kn_error(KN_ERR_FORMAT, "%s: dims %s: dimension %d is 0", path, sh, i);
        /* Each dim < 2^32 and need <= 2^31 so far: the product fits int64. */
        need *= dims[i];
        if (need > KN_IDX_MAX_BYTES || (uint64_t)need > (uint64_t)kn_max_alloc_bytes())
            return kn_error(KN_ERR_NOMEM, "%s: absurd dims %s (more than %lld bytes), refused", path,
                            sh, (long long)(KN_IDX_MAX_BYTES < (int64_t)kn_max_alloc_bytes()
                                                ? KN_IDX_MAX_BYTES
                                                : (int64_t)kn_max_alloc_bytes()));
    }
    int64_t header = 4 + 4 * (int64_t)ndim;
    if (gzdirect(f)) {
        int64_t have = file_bytes - header;
        if (have != need)
            return kn_error(KN_ERR_FORMAT, "%s: dims %s need %lld data bytes but the file holds %lld (%s)",
                            path, sh, (long long)need, (long long)have,
                            have < need ? "truncated" : "trailing data");
    } else if (need > file_bytes * GZ_MAX_RATIO + GZ_SLACK) {
        return kn_error(KN_ERR_FORMAT, "%s: dims %s need %lld data bytes, more than a %lld-byte gzip file can hold",
                        path, sh, (long long)need, (long long)file_bytes);
    }

    KN_TRY(kn_tensor_init(out, KN_UINT8, ndim, dims));
    r = read_full(f, out->data, need);
    kn_status st = KN_OK;
    if (r < need) {
        /* A cut-off gzip stream reads short and reports "unexpected end of file". */
        st = kn_error(KN_ERR_FORMAT, "%s: truncated data: dims %s need %lld bytes, found %lld%s%s", path,
                      sh, (long long)need, (long long)(r < 0 ? 0 : r), r < 0 ? " before a zlib error: " : "",
                      r < 0 ? gz_message(f) : "");
    } else {
        unsigned char extra;
        int64_t x = read_full(f, &extra, 1);
        if (x < 0)
            st = kn_error(KN_ERR_FORMAT, "%s: corrupt gzip data after the %lld bytes of dims %s: %s", path,
                          (long long)need, sh, gz_message(f));
        else if (x > 0)
            st = kn_error(KN_ERR_FORMAT, "%s: trailing data after the %lld bytes dims %s describe", path,
                          (long long)need, sh);
    }
    if (st != KN_OK) kn_tensor_release(out);
    return st;
}

kn_status kn_idx_read(const char *path, int expect_ndim, kn_tensor *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return kn_error(KN_ERR_INVALID, "kn_idx_read: no path");
    struct stat sb;
    if (stat(path, &sb) != 0) return kn_error(KN_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return kn_error(KN_ERR_IO, "%s: not a regular file", path);
    gzFile f = gzopen(path, "rb");
    if (!f) return kn_error(KN_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    kn_status st = read_idx(f, path, (int64_t)sb.st_size, expect_ndim, out);
    gzclose(f);
    return st;
}
