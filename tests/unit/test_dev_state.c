/* migrate/dev_state.c: the generic DEVICE record (struct mig_dev). The
 * put/get API and its refusals, round trips of every value size, the
 * encoded worst case against MIG_DEV_MAX, and the decoder on hostile
 * trees, each built with libfdt's sequential-write API so that exactly the
 * thing under test is wrong (including what the encoder would never write:
 * a property twice, a bad name, a value too long, too many properties).
 *
 * `test_dev_state --write-corpus DIR` writes the fuzzer's seed tree
 * (tests/fuzz/corpus/fuzz_state/dev) instead of testing. */
#include "check.h"
#include <hopvm/mig_state.h>
#include <libfdt.h>
#include <stdlib.h>

#define BUF_MAX (MIG_DEV_MAX * 2)

/* libfdt and the codec want 8-byte aligned buffers. */
static uint64_t tree_buf[BUF_MAX / 8];
static uint8_t *const tree = (uint8_t *)tree_buf;
static size_t tree_len;

static struct mig_dev dev, out;
static char why[200];

/* A name of n characters: "p" then digits, [a-z0-9-]. */
static const char *name_of(unsigned n, unsigned salt)
{
    static char s[MIG_DEV_NAME_MAX + 8];
    for (unsigned i = 0; i < n && i < sizeof(s) - 1; i++)
        s[i] = (char)(i == 0 ? 'p' : i == n - 1 ? 'a' + salt % 26 : i == n - 2 ? 'a' + salt / 26 % 26 : '0' + i % 10);
    s[n < sizeof(s) ? n : sizeof(s) - 1] = 0;
    return s;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed * 7 + 1);
}

static int encode(const struct mig_dev *d) { return mig_dev_encode(d, tree, sizeof(tree_buf), &tree_len); }

/* Decodes a heap copy of exactly len bytes, so ASan sees any overread. */
static int decode(const void *t, size_t len)
{
    void *copy = malloc(len ? len : 1);
    memcpy(copy, t, len);
    strcpy(why, "(no reason)");
    int rc = mig_dev_decode(copy, len, &out, why, sizeof(why));
    free(copy);
    return rc;
}

/* The tree decodes, and to exactly d. */
static void round_trip_at(int line, const struct mig_dev *d)
{
    if (encode(d) == 0 && tree_len <= MIG_DEV_MAX && decode(tree, tree_len) == 0 && !memcmp(d, &out, sizeof(*d))) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: %s %u does not survive encode + decode (%s)\n", __FILE__, line, d->type, d->instance,
            why);
}
#define ROUND_TRIP(d) round_trip_at(__LINE__, d)

static void expect_fail_at(int line, const void *t, size_t len, const char *reason)
{
    int rc = decode(t, len);
    if (rc == -1 && !strcmp(why, reason)) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: decode gave %d \"%s\", expected -1 \"%s\"\n", __FILE__, line, rc, why, reason);
}
/* The whole reason, exactly. */
#define EXPECT_FAIL(t, len, reason) expect_fail_at(__LINE__, t, len, reason)

static void expect_contains_at(int line, const void *t, size_t len, const char *reason)
{
    int rc = decode(t, len);
    if (rc == -1 && strstr(why, reason) && !strchr(why, '\n')) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: decode gave %d \"%s\", expected -1 \"...%s...\"\n", __FILE__, line, rc, why, reason);
}
/* A reason holding this (libfdt's words). */
#define EXPECT_FAIL_HAS(t, len, reason) expect_contains_at(__LINE__, t, len, reason)

/* ---- hostile trees, written with libfdt's sequential-write API ---------- */

static uint64_t sw_buf[BUF_MAX / 8];
static uint8_t *const sw = (uint8_t *)sw_buf;
static size_t sw_len;

/* A tree "/" { device { ... } } with "type" and "instance" as given
 * (type NULL or instance -1: left out); properties follow with sw_prop. */
static void sw_start(const char *type, int64_t instance)
{
    CHECK(fdt_create(sw, (int)sizeof(sw_buf)) == 0);
    CHECK(fdt_finish_reservemap(sw) == 0);
    CHECK(fdt_begin_node(sw, "") == 0);
    CHECK(fdt_begin_node(sw, "device") == 0);
    if (type)
        CHECK(fdt_property_string(sw, "type", type) == 0);
    if (instance >= 0)
        CHECK(fdt_property_u32(sw, "instance", (uint32_t)instance) == 0);
}
static void sw_prop(const char *name, const void *val, int len) { CHECK(fdt_property(sw, name, val, len) == 0); }
static void sw_u32(const char *name, uint32_t v) { CHECK(fdt_property_u32(sw, name, v) == 0); }
static void sw_finish(void)
{
    CHECK(fdt_end_node(sw) == 0); /* device */
    CHECK(fdt_end_node(sw) == 0); /* root */
    CHECK(fdt_finish(sw) == 0);
    sw_len = fdt_totalsize(sw);
}

/* ---- the tests ----------------------------------------------------------- */

/* A local APIC, roughly as vmm/dev/lapic.c saves one. */
static void fill_lapic(struct mig_dev *d)
{
    uint8_t irr[32], isr[32], tmr[32];
    pattern(irr, sizeof(irr), 1);
    pattern(isr, sizeof(isr), 2);
    pattern(tmr, sizeof(tmr), 3);
    mig_dev_init(d, "lapic", 1);
    CHECK(mig_dev_put_u32(d, "id", 1) == 0);
    CHECK(mig_dev_put_u64(d, "apic-base", 0xfee00800ull) == 0);
    CHECK(mig_dev_put_u32(d, "tpr", 0x20) == 0);
    CHECK(mig_dev_put_u32(d, "ldr", 0x02000000) == 0);
    CHECK(mig_dev_put_u32(d, "dfr", 0xffffffff) == 0);
    CHECK(mig_dev_put_u32(d, "svr", 0x1ff) == 0);
    CHECK(mig_dev_put_bytes(d, "isr", isr, sizeof(isr)) == 0);
    CHECK(mig_dev_put_bytes(d, "tmr", tmr, sizeof(tmr)) == 0);
    CHECK(mig_dev_put_bytes(d, "irr", irr, sizeof(irr)) == 0);
    CHECK(mig_dev_put_u32(d, "esr", 0) == 0);
    CHECK(mig_dev_put_u32(d, "lvt-timer", 0x000200ef) == 0);
    CHECK(mig_dev_put_u32(d, "lvt-lint0", 0x00010700) == 0);
    CHECK(mig_dev_put_u32(d, "timer-dcr", 0xb) == 0);
    CHECK(mig_dev_put_u32(d, "timer-icr", 0x0009c400) == 0);
    CHECK(mig_dev_put_u64(d, "timer-deadline-ns", 0x00000123456789abull) == 0);
}

static void test_put_get(void)
{
    uint32_t v32;
    uint64_t v64;
    uint8_t b[MIG_DEV_VAL_MAX + 1], got[MIG_DEV_VAL_MAX + 1];
    pattern(b, sizeof(b), 9);

    mig_dev_init(&dev, "pc-platform", 7);
    CHECK_STR(dev.type, "pc-platform");
    CHECK_U64(dev.instance, 7);
    CHECK_U64(dev.nprops, 0);
    CHECK(mig_dev_put_u32(&dev, "a", 0x01020304) == 0);
    CHECK(dev.props[0].len == 4 && !memcmp(dev.props[0].val, "\x01\x02\x03\x04", 4)); /* big-endian */
    CHECK(mig_dev_put_u64(&dev, "b", 0x0102030405060708ull) == 0);
    CHECK(dev.props[1].len == 8 && !memcmp(dev.props[1].val, "\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    CHECK(mig_dev_put_u32(&dev, "c-max", UINT32_MAX) == 0);
    CHECK(mig_dev_put_u64(&dev, "d-max", UINT64_MAX) == 0);
    CHECK(mig_dev_put_bytes(&dev, "e", b, 0) == 0);
    CHECK(mig_dev_put_bytes(&dev, "f", b, MIG_DEV_VAL_MAX) == 0);
    CHECK(mig_dev_put_bytes(&dev, "0-9", b, 3) == 0);
    CHECK(mig_dev_put_bytes(&dev, name_of(MIG_DEV_NAME_MAX - 1, 0), b, 1) == 0); /* the longest name */
    CHECK_U64(dev.nprops, 8);

    CHECK(mig_dev_get_u32(&dev, "a", &v32, why, sizeof(why)) == 0 && v32 == 0x01020304);
    CHECK(mig_dev_get_u64(&dev, "b", &v64, why, sizeof(why)) == 0 && v64 == 0x0102030405060708ull);
    CHECK(mig_dev_get_u32(&dev, "c-max", &v32, why, sizeof(why)) == 0 && v32 == UINT32_MAX);
    CHECK(mig_dev_get_u64(&dev, "d-max", &v64, why, sizeof(why)) == 0 && v64 == UINT64_MAX);
    CHECK(mig_dev_get_bytes(&dev, "e", got, 0, why, sizeof(why)) == 0);
    memset(got, 0, sizeof(got));
    CHECK(mig_dev_get_bytes(&dev, "f", got, MIG_DEV_VAL_MAX, why, sizeof(why)) == 0 &&
          !memcmp(got, b, MIG_DEV_VAL_MAX));
    CHECK(mig_dev_get_bytes(&dev, "a", got, 4, why, sizeof(why)) == 0 && !memcmp(got, "\x01\x02\x03\x04", 4));
    ROUND_TRIP(&dev);

    /* Put refusals: the record is left as it was. */
    struct mig_dev before = dev;
    static const char *const bad_names[] = { "", "A", "apic-Base", "type", "instance", "a_b", "a.b", "a b",
                                             "a/b", "\xc3\xa9", "a\tb", "a" };
    for (unsigned i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        CHECK(mig_dev_put_u32(&dev, bad_names[i], 1) == -1);
        CHECK(mig_dev_put_u64(&dev, bad_names[i], 1) == -1);
        CHECK(mig_dev_put_bytes(&dev, bad_names[i], b, 1) == -1);
    }
    CHECK(mig_dev_put_u32(&dev, name_of(MIG_DEV_NAME_MAX, 0), 1) == -1); /* too long by one */
    CHECK(mig_dev_put_u32(&dev, name_of(MIG_DEV_NAME_MAX + 5, 0), 1) == -1);
    CHECK(mig_dev_put_u32(&dev, "b", 1) == -1); /* taken, whatever the size */
    CHECK(mig_dev_put_bytes(&dev, "f", b, 2) == -1);
    CHECK(mig_dev_put_bytes(&dev, "g", b, MIG_DEV_VAL_MAX + 1) == -1);
    CHECK(mig_dev_put_bytes(&dev, "g", b, UINT32_MAX) == -1);
    CHECK(!memcmp(&dev, &before, sizeof(dev)));

    /* Full: MIG_DEV_PROPS properties, and not one more. */
    mig_dev_init(&dev, "full", 0);
    for (unsigned i = 0; i < MIG_DEV_PROPS; i++)
        CHECK(mig_dev_put_u32(&dev, name_of(8, i), i) == 0);
    CHECK_U64(dev.nprops, MIG_DEV_PROPS);
    before = dev;
    CHECK(mig_dev_put_u32(&dev, "one-more", 1) == -1);
    CHECK(mig_dev_put_u64(&dev, "one-more", 1) == -1);
    CHECK(mig_dev_put_bytes(&dev, "one-more", b, 0) == -1);
    CHECK(!memcmp(&dev, &before, sizeof(dev)));
    for (unsigned i = 0; i < MIG_DEV_PROPS; i++)
        CHECK(mig_dev_get_u32(&dev, name_of(8, i), &v32, why, sizeof(why)) == 0 && v32 == i);
    ROUND_TRIP(&dev);

    /* Get errors: one line each, naming the device and the property. */
    fill_lapic(&dev);
    v32 = 0x5555;
    CHECK(mig_dev_get_u32(&dev, "ppr", &v32, why, sizeof(why)) == -1 && v32 == 0x5555);
    CHECK_STR(why, "lapic: property 'ppr' missing");
    CHECK(mig_dev_get_u64(&dev, "ppr", &v64, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'ppr' missing");
    CHECK(mig_dev_get_bytes(&dev, "ppr", got, 4, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'ppr' missing");
    CHECK(mig_dev_get_u32(&dev, "apic-base", &v32, why, sizeof(why)) == -1 && v32 == 0x5555);
    CHECK_STR(why, "lapic: property 'apic-base' is 8 bytes, expected 4");
    CHECK(mig_dev_get_u64(&dev, "tpr", &v64, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'tpr' is 4 bytes, expected 8");
    CHECK(mig_dev_get_bytes(&dev, "irr", got, 31, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'irr' is 32 bytes, expected 31");
    CHECK(mig_dev_get_bytes(&dev, "irr", got, 33, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'irr' is 32 bytes, expected 33");
    CHECK(mig_dev_get_u32(&dev, "", &v32, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property '' missing");
    /* The lookup is exact: no prefix or case matches. */
    CHECK(mig_dev_get_u32(&dev, "lvt", &v32, why, sizeof(why)) == -1);
    CHECK(mig_dev_get_u32(&dev, "TPR", &v32, why, sizeof(why)) == -1);
    /* A reason that does not fit is cut short, not overrun. */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    CHECK(mig_dev_get_u32(&dev, "ppr", &v32, tiny, sizeof(tiny)) == -1 && strlen(tiny) == sizeof(tiny) - 1);

    /* An optional u32: the default when absent, else as get_u32. */
    CHECK(mig_dev_get_u32_opt(&dev, "ppr", 0xabc, &v32, why, sizeof(why)) == 0 && v32 == 0xabc);
    CHECK(mig_dev_get_u32_opt(&dev, "tpr", 0xabc, &v32, why, sizeof(why)) == 0 && v32 == 0x20);
    v32 = 0x5555;
    CHECK(mig_dev_get_u32_opt(&dev, "apic-base", 0xabc, &v32, why, sizeof(why)) == -1 && v32 == 0x5555);
    CHECK_STR(why, "lapic: property 'apic-base' is 8 bytes, expected 4");
    CHECK(mig_dev_get_u32_opt(&dev, "irr", 0, &v32, why, sizeof(why)) == -1);
    CHECK_STR(why, "lapic: property 'irr' is 32 bytes, expected 4");
}

static void test_round_trips(void)
{
    uint8_t b[MIG_DEV_VAL_MAX];
    uint32_t v32;
    uint64_t v64;

    fill_lapic(&dev);
    CHECK(encode(&dev) == 0);
    printf("DEVICE lapic (%u properties): %zu bytes\n", (unsigned)dev.nprops, tree_len);
    ROUND_TRIP(&dev);
    CHECK(mig_dev_get_u64(&out, "timer-deadline-ns", &v64, why, sizeof(why)) == 0 && v64 == 0x00000123456789abull);
    char type[CFG_NAME_MAX];
    CHECK(mig_device_type(tree, tree_len, type, sizeof(type)) == 0);
    CHECK_STR(type, "lapic");

    /* Every value size, 0 to MIG_DEV_VAL_MAX, and u32/u64 edge values. */
    for (uint32_t len = 0; len <= MIG_DEV_VAL_MAX; len++) {
        pattern(b, sizeof(b), len);
        mig_dev_init(&dev, "blob", len);
        CHECK(mig_dev_put_bytes(&dev, "val", b, len) == 0);
        CHECK(mig_dev_put_u32(&dev, "len", len) == 0);
        CHECK(mig_dev_put_u64(&dev, "big", ~(uint64_t)len << 20) == 0);
        ROUND_TRIP(&dev);
        CHECK(out.props[0].len == len && !memcmp(out.props[0].val, b, len));
        CHECK(mig_dev_get_u32(&out, "len", &v32, why, sizeof(why)) == 0 && v32 == len);
    }
    static const uint64_t u64s[] = { 0, 1, 0xffffffff, 0x100000000ull, 0x8000000000000000ull, UINT64_MAX };
    for (unsigned i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
        mig_dev_init(&dev, "num", UINT32_MAX);
        CHECK(mig_dev_put_u64(&dev, "v64", u64s[i]) == 0);
        CHECK(mig_dev_put_u32(&dev, "v32", (uint32_t)u64s[i]) == 0);
        ROUND_TRIP(&dev);
        CHECK(mig_dev_get_u64(&out, "v64", &v64, why, sizeof(why)) == 0 && v64 == u64s[i]);
        CHECK(mig_dev_get_u32(&out, "v32", &v32, why, sizeof(why)) == 0 && v32 == (uint32_t)u64s[i]);
    }
    /* No properties at all. */
    mig_dev_init(&dev, "i8259-pair", 0);
    ROUND_TRIP(&dev);
    /* Any valid type: hopvm.cfg's name characters. */
    mig_dev_init(&dev, "A.b_c-9", 3);
    ROUND_TRIP(&dev);

    /* The worst case: every property, every name and value at its longest,
     * the longest type; it fits MIG_DEV_MAX, and nothing less than its own
     * size (in a heap buffer of exactly that size: ASan sees a write past). */
    mig_dev_init(&dev, name_of(CFG_NAME_MAX - 1, 0), UINT32_MAX);
    CHECK(strlen(dev.type) == CFG_NAME_MAX - 1);
    for (unsigned i = 0; i < MIG_DEV_PROPS; i++) {
        pattern(b, sizeof(b), i);
        CHECK(mig_dev_put_bytes(&dev, name_of(MIG_DEV_NAME_MAX - 1, i), b, MIG_DEV_VAL_MAX) == 0);
    }
    CHECK(mig_dev_encode(&dev, tree, MIG_DEV_MAX, &tree_len) == 0);
    printf("DEVICE worst case: %zu bytes (MIG_DEV_MAX %d)\n", tree_len, MIG_DEV_MAX);
    CHECK(tree_len <= MIG_DEV_MAX);
    ROUND_TRIP(&dev);
    /* A cap beyond MIG_DEV_MAX changes nothing (the encoder caps there). */
    size_t need = tree_len;
    unsigned refused = 0;
    for (size_t cap = 0; cap <= need; cap++) {
        void *p = malloc(cap ? cap : 1);
        size_t len = 12345;
        int rc = mig_dev_encode(&dev, p, cap, &len);
        if (cap < need)
            refused += rc == -1 && len == 12345;
        else
            CHECK(rc == 0 && len == need);
        free(p);
    }
    CHECK_U64(refused, need);

    /* Encoder refusals: what is not encodable at all. */
    size_t len = 12345;
    CHECK(mig_dev_encode(&dev, tree + 4, sizeof(tree_buf) - 4, &len) == -1 && len == 12345); /* misaligned */
    fill_lapic(&dev);
    dev.nprops = MIG_DEV_PROPS + 1;
    CHECK(mig_dev_encode(&dev, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    fill_lapic(&dev);
    dev.props[3].len = MIG_DEV_VAL_MAX + 1;
    CHECK(mig_dev_encode(&dev, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    fill_lapic(&dev);
    strcpy(dev.props[2].name, "Tpr");
    CHECK(mig_dev_encode(&dev, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    fill_lapic(&dev);
    strcpy(dev.props[2].name, "instance");
    CHECK(mig_dev_encode(&dev, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    fill_lapic(&dev);
    memset(dev.type, 't', sizeof(dev.type)); /* no NUL inside the field */
    CHECK(mig_dev_encode(&dev, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    /* A name without its NUL inside the field, on the last property of a
     * heap copy whose value runs to the end: refused (the name check's
     * strlen stops in the len field that follows, <= MIG_DEV_VAL_MAX). */
    struct mig_dev *h = malloc(sizeof(*h));
    mig_dev_init(h, "lapic", 0);
    for (unsigned i = 0; i < MIG_DEV_PROPS; i++)
        CHECK(mig_dev_put_u32(h, name_of(4, i), i) == 0);
    struct mig_dev_prop *last = &h->props[MIG_DEV_PROPS - 1];
    memset(last->name, 'n', sizeof(last->name));
    last->len = MIG_DEV_VAL_MAX;
    memset(last->val, 'v', sizeof(last->val));
    CHECK(mig_dev_encode(h, tree, sizeof(tree_buf), &len) == -1 && len == 12345);
    free(h);
}

/* Truncations, header damage, alignment: libfdt's checks, as for the
 * other records (tests/unit/test_state.c tries every header field). */
static void test_framing(void)
{
    fill_lapic(&dev);
    CHECK(encode(&dev) == 0);
    size_t n = tree_len;
    CHECK(decode(tree, n) == 0);
    char want[120];
    snprintf(want, sizeof(want), "DEVICE: bad device tree: FDT_ERR_TRUNCATED (totalsize %zu, %zu bytes)", n, n - 1);
    EXPECT_FAIL(tree, n - 1, want);
    EXPECT_FAIL_HAS(tree, n / 2, "FDT_ERR_TRUNCATED");
    EXPECT_FAIL(tree, 39, "DEVICE: bad device tree: FDT_ERR_TRUNCATED");
    EXPECT_FAIL(tree, 0, "DEVICE: bad device tree: FDT_ERR_TRUNCATED");
    tree[n] = 0;
    EXPECT_FAIL_HAS(tree, n + 1, "DEVICE: bad device tree: totalsize");
    struct fdt_header *hdr = (struct fdt_header *)tree;
    fdt32_t saved = hdr->magic;
    hdr->magic = cpu_to_fdt32(~0xd00dfeedu); /* an unfinished sequential-write tree */
    EXPECT_FAIL(tree, n, "DEVICE: bad device tree: FDT_ERR_BADMAGIC");
    hdr->magic = saved;
    saved = hdr->size_dt_struct;
    hdr->size_dt_struct = cpu_to_fdt32(8);
    EXPECT_FAIL_HAS(tree, n, "FDT_ERR_TRUNCATED");
    hdr->size_dt_struct = saved;
    CHECK(decode(tree, n) == 0);

    /* A property length near 2^31 (libfdt's int overflow): refused first. */
    int prop = fdt_first_property_offset(tree, fdt_first_subnode(tree, 0));
    CHECK(prop >= 0);
    uint8_t *lenp = tree + fdt_off_dt_struct(tree) + prop + 4, keep[4];
    memcpy(keep, lenp, 4);
    memcpy(lenp, "\x7f\xff\xff\xf3", 4);
    EXPECT_FAIL(tree, n, "DEVICE: bad device tree: FDT_ERR_TRUNCATED");
    memcpy(lenp, keep, 4);

    /* Garbage: every byte after the header flipped in turn (some are
     * accepted, e.g. a value byte; none may crash or give two lines). */
    unsigned refused = 0;
    for (size_t i = 0; i < n; i++) {
        tree[i] ^= 0xa5;
        int rc = decode(tree, n);
        CHECK((rc == 0 || rc == -1) && !strchr(why, '\n'));
        refused += rc == -1;
        tree[i] ^= 0xa5;
    }
    CHECK(refused > 40); /* the header alone */
    for (size_t i = 0; i < n; i++)
        tree[i] = (uint8_t)(i * 73 + 11);
    EXPECT_FAIL(tree, n, "DEVICE: bad device tree: FDT_ERR_BADMAGIC");

    /* Misaligned: refused, never read. */
    CHECK(encode(&dev) == 0);
    memmove(tree + 4, tree, n);
    CHECK(mig_dev_decode(tree + 4, n, &out, why, sizeof(why)) == -1);
    CHECK_STR(why, "DEVICE: bad device tree: buffer not 8-byte aligned");
    memmove(tree, tree + 4, n);
    /* No record body is over 1 MiB. */
    void *huge = calloc(1, (1 << 20) + 8);
    CHECK(mig_dev_decode(huge, (1 << 20) + 1, &out, why, sizeof(why)) == -1 && strstr(why, "more than 1048576"));
    free(huge);
    /* No reason wanted, or one cut short. */
    char tiny[8];
    CHECK(mig_dev_decode(tree, 1, &out, NULL, 0) == -1);
    CHECK(mig_dev_decode(tree, 1, &out, tiny, sizeof(tiny)) == -1 && strlen(tiny) == 7);
}

static void test_decode_refusals(void)
{
    char why_want[120];
    uint8_t b[MIG_DEV_VAL_MAX + 8];
    pattern(b, sizeof(b), 5);

    /* The sequential-write tree the encoder would write decodes to it. */
    sw_start("lapic", 2);
    sw_u32("tpr", 0x30);
    sw_prop("irr", b, 32);
    sw_prop("empty", b, 0);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0);
    mig_dev_init(&dev, "lapic", 2);
    CHECK(mig_dev_put_u32(&dev, "tpr", 0x30) == 0 && mig_dev_put_bytes(&dev, "irr", b, 32) == 0 &&
          mig_dev_put_bytes(&dev, "empty", b, 0) == 0);
    CHECK(!memcmp(&dev, &out, sizeof(dev)));

    /* Not generic: the UART has its own record. */
    mig_dev_init(&dev, MIG_UART_TYPE, 0);
    CHECK(encode(&dev) == 0);
    EXPECT_FAIL(tree, tree_len, "DEVICE: a uart16550 record is not a generic device");
    sw_start(MIG_UART_TYPE, 0);
    sw_u32("ier", 1);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: a uart16550 record is not a generic device");

    /* The type. */
    sw_start(NULL, 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'type' missing");
    sw_start("", 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: type is empty");
    sw_start("local apic", 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: type has ' ' (letters, digits, '-', '_', '.')");
    sw_start("a/b", 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: type has '/' (letters, digits, '-', '_', '.')");
    sw_start("l\x01", 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: type has a non-printable character 0x01");
    sw_start(name_of(CFG_NAME_MAX, 0), 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: type is 32 characters, at most 31");
    sw_start(name_of(CFG_NAME_MAX - 1, 0), 0);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && strlen(out.type) == CFG_NAME_MAX - 1);
    sw_start(NULL, 0);
    sw_prop("type", "lapic", 5); /* no NUL */
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'type' is not one NUL-terminated string");
    sw_start(NULL, 0);
    sw_prop("type", "lapic\0x", 8);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'type' is not one NUL-terminated string");
    sw_start(NULL, 0);
    sw_u32("type", 0x61626364); /* "abcd" */
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'type' is not one NUL-terminated string");

    /* The instance. */
    sw_start("lapic", -1);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'instance' missing");
    sw_start("lapic", -1);
    sw_prop("instance", b, 8);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'instance' is 8 bytes, expected 4");
    sw_start("lapic", -1);
    sw_prop("instance", b, 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: property 'instance' is 0 bytes, expected 4");
    sw_start("lapic", UINT32_MAX);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && out.instance == UINT32_MAX && out.nprops == 0);

    /* No /device node; the properties on the root instead. */
    CHECK(fdt_create(sw, (int)sizeof(sw_buf)) == 0 && fdt_finish_reservemap(sw) == 0);
    CHECK(fdt_begin_node(sw, "") == 0 && fdt_property_string(sw, "type", "lapic") == 0);
    CHECK(fdt_property_u32(sw, "instance", 0) == 0 && fdt_end_node(sw) == 0 && fdt_finish(sw) == 0);
    EXPECT_FAIL(sw, fdt_totalsize(sw), "DEVICE: node /device missing");

    /* Property names: [a-z0-9-], 1 to MIG_DEV_NAME_MAX - 1 characters. */
    static const char *const bad_names[] = { "Tpr", "a_b", "a.b", "a,b", "a@1", "a#b", "\x7f", "\xc3\xa9" };
    for (unsigned i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        sw_start("lapic", 0);
        sw_u32("ok", 1);
        sw_u32(bad_names[i], 1);
        sw_finish();
        EXPECT_FAIL(sw, sw_len, "DEVICE: lapic: a property name that is not [a-z0-9-]{1,31}");
    }
    sw_start("lapic", 0);
    sw_u32(name_of(MIG_DEV_NAME_MAX, 1), 1);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: lapic: a property name that is not [a-z0-9-]{1,31}");
    sw_start("lapic", 0);
    sw_u32(name_of(200, 1), 1);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: lapic: a property name that is not [a-z0-9-]{1,31}");
    sw_start("lapic", 0);
    sw_u32("", 1);
    sw_finish();
    /* libfdt itself refuses an empty property name, or the decoder does. */
    CHECK(decode(sw, sw_len) == -1 && !strchr(why, '\n'));
    sw_start("lapic", 0);
    sw_u32(name_of(MIG_DEV_NAME_MAX - 1, 1), 1);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && out.nprops == 1 && !strcmp(out.props[0].name, name_of(MIG_DEV_NAME_MAX - 1, 1)));

    /* Values: at most MIG_DEV_VAL_MAX bytes. */
    sw_start("ioapic", 0);
    sw_prop("redir", b, MIG_DEV_VAL_MAX + 1);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: ioapic: property 'redir' is 257 bytes, at most 256");
    sw_start("ioapic", 0);
    sw_prop("redir", b, MIG_DEV_VAL_MAX + 8);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: ioapic: property 'redir' is 264 bytes, at most 256");
    static uint8_t big[4096];
    sw_start("ioapic", 0);
    sw_prop("redir", big, sizeof(big));
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: ioapic: property 'redir' is 4096 bytes, at most 256");
    sw_start("ioapic", 0);
    sw_prop("redir", b, MIG_DEV_VAL_MAX);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && out.props[0].len == MIG_DEV_VAL_MAX && !memcmp(out.props[0].val, b, 256));

    /* A property twice (libfdt's sequential writer does not mind). */
    sw_start("i8254", 0);
    sw_u32("mode", 1);
    sw_u32("count", 2);
    sw_u32("mode", 3);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: i8254: property 'mode' given twice");
    sw_start("i8254", 0);
    sw_u32("mode", 1);
    sw_prop("mode", b, 0);
    sw_finish();
    EXPECT_FAIL(sw, sw_len, "DEVICE: i8254: property 'mode' given twice");

    /* Too many: MIG_DEV_PROPS decode, one more does not. */
    sw_start("mc146818", 0);
    for (unsigned i = 0; i < MIG_DEV_PROPS; i++)
        sw_u32(name_of(6, i), i);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && out.nprops == MIG_DEV_PROPS);
    sw_start("mc146818", 0);
    for (unsigned i = 0; i <= MIG_DEV_PROPS; i++)
        sw_u32(name_of(6, i), i);
    sw_finish();
    snprintf(why_want, sizeof(why_want), "DEVICE: mc146818: more than %d properties", MIG_DEV_PROPS);
    EXPECT_FAIL(sw, sw_len, why_want);

    /* Unknown nodes are ignored (a newer peer's), as are properties of the
     * root; "type" and "instance" are not properties of the device. */
    sw_start("pc-platform", 4);
    sw_u32("pm1-sts", 1);
    sw_u32("pm1-en", 2);
    CHECK(fdt_begin_node(sw, "future") == 0 && fdt_property_u32(sw, "Bad_Name", 1) == 0);
    CHECK(fdt_property(sw, "huge", big, sizeof(big)) == 0 && fdt_end_node(sw) == 0);
    sw_finish();
    CHECK(decode(sw, sw_len) == 0 && out.nprops == 2 && out.instance == 4);
    CHECK(!strcmp(out.props[0].name, "pm1-sts") && !strcmp(out.props[1].name, "pm1-en"));
    /* The order of the properties is kept, with type and instance anywhere. */
    CHECK(fdt_create(sw, (int)sizeof(sw_buf)) == 0 && fdt_finish_reservemap(sw) == 0);
    CHECK(fdt_begin_node(sw, "") == 0 && fdt_property_u32(sw, "Root_Prop", 1) == 0);
    CHECK(fdt_begin_node(sw, "device") == 0 && fdt_property_u32(sw, "zz", 1) == 0);
    CHECK(fdt_property_string(sw, "type", "i8259-pair") == 0 && fdt_property_u32(sw, "aa", 2) == 0);
    CHECK(fdt_property_u32(sw, "instance", 1) == 0 && fdt_property_u32(sw, "mm", 3) == 0);
    CHECK(fdt_end_node(sw) == 0 && fdt_end_node(sw) == 0 && fdt_finish(sw) == 0);
    CHECK(decode(sw, fdt_totalsize(sw)) == 0 && out.nprops == 3 && out.instance == 1);
    CHECK(!strcmp(out.props[0].name, "zz") && !strcmp(out.props[1].name, "aa") && !strcmp(out.props[2].name, "mm"));
    CHECK_STR(out.type, "i8259-pair");

    /* What is accepted re-encodes to itself (the fuzzer's invariant). */
    struct mig_dev again = out;
    ROUND_TRIP(&again);
}

/* The fuzzer's seed: a local APIC of a dozen and more properties. */
static int write_corpus(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/dev", dir);
    fill_lapic(&dev);
    FILE *f = fopen(path, "wb");
    if (!f || encode(&dev) || fwrite(tree, 1, tree_len, f) != tree_len || fclose(f)) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
        return write_corpus(argv[2]);
    test_put_get();
    test_round_trips();
    test_framing();
    test_decode_refusals();
    return check_report("test_dev_state");
}
