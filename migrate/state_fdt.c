/* VM_DEF, VCPU and DEVICE record bodies as flattened device trees
 * (docs/migration-protocol.md, "Device trees"), written with libfdt's
 * sequential-write API and read back with its read-only API. Each record is
 * only its fields: checked writing and reading (tree validation, sizes,
 * ranges, the one-line reasons) are migrate/fdt_io.c's. The decoders read
 * bytes from the network or a saved file. Pure; fuzzed
 * (tests/fuzz/fuzz_state.c). */
#include "fdt_io.h"
#include <hopvm/lib.h>
#include <hopvm/mig_state.h>
#include <hopvm/vm.h>

_Static_assert(MIG_UART_LOG_MAX == VM_LOG_SIZE, "the log record carries the whole ring");
_Static_assert(MIG_UART_RX_MAX == sizeof(((struct uart_dev *)0)->rx), "rx FIFO size");
_Static_assert(MIG_FXSAVE_SIZE == XSAVE_LEGACY_SIZE, "FXSAVE image size");
_Static_assert(MIG_YMMH_SIZE == XSAVE_AVX_SIZE, "AVX component size");
_Static_assert(MIG_VMDEF_MAX <= (1 << 20) && MIG_VCPU_MAX <= (1 << 20) && MIG_UART_MAX <= (1 << 20),
               "every tree fits one stream record");

#define CPUID_CELLS 6                   /* leaf subleaf eax ebx ecx edx */
#define SEG_CELLS 5                     /* sel attr limit base-hi base-lo */
#define DT_CELLS 3                      /* base-hi base-lo limit */
#define EVENT_CELLS 4                   /* type vector has-error error */
#define SEG_SEL_MAX 0xffffu
#define SEG_ATTR_MAX 0xfffu             /* attr bits 0-11 (vcpu_state.h) */
#define DT_LIMIT_MAX 0xffffu            /* GDTR/IDTR limits are 16 bits */
#define MXCSR_RESERVED 0xffff0000u      /* FXRSTOR faults if any is set (SDM Vol.1 10.5.1) */
#define MEM_ALIGN 4096u
#ifndef RFLAGS_IF
#define RFLAGS_IF (1ull << 9)
#endif

/* ------------------------------------------------------------------ VM_DEF */

static void wr_leaves(struct tree_wr *w, const char *name, const struct mig_cpuid_leaf *l, unsigned n)
{
    uint8_t *p = wr_place(w, name, (size_t)n * CPUID_CELLS * CELL);
    for (unsigned i = 0; p && i < n; i++, p += CPUID_CELLS * CELL) {
        const uint32_t c[CPUID_CELLS] = { l[i].leaf, l[i].subleaf, l[i].eax, l[i].ebx, l[i].ecx, l[i].edx };
        for (unsigned k = 0; k < CPUID_CELLS; k++)
            put_be32(p + k * CELL, c[k]);
    }
}

int mig_vmdef_encode(const struct mig_vmdef *d, void *buf, size_t cap, size_t *len)
{
    struct tree_wr w;
    if (d->ncpuid > MIG_CPUID_MAX || d->ntable > MIG_CPUID_TABLE_MAX)
        return -1;
    wr_start(&w, buf, cap, MIG_VMDEF_MAX);
    wr_u32(&w, "hopvm-stream", MIG_STATE_VERSION);
    wr_begin(&w, "vm");
    wr_str(&w, "name", d->name, sizeof(d->name));
    wr_u64(&w, "memory", d->memory);
    wr_u32(&w, "vcpus", d->vcpus);
    wr_str(&w, "kernel", d->kernel, sizeof(d->kernel));
    wr_str(&w, "cmdline", d->cmdline, sizeof(d->cmdline));
    wr_end(&w);
    wr_begin(&w, "cpuid");
    wr_leaves(&w, "leaves", d->cpuid, d->ncpuid);
    if (d->ntable)
        wr_leaves(&w, "table", d->table, d->ntable);
    wr_end(&w);
    wr_begin(&w, "source");
    wr_str(&w, "host", d->source_host, sizeof(d->source_host));
    wr_str(&w, "backend", d->backend, sizeof(d->backend));
    wr_end(&w);
    return wr_finish(&w, len);
}

static int rd_leaves(struct tree_rd *r, int node, const char *name, struct mig_cpuid_leaf *out, unsigned max,
                     unsigned *count)
{
    const size_t leaf_bytes = CPUID_CELLS * CELL;
    size_t n;
    const uint8_t *p = rd_upto(r, node, name, max * leaf_bytes, &n);
    if (!p)
        return -1;
    if (n % leaf_bytes)
        return rd_fail(r, "property '%s' is %zu bytes, not a multiple of %zu", name, n, leaf_bytes);
    *count = (unsigned)(n / leaf_bytes);
    for (unsigned i = 0; i < *count; i++, p += leaf_bytes) {
        struct mig_cpuid_leaf *l = &out[i];
        l->leaf = get_be32(p);
        l->subleaf = get_be32(p + CELL);
        l->eax = get_be32(p + 2 * CELL);
        l->ebx = get_be32(p + 3 * CELL);
        l->ecx = get_be32(p + 4 * CELL);
        l->edx = get_be32(p + 5 * CELL);
        /* The target checks each leaf against its own: two answers for one
         * leaf would make that check ambiguous. */
        for (unsigned k = 0; k < i; k++)
            if (out[k].leaf == l->leaf && out[k].subleaf == l->subleaf)
                return rd_fail(r, "CPUID leaf 0x%x.%u given twice", (unsigned)l->leaf, (unsigned)l->subleaf);
    }
    return 0;
}

static int rd_cpuid(struct tree_rd *r, int node, struct mig_vmdef *d)
{
    if (rd_leaves(r, node, "leaves", d->cpuid, MIG_CPUID_MAX, &d->ncpuid))
        return -1;
    int has = rd_has(r, node, "table");
    if (has < 0)
        return -1;
    return has ? rd_leaves(r, node, "table", d->table, MIG_CPUID_TABLE_MAX, &d->ntable) : 0;
}

int mig_vmdef_decode(const void *buf, size_t len, struct mig_vmdef *d, char *err, size_t errn)
{
    struct tree_rd r = { .rec = "VM_DEF", .err = err, .errn = errn };
    uint32_t version;
    int vm, cpuid, src;
    memset(d, 0, sizeof(*d));
    if (rd_open(&r, buf, len) || rd_u32(&r, 0, "hopvm-stream", UINT32_MAX, &version))
        return -1;
    if (version != MIG_STATE_VERSION)
        return rd_fail(&r, "hopvm-stream %u not supported (this host reads %d)", (unsigned)version, MIG_STATE_VERSION);

    if ((vm = rd_node(&r, "/vm")) < 0 || rd_str(&r, vm, "name", d->name, sizeof(d->name)) ||
        rd_check_name(&r, "name", d->name) || rd_u64(&r, vm, "memory", &d->memory))
        return -1;
    if (d->memory % MEM_ALIGN)
        return rd_fail(&r, "memory 0x%llx is not a multiple of 4 KiB", (unsigned long long)d->memory);
    if (d->memory < CFG_MEM_MIN || d->memory > CFG_MEM_MAX)
        return rd_fail(&r, "memory 0x%llx is outside 0x%llx..0x%llx", (unsigned long long)d->memory,
                    (unsigned long long)CFG_MEM_MIN, (unsigned long long)CFG_MEM_MAX);
    if (rd_u32(&r, vm, "vcpus", UINT32_MAX, &d->vcpus))
        return -1;
    if (d->vcpus < 1 || d->vcpus > CFG_MAX_VCPUS)
        return rd_fail(&r, "vcpus %u is outside 1..%d", (unsigned)d->vcpus, CFG_MAX_VCPUS);
    if (rd_str(&r, vm, "kernel", d->kernel, sizeof(d->kernel)) || rd_check_file(&r, "kernel", d->kernel) ||
        rd_str(&r, vm, "cmdline", d->cmdline, sizeof(d->cmdline)))
        return -1;

    if ((cpuid = rd_node(&r, "/cpuid")) < 0 || rd_cpuid(&r, cpuid, d))
        return -1;

    if ((src = rd_node(&r, "/source")) < 0 ||
        rd_str(&r, src, "host", d->source_host, sizeof(d->source_host)) ||
        rd_check_name(&r, "host", d->source_host) ||
        rd_str(&r, src, "backend", d->backend, sizeof(d->backend)) || rd_check_name(&r, "backend", d->backend))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ VCPU */

/* Named as the SDM names them, in encoding order (enum gpr). */
static const char *const gpr_names[GPR_COUNT] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
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

int mig_vcpu_encode(const struct mig_vcpu *v, void *buf, size_t cap, size_t *len)
{
    struct tree_wr w;
    wr_start(&w, buf, cap, MIG_VCPU_MAX);
    wr_begin(&w, "vcpu");
    wr_u32(&w, "index", v->index);
    for (unsigned i = 0; i < GPR_COUNT; i++)
        wr_u64(&w, gpr_names[i], v->s.gpr[i]);
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_u64s); i++)
        wr_u64(&w, vcpu_u64s[i].name, *AT_C(uint64_t, v, vcpu_u64s[i].off));
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_segs); i++) {
        const struct seg_state *s = AT_C(struct seg_state, v, vcpu_segs[i].off);
        const uint32_t c[SEG_CELLS] = { s->sel, s->attr, s->limit, (uint32_t)(s->base >> 32), (uint32_t)s->base };
        wr_cells(&w, vcpu_segs[i].name, c, SEG_CELLS);
    }
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_dts); i++) {
        const struct dt_state *t = AT_C(struct dt_state, v, vcpu_dts[i].off);
        const uint32_t c[DT_CELLS] = { (uint32_t)(t->base >> 32), (uint32_t)t->base, t->limit };
        wr_cells(&w, vcpu_dts[i].name, c, DT_CELLS);
    }
    /* int-shadow is 0/1 as stream readers have always read it; the kind
     * and the NMI mask came later, as properties an older reader skips. */
    wr_u32(&w, "int-shadow", v->s.int_shadow != SHADOW_NONE);
    wr_u32(&w, "mov-ss-shadow", v->s.int_shadow == SHADOW_MOV_SS);
    wr_u32(&w, "nmi-blocked", v->s.nmi_blocked);
    wr_u32(&w, "halted", v->halted);
    const struct vcpu_event *e = &v->s.event;
    const uint32_t ev[EVENT_CELLS] = { e->type, e->vector, e->has_error, e->error };
    wr_cells(&w, "event", ev, EVENT_CELLS);
    wr_bytes(&w, "fxsave", v->fxsave, sizeof(v->fxsave));
    /* Later additions, which an older reader skips: XCR0, TSC_AUX, and the
     * AVX state unless it is all zero (its initial configuration). It goes
     * whether or not XCR0 has AVX on now: a guest that turned AVX off and
     * on again finds its YMM state, as on hardware. */
    wr_u64(&w, "xcr0", v->xcr0);
    wr_u32(&w, "tsc-aux", v->tsc_aux);
    bool ymm = false;
    for (size_t i = 0; i < sizeof(v->ymmh); i++)
        ymm |= v->ymmh[i] != 0;
    if (ymm)
        wr_bytes(&w, "ymm-hi128", v->ymmh, sizeof(v->ymmh));
    wr_end(&w);
    return wr_finish(&w, len);
}

static int rd_segs(struct tree_rd *r, int node, struct mig_vcpu *v)
{
    uint32_t c[SEG_CELLS];
    for (size_t i = 0; i < ARRAY_SIZE(vcpu_segs); i++) {
        const char *name = vcpu_segs[i].name;
        if (rd_cells(r, node, name, c, SEG_CELLS))
            return -1;
        if (c[0] > SEG_SEL_MAX)
            return rd_fail(r, "%s selector 0x%x does not fit 16 bits", name, (unsigned)c[0]);
        if (c[1] > SEG_ATTR_MAX)
            return rd_fail(r, "%s attributes 0x%x beyond bits 0-11", name, (unsigned)c[1]);
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
            return rd_fail(r, "%s limit 0x%x does not fit 16 bits", name, (unsigned)t[2]);
        struct dt_state *d = AT(struct dt_state, v, vcpu_dts[i].off);
        d->base = (uint64_t)t[0] << 32 | t[1];
        d->limit = t[2];
    }
    return 0;
}

/* The interrupt shadow: int-shadow (any), then optional mov-ss-shadow (its
 * kind). A writer without mov-ss-shadow left the kind out: with RFLAGS.IF
 * clear it was MOV SS's, since STI sets IF; otherwise STI's is taken. */
static int rd_shadow(struct tree_rd *r, int node, struct vcpu_state *s)
{
    uint32_t any, mov_ss, unknown = UINT32_MAX;
    if (rd_u32(r, node, "int-shadow", 1, &any) || rd_u32_opt(r, node, "mov-ss-shadow", 1, unknown, &mov_ss) ||
        rd_u32_opt(r, node, "nmi-blocked", 1, 0, &s->nmi_blocked))
        return -1;
    if (mov_ss == 1 && !any)
        return rd_fail(r, "mov-ss-shadow 1 without int-shadow");
    if (mov_ss == unknown)
        mov_ss = !(s->rflags & RFLAGS_IF);
    s->int_shadow = !any ? SHADOW_NONE : mov_ss ? SHADOW_MOV_SS : SHADOW_STI;
    return 0;
}

static int rd_event(struct tree_rd *r, int node, struct vcpu_event *e)
{
    uint32_t c[EVENT_CELLS];
    if (rd_cells(r, node, "event", c, EVENT_CELLS))
        return -1;
    if (c[0] > EVENT_SOFTINT)
        return rd_fail(r, "event type %u unknown", (unsigned)c[0]);
    if (c[1] > BYTE_MAX)
        return rd_fail(r, "event vector 0x%x is not a vector", (unsigned)c[1]);
    if (c[2] > 1)
        return rd_fail(r, "event has-error %u is not 0 or 1", (unsigned)c[2]);
    e->type = (uint8_t)c[0];
    e->vector = (uint8_t)c[1];
    e->has_error = (uint8_t)c[2];
    e->error = c[3];
    return 0;
}

/* XCR0 and the AVX state, both optional (an older writer had neither: its
 * guests could not enable XSAVE). XCR0's rules against the target's CPU
 * are vcpu_check_xcr0's, at load; a target without AVX drops the YMM upper
 * halves (its guests cannot have AVX in CPUID, which the VM_DEF check
 * enforces). */
static int rd_xstate(struct tree_rd *r, int node, struct mig_vcpu *v)
{
    int has = rd_has(r, node, "xcr0");
    if (has < 0 || (has && rd_u64(r, node, "xcr0", &v->xcr0)))
        return -1;
    if (!has)
        v->xcr0 = XCR0_RESET;
    if ((has = rd_has(r, node, "ymm-hi128")) < 0)
        return -1;
    if (!has)
        return 0;
    const uint8_t *y = rd_exact(r, node, "ymm-hi128", MIG_YMMH_SIZE);
    if (!y)
        return -1;
    memcpy(v->ymmh, y, MIG_YMMH_SIZE);
    return 0;
}

int mig_vcpu_decode(const void *buf, size_t len, struct mig_vcpu *v, char *err, size_t errn)
{
    struct tree_rd r = { .rec = "VCPU", .err = err, .errn = errn };
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
    if (rd_segs(&r, n, v) || rd_shadow(&r, n, &v->s) || rd_u32(&r, n, "halted", 1, &halted) ||
        rd_event(&r, n, &v->s.event))
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
        return rd_fail(&r, "fxsave MXCSR 0x%x sets reserved bits", (unsigned)mxcsr);
    if (rd_u32_opt(&r, n, "tsc-aux", UINT32_MAX, 0, &v->tsc_aux))
        return -1;
    return rd_xstate(&r, n, v);
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
    struct tree_wr w;
    if (u->rx_count > MIG_UART_RX_MAX || u->log_count > MIG_UART_LOG_MAX)
        return -1;
    wr_start(&w, buf, cap, MIG_UART_MAX);
    wr_begin(&w, "device");
    wr_str(&w, "type", MIG_UART_TYPE, sizeof(MIG_UART_TYPE));
    wr_u32(&w, "instance", 0);
    for (size_t i = 0; i < ARRAY_SIZE(uart_regs); i++)
        wr_u32(&w, uart_regs[i].name, *AT_C(uint8_t, u, uart_regs[i].off));
    wr_bytes(&w, "rx", u->rx, u->rx_count);
    wr_u32(&w, "thre", u->thre);
    wr_u64(&w, "log-total", u->log_total);
    wr_bytes(&w, "log", u->log, u->log_count);
    wr_end(&w);
    return wr_finish(&w, len);
}

int mig_device_type(const void *buf, size_t len, char *type, size_t n)
{
    struct tree_rd r = { .rec = "DEVICE" };
    char t[CFG_NAME_MAX];
    if (rd_device(&r, buf, len, t) < 0 || strlen(t) >= n)
        return -1;
    memcpy(type, t, strlen(t) + 1);
    return 0;
}

int mig_uart_decode(const void *buf, size_t len, struct mig_uart *u, char *err, size_t errn)
{
    struct tree_rd r = { .rec = "DEVICE", .err = err, .errn = errn };
    char type[CFG_NAME_MAX];
    uint32_t instance;
    size_t n;
    int dev;
    memset(u, 0, sizeof(*u));
    if ((dev = rd_device(&r, buf, len, type)) < 0)
        return -1;
    if (strcmp(type, MIG_UART_TYPE))
        return rd_fail(&r, "type '%s' is not %s", type, MIG_UART_TYPE);
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
    if (rd_u32_opt(&r, dev, "thre", 1, 0, &u->thre))
        return -1;
    if (rd_u64(&r, dev, "log-total", &u->log_total) || !(p = rd_upto(&r, dev, "log", MIG_UART_LOG_MAX, &n)))
        return -1;
    if (n > u->log_total)
        return rd_fail(&r, "log holds %zu bytes but only %llu were written", n, (unsigned long long)u->log_total);
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
