/* Kernel loading: synthetic ELF64 / ELF32+multiboot / a.out-kludge images,
 * every class of bad file, and the real test guests from the build. */
#include "check.h"
#include <hopvm/elf.h>
#include <hopvm/lib.h>
#include <hopvm/loader.h>
#include <stdlib.h>

#define RAM (8u << 20)
static uint8_t *ram_buf;
static char err[160];

/* ELF64: one segment of 0x100 code bytes at 2 MiB, memsz 0x2000, entry +0x10. */
static size_t make_elf64(uint8_t *f)
{
    memset(f, 0, 0x200);
    struct elf64_ehdr h = {.type = 2, .machine = 62, .version = 1, .entry = 0x200010, .phoff = 64,
                    .ehsize = 64, .phentsize = 56, .phnum = 1};
    memcpy(h.ident, "\177ELF\2\1\1", 7);
    struct elf64_phdr p = {.type = 1, .offset = 0x100, .vaddr = 0x200000, .paddr = 0x200000,
                    .filesz = 0x100, .memsz = 0x2000};
    memcpy(f, &h, sizeof(h));
    memcpy(f + 64, &p, sizeof(p));
    memset(f + 0x100, 0xcc, 0x100);
    return 0x200;
}

/* ELF32 with a multiboot header at 0x100: loads at 1 MiB. */
static size_t make_mb32(uint8_t *f, uint32_t mbflags)
{
    memset(f, 0, 0x300);
    struct elf32_ehdr h = {.type = 2, .machine = 3, .version = 1, .entry = 0x100000, .phoff = 52,
                    .ehsize = 52, .phentsize = 32, .phnum = 1};
    memcpy(h.ident, "\177ELF\1\1\1", 7);
    struct elf32_phdr p = {.type = 1, .offset = 0x100, .vaddr = 0x100000, .paddr = 0x100000,
                    .filesz = 0x200, .memsz = 0x1000};
    memcpy(f, &h, sizeof(h));
    memcpy(f + 52, &p, sizeof(p));
    uint32_t mb[3] = {0x1badb002, mbflags, -(0x1badb002u + mbflags)};
    memcpy(f + 0x100, mb, sizeof(mb));
    return 0x300;
}

static int load(const uint8_t *f, size_t n, struct load_result *r)
{
    struct guest_ram ram = {ram_buf, RAM};
    struct load_req req = {.kernel = {"k", f, n, ""}, .cmdline = "a=1 b=2"};
    memset(ram_buf, 0x5a, RAM);
    err[0] = 0;
    return loader_load(&ram, &req, r, err, sizeof(err));
}

static void expect_fail(const uint8_t *f, size_t n, const char *want)
{
    struct load_result r;
    /* A heap copy of exactly n bytes: ASan reports any overread. */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, f, n);
    int rc = load(copy, n, &r);
    free(copy);
    CHECK(rc == -1);
    if (!strstr(err, want)) {
        check_failed++;
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
    }
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, fp) != *n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    return b;
}

int main(void)
{
    ram_buf = malloc(RAM);
    uint8_t f[0x400];
    struct load_result r;

    size_t n = make_elf64(f);
    CHECK(load(f, n, &r) == 0);
    CHECK_STR(err, "");
    CHECK(r.mode == BOOT_LONG64);
    CHECK_U64(r.entry, 0x200010);
    CHECK_U64(ram_buf[0x200000], 0xcc);
    CHECK_U64(ram_buf[0x200100], 0); /* bss zeroed */
    CHECK_U64(ram_buf[0x201fff], 0);
    CHECK_U64(ram_buf[0x202000], 0x5a); /* nothing past memsz touched */
    uint64_t e;
    memcpy(&e, ram_buf + GUEST_PML4, 8);
    CHECK_U64(e, GUEST_PDPT | 3);
    memcpy(&e, ram_buf + GUEST_PD + 8, 8);
    CHECK_U64(e, 0x200083); /* second 2 MiB page, identity */
    memcpy(&e, ram_buf + GUEST_GDT + 8, 8);
    CHECK_U64(e, 0x00af9a000000ffffull);
    /* The information structure: flags, memory, command line. */
    uint32_t info[22];
    memcpy(info, ram_buf + GUEST_INFO, sizeof(info));
    CHECK_U64(info[0] & 0x45, 0x45); /* MEM, CMDLINE, MMAP */
    CHECK_U64(info[1], 639);
    CHECK_U64(info[2], (RAM - 0x100000) / 1024);
    CHECK_STR((char *)ram_buf + info[4], "a=1 b=2");
    CHECK_U64(info[11], 3 * 24); /* mmap_length */

    n = make_mb32(f, 3);
    CHECK(load(f, n, &r) == 0);
    CHECK(r.mode == BOOT_MULTIBOOT32);
    CHECK_U64(r.entry, 0x100000);

    /* Modules land page-aligned after the kernel, with their strings. */
    {
        struct guest_ram ram = {ram_buf, RAM};
        const uint8_t m1[] = "module-one", m2[] = "two";
        struct load_req req = {.kernel = {"k", f, n, ""}, .cmdline = "x",
                               .mods = {{"m1.bin", m1, sizeof(m1), "arg1 arg2"}, {"m2.bin", m2, 3, ""}},
                               .nmods = 2};
        CHECK(loader_load(&ram, &req, &r, err, sizeof(err)) == 0);
        memcpy(info, ram_buf + GUEST_INFO, sizeof(info));
        CHECK_U64(info[0] & 0x8, 0x8);
        CHECK_U64(info[5], 2);
        uint32_t mods[8];
        memcpy(mods, ram_buf + info[6], sizeof(mods));
        CHECK_U64(mods[0], 0x101000);
        CHECK_U64(mods[1] - mods[0], sizeof(m1));
        CHECK(!memcmp(ram_buf + mods[0], m1, sizeof(m1)));
        CHECK_STR((char *)ram_buf + mods[2], "m1.bin arg1 arg2");
        CHECK_U64(mods[4], 0x102000);
        CHECK_STR((char *)ram_buf + mods[6], "m2.bin");
        /* A module too big for RAM. */
        req.mods[1].size = RAM;
        CHECK(loader_load(&ram, &req, &r, err, sizeof(err)) == -1);
        CHECK(strstr(err, "does not fit") != NULL);
    }

    /* a.out kludge: header at 0x100 says the file from offset 0 loads at 1 MiB. */
    {
        uint8_t a[0x400] = {0};
        uint32_t flags = 0x10003;
        uint32_t mb[8] = {0x1badb002, flags, -(0x1badb002u + flags), 0x100100, 0x100000, 0x100400, 0x108000, 0x100200};
        memcpy(a + 0x100, mb, sizeof(mb));
        a[0x200] = 0x90;
        CHECK(load(a, sizeof(a), &r) == 0);
        CHECK_U64(r.entry, 0x100200);
        CHECK_U64(ram_buf[0x100200], 0x90);
        CHECK_U64(ram_buf[0x107fff], 0);
        CHECK_U64(r.image_end, 0x108000);
        mb[7] = 0x200000; /* entry outside the image */
        memcpy(a + 0x100, mb, sizeof(mb));
        expect_fail(a, sizeof(a), "entry 0x200000 is outside");
        mb[5] = 0x100800; /* load_end past the file */
        memcpy(a + 0x100, mb, sizeof(mb));
        expect_fail(a, sizeof(a), "past the end of the file");
    }

    /* Bad files. */
    expect_fail((const uint8_t *)"", 0, "unknown kernel format");
    expect_fail((const uint8_t *)"MZ\x90\x00 this is not a kernel", 24, "unknown kernel format");
    n = make_elf64(f);
    expect_fail(f, 40, "ELF header truncated");
    expect_fail(f, 0x150, "past the end of the file"); /* truncated segment data */
    expect_fail(f, 100, "program headers run past"); /* truncated program headers */
    make_elf64(f);
    f[18] = 3; /* machine i386 in an ELF64 */
    expect_fail(f, n, "not x86-64");
    make_elf64(f);
    f[16] = 1; /* relocatable */
    expect_fail(f, n, "not an executable");
    make_elf64(f);
    memcpy(f + 64 + 24, &(uint64_t){0x7ff000}, 8); /* paddr near the end of RAM */
    expect_fail(f, n, "outside guest RAM");
    make_elf64(f);
    memcpy(f + 64 + 24, &(uint64_t){0xfffffffffffff000ull}, 8); /* wraps around */
    expect_fail(f, n, "outside guest RAM");
    make_elf64(f);
    memcpy(f + 64 + 24, &(uint64_t){0x1000}, 8); /* inside the loader area */
    expect_fail(f, n, "below 1 MiB");
    make_elf64(f);
    memcpy(f + 64 + 32, &(uint64_t){0x4000}, 8); /* filesz > memsz */
    memcpy(f + 64 + 8, &(uint64_t){0}, 8);
    expect_fail(f, n, "exceeds its memory size");
    make_elf64(f);
    memcpy(f + 24, &(uint64_t){0x900000}, 8); /* entry outside */
    expect_fail(f, n, "entry point 0x900000 is not inside");
    make_elf64(f);
    f[64] = 4; /* PT_NOTE only */
    expect_fail(f, n, "no loadable segments");
    make_elf64(f);
    memcpy(f + 64 + 8, &(uint64_t){0xffffffffffffff00ull}, 8); /* huge offset */
    expect_fail(f, n, "past the end of the file");
    n = make_mb32(f, 7); /* video mode required */
    expect_fail(f, n, "video mode");
    n = make_mb32(f, 0x8001); /* unknown required flag */
    expect_fail(f, n, "unknown features");
    {
        uint8_t *big = calloc(1, RAM + 1);
        make_elf64(big);
        expect_fail(big, RAM + 1, "bigger than guest RAM");
        free(big);
    }
    {
        struct guest_ram small = {ram_buf, 1 << 20};
        struct load_req req = {.kernel = {"k", f, n, ""}};
        CHECK(loader_load(&small, &req, &r, err, sizeof(err)) == -1);
        CHECK(strstr(err, "too small") != NULL);
    }

    /* The real test guests, if the build made them. */
    const char *dir = getenv("HOPVM_BUILD") ? getenv("HOPVM_BUILD") : "build";
    const char *names[] = {"hello", "counter", "memtouch", "exitstorm", "crash", "compute"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/guests/%s.elf", dir, names[i]);
        size_t fn;
        uint8_t *g = read_file(path, &fn);
        if (!g)
            continue;
        CHECK(load(g, fn, &r) == 0);
        CHECK(r.mode == (i == 5 ? BOOT_LONG64 : BOOT_MULTIBOOT32));
        CHECK_U64(r.entry >= 0x100000, 1);
        /* Any truncation of a real guest is refused or loads cleanly; never overreads. */
        for (size_t cut = 0; cut < fn; cut += fn / 37 + 1) {
            uint8_t *c = malloc(cut ? cut : 1);
            memcpy(c, g, cut);
            load(c, cut, &r);
            free(c);
        }
        free(g);
    }
    free(ram_buf);
    return check_report("test_loader");
}
