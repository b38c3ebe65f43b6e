/* VM_DEF, VCPU and DEVICE record bodies as flattened device trees
 * (docs/migration-protocol.md, "Device trees"), written with libfdt's
 * sequential-write API and read back with its read-only API. The decoders
 * read bytes from the network or a saved file: everything is checked, and
 * the first problem becomes a one-line reason. Pure; fuzzed
 * (tests/fuzz/fuzz_state.c). */
#include <hopvm/lib.h>
#include <hopvm/mig_state.h>
#include <hopvm/vm.h>
#include <libfdt.h>
#include <stdarg.h>

_Static_assert(MIG_UART_LOG_MAX == VM_LOG_SIZE, "the log record carries the whole ring");
_Static_assert(MIG_UART_RX_MAX == sizeof(((struct uart_dev *)0)->rx), "rx FIFO size");
_Static_assert(MIG_FXSAVE_SIZE == sizeof(((struct vcpu *)0)->fpu), "FXSAVE image size");
_Static_assert(MIG_VMDEF_MAX <= (1 << 20) && MIG_VCPU_MAX <= (1 << 20) && MIG_UART_MAX <= (1 << 20),
               "every tree fits one stream record");

/* No record body is larger than this (REC_MAX_BODY is 1 MiB + 64). Refusing
 * bigger trees also keeps every offset libfdt computes far below INT_MAX. */
#define TREE_MAX (1u << 20)
/* This libfdt loads 64-bit reserve-map entries through typed pointers. */
#define TREE_ALIGN 8
/* fdt_finish() writes version 17, the first with size_dt_struct, which the
 * bounds checks below rely on. */
#define TREE_VERSION 17
#define TAG_ALIGN(x) (((x) + FDT_TAGSIZE - 1) & ~(size_t)(FDT_TAGSIZE - 1))

#define CELL 4
#define U64_BYTES 8
#define CPUID_CELLS 6                   /* leaf subleaf eax ebx ecx edx */
#define SEG_CELLS 5                     /* sel attr limit base-hi base-lo */
#define DT_CELLS 3                      /* base-hi base-lo limit */
#define EVENT_CELLS 4                   /* type vector has-error error */
#define SEG_SEL_MAX 0xffffu
#define SEG_ATTR_MAX 0xfffu             /* attr bits 0-11 (vcpu_state.h) */
#define DT_LIMIT_MAX 0xffffu            /* GDTR/IDTR limits are 16 bits */
#define BYTE_MAX 0xffu
#define FXSAVE_MXCSR_OFF 24
#define MXCSR_RESERVED 0xffff0000u      /* FXRSTOR faults if any is set (SDM Vol.1 10.5.1) */
#define MEM_ALIGN 4096u

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + CELL); }
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------ writing */

/* The first libfdt error sticks; later calls do nothing. */
struct wr {
    void *fdt;
    int err;
};

static void w_begin(struct wr *w, const char *name)
{
    if (!w->err)
        w->err = fdt_begin_node(w->fdt, name);
}
static void w_end(struct wr *w)
{
    if (!w->err)
        w->err = fdt_end_node(w->fdt);
}
static void w_u32(struct wr *w, const char *name, uint32_t v)
{
    if (!w->err)
        w->err = fdt_property_u32(w->fdt, name, v);
}
static void w_u64(struct wr *w, const char *name, uint64_t v)
{
    if (!w->err)
        w->err = fdt_property_u64(w->fdt, name, v);
}
static void w_bytes(struct wr *w, const char *name, const void *p, size_t n)
{
    if (!w->err)
        w->err = fdt_property(w->fdt, name, p, (int)n);
}
/* Space for n bytes of value, or NULL (error latched). */
static uint8_t *w_place(struct wr *w, const char *name, size_t n)
{
    void *p = NULL;
    if (!w->err)
        w->err = fdt_property_placeholder(w->fdt, name, (int)n, &p);
    return w->err ? NULL : p;
}
static void w_cells(struct wr *w, const char *name, const uint32_t *c, unsigned n)
{
    uint8_t *p = w_place(w, name, (size_t)n * CELL);
    for (unsigned i = 0; p && i < n; i++)
        put_be32(p + i * CELL, c[i]);
}
/* A string field must hold its NUL: fdt_property_string's strlen would run
 * off the end of a full one. */
static void w_str(struct wr *w, const char *name, const char *s, size_t field)
{
    size_t n = strnlen(s, field);
    if (n == field && !w->err)
        w->err = -FDT_ERR_BADVALUE;
    w_bytes(w, name, s, n + 1);
}

/* Caps the buffer at the encoding's worst case: fdt_create() clears all of
 * it, and libfdt takes an int. */
static void w_start(struct wr *w, void *buf, size_t cap, size_t max)
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
    w_begin(w, "");
}

static int w_finish(struct wr *w, size_t *len)
{
    w_end(w); /* the root */
    if (!w->err)
        w->err = fdt_finish(w->fdt);
    if (w->err)
        return -1;
    *len = fdt_totalsize(w->fdt);
    return 0;
}

/* ------------------------------------------------------------------ reading */

struct rd {
    const void *fdt;
    const char *rec; /* "VM_DEF", ... : the reason's prefix */
    char *err;
    size_t errn;
};

__attribute__((format(printf, 2, 3))) static int fail(struct rd *r, const char *fmt, ...)
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

static int bad_tree(struct rd *r, int fdt_err) { return fail(r, "bad device tree: %s", fdt_strerror(fdt_err)); }

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
static int rd_open(struct rd *r, const void *buf, size_t len)
{
    if ((uintptr_t)buf % TREE_ALIGN)
        return fail(r, "bad device tree: buffer not %d-byte aligned", TREE_ALIGN);
    if (len < sizeof(struct fdt_header))
        return bad_tree(r, -FDT_ERR_TRUNCATED);
    if (len > TREE_MAX)
        return fail(r, "bad device tree: %zu bytes, more than %u", len, TREE_MAX);
    int e = fdt_check_header(buf);
    if (e)
        return bad_tree(r, e);
    if (fdt_totalsize(buf) > len)
        return fail(r, "bad device tree: %s (totalsize %u, %zu bytes)", fdt_strerror(-FDT_ERR_TRUNCATED),
                    (unsigned)fdt_totalsize(buf), len);
    /* A record body is exactly one tree: trailing bytes mean a confused
     * or hostile peer. */
    if (fdt_totalsize(buf) < len)
        return fail(r, "bad device tree: totalsize %u but %zu bytes", (unsigned)fdt_totalsize(buf), len);
    if (fdt_version(buf) < TREE_VERSION)
        return fail(r, "bad device tree: version %u (need %d)", (unsigned)fdt_version(buf), TREE_VERSION);
    /* libfdt reads tags and reserve entries through typed pointers. */
    if (fdt_off_dt_struct(buf) % FDT_TAGSIZE || fdt_off_mem_rsvmap(buf) % sizeof(fdt64_t))
        return bad_tree(r, -FDT_ERR_BADLAYOUT);
    e = scan_struct((const uint8_t *)buf + fdt_off_dt_struct(buf), fdt_size_dt_struct(buf));
    if (!e)
        e = fdt_check_full(buf, len); /* nesting, one root, property names */
    if (e)
        return bad_tree(r, e);
    r->fdt = buf;
    return 0;
}

static int rd_node(struct rd *r, const char *path)
{
    int off = fdt_path_offset(r->fdt, path);
    if (off == -FDT_ERR_NOTFOUND)
        return fail(r, "node %s missing", path);
    if (off < 0)
        return bad_tree(r, off);
    return off;
}

/* The value of a property of exactly want bytes, or NULL with the reason. */
static const uint8_t *rd_exact(struct rd *r, int node, const char *name, int want)
{
    int n;
    const uint8_t *p = fdt_getprop(r->fdt, node, name, &n);
    if (!p) {
        if (n == -FDT_ERR_NOTFOUND)
            fail(r, "property '%s' missing", name);
        else
            bad_tree(r, n);
        return NULL;
    }
    if (n != want) {
        fail(r, "property '%s' is %d bytes, expected %d", name, n, want);
        return NULL;
    }
    return p;
}

/* A property of at most max bytes: its value and length, or NULL. */
static const uint8_t *rd_upto(struct rd *r, int node, const char *name, size_t max, size_t *len)
{
    int n;
    const uint8_t *p = fdt_getprop(r->fdt, node, name, &n);
    if (!p) {
        if (n == -FDT_ERR_NOTFOUND)
            fail(r, "property '%s' missing", name);
        else
            bad_tree(r, n);
        return NULL;
    }
    if ((size_t)n > max) {
        fail(r, "property '%s' is %d bytes, at most %zu", name, n, max);
        return NULL;
    }
    *len = (size_t)n;
    return p;
}

static int rd_u32(struct rd *r, int node, const char *name, uint32_t max, uint32_t *out)
{
    const uint8_t *p = rd_exact(r, node, name, CELL);
    if (!p)
        return -1;
    uint32_t v = get_be32(p);
    if (v > max)
        return fail(r, "%s 0x%x is out of range (at most 0x%x)", name, (unsigned)v, (unsigned)max);
    *out = v;
    return 0;
}

static int rd_u8(struct rd *r, int node, const char *name, uint8_t *out)
{
    uint32_t v;
    if (rd_u32(r, node, name, BYTE_MAX, &v))
        return -1;
    *out = (uint8_t)v;
    return 0;
}

static int rd_u64(struct rd *r, int node, const char *name, uint64_t *out)
{
    const uint8_t *p = rd_exact(r, node, name, U64_BYTES);
    if (!p)
        return -1;
    *out = get_be64(p);
    return 0;
}

static int rd_cells(struct rd *r, int node, const char *name, uint32_t *c, unsigned n)
{
    const uint8_t *p = rd_exact(r, node, name, (int)(n * CELL));
    if (!p)
        return -1;
    for (unsigned i = 0; i < n; i++)
        c[i] = get_be32(p + i * CELL);
    return 0;
}

/* One NUL-terminated string of printable ASCII that fits field bytes. */
static int rd_str(struct rd *r, int node, const char *name, char *dst, size_t field)
{
    int n;
    const char *p = fdt_getprop(r->fdt, node, name, &n);
    if (!p)
        return n == -FDT_ERR_NOTFOUND ? fail(r, "property '%s' missing", name) : bad_tree(r, n);
    if (n < 1 || memchr(p, 0, (size_t)n) != p + n - 1)
        return fail(r, "property '%s' is not one NUL-terminated string", name);
    if ((size_t)n > field)
        return fail(r, "%s is %d characters, at most %zu", name, n - 1, field - 1);
    for (int i = 0; i < n - 1; i++)
        if (p[i] < ' ' || p[i] > '~')
            return fail(r, "%s has a non-printable character 0x%02x", name, (unsigned)(uint8_t)p[i]);
    memcpy(dst, p, (size_t)n);
    return 0;
}

/* hopvm.cfg's rule for VM and host names (vmm/config.c valid_name). */
static int check_name(struct rd *r, const char *what, const char *s)
{
    if (!*s)
        return fail(r, "%s is empty", what);
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return fail(r, "%s has '%c' (letters, digits, '-', '_', '.')", what, *s);
    return 0;
}

/* hopvm.cfg's rule for kernel files (vmm/config.c valid_file): a plain name
 * in \guests, never a path. rd_str has already refused control bytes. */
static int check_file(struct rd *r, const char *what, const char *s)
{
    if (!*s)
        return fail(r, "%s is empty", what);
    for (; *s; s++)
        if (*s == ' ' || *s == '/' || *s == '\\')
            return fail(r, "%s has '%c' (a file name, no path or space)", what, *s);
    return 0;
}

/* ------------------------------------------------------------------ VM_DEF */

int mig_vmdef_encode(const struct mig_vmdef *d, void *buf, size_t cap, size_t *len)
{
    struct wr w;
    if (d->ncpuid > MIG_CPUID_MAX)
        return -1;
    w_start(&w, buf, cap, MIG_VMDEF_MAX);
    w_u32(&w, "hopvm-stream", MIG_STATE_VERSION);
    w_begin(&w, "vm");
    w_str(&w, "name", d->name, sizeof(d->name));
    w_u64(&w, "memory", d->memory);
    w_u32(&w, "vcpus", d->vcpus);
    w_str(&w, "kernel", d->kernel, sizeof(d->kernel));
    w_str(&w, "cmdline", d->cmdline, sizeof(d->cmdline));
    w_end(&w);
    w_begin(&w, "cpuid");
    uint8_t *p = w_place(&w, "leaves", (size_t)d->ncpuid * CPUID_CELLS * CELL);
    for (unsigned i = 0; p && i < d->ncpuid; i++, p += CPUID_CELLS * CELL) {
        const struct mig_cpuid_leaf *l = &d->cpuid[i];
        const uint32_t c[CPUID_CELLS] = { l->leaf, l->subleaf, l->eax, l->ebx, l->ecx, l->edx };
        for (unsigned k = 0; k < CPUID_CELLS; k++)
            put_be32(p + k * CELL, c[k]);
    }
    w_end(&w);
    w_begin(&w, "source");
    w_str(&w, "host", d->source_host, sizeof(d->source_host));
    w_str(&w, "backend", d->backend, sizeof(d->backend));
    w_end(&w);
    return w_finish(&w, len);
}

static int rd_cpuid(struct rd *r, int node, struct mig_vmdef *d)
{
    const size_t leaf_bytes = CPUID_CELLS * CELL;
    size_t n;
    const uint8_t *p = rd_upto(r, node, "leaves", MIG_CPUID_MAX * leaf_bytes, &n);
    if (!p)
        return -1;
    if (n % leaf_bytes)
        return fail(r, "property 'leaves' is %zu bytes, not a multiple of %zu", n, leaf_bytes);
    d->ncpuid = (unsigned)(n / leaf_bytes);
    for (unsigned i = 0; i < d->ncpuid; i++, p += leaf_bytes) {
        struct mig_cpuid_leaf *l = &d->cpuid[i];
        l->leaf = get_be32(p);
        l->subleaf = get_be32(p + CELL);
        l->eax = get_be32(p + 2 * CELL);
        l->ebx = get_be32(p + 3 * CELL);
        l->ecx = get_be32(p + 4 * CELL);
        l->edx = get_be32(p + 5 * CELL);
        /* The target checks each leaf against its own: two answers for one
         * leaf would make that check ambiguous. */
        for (unsigned k = 0; k < i; k++)
            if (d->cpuid[k].leaf == l->leaf && d->cpuid[k].subleaf == l->subleaf)
                return fail(r, "CPUID leaf 0x%x.%u given twice", (unsigned)l->leaf, (unsigned)l->subleaf);
    }
    return 0;
}

int mig_vmdef_decode(const void *buf, size_t len, struct mig_vmdef *d, char *err, size_t errn)
{
    struct rd r = { .rec = "VM_DEF", .err = err, .errn = errn };
    uint32_t version;
    int vm, cpuid, src;
    memset(d, 0, sizeof(*d));
    if (rd_open(&r, buf, len) || rd_u32(&r, 0, "hopvm-stream", UINT32_MAX, &version))
        return -1;
    if (version != MIG_STATE_VERSION)
        return fail(&r, "hopvm-stream %u not supported (this host reads %d)", (unsigned)version, MIG_STATE_VERSION);

    if ((vm = rd_node(&r, "/vm")) < 0 || rd_str(&r, vm, "name", d->name, sizeof(d->name)) ||
        check_name(&r, "name", d->name) || rd_u64(&r, vm, "memory", &d->memory))
        return -1;
    if (d->memory % MEM_ALIGN)
        return fail(&r, "memory 0x%llx is not a multiple of 4 KiB", (unsigned long long)d->memory);
    if (d->memory < CFG_MEM_MIN || d->memory > CFG_MEM_MAX)
        return fail(&r, "memory 0x%llx is outside 0x%llx..0x%llx", (unsigned long long)d->memory,
                    (unsigned long long)CFG_MEM_MIN, (unsigned long long)CFG_MEM_MAX);
    if (rd_u32(&r, vm, "vcpus", UINT32_MAX, &d->vcpus))
        return -1;
    if (d->vcpus < 1 || d->vcpus > CFG_MAX_VCPUS)
        return fail(&r, "vcpus %u is outside 1..%d", (unsigned)d->vcpus, CFG_MAX_VCPUS);
    if (rd_str(&r, vm, "kernel", d->kernel, sizeof(d->kernel)) || check_file(&r, "kernel", d->kernel) ||
        rd_str(&r, vm, "cmdline", d->cmdline, sizeof(d->cmdline)))
        return -1;

    if ((cpuid = rd_node(&r, "/cpuid")) < 0 || rd_cpuid(&r, cpuid, d))
        return -1;

    if ((src = rd_node(&r, "/source")) < 0 ||
        rd_str(&r, src, "host", d->source_host, sizeof(d->source_host)) ||
        check_name(&r, "host", d->source_host) ||
        rd_str(&r, src, "backend", d->backend, sizeof(d->backend)) || check_name(&r, "backend", d->backend))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ VCPU */

/* Named as the SDM names them, in encoding order (enum gpr). */
static const char *const gpr_names[GPR_COUNT] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

struct field {
    const char *name;
    size_t off; /* in the decoded struct */
};
#define VS(f) offsetof(struct mig_vcpu, s.f)

static const struct field vcpu_segs[] = {
    { "es", VS(es) }, { "cs", VS(cs) }, { "ss", VS(ss) }, { "ds", VS(ds) },
    { "fs", VS(fs) }, { "gs", VS(gs) }, { "ldtr", VS(ldtr) }, { "tr", VS(tr) },
};
static const struct field vcpu_dts[] = { { "gdtr", VS(gdtr) }, { "idtr", VS(idtr) } };
static const struct field vcpu_u64s[] = {
    { "rip", VS(rip) }, { "rflags", VS(rflags) },
    { "cr0", VS(cr0) }, { "cr2", VS(cr2) }, { "cr3", VS(cr3) }, { "cr4", VS(cr4) },
    { "efer", VS(efer) }, { "dr6", VS(dr6) }, { "dr7", VS(dr7) }, { "pat", VS(pat) },
    { "star", VS(star) }, { "lstar", VS(lstar) }, { "cstar", VS(cstar) }, { "sfmask", VS(sfmask) },
    { "kernel-gs-base", VS(kernel_gs_base) }, { "sysenter-cs", VS(sysenter_cs) },
    { "sysenter-esp", VS(sysenter_esp) }, { "sysenter-eip", VS(sysenter_eip) },
    { "tsc", offsetof(struct mig_vcpu, tsc) },
};

#define AT(T, base, off) ((T *)((char *)(base) + (off)))
#define AT_C(T, base, off) ((const T *)((const char *)(base) + (off)))

int mig_vcpu_encode(const struct mig_vcpu *v, void *buf, size_t cap, size_t *len)
{
    struct wr w;
    w_start(&w, buf, cap, MIG_VCPU_MAX);
    w_begin(&w, "vcpu");
    w_u32(&w, "index", v->index);
    for (unsigned i = 0; i < GPR_COUNT; i++)
        w_u64(&w, gpr_names[i], v->s.gpr[i]);
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_u64s); i++)
        w_u64(&w, vcpu_u64s[i].name, *AT_C(uint64_t, v, vcpu_u64s[i].off));
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_segs); i++) {
        const struct seg_state *s = AT_C(struct seg_state, v, vcpu_segs[i].off);
        const uint32_t c[SEG_CELLS] = { s->sel, s->attr, s->limit, (uint32_t)(s->base >> 32), (uint32_t)s->base };
        w_cells(&w, vcpu_segs[i].name, c, SEG_CELLS);
    }
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_dts); i++) {
        const struct dt_state *t = AT_C(struct dt_state, v, vcpu_dts[i].off);
        const uint32_t c[DT_CELLS] = { (uint32_t)(t->base >> 32), (uint32_t)t->base, t->limit };
        w_cells(&w, vcpu_dts[i].name, c, DT_CELLS);
    }
    w_u32(&w, "int-shadow", v->s.int_shadow);
    w_u32(&w, "halted", v->halted);
    const struct vcpu_event *e = &v->s.event;
    const uint32_t ev[EVENT_CELLS] = { e->type, e->vector, e->has_error, e->error };
    w_cells(&w, "event", ev, EVENT_CELLS);
    w_bytes(&w, "fxsave", v->fxsave, sizeof(v->fxsave));
    w_end(&w);
    return w_finish(&w, len);
}

static int rd_segs(struct rd *r, int node, struct mig_vcpu *v)
{
    uint32_t c[SEG_CELLS];
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_segs); i++) {
        const char *name = vcpu_segs[i].name;
        if (rd_cells(r, node, name, c, SEG_CELLS))
            return -1;
        if (c[0] > SEG_SEL_MAX)
            return fail(r, "%s selector 0x%x does not fit 16 bits", name, (unsigned)c[0]);
        if (c[1] > SEG_ATTR_MAX)
            return fail(r, "%s attributes 0x%x beyond bits 0-11", name, (unsigned)c[1]);
        struct seg_state *s = AT(struct seg_state, v, vcpu_segs[i].off);
        s->sel = (uint16_t)c[0];
        s->attr = (uint16_t)c[1];
        s->limit = c[2];
        s->base = (uint64_t)c[3] << 32 | c[4];
    }
    uint32_t t[DT_CELLS];
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_dts); i++) {
        const char *name = vcpu_dts[i].name;
        if (rd_cells(r, node, name, t, DT_CELLS))
            return -1;
        if (t[2] > DT_LIMIT_MAX)
            return fail(r, "%s limit 0x%x does not fit 16 bits", name, (unsigned)t[2]);
        struct dt_state *d = AT(struct dt_state, v, vcpu_dts[i].off);
        d->base = (uint64_t)t[0] << 32 | t[1];
        d->limit = t[2];
    }
    return 0;
}

static int rd_event(struct rd *r, int node, struct vcpu_event *e)
{
    uint32_t c[EVENT_CELLS];
    if (rd_cells(r, node, "event", c, EVENT_CELLS))
        return -1;
    if (c[0] > EVENT_SOFTINT)
        return fail(r, "event type %u unknown", (unsigned)c[0]);
    if (c[1] > BYTE_MAX)
        return fail(r, "event vector 0x%x is not a vector", (unsigned)c[1]);
    if (c[2] > 1)
        return fail(r, "event has-error %u is not 0 or 1", (unsigned)c[2]);
    e->type = (uint8_t)c[0];
    e->vector = (uint8_t)c[1];
    e->has_error = (uint8_t)c[2];
    e->error = c[3];
    return 0;
}

int mig_vcpu_decode(const void *buf, size_t len, struct mig_vcpu *v, char *err, size_t errn)
{
    struct rd r = { .rec = "VCPU", .err = err, .errn = errn };
    uint32_t halted;
    int n;
    memset(v, 0, sizeof(*v));
    if (rd_open(&r, buf, len) || (n = rd_node(&r, "/vcpu")) < 0 ||
        rd_u32(&r, n, "index", CFG_MAX_VCPUS - 1, &v->index))
        return -1;
    for (unsigned i = 0; i < GPR_COUNT; i++)
        if (rd_u64(&r, n, gpr_names[i], &v->s.gpr[i]))
            return -1;
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_u64s); i++)
        if (rd_u64(&r, n, vcpu_u64s[i].name, AT(uint64_t, v, vcpu_u64s[i].off)))
            return -1;
    if (rd_segs(&r, n, v) || rd_u32(&r, n, "int-shadow", 1, &v->s.int_shadow) ||
        rd_u32(&r, n, "halted", 1, &halted) || rd_event(&r, n, &v->s.event))
        return -1;
    v->halted = halted;
    const uint8_t *fx = rd_exact(&r, n, "fxsave", MIG_FXSAVE_SIZE);
    if (!fx)
        return -1;
    memcpy(v->fxsave, fx, MIG_FXSAVE_SIZE);
    /* The target's host loads this image with FXRSTOR (vmm/fpu.c): a
     * reserved MXCSR bit would fault there, in the host, not the guest. */
    uint32_t mxcsr;
    memcpy(&mxcsr, v->fxsave + FXSAVE_MXCSR_OFF, sizeof(mxcsr)); /* FXSAVE images are little-endian */
    if (mxcsr & MXCSR_RESERVED)
        return fail(&r, "fxsave MXCSR 0x%x sets reserved bits", (unsigned)mxcsr);
    return 0;
}

/* ------------------------------------------------------------------ DEVICE */

static const struct field uart_regs[] = { /* offsets in struct mig_uart */
    { "ier", offsetof(struct mig_uart, ier) }, { "lcr", offsetof(struct mig_uart, lcr) },
    { "mcr", offsetof(struct mig_uart, mcr) }, { "scr", offsetof(struct mig_uart, scr) },
    { "dll", offsetof(struct mig_uart, dll) }, { "dlm", offsetof(struct mig_uart, dlm) },
    { "fcr", offsetof(struct mig_uart, fcr) },
};

int mig_uart_encode(const struct mig_uart *u, void *buf, size_t cap, size_t *len)
{
    struct wr w;
    if (u->rx_count > MIG_UART_RX_MAX || u->log_count > MIG_UART_LOG_MAX)
        return -1;
    w_start(&w, buf, cap, MIG_UART_MAX);
    w_begin(&w, "device");
    w_str(&w, "type", MIG_UART_TYPE, sizeof(MIG_UART_TYPE));
    w_u32(&w, "instance", 0);
    for (size_t i = 0; i < ARRAY_SIZE(uart_regs); i++)
        w_u32(&w, uart_regs[i].name, *AT_C(uint8_t, u, uart_regs[i].off));
    w_bytes(&w, "rx", u->rx, u->rx_count);
    w_u64(&w, "log-total", u->log_total);
    w_bytes(&w, "log", u->log, u->log_count);
    w_end(&w);
    return w_finish(&w, len);
}

/* The /device node and its type string, checked. */
static int rd_device(struct rd *r, const void *buf, size_t len, char type[CFG_NAME_MAX])
{
    int n;
    if (rd_open(r, buf, len) || (n = rd_node(r, "/device")) < 0 || rd_str(r, n, "type", type, CFG_NAME_MAX) ||
        check_name(r, "type", type))
        return -1;
    return n;
}

int mig_device_type(const void *buf, size_t len, char *type, size_t n)
{
    struct rd r = { .rec = "DEVICE" };
    char t[CFG_NAME_MAX];
    if (rd_device(&r, buf, len, t) < 0 || strlen(t) >= n)
        return -1;
    memcpy(type, t, strlen(t) + 1);
    return 0;
}

int mig_uart_decode(const void *buf, size_t len, struct mig_uart *u, char *err, size_t errn)
{
    struct rd r = { .rec = "DEVICE", .err = err, .errn = errn };
    char type[CFG_NAME_MAX];
    uint32_t instance;
    size_t n;
    int dev;
    memset(u, 0, sizeof(*u));
    if ((dev = rd_device(&r, buf, len, type)) < 0)
        return -1;
    if (strcmp(type, MIG_UART_TYPE))
        return fail(&r, "type '%s' is not %s", type, MIG_UART_TYPE);
    /* A guest has one UART. */
    if (rd_u32(&r, dev, "instance", 0, &instance))
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(uart_regs); i++)
        if (rd_u8(&r, dev, uart_regs[i].name, AT(uint8_t, u, uart_regs[i].off)))
            return -1;
    const uint8_t *p = rd_upto(&r, dev, "rx", MIG_UART_RX_MAX, &n);
    if (!p)
        return -1;
    memcpy(u->rx, p, n);
    u->rx_count = (uint32_t)n;
    if (rd_u64(&r, dev, "log-total", &u->log_total) || !(p = rd_upto(&r, dev, "log", MIG_UART_LOG_MAX, &n)))
        return -1;
    if (n > u->log_total)
        return fail(&r, "log holds %zu bytes but only %llu were written", n, (unsigned long long)u->log_total);
    memcpy(u->log, p, n);
    u->log_count = (uint32_t)n;
    return 0;
}

void mig_uart_log_from_ring(struct mig_uart *u, const char *ring, size_t ring_size, uint64_t log_len)
{
    uint64_t keep = MIN(log_len, (uint64_t)MIN(ring_size, (size_t)MIG_UART_LOG_MAX));
    for (uint64_t i = 0; i < keep; i++)
        u->log[i] = (uint8_t)ring[(log_len - keep + i) % ring_size];
    u->log_count = (uint32_t)keep;
    u->log_total = log_len;
}

void mig_uart_log_to_ring(const struct mig_uart *u, char *ring, size_t ring_size, uint64_t *log_len)
{
    /* The newest bytes that fit; a decoded u has log_count <= log_total,
     * but a caller's own may not. */
    uint32_t count = MIN(u->log_count, (uint32_t)MIG_UART_LOG_MAX);
    uint64_t keep = MIN((uint64_t)count, MIN((uint64_t)ring_size, u->log_total));
    const uint8_t *src = u->log + (count - keep);
    for (uint64_t i = 0; i < keep; i++)
        ring[(u->log_total - keep + i) % ring_size] = (char)src[i];
    *log_len = u->log_total;
}
