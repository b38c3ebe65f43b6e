/* migrate/state_fdt.c: VM_DEF, VCPU and DEVICE trees. Round trips with
 * every field distinct, then one broken variant per check the decoders
 * make, each edited with libfdt's read-write API so that only the thing
 * under test is wrong.
 *
 * `test_state --write-corpus DIR` writes the fuzzer's seed trees
 * (tests/fuzz/corpus/fuzz_state) instead of testing. */
#include "check.h"
#include <hopvm/mig_state.h>
#include <libfdt.h>
#include <stdlib.h>

#define SCRATCH (MIG_UART_MAX * 2)

/* libfdt and the encoders want 8-byte aligned buffers. */
static uint64_t tree_buf[MIG_UART_MAX / 8 + 1], scratch[SCRATCH / 8];
static uint8_t *const tree = (uint8_t *)tree_buf;
static size_t tree_len;

static struct mig_vmdef vmdef, vmdef_out;
static struct mig_vcpu vcpu, vcpu_out;
static struct mig_uart uart, uart_out;
static char why[200];

enum kind { VMDEF, VCPU, UART };

static void fill_vmdef(struct mig_vmdef *d)
{
    memset(d, 0, sizeof(*d));
    strcpy(d->name, "counter-2.b_x");
    d->memory = 0x3456000;
    d->vcpus = 3;
    strcpy(d->kernel, "counter.elf");
    strcpy(d->cmdline, "iterations=5 console=ttyS0 \"quoted\" ~!@#");
    d->ncpuid = 5;
    for (unsigned i = 0; i < d->ncpuid; i++)
        d->cpuid[i] = (struct mig_cpuid_leaf){ 0x80000000u + i, i == 2 ? 1 : 0, 0x1000 + i, 0x2000 + i,
                                               0x3000 + i, 0x4000 + i };
    strcpy(d->source_host, "hopvm-lab");
    strcpy(d->backend, "svm");
}

static void fill_vcpu(struct mig_vcpu *v)
{
    memset(v, 0, sizeof(*v));
    uint64_t x = 0x0123456789abcdefull;
    v->index = 5;
    for (unsigned i = 0; i < GPR_COUNT; i++)
        v->s.gpr[i] = x + i * 0x1111111111ull;
    v->s.rip = 0xffffffff81000123ull;
    v->s.rflags = 0x246;
    struct seg_state *segs[] = { &v->s.es, &v->s.cs, &v->s.ss, &v->s.ds,
                                 &v->s.fs, &v->s.gs, &v->s.ldtr, &v->s.tr };
    for (unsigned i = 0; i < 8; i++)
        *segs[i] = (struct seg_state){ .sel = (uint16_t)(0x8 * i + 0xf000), .attr = (uint16_t)(0xa90 + i),
                                       .limit = 0xfff00000u + i, .base = 0xfedc000000000000ull + i * 0x10001 };
    v->s.gdtr = (struct dt_state){ 0xffff888000001000ull, 0x7f };
    v->s.idtr = (struct dt_state){ 0xffff888000002000ull, 0xfff };
    uint64_t *ctl[] = { &v->s.cr0, &v->s.cr2, &v->s.cr3, &v->s.cr4, &v->s.efer, &v->s.dr6, &v->s.dr7,
                        &v->s.pat, &v->s.star, &v->s.lstar, &v->s.cstar, &v->s.sfmask, &v->s.kernel_gs_base,
                        &v->s.sysenter_cs, &v->s.sysenter_esp, &v->s.sysenter_eip };
    for (unsigned i = 0; i < 16; i++)
        *ctl[i] = 0xc0de000000000000ull + ((uint64_t)i << 32) + i;
    v->s.tsc_offset = 0; /* not streamed */
    v->s.int_shadow = 1;
    v->s.event = (struct vcpu_event){ .type = EVENT_EXCEPTION, .vector = EXC_GP, .has_error = 1, .error = 0x18 };
    v->tsc = 0x00001234deadbeefull;
    v->halted = true;
    for (unsigned i = 0; i < MIG_FXSAVE_SIZE; i++)
        v->fxsave[i] = (uint8_t)(i * 7 + 3);
    uint32_t mxcsr = 0x1f80;
    memcpy(v->fxsave + 24, &mxcsr, 4);
    v->xcr0 = 7; /* x87|SSE|AVX: the worst case carries ymm-hi128 too */
    v->tsc_aux = 0xfedcba98;
    for (unsigned i = 0; i < MIG_YMMH_SIZE; i++)
        v->ymmh[i] = (uint8_t)(i * 11 + 5);
}

static void fill_uart(struct mig_uart *u)
{
    memset(u, 0, sizeof(*u));
    u->ier = 0x05; u->lcr = 0x03; u->mcr = 0x0b; u->scr = 0x5a; u->dll = 0x01; u->dlm = 0x02; u->fcr = 0xc7;
    u->rx_count = 17;
    for (unsigned i = 0; i < u->rx_count; i++)
        u->rx[i] = (uint8_t)('a' + i);
    u->log_total = 123456;
    u->log_count = 1000;
    for (unsigned i = 0; i < u->log_count; i++)
        u->log[i] = (uint8_t)(i * 13);
}

static int encode(enum kind k, size_t cap)
{
    switch (k) {
    case VMDEF: return mig_vmdef_encode(&vmdef, tree, cap, &tree_len);
    case VCPU: return mig_vcpu_encode(&vcpu, tree, cap, &tree_len);
    case UART: return mig_uart_encode(&uart, tree, cap, &tree_len);
    }
    return -1;
}

static int decode_at(enum kind k, const void *t, size_t len)
{
    strcpy(why, "(no reason)");
    switch (k) {
    case VMDEF: return mig_vmdef_decode(t, len, &vmdef_out, why, sizeof(why));
    case VCPU: return mig_vcpu_decode(t, len, &vcpu_out, why, sizeof(why));
    case UART: return mig_uart_decode(t, len, &uart_out, why, sizeof(why));
    }
    return -1;
}

/* Decodes a heap copy of exactly len bytes, so ASan sees any overread. */
static int decode(enum kind k, const void *t, size_t len)
{
    void *copy = malloc(len ? len : 1);
    memcpy(copy, t, len);
    int rc = decode_at(k, copy, len);
    free(copy);
    return rc;
}

static void expect_fail_at(int line, enum kind k, const void *t, size_t len, const char *reason)
{
    int rc = decode(k, t, len);
    if (rc == -1 && strstr(why, reason) && !strchr(why, '\n')) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: decode gave %d \"%s\", expected -1 \"...%s...\"\n", __FILE__, line, rc, why, reason);
}
#define EXPECT_FAIL(k, t, len, reason) expect_fail_at(__LINE__, k, t, len, reason)

/* The valid encoding of kind k, with one property replaced (val != NULL)
 * or deleted, or one node deleted (prop == NULL), in out/out_len. */
static uint64_t edited_buf[SCRATCH / 8];
static uint8_t *const edited = (uint8_t *)edited_buf;
static size_t edited_len;

static void edit(enum kind k, const char *path, const char *prop, const void *val, int n)
{
    CHECK(encode(k, sizeof(tree_buf)) == 0);
    CHECK(fdt_open_into(tree, scratch, SCRATCH) == 0);
    int node = fdt_path_offset(scratch, path);
    CHECK(node >= 0);
    if (!prop)
        CHECK(fdt_del_node(scratch, node) == 0);
    else if (val)
        CHECK(fdt_setprop(scratch, node, prop, val, n) == 0);
    else
        CHECK(fdt_delprop(scratch, node, prop) == 0);
    CHECK(fdt_pack(scratch) == 0);
    edited_len = fdt_totalsize(scratch);
    CHECK(edited_len <= sizeof(edited_buf));
    memcpy(edited, scratch, edited_len);
}

static void edit_u32(enum kind k, const char *path, const char *prop, uint32_t v)
{
    fdt32_t be = cpu_to_fdt32(v);
    edit(k, path, prop, &be, sizeof(be));
}
static void edit_u64(enum kind k, const char *path, const char *prop, uint64_t v)
{
    fdt64_t be = cpu_to_fdt64(v);
    edit(k, path, prop, &be, sizeof(be));
}
static void edit_cells(enum kind k, const char *path, const char *prop, const uint32_t *c, unsigned n)
{
    fdt32_t be[8];
    for (unsigned i = 0; i < n; i++)
        be[i] = cpu_to_fdt32(c[i]);
    edit(k, path, prop, be, (int)(n * 4));
}
static void edit_str(enum kind k, const char *path, const char *prop, const char *s)
{
    edit(k, path, prop, s, (int)strlen(s) + 1);
}

/* Every cap below the encoding's size fails, in a heap buffer of exactly
 * that size (ASan catches a write past it); the exact size works. */
static void check_caps(enum kind k)
{
    CHECK(encode(k, sizeof(tree_buf)) == 0);
    size_t need = tree_len;
    unsigned refused = 0;
    for (size_t cap = 0; cap <= need; cap++) {
        void *b = malloc(cap ? cap : 1);
        size_t len = 12345;
        int rc = k == VMDEF ? mig_vmdef_encode(&vmdef, b, cap, &len)
               : k == VCPU  ? mig_vcpu_encode(&vcpu, b, cap, &len)
                            : mig_uart_encode(&uart, b, cap, &len);
        if (cap < need)
            refused += rc == -1 && len == 12345;
        else
            CHECK(rc == 0 && len == need);
        free(b);
    }
    CHECK_U64(refused, need);
}

/* Truncations and header damage, the same for every kind. */
static void check_framing(enum kind k)
{
    CHECK(encode(k, sizeof(tree_buf)) == 0);
    size_t n = tree_len;
    CHECK(decode(k, tree, n) == 0);
    EXPECT_FAIL(k, tree, n - 1, "bad device tree: FDT_ERR_TRUNCATED");
    EXPECT_FAIL(k, tree, n / 2, "bad device tree: FDT_ERR_TRUNCATED");
    EXPECT_FAIL(k, tree, 39, "bad device tree: FDT_ERR_TRUNCATED");
    EXPECT_FAIL(k, tree, 0, "bad device tree: FDT_ERR_TRUNCATED");
    tree[n] = 0;
    EXPECT_FAIL(k, tree, n + 1, "totalsize");

    struct fdt_header *h = (struct fdt_header *)tree;
    fdt32_t saved;
#define DAMAGE(field, value, reason)                 \
    do {                                             \
        saved = h->field;                            \
        h->field = cpu_to_fdt32(value);              \
        EXPECT_FAIL(k, tree, n, reason);             \
        h->field = saved;                            \
    } while (0)
    DAMAGE(magic, 0xd00dfeee, "FDT_ERR_BADMAGIC");
    DAMAGE(magic, ~0xd00dfeedu, "FDT_ERR_BADMAGIC"); /* an unfinished sequential-write tree */
    DAMAGE(version, 16, "version 16");
    DAMAGE(last_comp_version, 18, "FDT_ERR_BADVERSION");
    DAMAGE(totalsize, (uint32_t)n + 4, "FDT_ERR_TRUNCATED");
    DAMAGE(totalsize, 0x80000000u, "FDT_ERR_TRUNCATED");
    DAMAGE(off_dt_struct, fdt_off_dt_struct(tree) + 2, "FDT_ERR_BADLAYOUT");
    DAMAGE(off_dt_struct, (uint32_t)n, "FDT_ERR_TRUNCATED");
    DAMAGE(off_mem_rsvmap, fdt_off_mem_rsvmap(tree) + 4, "FDT_ERR_BADLAYOUT");
    DAMAGE(size_dt_struct, (uint32_t)n, "FDT_ERR_TRUNCATED");
    DAMAGE(size_dt_struct, 8, "FDT_ERR_TRUNCATED");
    DAMAGE(off_dt_strings, (uint32_t)n - 3, "FDT_ERR_TRUNCATED");
    DAMAGE(size_dt_strings, 3, "bad device tree");
#undef DAMAGE
    CHECK(decode(k, tree, n) == 0);

    /* A property length near 2^31 makes this libfdt's fdt_next_tag
     * overflow an int (undefined behaviour) unless refused first. */
    int prop = fdt_first_property_offset(tree, fdt_first_subnode(tree, 0));
    CHECK(prop >= 0);
    uint8_t *lenp = tree + fdt_off_dt_struct(tree) + prop + 4;
    uint8_t save[4];
    memcpy(save, lenp, 4);
    memcpy(lenp, "\x7f\xff\xff\xf3", 4);
    EXPECT_FAIL(k, tree, n, "FDT_ERR_TRUNCATED");
    memcpy(lenp, "\xff\xff\xff\xf0", 4);
    EXPECT_FAIL(k, tree, n, "FDT_ERR_TRUNCATED");
    memcpy(lenp, save, 4);

    /* Misaligned: refused, never read or written. */
    memmove(tree + 4, tree, n);
    CHECK(decode_at(k, tree + 4, n) == -1 && strstr(why, "bad device tree: buffer not 8-byte aligned"));
    memmove(tree, tree + 4, n);
    size_t len = 12345;
    CHECK(mig_vcpu_encode(&vcpu, tree + 4, sizeof(tree_buf) - 4, &len) == -1 && len == 12345);

    /* No record body is over 1 MiB: refused before libfdt looks. */
    void *huge = calloc(1, (1 << 20) + 8);
    CHECK(decode_at(k, huge, (1 << 20) + 1) == -1 && strstr(why, "more than 1048576"));
    free(huge);

    /* A reason that does not fit is cut short, not overrun. */
    char tiny[8];
    CHECK(mig_vcpu_decode(tree, 1, &vcpu_out, tiny, sizeof(tiny)) == -1 && strlen(tiny) == 7);
    CHECK(mig_vcpu_decode(tree, 1, &vcpu_out, NULL, 0) == -1);
}

static void test_vmdef(void)
{
    fill_vmdef(&vmdef);
    CHECK(encode(VMDEF, sizeof(tree_buf)) == 0);
    printf("VM_DEF typical: %zu bytes\n", tree_len);
    CHECK(decode(VMDEF, tree, tree_len) == 0);
    CHECK(!memcmp(&vmdef, &vmdef_out, sizeof(vmdef)));
    CHECK_STR(vmdef_out.cmdline, vmdef.cmdline);
    CHECK_U64(vmdef_out.cpuid[4].edx, 0x4004);
    CHECK_U64(vmdef_out.cpuid[2].subleaf, 1);
    check_caps(VMDEF);
    check_framing(VMDEF);

    /* Unknown properties and nodes: ignored. */
    edit_u32(VMDEF, "/vm", "balloon", 7);
    CHECK(decode(VMDEF, edited, edited_len) == 0 && !memcmp(&vmdef, &vmdef_out, sizeof(vmdef)));
    edit_str(VMDEF, "/", "future", "x");
    CHECK(decode(VMDEF, edited, edited_len) == 0);

    edit_u32(VMDEF, "/", "hopvm-stream", 2);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: hopvm-stream 2 not supported (this host reads 1)");
    edit(VMDEF, "/", "hopvm-stream", NULL, 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'hopvm-stream' missing");
    edit(VMDEF, "/cpuid", NULL, NULL, 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: node /cpuid missing");
    edit(VMDEF, "/vm", "kernel", NULL, 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'kernel' missing");
    edit(VMDEF, "/source", "backend", NULL, 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'backend' missing");

    edit_u32(VMDEF, "/vm", "memory", 0x100000);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'memory' is 4 bytes, expected 8");
    edit_u64(VMDEF, "/vm", "vcpus", 1);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'vcpus' is 8 bytes, expected 4");
    edit_u64(VMDEF, "/vm", "memory", 0x123);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: memory 0x123 is not a multiple of 4 KiB");
    edit_u64(VMDEF, "/vm", "memory", 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: memory 0x0 is outside 0x100000..0x1000000000");
    edit_u64(VMDEF, "/vm", "memory", CFG_MEM_MAX + 4096);
    EXPECT_FAIL(VMDEF, edited, edited_len, "is outside");
    edit_u64(VMDEF, "/vm", "memory", CFG_MEM_MAX);
    CHECK(decode(VMDEF, edited, edited_len) == 0 && vmdef_out.memory == CFG_MEM_MAX);
    edit_u32(VMDEF, "/vm", "vcpus", 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: vcpus 0 is outside 1..8");
    edit_u32(VMDEF, "/vm", "vcpus", CFG_MAX_VCPUS + 1);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: vcpus 9 is outside 1..8");

    edit_str(VMDEF, "/vm", "name", "bad name");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: name has ' ' (letters, digits, '-', '_', '.')");
    edit_str(VMDEF, "/vm", "name", "a/b");
    EXPECT_FAIL(VMDEF, edited, edited_len, "name has '/'");
    edit_str(VMDEF, "/vm", "name", "");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: name is empty");
    edit_str(VMDEF, "/vm", "name", "a23456789012345678901234567890123");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: name is 33 characters, at most 31");
    edit_str(VMDEF, "/vm", "name", "a234567890123456789012345678901");
    CHECK(decode(VMDEF, edited, edited_len) == 0);
    edit(VMDEF, "/vm", "name", "abc", 3);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'name' is not one NUL-terminated string");
    edit(VMDEF, "/vm", "name", "ab\0c", 5);
    EXPECT_FAIL(VMDEF, edited, edited_len, "not one NUL-terminated string");
    edit(VMDEF, "/vm", "name", "", 0);
    EXPECT_FAIL(VMDEF, edited, edited_len, "not one NUL-terminated string");
    edit_str(VMDEF, "/vm", "kernel", "dir/k.elf");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: kernel has '/'");
    edit_str(VMDEF, "/vm", "kernel", "..\\k.elf");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: kernel has '\\'");
    edit_str(VMDEF, "/vm", "kernel", "k\x01.elf");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: kernel has a non-printable character 0x01");
    edit_str(VMDEF, "/vm", "cmdline", "a\tb");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: cmdline has a non-printable character 0x09");
    edit_str(VMDEF, "/vm", "cmdline", "\xc3\xa9");
    EXPECT_FAIL(VMDEF, edited, edited_len, "non-printable character 0xc3");
    edit_str(VMDEF, "/vm", "cmdline", "");
    CHECK(decode(VMDEF, edited, edited_len) == 0 && vmdef_out.cmdline[0] == 0);
    edit_str(VMDEF, "/source", "host", "host!");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: host has '!'");
    edit_str(VMDEF, "/source", "backend", "svm-long");
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: backend is 8 characters, at most 7");

    uint8_t leaves[(MIG_CPUID_MAX + 1) * 24];
    memset(leaves, 0, sizeof(leaves));
    for (unsigned i = 0; i <= MIG_CPUID_MAX; i++)
        leaves[i * 24 + 3] = (uint8_t)i; /* distinct leaf numbers */
    edit(VMDEF, "/cpuid", "leaves", leaves, 25);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'leaves' is 25 bytes, not a multiple of 24");
    edit(VMDEF, "/cpuid", "leaves", leaves, sizeof(leaves));
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'leaves' is 792 bytes, at most 768");
    edit(VMDEF, "/cpuid", "leaves", leaves, MIG_CPUID_MAX * 24);
    CHECK(decode(VMDEF, edited, edited_len) == 0 && vmdef_out.ncpuid == MIG_CPUID_MAX);
    edit(VMDEF, "/cpuid", "leaves", leaves, 0);
    CHECK(decode(VMDEF, edited, edited_len) == 0 && vmdef_out.ncpuid == 0);
    leaves[2 * 24 + 3] = 0;
    edit(VMDEF, "/cpuid", "leaves", leaves, 3 * 24);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: CPUID leaf 0x0.0 given twice");
    /* The whole table (optional): absent is a source that predates it;
     * the same rules as 'leaves', with its own bound. */
    CHECK(decode(VMDEF, tree, tree_len) == 0 && vmdef_out.ntable == 0);
    edit(VMDEF, "/cpuid", "table", leaves, 2 * 24);
    CHECK(decode(VMDEF, edited, edited_len) == 0 && vmdef_out.ntable == 2 && vmdef_out.table[1].leaf == 1);
    edit(VMDEF, "/cpuid", "table", leaves, 3 * 24);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: CPUID leaf 0x0.0 given twice");
    edit(VMDEF, "/cpuid", "table", leaves, 23);
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'table' is 23 bytes, not a multiple of 24");
    static uint8_t big_table[(MIG_CPUID_TABLE_MAX + 1) * 24];
    edit(VMDEF, "/cpuid", "table", big_table, sizeof(big_table));
    EXPECT_FAIL(VMDEF, edited, edited_len, "VM_DEF: property 'table' is 3096 bytes, at most 3072");

    /* The worst case fits MIG_VMDEF_MAX. */
    memset(vmdef.name, 'n', CFG_NAME_MAX - 1);
    memset(vmdef.kernel, 'k', CFG_FILE_MAX - 1);
    memset(vmdef.cmdline, 'c', CFG_CMDLINE_MAX - 1);
    memset(vmdef.source_host, 'h', CFG_NAME_MAX - 1);
    memset(vmdef.backend, 'b', MIG_BACKEND_MAX - 1);
    vmdef.ncpuid = MIG_CPUID_MAX;
    for (unsigned i = 0; i < MIG_CPUID_MAX; i++)
        vmdef.cpuid[i].leaf = i;
    vmdef.ntable = MIG_CPUID_TABLE_MAX;
    for (unsigned i = 0; i < MIG_CPUID_TABLE_MAX; i++)
        vmdef.table[i] = (struct mig_cpuid_leaf){0x80000000u + i, i & 3, ~0u, ~0u, ~0u, ~0u};
    CHECK(encode(VMDEF, sizeof(tree_buf)) == 0 && tree_len <= MIG_VMDEF_MAX);
    printf("VM_DEF worst case: %zu bytes (MIG_VMDEF_MAX %d)\n", tree_len, MIG_VMDEF_MAX);
    CHECK(decode(VMDEF, tree, tree_len) == 0 && !memcmp(&vmdef, &vmdef_out, sizeof(vmdef)));
    /* Encoders refuse what they cannot encode at all. */
    vmdef.name[CFG_NAME_MAX - 1] = 'n';
    CHECK(encode(VMDEF, sizeof(tree_buf)) == -1);
    fill_vmdef(&vmdef);
    vmdef.ncpuid = MIG_CPUID_MAX + 1;
    CHECK(encode(VMDEF, sizeof(tree_buf)) == -1);
    fill_vmdef(&vmdef);
    vmdef.ntable = MIG_CPUID_TABLE_MAX + 1;
    CHECK(encode(VMDEF, sizeof(tree_buf)) == -1);
    fill_vmdef(&vmdef);
}

/* The interrupt shadow's kind and the NMI mask: optional properties that
 * round-trip, with defaults for a stream written before them. */
static void check_shadow(void)
{
    vcpu.s.int_shadow = SHADOW_MOV_SS;
    vcpu.s.nmi_blocked = 1;
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0 && decode(VCPU, tree, tree_len) == 0);
    CHECK(!memcmp(&vcpu, &vcpu_out, sizeof(vcpu)));
    vcpu.s.int_shadow = SHADOW_NONE;
    vcpu.s.nmi_blocked = 0;
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0 && decode(VCPU, tree, tree_len) == 0);
    CHECK(!memcmp(&vcpu, &vcpu_out, sizeof(vcpu)));
    fill_vcpu(&vcpu); /* an STI shadow, RFLAGS.IF set */

    /* Written before the properties: no NMI mask; the shadow is STI's with
     * IF set and MOV SS's with IF clear (STI sets IF). */
    edit(VCPU, "/vcpu", "mov-ss-shadow", NULL, 0);
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.s.int_shadow == SHADOW_STI);
    edit(VCPU, "/vcpu", "nmi-blocked", NULL, 0);
    vcpu.s.nmi_blocked = 1;
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.s.nmi_blocked == 0);
    vcpu.s.rflags &= ~0x200ull;
    edit(VCPU, "/vcpu", "mov-ss-shadow", NULL, 0);
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.s.int_shadow == SHADOW_MOV_SS);
    vcpu.s.int_shadow = SHADOW_NONE;
    edit(VCPU, "/vcpu", "mov-ss-shadow", NULL, 0);
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.s.int_shadow == SHADOW_NONE);
    fill_vcpu(&vcpu);

    edit_u32(VCPU, "/vcpu", "mov-ss-shadow", 2);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: mov-ss-shadow 0x2 is out of range (at most 0x1)");
    edit_u32(VCPU, "/vcpu", "nmi-blocked", 2);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: nmi-blocked 0x2 is out of range (at most 0x1)");
    edit_u64(VCPU, "/vcpu", "nmi-blocked", 1);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'nmi-blocked' is 8 bytes, expected 4");
    vcpu.s.int_shadow = SHADOW_NONE;
    edit_u32(VCPU, "/vcpu", "mov-ss-shadow", 1);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: mov-ss-shadow 1 without int-shadow");
    fill_vcpu(&vcpu);
}

static void test_vcpu(void)
{
    fill_vcpu(&vcpu);
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0);
    printf("VCPU: %zu bytes (MIG_VCPU_MAX %d)\n", tree_len, MIG_VCPU_MAX);
    CHECK(tree_len <= MIG_VCPU_MAX);
    CHECK(decode(VCPU, tree, tree_len) == 0);
    CHECK(!memcmp(&vcpu, &vcpu_out, sizeof(vcpu)));
    CHECK_U64(vcpu_out.s.gpr[GPR_R15], vcpu.s.gpr[GPR_R15]);
    CHECK_U64(vcpu_out.s.tr.base, vcpu.s.tr.base);
    CHECK_U64(vcpu_out.s.sysenter_eip, vcpu.s.sysenter_eip);
    /* tsc_offset is host-specific: not streamed, decoded as 0. */
    vcpu.s.tsc_offset = 0x5555;
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0 && decode(VCPU, tree, tree_len) == 0 && vcpu_out.s.tsc_offset == 0);
    vcpu.s.tsc_offset = 0;
    check_caps(VCPU);
    check_framing(VCPU);

    edit_u32(VCPU, "/vcpu", "rip", 0x1000);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'rip' is 4 bytes, expected 8");
    edit(VCPU, "/vcpu", "fxsave", vcpu.fxsave, 511);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'fxsave' is 511 bytes, expected 512");
    edit(VCPU, "/vcpu", "r15", NULL, 0);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'r15' missing");
    edit(VCPU, "/vcpu", "kernel-gs-base", NULL, 0);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'kernel-gs-base' missing");
    edit(VCPU, "/vcpu", "tsc", NULL, 0);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'tsc' missing");
    edit(VCPU, "/vcpu", NULL, NULL, 0);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: node /vcpu missing");
    edit_u32(VCPU, "/vcpu", "index", CFG_MAX_VCPUS);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: index 0x8 is out of range (at most 0x7)");
    edit_u32(VCPU, "/vcpu", "int-shadow", 2);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: int-shadow 0x2 is out of range");
    check_shadow();
    edit_u32(VCPU, "/vcpu", "halted", 0);
    CHECK(decode(VCPU, edited, edited_len) == 0 && !vcpu_out.halted);
    edit_u32(VCPU, "/vcpu", "halted", 3);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: halted 0x3 is out of range");

    const uint32_t seg_sel[5] = { 0x10000, 0, 0, 0, 0 }, seg_attr[5] = { 8, 0x1000, 0, 0, 0 };
    const uint32_t seg_ok[5] = { 0xffff, 0xfff, 0xffffffff, 0x12345678, 0x9abcdef0 };
    edit_cells(VCPU, "/vcpu", "cs", seg_sel, 5);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: cs selector 0x10000 does not fit 16 bits");
    edit_cells(VCPU, "/vcpu", "tr", seg_attr, 5);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: tr attributes 0x1000 beyond bits 0-11");
    edit_cells(VCPU, "/vcpu", "ldtr", seg_ok, 4);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'ldtr' is 16 bytes, expected 20");
    edit_cells(VCPU, "/vcpu", "gs", seg_ok, 5);
    CHECK(decode(VCPU, edited, edited_len) == 0);
    CHECK(vcpu_out.s.gs.sel == 0xffff && vcpu_out.s.gs.attr == 0xfff && vcpu_out.s.gs.limit == 0xffffffff &&
          vcpu_out.s.gs.base == 0x123456789abcdef0ull);
    const uint32_t dt_big[3] = { 1, 2, 0x10000 };
    edit_cells(VCPU, "/vcpu", "idtr", dt_big, 3);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: idtr limit 0x10000 does not fit 16 bits");

    const uint32_t ev_type[4] = { 5, 0, 0, 0 }, ev_vec[4] = { 1, 256, 0, 0 }, ev_err[4] = { 1, 14, 2, 0 };
    edit_cells(VCPU, "/vcpu", "event", ev_type, 4);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: event type 5 unknown");
    edit_cells(VCPU, "/vcpu", "event", ev_vec, 4);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: event vector 0x100 is not a vector");
    edit_cells(VCPU, "/vcpu", "event", ev_err, 4);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: event has-error 2 is not 0 or 1");

    uint8_t fx[MIG_FXSAVE_SIZE];
    memcpy(fx, vcpu.fxsave, sizeof(fx));
    fx[26] = 1; /* MXCSR bit 16 */
    edit(VCPU, "/vcpu", "fxsave", fx, sizeof(fx));
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: fxsave MXCSR 0x11f80 sets reserved bits");

    /* XCR0 and the AVX state: optional (an older writer has neither: XCR0
     * reads as its reset value and the upper YMM halves as zero); AVX
     * state without AVX in XCR0 makes no sense. */
    edit(VCPU, "/vcpu", "xcr0", NULL, 0); /* an older writer: XCR0's reset value */
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.xcr0 == 1 && vcpu_out.ymmh[0] == vcpu.ymmh[0]);
    edit(VCPU, "/vcpu", "ymm-hi128", NULL, 0);
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.xcr0 == 7 && vcpu_out.tsc_aux == 0xfedcba98);
    for (unsigned i = 0; i < MIG_YMMH_SIZE; i++)
        CHECK(vcpu_out.ymmh[i] == 0);
    edit(VCPU, "/vcpu", "tsc-aux", NULL, 0); /* an older writer: 0 */
    CHECK(decode(VCPU, edited, edited_len) == 0 && vcpu_out.tsc_aux == 0);
    edit(VCPU, "/vcpu", "ymm-hi128", vcpu.ymmh, MIG_YMMH_SIZE - 1);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'ymm-hi128' is 255 bytes, expected 256");
    edit_u32(VCPU, "/vcpu", "xcr0", 7);
    EXPECT_FAIL(VCPU, edited, edited_len, "VCPU: property 'xcr0' is 4 bytes, expected 8");
    vcpu.xcr0 = 3; /* AVX turned off: its state still travels */
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0 && decode(VCPU, tree, tree_len) == 0 && vcpu_out.xcr0 == 3);
    CHECK(!memcmp(vcpu_out.ymmh, vcpu.ymmh, MIG_YMMH_SIZE));
    static uint8_t saved[MIG_YMMH_SIZE];
    memcpy(saved, vcpu.ymmh, sizeof(saved));
    memset(vcpu.ymmh, 0, sizeof(vcpu.ymmh)); /* all zero: left out, read back as zero */
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0 && decode(VCPU, tree, tree_len) == 0);
    CHECK(fdt_getprop(tree, fdt_path_offset(tree, "/vcpu"), "ymm-hi128", NULL) == NULL);
    memcpy(vcpu.ymmh, saved, sizeof(saved));
    vcpu.xcr0 = 7;

    /* A VCPU tree is not a VM_DEF or a DEVICE. */
    CHECK(encode(VCPU, sizeof(tree_buf)) == 0);
    EXPECT_FAIL(VMDEF, tree, tree_len, "VM_DEF: property 'hopvm-stream' missing");
    EXPECT_FAIL(UART, tree, tree_len, "DEVICE: node /device missing");
    char type[16];
    CHECK(mig_device_type(tree, tree_len, type, sizeof(type)) == -1);
}

static void test_uart(void)
{
    fill_uart(&uart);
    CHECK(encode(UART, sizeof(tree_buf)) == 0);
    printf("DEVICE uart16550 typical: %zu bytes\n", tree_len);
    CHECK(decode(UART, tree, tree_len) == 0);
    CHECK(!memcmp(&uart, &uart_out, sizeof(uart)));
    char type[16];
    CHECK(mig_device_type(tree, tree_len, type, sizeof(type)) == 0);
    CHECK_STR(type, "uart16550");
    CHECK(mig_device_type(tree, tree_len, type, 10) == 0);
    CHECK(mig_device_type(tree, tree_len, type, 9) == -1); /* no room for the NUL */
    CHECK(mig_device_type(tree, tree_len - 1, type, sizeof(type)) == -1);
    check_caps(UART);
    check_framing(UART);

    edit_str(UART, "/device", "type", "virtio-net");
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: type 'virtio-net' is not uart16550");
    CHECK(mig_device_type(edited, edited_len, type, sizeof(type)) == 0);
    CHECK_STR(type, "virtio-net");
    edit_str(UART, "/device", "type", "uart 16550");
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: type has ' '");
    CHECK(mig_device_type(edited, edited_len, type, sizeof(type)) == -1);
    edit(UART, "/device", "type", NULL, 0);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'type' missing");
    edit_u32(UART, "/device", "instance", 1);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: instance 0x1 is out of range (at most 0x0)");
    edit_u32(UART, "/device", "lcr", 0x100);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: lcr 0x100 is out of range (at most 0xff)");
    edit(UART, "/device", "fcr", "\x07", 1);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'fcr' is 1 bytes, expected 4");
    edit(UART, "/device", "dlm", NULL, 0);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'dlm' missing");
    edit(UART, "/device", "log", NULL, 0);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'log' missing");
    edit_u32(UART, "/device", "log-total", 5);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'log-total' is 4 bytes, expected 8");
    edit_u64(UART, "/device", "log-total", 999);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: log holds 1000 bytes but only 999 were written");
    static uint8_t big[MIG_UART_LOG_MAX + 1];
    edit(UART, "/device", "rx", big, MIG_UART_RX_MAX + 1);
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'rx' is 65 bytes, at most 64");
    edit(UART, "/device", "log", big, sizeof(big));
    EXPECT_FAIL(UART, edited, edited_len, "DEVICE: property 'log' is 65537 bytes, at most 65536");

    /* Empty FIFO and log; then both full: the worst case. */
    memset(uart.rx, 0, sizeof(uart.rx));
    memset(uart.log, 0, sizeof(uart.log));
    uart.rx_count = 0;
    uart.log_count = 0;
    uart.log_total = 0;
    CHECK(encode(UART, sizeof(tree_buf)) == 0 && decode(UART, tree, tree_len) == 0);
    CHECK(!memcmp(&uart, &uart_out, sizeof(uart)));
    uart.rx_count = MIG_UART_RX_MAX;
    uart.log_count = MIG_UART_LOG_MAX;
    uart.log_total = ~0ull;
    CHECK(encode(UART, sizeof(tree_buf)) == 0 && tree_len <= MIG_UART_MAX);
    printf("DEVICE uart16550 worst case: %zu bytes (MIG_UART_MAX %d)\n", tree_len, MIG_UART_MAX);
    CHECK(decode(UART, tree, tree_len) == 0 && !memcmp(&uart, &uart_out, sizeof(uart)));
    uart.rx_count = MIG_UART_RX_MAX + 1;
    CHECK(encode(UART, sizeof(tree_buf)) == -1);
    fill_uart(&uart);
}

/* The log ring keeps its indices across a capture and a restore. */
static void test_log_ring(void)
{
    enum { RING = 16384 };
    static char ring[RING], ring2[RING];
    uint64_t len2;
    for (unsigned i = 0; i < RING; i++)
        ring[i] = (char)(i * 31 + 1);

    mig_uart_log_from_ring(&uart, ring, RING, 100);
    CHECK(uart.log_count == 100 && uart.log_total == 100 && !memcmp(uart.log, ring, 100));

    uint64_t total = 3 * (uint64_t)RING + 250; /* wrapped: oldest byte at ring[251] */
    mig_uart_log_from_ring(&uart, ring, RING, total);
    CHECK(uart.log_count == RING && uart.log_total == total);
    CHECK(uart.log[0] == (uint8_t)ring[250] && uart.log[RING - 1] == (uint8_t)ring[249]);
    memset(ring2, 0, RING);
    mig_uart_log_to_ring(&uart, ring2, RING, &len2);
    CHECK(len2 == total && !memcmp(ring, ring2, RING));

    /* Through the wire and back. */
    CHECK(encode(UART, sizeof(tree_buf)) == 0 && decode(UART, tree, tree_len) == 0);
    memset(ring2, 0, RING);
    mig_uart_log_to_ring(&uart_out, ring2, RING, &len2);
    CHECK(len2 == total && !memcmp(ring, ring2, RING));

    /* A smaller target ring keeps the newest bytes at their indices. */
    char small[1000];
    mig_uart_log_to_ring(&uart, small, sizeof(small), &len2);
    CHECK(small[(total - 1) % sizeof(small)] == ring[(total - 1) % RING]);
    CHECK(small[(total - 1000) % sizeof(small)] == ring[(total - 1000) % RING]);
    fill_uart(&uart);
}

/* Seeds for tests/fuzz/fuzz_state: one valid tree of each kind. */
static int write_corpus(const char *dir)
{
    static const char *const names[] = { "vmdef", "vcpu", "uart" };
    fill_vmdef(&vmdef);
    fill_vcpu(&vcpu);
    fill_uart(&uart);
    uart.log_count = 40; /* small seeds mutate faster */
    for (enum kind k = VMDEF; k <= UART; k++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        FILE *f = fopen(path, "wb");
        if (!f || encode(k, sizeof(tree_buf)) || fwrite(tree, 1, tree_len, f) != tree_len || fclose(f)) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
        return write_corpus(argv[2]);
    test_vmdef();
    test_vcpu();
    test_uart();
    test_log_ring();
    return check_report("test_state");
}
