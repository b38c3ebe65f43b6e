/* The checked device-tree layer under the migration records
 * (migrate/fdt_io.h): libfdt's sequential-write API with a latched error,
 * and a reader that validates the whole tree before trusting libfdt with
 * it, then checks each property's size and range. The trees come from the
 * network or a saved file: the first problem becomes a one-line reason.
 * Pure; fuzzed through the record decoders (tests/fuzz/fuzz_state.c). */
#include "fdt_io.h"
#include <hopvm/lib.h>
#include <libfdt.h>
#include <stdarg.h>

/* No record body is larger than this (REC_MAX_BODY is 1 MiB + 64). Refusing
 * bigger trees also keeps every offset libfdt computes far below INT_MAX. */
#define TREE_MAX (1u << 20)
/* This libfdt loads 64-bit reserve-map entries through typed pointers. */
#define TREE_ALIGN 8
/* fdt_finish() writes version 17, the first with size_dt_struct, which the
 * bounds checks below rely on. */
#define TREE_VERSION 17
#define TAG_ALIGN(x) (((x) + FDT_TAGSIZE - 1) & ~(size_t)(FDT_TAGSIZE - 1))

/* ------------------------------------------------------------------ writing */

void wr_begin(struct tree_wr *w, const char *name)
{
    if (!w->err)
        w->err = fdt_begin_node(w->fdt, name);
}
void wr_end(struct tree_wr *w)
{
    if (!w->err)
        w->err = fdt_end_node(w->fdt);
}
void wr_u32(struct tree_wr *w, const char *name, uint32_t v)
{
    if (!w->err)
        w->err = fdt_property_u32(w->fdt, name, v);
}
void wr_u64(struct tree_wr *w, const char *name, uint64_t v)
{
    if (!w->err)
        w->err = fdt_property_u64(w->fdt, name, v);
}
void wr_bytes(struct tree_wr *w, const char *name, const void *p, size_t n)
{
    if (!w->err)
        w->err = fdt_property(w->fdt, name, p, (int)n);
}
/* Space for n bytes of value, or NULL (error latched). */
uint8_t *wr_place(struct tree_wr *w, const char *name, size_t n)
{
    void *p = NULL;
    if (!w->err)
        w->err = fdt_property_placeholder(w->fdt, name, (int)n, &p);
    return w->err ? NULL : p;
}
void wr_cells(struct tree_wr *w, const char *name, const uint32_t *c, unsigned n)
{
    uint8_t *p = wr_place(w, name, (size_t)n * CELL);
    for (unsigned i = 0; p && i < n; i++)
        put_be32(p + i * CELL, c[i]);
}
/* A string field must hold its NUL: fdt_property_string's strlen would run
 * off the end of a full one. */
void wr_str(struct tree_wr *w, const char *name, const char *s, size_t field)
{
    size_t n = strnlen(s, field);
    if (n == field && !w->err)
        w->err = -FDT_ERR_BADVALUE;
    wr_bytes(w, name, s, n + 1);
}

/* Caps the buffer at the encoding's worst case: fdt_create() clears all of
 * it, and libfdt takes an int. */
void wr_start(struct tree_wr *w, void *buf, size_t cap, size_t max)
{
    w->fdt = buf;
    w->err = 0;
    if ((uintptr_t)buf % TREE_ALIGN) {
        w->err = -FDT_ERR_BADLAYOUT;
        return;
    }
    w->err = fdt_create(buf, (int)MIN(cap, max));
    if (!w->err)
        w->err = fdt_finish_reservemap(buf);
    wr_begin(w, "");
}

int wr_finish(struct tree_wr *w, size_t *len)
{
    wr_end(w); /* the root */
    if (!w->err)
        w->err = fdt_finish(w->fdt);
    if (w->err)
        return -1;
    *len = fdt_totalsize(w->fdt);
    return 0;
}

/* ------------------------------------------------------------------ reading */

int rd_fail(struct tree_rd *r, const char *fmt, ...)
{
    if (!r->err || !r->errn)
        return -1;
    int k = ksnprintf(r->err, r->errn, "%s: ", r->rec);
    if (k >= 0 && (size_t)k < r->errn) {
        va_list ap;
        va_start(ap, fmt);
        kvsnprintf(r->err + k, r->errn - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int rd_bad_tree(struct tree_rd *r, int fdt_err) { return rd_fail(r, "bad device tree: %s", fdt_strerror(fdt_err)); }

/* libfdt of this vintage adds an untrusted 32-bit property length to an int
 * offset (fdt_next_tag), which overflows for lengths near 2^31: undefined
 * behaviour before any check of its own can run. Walking the structure
 * block once with size_t arithmetic, the way fdt_next_tag does, proves
 * every value libfdt will step over lies inside the block. */
static int scan_struct(const uint8_t *s, size_t size)
{
    size_t pos = 0;
    while (size - pos >= FDT_TAGSIZE) {
        uint32_t tag = get_be32(s + pos);
        pos += FDT_TAGSIZE;
        switch (tag) {
        case FDT_BEGIN_NODE: {
            const uint8_t *nul = memchr(s + pos, 0, size - pos);
            if (!nul)
                return -FDT_ERR_TRUNCATED;
            pos = TAG_ALIGN((size_t)(nul - s) + 1);
            break;
        }
        case FDT_PROP: {
            if (size - pos < 2 * CELL) /* len, nameoff */
                return -FDT_ERR_TRUNCATED;
            uint32_t plen = get_be32(s + pos);
            pos += 2 * CELL;
            if (plen > size - pos)
                return -FDT_ERR_TRUNCATED;
            pos = TAG_ALIGN(pos + plen);
            break;
        }
        case FDT_END_NODE:
        case FDT_NOP:
            break;
        case FDT_END:
            return 0;
        default:
            return -FDT_ERR_BADSTRUCTURE;
        }
        if (pos > size)
            return -FDT_ERR_TRUNCATED;
    }
    return -FDT_ERR_TRUNCATED;
}

/* Everything about the tree as a whole, before any lookup. */
int rd_open(struct tree_rd *r, const void *buf, size_t len)
{
    if ((uintptr_t)buf % TREE_ALIGN)
        return rd_fail(r, "bad device tree: buffer not %d-byte aligned", TREE_ALIGN);
    if (len < sizeof(struct fdt_header))
        return rd_bad_tree(r, -FDT_ERR_TRUNCATED);
    if (len > TREE_MAX)
        return rd_fail(r, "bad device tree: %zu bytes, more than %u", len, TREE_MAX);
    int e = fdt_check_header(buf);
    if (e)
        return rd_bad_tree(r, e);
    if (fdt_totalsize(buf) > len)
        return rd_fail(r, "bad device tree: %s (totalsize %u, %zu bytes)", fdt_strerror(-FDT_ERR_TRUNCATED),
                    (unsigned)fdt_totalsize(buf), len);
    /* A record body is exactly one tree: trailing bytes mean a confused
     * or hostile peer. */
    if (fdt_totalsize(buf) < len)
        return rd_fail(r, "bad device tree: totalsize %u but %zu bytes", (unsigned)fdt_totalsize(buf), len);
    if (fdt_version(buf) < TREE_VERSION)
        return rd_fail(r, "bad device tree: version %u (need %d)", (unsigned)fdt_version(buf), TREE_VERSION);
    /* libfdt reads tags and reserve entries through typed pointers. */
    if (fdt_off_dt_struct(buf) % FDT_TAGSIZE || fdt_off_mem_rsvmap(buf) % sizeof(fdt64_t))
        return rd_bad_tree(r, -FDT_ERR_BADLAYOUT);
    e = scan_struct((const uint8_t *)buf + fdt_off_dt_struct(buf), fdt_size_dt_struct(buf));
    if (!e)
        e = fdt_check_full(buf, len); /* nesting, one root, property names */
    if (e)
        return rd_bad_tree(r, e);
    r->fdt = buf;
    return 0;
}

int rd_node(struct tree_rd *r, const char *path)
{
    int off = fdt_path_offset(r->fdt, path);
    if (off == -FDT_ERR_NOTFOUND)
        return rd_fail(r, "node %s missing", path);
    if (off < 0)
        return rd_bad_tree(r, off);
    return off;
}

/* A property's value and length, or NULL with the reason (missing, or a
 * broken tree). */
static const uint8_t *prop(struct tree_rd *r, int node, const char *name, int *n)
{
    const uint8_t *p = fdt_getprop(r->fdt, node, name, n);
    if (!p) {
        if (*n == -FDT_ERR_NOTFOUND)
            rd_fail(r, "property '%s' missing", name);
        else
            rd_bad_tree(r, *n);
    }
    return p;
}

/* The value of a property of exactly want bytes, or NULL with the reason. */
const uint8_t *rd_exact(struct tree_rd *r, int node, const char *name, int want)
{
    int n;
    const uint8_t *p = prop(r, node, name, &n);
    if (!p)
        return NULL;
    if (n != want) {
        rd_fail(r, "property '%s' is %d bytes, expected %d", name, n, want);
        return NULL;
    }
    return p;
}

/* A property of at most max bytes: its value and length, or NULL. */
const uint8_t *rd_upto(struct tree_rd *r, int node, const char *name, size_t max, size_t *len)
{
    int n;
    const uint8_t *p = prop(r, node, name, &n);
    if (!p)
        return NULL;
    if ((size_t)n > max) {
        rd_fail(r, "property '%s' is %d bytes, at most %zu", name, n, max);
        return NULL;
    }
    *len = (size_t)n;
    return p;
}

int rd_u32(struct tree_rd *r, int node, const char *name, uint32_t max, uint32_t *out)
{
    const uint8_t *p = rd_exact(r, node, name, CELL);
    if (!p)
        return -1;
    uint32_t v = get_be32(p);
    if (v > max) {
        /* rd_fail is always -1, but outside this file's static scope gcc
         * cannot see it and warns that callers' *out may stay unset. */
        rd_fail(r, "%s 0x%x is out of range (at most 0x%x)", name, (unsigned)v, (unsigned)max);
        return -1;
    }
    *out = v;
    return 0;
}

int rd_has(struct tree_rd *r, int node, const char *name)
{
    int n;
    if (fdt_getprop(r->fdt, node, name, &n))
        return 1;
    return n == -FDT_ERR_NOTFOUND ? 0 : rd_bad_tree(r, n);
}

int rd_u32_opt(struct tree_rd *r, int node, const char *name, uint32_t max, uint32_t dflt, uint32_t *out)
{
    int has = rd_has(r, node, name);
    if (has <= 0) {
        *out = dflt; /* written by a peer that predates the property */
        return has;
    }
    return rd_u32(r, node, name, max, out);
}

int rd_u8(struct tree_rd *r, int node, const char *name, uint8_t *out)
{
    uint32_t v;
    if (rd_u32(r, node, name, BYTE_MAX, &v))
        return -1;
    *out = (uint8_t)v;
    return 0;
}

int rd_u64(struct tree_rd *r, int node, const char *name, uint64_t *out)
{
    const uint8_t *p = rd_exact(r, node, name, U64_BYTES);
    if (!p)
        return -1;
    *out = get_be64(p);
    return 0;
}

int rd_cells(struct tree_rd *r, int node, const char *name, uint32_t *c, unsigned n)
{
    const uint8_t *p = rd_exact(r, node, name, (int)(n * CELL));
    if (!p)
        return -1;
    for (unsigned i = 0; i < n; i++)
        c[i] = get_be32(p + i * CELL);
    return 0;
}

/* One NUL-terminated string of printable ASCII that fits field bytes. */
int rd_str(struct tree_rd *r, int node, const char *name, char *dst, size_t field)
{
    int n;
    const char *p = fdt_getprop(r->fdt, node, name, &n);
    if (!p)
        return n == -FDT_ERR_NOTFOUND ? rd_fail(r, "property '%s' missing", name) : rd_bad_tree(r, n);
    if (n < 1 || memchr(p, 0, (size_t)n) != p + n - 1)
        return rd_fail(r, "property '%s' is not one NUL-terminated string", name);
    if ((size_t)n > field)
        return rd_fail(r, "%s is %d characters, at most %zu", name, n - 1, field - 1);
    for (int i = 0; i < n - 1; i++)
        if (p[i] < ' ' || p[i] > '~')
            return rd_fail(r, "%s has a non-printable character 0x%02x", name, (unsigned)(uint8_t)p[i]);
    memcpy(dst, p, (size_t)n);
    return 0;
}

/* hopvm.cfg's rule for VM and host names (vmm/config.c valid_name). */
int rd_check_name(struct tree_rd *r, const char *what, const char *s)
{
    if (!*s)
        return rd_fail(r, "%s is empty", what);
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return rd_fail(r, "%s has '%c' (letters, digits, '-', '_', '.')", what, *s);
    return 0;
}

/* hopvm.cfg's rule for kernel files (vmm/config.c valid_file): a plain name
 * in \guests, never a path. rd_str has already refused control bytes. */
int rd_check_file(struct tree_rd *r, const char *what, const char *s)
{
    if (!*s)
        return rd_fail(r, "%s is empty", what);
    for (; *s; s++)
        if (*s == ' ' || *s == '/' || *s == '\\')
            return rd_fail(r, "%s has '%c' (a file name, no path or space)", what, *s);
    return 0;
}

/* ------------------------------------------------------------------ DEVICE */

int rd_device(struct tree_rd *r, const void *buf, size_t len, char type[CFG_NAME_MAX])
{
    int n;
    if (rd_open(r, buf, len) || (n = rd_node(r, "/device")) < 0 || rd_str(r, n, "type", type, CFG_NAME_MAX) ||
        rd_check_name(r, "type", type))
        return -1;
    return n;
}
