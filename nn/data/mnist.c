/* Datasets of labelled images from IDX pairs, and the MNIST directory layout.
 * Pixels become floats once, at load, so batches are plain copies. */
#include "nn/data/data.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PAR_MIN 65536

static const char *const mnist_files[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
};

void kn_dataset_release(kn_dataset *ds)
{
    if (!ds) return;
    kn_tensor_release(&ds->images);
    kn_tensor_release(&ds->labels);
    kn_tensor_release(&ds->pixels);
    ds->num_classes = 0;
}

int64_t kn_dataset_size(const kn_dataset *ds) { return ds->images.data ? ds->images.shape[0] : 0; }
int64_t kn_dataset_height(const kn_dataset *ds) { return ds->images.data ? ds->images.shape[2] : 0; }
int64_t kn_dataset_width(const kn_dataset *ds) { return ds->images.data ? ds->images.shape[3] : 0; }

kn_status kn_dataset_load(kn_dataset *ds, const char *images_path, const char *labels_path,
                          int num_classes)
{
    memset(ds, 0, sizeof *ds);
    if (num_classes <= 0) return kn_error(KN_ERR_INVALID, "dataset: num_classes must be > 0, got %d", num_classes);
    kn_tensor img, lab;
    KN_TRY(kn_idx_read(labels_path, 1, &lab));
    kn_status st = kn_idx_read(images_path, 3, &img);
    if (st != KN_OK) {
        kn_tensor_release(&lab);
        return st;
    }
    const int64_t n = img.shape[0], h = img.shape[1], w = img.shape[2];
    if (lab.shape[0] != n) {
        st = kn_error(KN_ERR_FORMAT, "%s holds %lld labels but %s holds %lld images", labels_path,
                      (long long)lab.shape[0], images_path, (long long)n);
        goto out;
    }
    const uint8_t *lb = lab.data;
    for (int64_t i = 0; i < n; i++)
        if (lb[i] >= num_classes) {
            st = kn_error(KN_ERR_FORMAT, "%s: label %u at index %lld is out of range [0, %d)", labels_path,
                          (unsigned)lb[i], (long long)i, num_classes);
            goto out;
        }
    st = kn_tensor_init(&ds->images, KN_FLOAT, 4, (int64_t[]){n, 1, h, w});
    if (st == KN_OK) st = kn_tensor_init(&ds->labels, KN_INT64, 1, (int64_t[]){n});
    if (st != KN_OK) {
        kn_dataset_release(ds);
        goto out;
    }
    const uint8_t *px = img.data;
    float *f = ds->images.data;
    int64_t *l = ds->labels.data;
    const int64_t np = n * h * w;
    /* Divide (not multiply by 1/255) so values equal torchvision's ToTensor exactly. */
    _Pragma("omp parallel for simd schedule(static) if (np > PAR_MIN)")
    for (int64_t i = 0; i < np; i++) f[i] = (float)px[i] / 255.0f;
    for (int64_t i = 0; i < n; i++) l[i] = lb[i];
    ds->num_classes = num_classes;
    st = kn_tensor_view(&ds->pixels, &img, 4, (int64_t[]){n, 1, h, w}, 0);
    if (st != KN_OK) kn_dataset_release(ds);
out:
    kn_tensor_release(&img);
    kn_tensor_release(&lab);
    return st;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/base if it exists, else dir/base.gz if that does; false when neither. */
static bool find_file(char *buf, size_t size, const char *dir, const char *base)
{
    int n = snprintf(buf, size, "%s/%s", dir, base);
    if (n < 0 || (size_t)n >= size) return false;
    if (is_file(buf)) return true;
    n = snprintf(buf, size, "%s/%s.gz", dir, base);
    return n >= 0 && (size_t)n < size && is_file(buf);
}

bool kn_mnist_dir_complete(const char *dir)
{
    char p[4096];
    if (!dir) return false;
    for (int i = 0; i < 4; i++)
        if (!find_file(p, sizeof p, dir, mnist_files[i])) return false;
    return true;
}

void kn_mnist_release(kn_mnist *m)
{
    if (!m) return;
    kn_dataset_release(&m->train);
    kn_dataset_release(&m->test);
}

kn_status kn_mnist_load(kn_mnist *m, const char *dir)
{
    memset(m, 0, sizeof *m);
    if (!dir) return kn_error(KN_ERR_INVALID, "kn_mnist_load: no directory");
    char paths[4][4096];
    for (int i = 0; i < 4; i++)
        if (!find_file(paths[i], sizeof paths[i], dir, mnist_files[i]))
            return kn_error(KN_ERR_IO, "%s/%s: missing (neither it nor %s.gz exists)", dir,
                            mnist_files[i], mnist_files[i]);
    KN_TRY(kn_dataset_load(&m->train, paths[0], paths[1], 10));
    kn_status st = kn_dataset_load(&m->test, paths[2], paths[3], 10);
    if (st != KN_OK) {
        kn_dataset_release(&m->train);
        return st;
    }
    if (kn_dataset_height(&m->train) != kn_dataset_height(&m->test) ||
        kn_dataset_width(&m->train) != kn_dataset_width(&m->test)) {
        st = kn_error(KN_ERR_FORMAT, "%s: training images are %lldx%lld but %s has %lldx%lld", paths[0],
                      (long long)kn_dataset_height(&m->train), (long long)kn_dataset_width(&m->train),
                      paths[2], (long long)kn_dataset_height(&m->test), (long long)kn_dataset_width(&m->test));
        kn_mnist_release(m);
    }
    return st;
}

kn_status kn_mnist_default_dir(const char **dir, const char **what)
{
    if (kn_mnist_dir_complete(KN_MNIST_LOCAL_DIR)) {
        *dir = KN_MNIST_LOCAL_DIR;
        if (what) *what = "MNIST-layout data in " KN_MNIST_LOCAL_DIR;
        return KN_OK;
    }
    if (kn_mnist_dir_complete(KN_MNIST_SYSTEM_DIR)) {
        *dir = KN_MNIST_SYSTEM_DIR;
        if (what) *what = "Fashion-MNIST from Debian's dataset-fashion-mnist in " KN_MNIST_SYSTEM_DIR;
        return KN_OK;
    }
    *dir = NULL;
    if (what) *what = NULL;
    return kn_error(KN_ERR_IO,
                    "no MNIST-layout data: neither %s nor %s holds train-images-idx3-ubyte, "
                    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                    "(raw or .gz; apt-get install dataset-fashion-mnist provides the second)",
                    KN_MNIST_LOCAL_DIR, KN_MNIST_SYSTEM_DIR);
}
