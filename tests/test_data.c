/* data: the IDX reader on good files (raw and gzipped) and on every kind of
 * bad one, written by the tests into a temporary directory; datasets and the
 * MNIST layout; the batch iterator; and the system Fashion-MNIST when the
 * Debian package is installed. */
#include "helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- temporary files ---- */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_data_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp failed");
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void cleanup_tmpdir(void)
{
    if (tmpdir[0]) remove_tree(tmpdir);
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, bool gz, const void *data, size_t n)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f);
        if (n) cr_assert_eq(gzwrite(f, data, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        if (n) cr_assert_eq(fwrite(data, 1, n, f), n);
        cr_assert_eq(fclose(f), 0);
    }
}

/* An unsigned-byte IDX: magic 0x000008NN, big-endian dims, then ndata bytes (which
 * may disagree with the dims on purpose). */
static void write_idx(const char *path, bool gz, int ndim, const uint32_t *dims, const uint8_t *data,
                      size_t ndata)
{
    size_t n = 4 + 4 * (size_t)ndim + ndata;
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    b[0] = 0;
    b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (ndata) memcpy(b + 4 + 4 * ndim, data, ndata);
    write_bytes(path, gz, b, n);
    free(b);
}

static void assert_error_names(kn_status got, kn_status want, const char *path, const char *what)
{
    cr_assert_eq(got, want, "status %s, want %s: %s", kn_status_name(got), kn_status_name(want),
                 kn_last_error());
    cr_assert(strstr(kn_last_error(), path) != NULL, "message names %s: %s", path, kn_last_error());
    if (what) cr_assert(strstr(kn_last_error(), what) != NULL, "message says '%s': %s", what, kn_last_error());
}

/* ---- IDX reader ---- */

Test(idx, reads_raw_and_gzip, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    uint8_t img[24], lab[5] = {3, 1, 4, 1, 5};
    for (int i = 0; i < 24; i++) img[i] = (uint8_t)(i * 10);
    for (int gz = 0; gz < 2; gz++) {
        const char *ip = tpath(gz ? "img.gz" : "img"), *lp = tpath(gz ? "lab.gz" : "lab");
        write_idx(ip, gz, 3, (uint32_t[]){2, 3, 4}, img, 24);
        write_idx(lp, gz, 1, (uint32_t[]){5}, lab, 5);
        kn_tensor t;
        T_OK(kn_idx_read(ip, 3, &t));
        cr_assert_eq(t.dtype, KN_UINT8);
        cr_assert_eq(t.ndim, 3);
        cr_assert(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 4);
        cr_assert_eq(memcmp(t.data, img, 24), 0);
        kn_tensor_release(&t);
        T_OK(kn_idx_read(lp, 1, &t));
        cr_assert(t.ndim == 1 && t.shape[0] == 5);
        cr_assert_eq(memcmp(t.data, lab, 5), 0);
        kn_tensor_release(&t);
        T_OK(kn_idx_read(lp, 0, &t)); /* any rank */
        kn_tensor_release(&t);
    }
}

Test(idx, missing_file, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    kn_tensor t;
    const char *p = tpath("nope-idx1-ubyte");
    assert_error_names(kn_idx_read(p, 1, &t), KN_ERR_IO, p, "No such file");
    cr_assert_null(t.data);
    assert_error_names(kn_idx_read(tmpdir, 1, &t), KN_ERR_IO, tmpdir, "not a regular file");
}

Test(idx, bad_magic, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    kn_tensor t;
    const char *p = tpath("text");
    write_bytes(p, false, "hello, world\n", 13);
    assert_error_names(kn_idx_read(p, 1, &t), KN_ERR_FORMAT, p, "bad magic 0x68656c6c");

    /* Right container, wrong rank for what is asked: images where labels are expected. */
    const char *q = tpath("images.gz");
    write_idx(q, true, 3, (uint32_t[]){1, 1, 1}, (uint8_t[]){7}, 1);
    assert_error_names(kn_idx_read(q, 1, &t), KN_ERR_FORMAT, q, "0x00000803, expected 0x00000801");

    /* Element type other than unsigned byte (0x0D = float). */
    const char *r = tpath("float");
    write_bytes(r, false, (uint8_t[]){0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}, 12);
    assert_error_names(kn_idx_read(r, 0, &t), KN_ERR_FORMAT, r, "bad magic 0x00000d01");
}

Test(idx, truncated, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    kn_tensor t;
    uint8_t d[10] = {0};
    /* Raw: the size check catches it before any allocation. */
    const char *p = tpath("short");
    write_idx(p, false, 1, (uint32_t[]){10}, d, 5);
    assert_error_names(kn_idx_read(p, 1, &t), KN_ERR_FORMAT, p, "truncated");
    /* Gzipped: only reading finds out. */
    const char *q = tpath("short.gz");
    write_idx(q, true, 1, (uint32_t[]){10}, d, 5);
    assert_error_names(kn_idx_read(q, 1, &t), KN_ERR_FORMAT, q, "truncated data");
    cr_assert_null(t.data);
    /* A gzip stream cut off mid-way. */
    uint8_t big[4000];
    for (int i = 0; i < 4000; i++) big[i] = (uint8_t)(i * 7919 >> 3);
    const char *c = tpath("cut.gz");
    write_idx(c, true, 1, (uint32_t[]){4000}, big, 4000);
    struct stat sb;
    cr_assert_eq(stat(c, &sb), 0);
    cr_assert_eq(truncate(c, sb.st_size / 2), 0);
    assert_error_names(kn_idx_read(c, 1, &t), KN_ERR_FORMAT, c, "truncated data");
    /* The header itself cut short. */
    const char *h = tpath("hdr");
    write_bytes(h, false, (uint8_t[]){0, 0, 8, 3, 0, 0, 0, 2, 0}, 9);
    assert_error_names(kn_idx_read(h, 3, &t), KN_ERR_FORMAT, h, "truncated header");
    const char *e = tpath("empty");
    write_bytes(e, false, "", 0);
    assert_error_names(kn_idx_read(e, 3, &t), KN_ERR_FORMAT, e, "truncated header");
}

Test(idx, dims_against_file_size, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    kn_tensor t;
    uint8_t d[12] = {0};
    const char *p = tpath("long");
    write_idx(p, false, 3, (uint32_t[]){1, 2, 3}, d, 12);
    assert_error_names(kn_idx_read(p, 3, &t), KN_ERR_FORMAT, p, "need 6 data bytes but the file holds 12");
    const char *q = tpath("long.gz");
    write_idx(q, true, 3, (uint32_t[]){1, 2, 3}, d, 12);
    assert_error_names(kn_idx_read(q, 3, &t), KN_ERR_FORMAT, q, "trailing data");
    const char *z = tpath("zero");
    write_idx(z, false, 3, (uint32_t[]){0, 28, 28}, d, 0);
    assert_error_names(kn_idx_read(z, 3, &t), KN_ERR_FORMAT, z, "dimension 0 is 0");
}

Test(idx, absurd_dims_refused_before_allocating, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    kn_tensor t;
    const char *p = tpath("huge");
    write_idx(p, false, 3, (uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, NULL, 0);
    assert_error_names(kn_idx_read(p, 3, &t), KN_ERR_NOMEM, p, "absurd dims [4294967295,4294967295,4294967295]");
    const char *q = tpath("huge.gz");
    write_idx(q, true, 3, (uint32_t[]){60000000, 28, 28}, NULL, 0);
    assert_error_names(kn_idx_read(q, 3, &t), KN_ERR_NOMEM, q, "absurd");
    /* Under the cap but far more than a small gzip file can inflate to. */
    const char *r = tpath("liar.gz");
    write_idx(r, true, 3, (uint32_t[]){1000000, 28, 28}, (uint8_t[]){1, 2, 3}, 3);
    assert_error_names(kn_idx_read(r, 3, &t), KN_ERR_FORMAT, r, "gzip file can hold");
    /* Raw: the file size decides, so a lying header never allocates. */
    const char *s = tpath("liar");
    write_idx(s, false, 3, (uint32_t[]){1000000, 28, 28}, (uint8_t[]){1, 2, 3}, 3);
    assert_error_names(kn_idx_read(s, 3, &t), KN_ERR_FORMAT, s, "need 784000000 data bytes but the file holds 3");
}

/* ---- datasets ---- */

Test(dataset, loads_scaled_pixels_and_labels, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    const char *ip = tpath("i.gz"), *lp = tpath("l");
    write_idx(ip, true, 3, (uint32_t[]){3, 1, 2}, (uint8_t[]){0, 255, 51, 102, 1, 254}, 6);
    write_idx(lp, false, 1, (uint32_t[]){3}, (uint8_t[]){9, 0, 4}, 3);
    kn_dataset ds;
    T_OK(kn_dataset_load(&ds, ip, lp, 10));
    cr_assert_eq(kn_dataset_size(&ds), 3);
    cr_assert_eq(kn_dataset_height(&ds), 1);
    cr_assert_eq(kn_dataset_width(&ds), 2);
    cr_assert_eq(ds.images.ndim, 4);
    cr_assert_eq(ds.images.shape[1], 1);
    const float *f = ds.images.data;
    const float want[6] = {0.0f, 1.0f, 0.2f, 0.4f, 1.0f / 255.0f, 254.0f / 255.0f};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(f[i], want[i], 1e-7);
    cr_assert_eq(ds.labels.dtype, KN_INT64);
    const int64_t *l = ds.labels.data;
    cr_assert(l[0] == 9 && l[1] == 0 && l[2] == 4);
    /* batches gathered from the kept raw bytes are bitwise the float images */
    cr_assert_eq(ds.pixels.dtype, KN_UINT8);
    kn_batch_opts bo = kn_batch_defaults();
    bo.batch_size = 3;
    bo.shuffle = false;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &ds, &bo));
    const kn_tensor *x, *y;
    int64_t count;
    T_OK(kn_batch_next(it, &x, &y, &count));
    cr_assert_eq(count, 3);
    cr_assert(!memcmp(x->data, ds.images.data, sizeof(float) * 6), "batch differs from the images");
    kn_batch_iter_free(it);
    /* every byte value converts to exactly what the loader made */
    {
        const char *ip2 = tpath("all.gz"), *lp2 = tpath("all_l");
        uint8_t px[256], lb[4] = {0, 1, 2, 3};
        for (int i = 0; i < 256; i++) px[i] = (uint8_t)i;
        write_idx(ip2, true, 3, (uint32_t[]){4, 8, 8}, px, 256);
        write_idx(lp2, false, 1, (uint32_t[]){4}, lb, 4);
        kn_dataset all;
        T_OK(kn_dataset_load(&all, ip2, lp2, 10));
        kn_batch_opts o4 = kn_batch_defaults();
        o4.batch_size = 4;
        o4.shuffle = false;
        kn_batch_iter *it4;
        T_OK(kn_batch_iter_create(&it4, &all, &o4));
        T_OK(kn_batch_next(it4, &x, &y, &count));
        const float *bx = x->data;
        for (int i = 0; i < 256; i++) cr_assert_eq(bx[i], (float)i / 255.0f, "pixel %d: %a", i, (double)bx[i]);
        kn_batch_iter_free(it4);
        kn_dataset_release(&all);
    }
    /* pixels that do not match the images are refused, not read past */
    kn_tensor keep = ds.pixels;
    T_OK(kn_tensor_view(&ds.pixels, &keep, 1, (int64_t[]){4}, 0));
    assert_error_names(kn_batch_iter_create(&it, &ds, &bo), KN_ERR_INVALID, "pixels", "6 values");
    kn_tensor_release(&ds.pixels);
    ds.pixels = keep;
    kn_dataset_release(&ds);
}

Test(dataset, count_mismatch_and_label_range, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    const char *ip = tpath("images"), *lp = tpath("labels"), *bad = tpath("badlabels");
    write_idx(ip, false, 3, (uint32_t[]){3, 1, 1}, (uint8_t[]){1, 2, 3}, 3);
    write_idx(lp, false, 1, (uint32_t[]){4}, (uint8_t[]){1, 2, 3, 4}, 4);
    write_idx(bad, false, 1, (uint32_t[]){3}, (uint8_t[]){1, 10, 3}, 3);
    kn_dataset ds;
    assert_error_names(kn_dataset_load(&ds, ip, lp, 10), KN_ERR_FORMAT, lp, "4 labels");
    cr_assert(strstr(kn_last_error(), ip) != NULL, "names the images file too: %s", kn_last_error());
    cr_assert_null(ds.images.data);
    assert_error_names(kn_dataset_load(&ds, ip, bad, 10), KN_ERR_FORMAT, bad,
                       "label 10 at index 1 is out of range [0, 10)");
    /* Labels where images belong. */
    assert_error_names(kn_dataset_load(&ds, lp, lp, 10), KN_ERR_FORMAT, lp, "bad magic");
}

static void write_mnist(const char *dir, bool gz_labels, int ntrain, int ntest)
{
    char p[600];
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int k = 0; k < 4; k++) {
        int n = k < 2 ? ntrain : ntest;
        bool images = k % 2 == 0, gz = images ? !gz_labels : gz_labels;
        snprintf(p, sizeof p, "%s/%s%s", dir, names[k], gz ? ".gz" : "");
        size_t bytes = images ? (size_t)n * 784 : (size_t)n;
        uint8_t *d = calloc(bytes, 1);
        for (size_t i = 0; i < bytes; i++) d[i] = images ? (uint8_t)(i % 256) : (uint8_t)(i % 10);
        if (images) write_idx(p, gz, 3, (uint32_t[]){(uint32_t)n, 28, 28}, d, bytes);
        else write_idx(p, gz, 1, (uint32_t[]){(uint32_t)n}, d, bytes);
        free(d);
    }
}

Test(mnist, loads_a_directory_of_mixed_raw_and_gz, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    write_mnist(tmpdir, true, 7, 3);
    cr_assert(kn_mnist_dir_complete(tmpdir));
    kn_mnist m;
    T_OK(kn_mnist_load(&m, tmpdir));
    cr_assert_eq(kn_dataset_size(&m.train), 7);
    cr_assert_eq(kn_dataset_size(&m.test), 3);
    cr_assert_eq(kn_dataset_height(&m.train), 28);
    cr_assert_eq(m.train.num_classes, 10);
    cr_assert_eq(((int64_t *)m.test.labels.data)[2], 2);
    kn_mnist_release(&m);

    unlink(tpath("t10k-labels-idx1-ubyte.gz"));
    cr_assert(!kn_mnist_dir_complete(tmpdir));
    assert_error_names(kn_mnist_load(&m, tmpdir), KN_ERR_IO, "t10k-labels-idx1-ubyte", "missing");
    cr_assert(strstr(kn_last_error(), tmpdir) != NULL, "%s", kn_last_error());
    cr_assert_null(m.train.images.data, "nothing is left allocated");
}

Test(mnist, default_dir_prefers_local_data, .init = make_tmpdir, .fini = cleanup_tmpdir)
{
    /* Each Criterion test runs in its own process, so changing directory is local to it. */
    cr_assert_eq(chdir(tmpdir), 0);
    const char *dir, *what;
    kn_status st = kn_mnist_default_dir(&dir, &what);
    bool system = kn_mnist_dir_complete(KN_MNIST_SYSTEM_DIR);
    if (system) {
        T_OK(st);
        cr_assert_str_eq(dir, KN_MNIST_SYSTEM_DIR);
        cr_assert(strstr(what, "Fashion-MNIST") != NULL);
    } else {
        cr_assert_eq(st, KN_ERR_IO);
        cr_assert(strstr(kn_last_error(), KN_MNIST_SYSTEM_DIR) != NULL, "%s", kn_last_error());
    }
    cr_assert_eq(mkdir("data", 0755), 0);
    cr_assert_eq(mkdir("data/mnist", 0755), 0);
    write_mnist("data/mnist", false, 2, 2);
    T_OK(kn_mnist_default_dir(&dir, &what));
    cr_assert_str_eq(dir, KN_MNIST_LOCAL_DIR);
    cr_assert(strstr(what, KN_MNIST_LOCAL_DIR) != NULL);
}

Test(mnist, system_fashion_mnist)
{
    if (!kn_mnist_dir_complete(KN_MNIST_SYSTEM_DIR))
        cr_skip_test("%s is absent (Debian package dataset-fashion-mnist not installed)", KN_MNIST_SYSTEM_DIR);
    kn_mnist m;
    T_OK(kn_mnist_load(&m, KN_MNIST_SYSTEM_DIR));
    cr_assert_eq(kn_dataset_size(&m.train), 60000);
    cr_assert_eq(kn_dataset_size(&m.test), 10000);
    cr_assert_eq(kn_dataset_height(&m.train), 28);
    cr_assert_eq(kn_dataset_width(&m.test), 28);
    const kn_dataset *sets[2] = {&m.train, &m.test};
    for (int s = 0; s < 2; s++) {
        int64_t counts[10] = {0};
        const int64_t *l = sets[s]->labels.data;
        for (int64_t i = 0; i < kn_dataset_size(sets[s]); i++) {
            cr_assert(l[i] >= 0 && l[i] < 10, "label %lld at %lld", (long long)l[i], (long long)i);
            counts[l[i]]++;
        }
        /* Fashion-MNIST is balanced: 6000 / 1000 per class. */
        for (int c = 0; c < 10; c++) cr_assert_eq(counts[c], s ? 1000 : 6000, "class %d", c);
        const float *f = sets[s]->images.data;
        float lo = 1, hi = 0;
        for (int64_t i = 0; i < kn_tensor_numel(&sets[s]->images); i++) {
            lo = f[i] < lo ? f[i] : lo;
            hi = f[i] > hi ? f[i] : hi;
        }
        cr_assert(lo == 0.0f && hi == 1.0f, "pixels span [%g, %g]", (double)lo, (double)hi);
    }
    kn_mnist_release(&m);
}

/* ---- batches ---- */

/* n samples of 2x2 images whose pixels all equal the sample index; label = index % 3. */
static void index_dataset(kn_dataset *ds, int64_t n)
{
    memset(ds, 0, sizeof *ds);
    T_OK(kn_tensor_init(&ds->images, KN_FLOAT, 4, (int64_t[]){n, 1, 2, 2}));
    T_OK(kn_tensor_init(&ds->labels, KN_INT64, 1, (int64_t[]){n}));
    float *f = ds->images.data;
    int64_t *l = ds->labels.data;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) f[i * 4 + k] = (float)i;
        l[i] = i % 3;
    }
    ds->num_classes = 3;
}

/* Runs one epoch, recording the sample order and batch sizes; returns the batch count. */
static int epoch_order(kn_batch_iter *it, int64_t *order, int64_t *sizes)
{
    int nb = 0, pos = 0;
    for (;;) {
        const kn_tensor *x, *y;
        int64_t count;
        T_OK(kn_batch_next(it, &x, &y, &count));
        if (!count) {
            cr_assert_null(x);
            break;
        }
        cr_assert_eq(x->shape[0], count);
        cr_assert_eq(y->shape[0], count);
        const float *xd = x->data;
        const int64_t *yd = y->data;
        for (int64_t r = 0; r < count; r++) {
            int64_t s = (int64_t)xd[r * 4];
            cr_assert_eq(xd[r * 4 + 3], (float)s, "rows are whole samples");
            cr_assert_eq(yd[r], s % 3, "label travels with its image");
            order[pos++] = s;
        }
        sizes[nb++] = count;
    }
    return nb;
}

Test(batch, every_sample_once_per_epoch_with_a_short_last_batch)
{
    kn_dataset ds;
    index_dataset(&ds, 10);
    kn_batch_opts o = kn_batch_defaults();
    o.batch_size = 4;
    o.seed = 42;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &ds, &o));
    cr_assert_eq(kn_batch_iter_num_batches(it), 3);
    int64_t order[3][10], sizes[8];
    for (int e = 0; e < 3; e++) {
        cr_assert_eq(kn_batch_iter_epoch(it), e);
        cr_assert_eq(epoch_order(it, order[e], sizes), 3);
        cr_assert(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2, "4, 4, then the 2 left over");
        bool seen[10] = {false};
        for (int i = 0; i < 10; i++) {
            cr_assert(!seen[order[e][i]], "sample %lld twice in epoch %d", (long long)order[e][i], e);
            seen[order[e][i]] = true;
        }
    }
    cr_assert(memcmp(order[0], order[1], sizeof order[0]) != 0, "epochs are reshuffled");
    cr_assert(memcmp(order[1], order[2], sizeof order[0]) != 0, "epochs are reshuffled");

    /* Same seed, same orders; an epoch can be replayed alone. */
    kn_batch_iter *again;
    T_OK(kn_batch_iter_create(&again, &ds, &o));
    int64_t o2[10];
    epoch_order(again, o2, sizes);
    cr_assert_eq(memcmp(o2, order[0], sizeof o2), 0, "deterministic for a seed");
    T_OK(kn_batch_iter_seek_epoch(again, 2));
    epoch_order(again, o2, sizes);
    cr_assert_eq(memcmp(o2, order[2], sizeof o2), 0, "epoch 2 depends on (seed, 2) only");
    kn_batch_iter_free(again);

    o.seed = 43;
    T_OK(kn_batch_iter_create(&again, &ds, &o));
    epoch_order(again, o2, sizes);
    cr_assert(memcmp(o2, order[0], sizeof o2) != 0, "another seed, another order");
    kn_batch_iter_free(again);

    kn_batch_iter_free(it);
    kn_dataset_release(&ds);
}

Test(batch, drop_last_and_sequential_order)
{
    kn_dataset ds;
    index_dataset(&ds, 10);
    kn_batch_opts o = kn_batch_defaults();
    o.batch_size = 4;
    o.drop_last = true;
    o.shuffle = false;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &ds, &o));
    cr_assert_eq(kn_batch_iter_num_batches(it), 2);
    int64_t order[10], sizes[4];
    for (int e = 0; e < 2; e++) {
        cr_assert_eq(epoch_order(it, order, sizes), 2);
        for (int i = 0; i < 8; i++) cr_assert_eq(order[i], i);
    }
    kn_batch_iter_free(it);

    o.batch_size = 11;
    cr_assert_eq(kn_batch_iter_create(&it, &ds, &o), KN_ERR_INVALID, "drop_last with no whole batch");
    o.batch_size = 0;
    cr_assert_eq(kn_batch_iter_create(&it, &ds, &o), KN_ERR_INVALID);
    kn_dataset_release(&ds);
}

Test(batch, into_caller_tensors_flat_layout)
{
    kn_dataset ds;
    index_dataset(&ds, 5);
    kn_batch_opts o = kn_batch_defaults();
    o.batch_size = 3;
    o.layout = KN_BATCH_FLAT;
    o.seed = 7;
    kn_batch_iter *it;
    T_OK(kn_batch_iter_create(&it, &ds, &o));
    kn_tensor x = t_new(2, 3, 4), y;
    T_OK(kn_tensor_init(&y, KN_INT64, 1, (int64_t[]){3}));
    int64_t count, total = 0;
    bool seen[5] = {false};
    for (;;) {
        T_OK(kn_batch_next_into(it, &x, &y, &count));
        if (!count) break;
        for (int64_t r = 0; r < count; r++) {
            int64_t s = (int64_t)((float *)x.data)[r * 4];
            cr_assert(!seen[s]);
            seen[s] = true;
            cr_assert_eq(((int64_t *)y.data)[r], s % 3);
        }
        total += count;
    }
    cr_assert_eq(total, 5);

    /* Owned batches in the flat layout are [count, 4]. */
    const kn_tensor *bx, *by;
    T_OK(kn_batch_next(it, &bx, &by, &count));
    cr_assert(bx->ndim == 2 && bx->shape[0] == 3 && bx->shape[1] == 4);

    kn_tensor wrong = t_new(4, 3, 1, 2, 2);
    cr_assert_eq(kn_batch_next_into(it, &wrong, &y, &count), KN_ERR_SHAPE);
    cr_assert(strstr(kn_last_error(), "[3,4]") != NULL, "%s", kn_last_error());
    kn_tensor_release(&wrong);
    kn_tensor_release(&x);
    kn_tensor_release(&y);
    kn_batch_iter_free(it);
    kn_dataset_release(&ds);
}
