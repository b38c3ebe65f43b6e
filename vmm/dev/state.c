/* Device state in DEVICE records (struct mig_dev): each device lists its
 * fields once, with the largest value each may take, and these helpers
 * save and load them, so a device's save and its checked load cannot
 * drift apart. A field is an unsigned integer of 1, 2, 4 or 8 bytes
 * (saved as u32 or u64) or a byte array of fixed length; a value above its
 * maximum, or a missing or mis-sized property, refuses the record with one
 * line naming the device and the field. */
#include <hopvm/devstate.h>
#include <hopvm/lib.h>

static void full_name(char *out, const char *prefix, const char *name)
{
    ksnprintf(out, MIG_DEV_NAME_MAX, "%s%s", prefix ? prefix : "", name);
}

static uint64_t get_int(const void *p, unsigned size)
{
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void set_int(void *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

int devstate_save(struct mig_dev *d, const char *prefix, const void *base, const struct dev_field *f, unsigned n)
{
    char name[MIG_DEV_NAME_MAX];
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)base + f[i].off;
        full_name(name, prefix, f[i].name);
        int r;
        if (f[i].bytes)
            r = mig_dev_put_bytes(d, name, p, f[i].bytes);
        else if (f[i].size == 8)
            r = mig_dev_put_u64(d, name, get_int(p, 8));
        else
            r = mig_dev_put_u32(d, name, (uint32_t)get_int(p, f[i].size));
        if (r != 0)
            return -1;
    }
    return 0;
}

int devstate_load(const struct mig_dev *d, const char *prefix, void *base, const struct dev_field *f, unsigned n,
                  char *err, size_t errn)
{
    char name[MIG_DEV_NAME_MAX];
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = (uint8_t *)base + f[i].off;
        full_name(name, prefix, f[i].name);
        if (f[i].bytes) {
            if (mig_dev_get_bytes(d, name, p, f[i].bytes, err, errn))
                return -1;
            continue;
        }
        uint64_t v;
        uint32_t v32;
        if (f[i].size == 8) {
            if (mig_dev_get_u64(d, name, &v, err, errn))
                return -1;
        } else {
            if (mig_dev_get_u32(d, name, &v32, err, errn))
                return -1;
            v = v32;
        }
        if (v > f[i].max)
            return ksnprintf(err, errn, "%s: %s is 0x%lx, at most 0x%lx", d->type, name, v, f[i].max), -1;
        set_int(p, f[i].size, v);
    }
    return 0;
}
