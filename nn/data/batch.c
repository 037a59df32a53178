/* Batch iterator: a permutation of sample indices per epoch (Fisher-Yates
 * from the identity, seeded by (seed, epoch), so any epoch can be replayed
 * or resumed alone), and row gathers into batch tensors. */
#include "nn/data/data.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "core/rng.h"

struct kn_batch_iter {
    const kn_dataset *ds;
    kn_batch_opts o;
    int64_t n;      /* samples */
    int64_t limit;  /* samples served per epoch (n, or whole batches only with drop_last) */
    int64_t sample; /* floats per image */
    int64_t *perm;
    int epoch;
    int64_t pos;
    bool at_end;    /* the end of `epoch` has been reported */
    kn_tensor x, y; /* owned batch storage, batch_size rows */
    kn_tensor xv, yv; /* views of the rows filled by the last kn_batch_next */
};

kn_batch_opts kn_batch_defaults(void)
{
    return (kn_batch_opts){.batch_size = 64, .shuffle = true, .drop_last = false, .seed = 0,
                           .layout = KN_BATCH_NCHW};
}

static void image_shape(const kn_batch_iter *it, int64_t rows, int *ndim, int64_t *shape)
{
    const kn_tensor *im = &it->ds->images;
    if (it->o.layout == KN_BATCH_FLAT) {
        *ndim = 2;
        shape[0] = rows;
        shape[1] = it->sample;
    } else {
        *ndim = 4;
        shape[0] = rows;
        shape[1] = im->shape[1];
        shape[2] = im->shape[2];
        shape[3] = im->shape[3];
    }
}

kn_status kn_batch_iter_seek_epoch(kn_batch_iter *it, int epoch)
{
    if (epoch < 0) return kn_error(KN_ERR_INVALID, "batch iterator: epoch %d is negative", epoch);
    for (int64_t i = 0; i < it->n; i++) it->perm[i] = i;
    if (it->o.shuffle) {
        kn_rng r;
        kn_rng_seed(&r, it->o.seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull));
        for (int64_t i = it->n - 1; i > 0; i--) {
            int64_t j = (int64_t)kn_rng_below(&r, (uint64_t)i + 1);
            int64_t t = it->perm[i];
            it->perm[i] = it->perm[j];
            it->perm[j] = t;
        }
    }
    it->epoch = epoch;
    it->pos = 0;
    it->at_end = false;
    return KN_OK;
}

kn_status kn_batch_iter_create(kn_batch_iter **out, const kn_dataset *ds, const kn_batch_opts *opts)
{
    *out = NULL;
    kn_batch_opts o = opts ? *opts : kn_batch_defaults();
    if (!ds || !ds->images.data || ds->images.dtype != KN_FLOAT || ds->images.ndim != 4 ||
        !ds->labels.data || ds->labels.dtype != KN_INT64 || ds->labels.shape[0] != ds->images.shape[0])
        return kn_error(KN_ERR_INVALID, "batch iterator: the dataset is not loaded (float [N,1,H,W] images, int64 [N] labels)");
    if (ds->images.device != KN_CPU || ds->labels.device != KN_CPU)
        return kn_error(KN_ERR_DEVICE, "batch iterator: the dataset must be in host memory");
    if (ds->pixels.data && (ds->pixels.dtype != KN_UINT8 || ds->pixels.device != KN_CPU ||
                            kn_tensor_numel(&ds->pixels) != kn_tensor_numel(&ds->images)))
        return kn_error(KN_ERR_INVALID, "batch iterator: the dataset's pixels (%s, %lld values) do not match its "
                                        "images (%lld values)", kn_dtype_name(ds->pixels.dtype),
                        (long long)kn_tensor_numel(&ds->pixels), (long long)kn_tensor_numel(&ds->images));
    if (o.batch_size <= 0)
        return kn_error(KN_ERR_INVALID, "batch iterator: batch_size must be > 0, got %lld", (long long)o.batch_size);
    if (o.layout != KN_BATCH_NCHW && o.layout != KN_BATCH_FLAT)
        return kn_error(KN_ERR_INVALID, "batch iterator: unknown layout %d", (int)o.layout);
    const int64_t n = ds->images.shape[0];
    if (o.drop_last && n / o.batch_size == 0)
        return kn_error(KN_ERR_INVALID, "batch iterator: drop_last with batch_size %lld over %lld samples yields no batch",
                        (long long)o.batch_size, (long long)n);
    kn_batch_iter *it = calloc(1, sizeof *it);
    if (!it) return kn_error(KN_ERR_NOMEM, "out of memory creating a batch iterator");
    it->ds = ds;
    it->o = o;
    it->n = n;
    it->limit = o.drop_last ? n / o.batch_size * o.batch_size : n;
    it->sample = ds->images.shape[1] * ds->images.shape[2] * ds->images.shape[3];
    it->perm = malloc((size_t)n * sizeof *it->perm);
    int nd;
    int64_t shape[4];
    image_shape(it, o.batch_size, &nd, shape);
    kn_status st = it->perm ? KN_OK : kn_error(KN_ERR_NOMEM, "out of memory for a %lld-sample permutation", (long long)n);
    if (st == KN_OK) st = kn_tensor_init(&it->x, KN_FLOAT, nd, shape);
    if (st == KN_OK) st = kn_tensor_init(&it->y, KN_INT64, 1, (int64_t[]){o.batch_size});
    if (st == KN_OK) st = kn_batch_iter_seek_epoch(it, 0);
    if (st != KN_OK) {
        kn_batch_iter_free(it);
        return st;
    }
    *out = it;
    return KN_OK;
}

void kn_batch_iter_free(kn_batch_iter *it)
{
    if (!it) return;
    kn_tensor_release(&it->xv);
    kn_tensor_release(&it->yv);
    kn_tensor_release(&it->x);
    kn_tensor_release(&it->y);
    free(it->perm);
    free(it);
}

int kn_batch_iter_epoch(const kn_batch_iter *it) { return it->at_end ? it->epoch + 1 : it->epoch; }

int64_t kn_batch_iter_num_samples(const kn_batch_iter *it) { return it->limit; }

int64_t kn_batch_iter_num_batches(const kn_batch_iter *it)
{
    return (it->limit + it->o.batch_size - 1) / it->o.batch_size;
}

/* Fill rows of the next batch into xd / yd; returns the row count (0 at epoch end). */
static kn_status fill(kn_batch_iter *it, float *xd, int64_t *yd, int64_t *count)
{
    *count = 0;
    if (it->at_end) KN_TRY(kn_batch_iter_seek_epoch(it, it->epoch + 1));
    if (it->pos >= it->limit) {
        it->at_end = true;
        return KN_OK;
    }
    int64_t rows = it->limit - it->pos;
    if (rows > it->o.batch_size) rows = it->o.batch_size;
    const float *im = it->ds->images.data;
    const uint8_t *px = it->ds->pixels.data; /* checked against images at creation */
    const int64_t *lab = it->ds->labels.data;
    const int64_t sample = it->sample;
    /* both threads gather: each row waits on memory, two keep twice the fetches in flight */
    #pragma omp parallel for schedule(static) if (rows * sample >= 32768)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t s = it->perm[it->pos + r];
        float *restrict dst = xd + r * sample;
        yd[r] = lab[s];
        if (!px) {
            memcpy(dst, im + s * sample, (size_t)sample * sizeof(float));
            continue;
        }
        /* from the raw bytes: a quarter of the memory traffic of the float copy. The loader
         * divides by 255; a product with 1/255 and one FMA correction gives the same,
         * correctly rounded quotient for every byte (tests/test_data.c checks all 256)
         * without the vector division that bound this loop. */
        const uint8_t *restrict src = px + s * sample;
        const float inv = 1.0f / 255.0f;
        #pragma omp simd
        for (int64_t i = 0; i < sample; i++) {
            const float v = (float)src[i], q = v * inv;
            dst[i] = fmaf(fmaf(-q, 255.0f, v), inv, q);
        }
    }
    it->pos += rows;
    *count = rows;
    return KN_OK;
}

void kn_batch_prefetch(const kn_batch_iter *it)
{
    if (!it || it->at_end || it->pos >= it->limit) return;
    const uint8_t *px = it->ds->pixels.data;
    const float *im = it->ds->images.data;
    const int64_t sample = it->sample;
    const int64_t next = it->limit - it->pos < it->o.batch_size ? it->limit - it->pos : it->o.batch_size;
    const size_t row_bytes = (size_t)sample * (px ? 1 : sizeof(float));
    for (int64_t r = 0; r < next; r++) {
        const int64_t s = it->perm[it->pos + r];
        const char *row = px ? (const char *)(px + s * sample) : (const char *)(im + s * sample);
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + b, 0, 3);
    }
}

kn_status kn_batch_next(kn_batch_iter *it, const kn_tensor **x, const kn_tensor **y, int64_t *count)
{
    *x = NULL;
    *y = NULL;
    *count = 0;
    if (!it) return kn_error(KN_ERR_INVALID, "kn_batch_next: no iterator");
    kn_tensor_release(&it->xv);
    kn_tensor_release(&it->yv);
    KN_TRY(fill(it, it->x.data, it->y.data, count));
    if (*count == 0) return KN_OK;
    int nd;
    int64_t shape[4];
    image_shape(it, *count, &nd, shape);
    KN_TRY(kn_tensor_view(&it->xv, &it->x, nd, shape, 0));
    KN_TRY(kn_tensor_view(&it->yv, &it->y, 1, (int64_t[]){*count}, 0));
    *x = &it->xv;
    *y = &it->yv;
    return KN_OK;
}

kn_status kn_batch_next_into(kn_batch_iter *it, kn_tensor *x, kn_tensor *y, int64_t *count)
{
    *count = 0;
    if (!it) return kn_error(KN_ERR_INVALID, "kn_batch_next_into: no iterator");
    int nd;
    int64_t shape[4];
    char want[96], got[96];
    image_shape(it, it->o.batch_size, &nd, shape);
    if (!x || !x->data || x->dtype != KN_FLOAT || x->device != KN_CPU || !kn_shape_equal(x->ndim, x->shape, nd, shape))
        return kn_error(KN_ERR_SHAPE, "batch images: expected a float host tensor %s, got %s %s",
                        kn_shape_str(want, sizeof want, nd, shape),
                        x ? kn_dtype_name(x->dtype) : "none",
                        x ? kn_shape_str(got, sizeof got, x->ndim, x->shape) : "");
    if (!y || !y->data || y->dtype != KN_INT64 || y->device != KN_CPU || y->ndim != 1 ||
        y->shape[0] != it->o.batch_size)
        return kn_error(KN_ERR_SHAPE, "batch labels: expected an int64 host tensor [%lld], got %s %s",
                        (long long)it->o.batch_size, y ? kn_dtype_name(y->dtype) : "none",
                        y ? kn_shape_str(got, sizeof got, y->ndim, y->shape) : "");
    return fill(it, x->data, y->data, count);
}
