/* The generic DEVICE record (include/hopvm/mig_state.h, struct mig_dev):
 * a /device node with "type", "instance" and the device's own properties,
 * which this file neither interprets nor trusts: the decoder only checks
 * the tree, the names and the sizes; what each value may be is the
 * device's business (vmm/dev/). Pure; unit-tested
 * (tests/unit/test_dev_state.c) and fuzzed (tests/fuzz/fuzz_state.c). */
#include "fdt_io.h"
#include <hopvm/lib.h>
#include <hopvm/mig_state.h>
#include <libfdt.h>

_Static_assert(MIG_DEV_MAX <= (1 << 20), "a device tree fits one stream record");

static bool name_ok(const char *s)
{
    size_t n = strnlen(s, MIG_DEV_NAME_MAX);
    if (n == 0 || n >= MIG_DEV_NAME_MAX || !strcmp(s, "type") || !strcmp(s, "instance"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static const struct mig_dev_prop *find(const struct mig_dev *d, const char *name)
{
    for (uint32_t i = 0; i < d->nprops && i < MIG_DEV_PROPS; i++)
        if (!strcmp(d->props[i].name, name))
            return &d->props[i];
    return NULL;
}

void mig_dev_init(struct mig_dev *d, const char *type, uint32_t instance)
{
    memset(d, 0, sizeof(*d));
    size_t n = MIN(strlen(type), sizeof(d->type) - 1);
    memcpy(d->type, type, n);
    d->instance = instance;
}

int mig_dev_put_bytes(struct mig_dev *d, const char *name, const void *p, uint32_t len)
{
    if (d->nprops >= MIG_DEV_PROPS || len > MIG_DEV_VAL_MAX || !name_ok(name) || find(d, name))
        return -1;
    struct mig_dev_prop *q = &d->props[d->nprops++];
    memcpy(q->name, name, strlen(name) + 1);
    q->len = len;
    memcpy(q->val, p, len);
    return 0;
}

int mig_dev_put_u32(struct mig_dev *d, const char *name, uint32_t v)
{
    uint8_t b[CELL];
    put_be32(b, v);
    return mig_dev_put_bytes(d, name, b, sizeof(b));
}

int mig_dev_put_u64(struct mig_dev *d, const char *name, uint64_t v)
{
    uint8_t b[U64_BYTES];
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b + CELL, (uint32_t)v);
    return mig_dev_put_bytes(d, name, b, sizeof(b));
}

static const struct mig_dev_prop *need(const struct mig_dev *d, const char *name, uint32_t len, char *err, size_t n)
{
    const struct mig_dev_prop *p = find(d, name);
    if (!p)
        ksnprintf(err, n, "%s: property '%s' missing", d->type, name);
    else if (p->len != len)
        ksnprintf(err, n, "%s: property '%s' is %u bytes, expected %u", d->type, name, (unsigned)p->len,
                  (unsigned)len);
    else
        return p;
    return NULL;
}

int mig_dev_get_bytes(const struct mig_dev *d, const char *name, void *out, uint32_t len, char *err, size_t n)
{
    const struct mig_dev_prop *p = need(d, name, len, err, n);
    if (!p)
        return -1;
    memcpy(out, p->val, len);
    return 0;
}

int mig_dev_get_u32(const struct mig_dev *d, const char *name, uint32_t *v, char *err, size_t n)
{
    const struct mig_dev_prop *p = need(d, name, CELL, err, n);
    if (!p)
        return -1;
    *v = get_be32(p->val);
    return 0;
}

int mig_dev_get_u32_opt(const struct mig_dev *d, const char *name, uint32_t dflt, uint32_t *v, char *err, size_t n)
{
    if (!find(d, name)) {
        *v = dflt;
        return 0;
    }
    return mig_dev_get_u32(d, name, v, err, n);
}

int mig_dev_get_u64(const struct mig_dev *d, const char *name, uint64_t *v, char *err, size_t n)
{
    const struct mig_dev_prop *p = need(d, name, U64_BYTES, err, n);
    if (!p)
        return -1;
    *v = get_be64(p->val);
    return 0;
}

int mig_dev_encode(const struct mig_dev *d, void *buf, size_t cap, size_t *len)
{
    struct tree_wr w;
    if (d->nprops > MIG_DEV_PROPS)
        return -1;
    wr_start(&w, buf, cap, MIG_DEV_MAX);
    wr_begin(&w, "device");
    wr_str(&w, "type", d->type, sizeof(d->type));
    wr_u32(&w, "instance", d->instance);
    for (uint32_t i = 0; i < d->nprops; i++) {
        if (d->props[i].len > MIG_DEV_VAL_MAX || !name_ok(d->props[i].name))
            return -1;
        wr_bytes(&w, d->props[i].name, d->props[i].val, d->props[i].len);
    }
    wr_end(&w);
    return wr_finish(&w, len);
}

int mig_dev_decode(const void *buf, size_t len, struct mig_dev *d, char *err, size_t errn)
{
    struct tree_rd r = { .rec = "DEVICE", .err = err, .errn = errn };
    memset(d, 0, sizeof(*d));
    int node = rd_device(&r, buf, len, d->type);
    if (node < 0 || rd_u32(&r, node, "instance", UINT32_MAX, &d->instance))
        return -1;
    if (!strcmp(d->type, MIG_UART_TYPE))
        return rd_fail(&r, "a %s record is not a generic device", MIG_UART_TYPE);
    int off;
    fdt_for_each_property_offset(off, r.fdt, node) {
        const char *name;
        int n;
        const uint8_t *val = fdt_getprop_by_offset(r.fdt, off, &name, &n);
        if (!val || n < 0)
            return rd_bad_tree(&r, n);
        if (!strcmp(name, "type") || !strcmp(name, "instance"))
            continue;
        if (!name_ok(name))
            return rd_fail(&r, "%s: a property name that is not [a-z0-9-]{1,%d}", d->type, MIG_DEV_NAME_MAX - 1);
        if ((size_t)n > MIG_DEV_VAL_MAX)
            return rd_fail(&r, "%s: property '%s' is %d bytes, at most %d", d->type, name, n, MIG_DEV_VAL_MAX);
        if (find(d, name))
            return rd_fail(&r, "%s: property '%s' given twice", d->type, name);
        if (d->nprops == MIG_DEV_PROPS)
            return rd_fail(&r, "%s: more than %d properties", d->type, MIG_DEV_PROPS);
        struct mig_dev_prop *p = &d->props[d->nprops++];
        memcpy(p->name, name, strlen(name) + 1);
        p->len = (uint32_t)n;
        memcpy(p->val, val, (size_t)n);
    }
    if (off != -FDT_ERR_NOTFOUND)
        return rd_bad_tree(&r, off);
    return 0;
}
