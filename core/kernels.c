#include "core/kernels.h"

#include <math.h>
#include <string.h>

#ifdef KN_WITH_CUDA
/* Defined in cuda/: registers the CUDA table. Declared here, not included,
 * so core depends on no cuda/ header. */
void kn_cuda_register(void);
#endif

extern const kn_kernels kn_cpu_kernels;

static const kn_kernels *tables[KN_NUM_DEVICES];
static bool (*probes[KN_NUM_DEVICES])(void);

const kn_kernels *kn_kernels_get(kn_device device)
{
    if ((int)device < 0 || device >= KN_NUM_DEVICES) return NULL;
    if (device == KN_CPU) return &kn_cpu_kernels;
#ifdef KN_WITH_CUDA
    static bool cuda_registered;
    if (!cuda_registered) {
        cuda_registered = true;
        kn_cuda_register();
    }
#endif
    return tables[device];
}

void kn_kernels_register(const kn_kernels *k)
{
    if (k && (int)k->device >= 0 && k->device < KN_NUM_DEVICES) tables[k->device] = k;
}

void kn_device_set_probe(kn_device device, bool (*probe)(void))
{
    if ((int)device >= 0 && device < KN_NUM_DEVICES) probes[device] = probe;
}

bool kn_device_available(kn_device device)
{
    if (device == KN_CPU) return true;
    if (!kn_kernels_get(device)) return false;
    return probes[device] ? probes[device]() : true;
}

float kn_act_apply(kn_act act, float alpha, float beta, float x)
{
    switch (act) {
    case KN_ACT_NONE: return x;
    case KN_ACT_RELU: return x > 0 ? x : 0;
    case KN_ACT_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case KN_ACT_CLIP: return x < alpha ? alpha : (x > beta ? beta : x);
    case KN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case KN_ACT_HARDSWISH: {
        float t = x / 6.0f + 0.5f;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        return x * t;
    }
    case KN_ACT_TANH: return tanhf(x);
    }
    return x;
}

kn_status kn_bcast_init(kn_bcast *b, int na, const int64_t *sa, int nb, const int64_t *sb)
{
    int n = na > nb ? na : nb;
    memset(b, 0, sizeof *b);
    b->ndim = n;
    int64_t as = 1, bs = 1;
    for (int i = n - 1; i >= 0; i--) {
        int ia = i - (n - na), ib = i - (n - nb);
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char x[160], y[160];
            return kn_error(KN_ERR_SHAPE, "shapes %s and %s do not broadcast",
                            kn_shape_str(x, sizeof x, na, sa), kn_shape_str(y, sizeof y, nb, sb));
        }
        b->shape[i] = da == 1 ? db : da;
        b->astride[i] = da == 1 ? 0 : as;
        b->bstride[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
    }
    return KN_OK;
}
