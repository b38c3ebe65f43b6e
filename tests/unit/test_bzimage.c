/* Linux bzImage loading (vmm/bzimage.c) against the x86 boot protocol
 * (Documentation/arch/x86/boot.rst): synthetic images with one field at a
 * time wrong, the placement of the kernel and the initrd, and the zero page
 * the kernel reads (setup header, command line, e820). With
 * --write-seed FILE it writes the fuzz seed (tests/fuzz/corpus/fuzz_loader). */
#include "check.h"
#include <hopvm/loader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM (64u << 20)
#define SETUP_SECTS 4
#define SETUP_LEN ((SETUP_SECTS + 1) * 512)
#define KBYTES 0x3000
#define FILE_LEN (SETUP_LEN + KBYTES)
#define PREF 0x1000000ull        /* 16 MiB, as Debian's kernels ask */
#define INIT_SIZE 0x800000u      /* 8 MiB */

static uint8_t *ram_buf;
static uint8_t img[FILE_LEN];
static char err[200];

static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(img + off, &v, 8); }
static uint32_t bp32(size_t off) { uint32_t v; memcpy(&v, ram_buf + GUEST_ZERO_PAGE + off, 4); return v; }
static uint64_t bp64(size_t off) { uint64_t v; memcpy(&v, ram_buf + GUEST_ZERO_PAGE + off, 8); return v; }

/* A well-formed bzImage of protocol 2.15: relocatable, 64-bit entry. */
static void make(void)
{
    memset(img, 0, sizeof(img));
    img[0x1f1] = SETUP_SECTS;
    put16(0x1fe, 0xaa55);
    img[0x201] = 0x6a;          /* the header ends at 0x26c */
    memcpy(img + 0x202, "HdrS", 4);
    put16(0x206, 0x020f);
    img[0x211] = 0x01;          /* LOADED_HIGH */
    put32(0x22c, 0x7fffffff);   /* initrd_addr_max */
    put32(0x230, 0x200000);     /* kernel_alignment */
    img[0x234] = 1;             /* relocatable */
    put16(0x236, 0x3);          /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
    put32(0x238, 2047);         /* cmdline_size */
    put64(0x258, PREF);
    put32(0x260, INIT_SIZE);
    put32(0x1f4, (KBYTES - 0x100) / 16); /* syssize: the last 256 bytes are a "signature" */
    for (size_t i = 0; i < KBYTES; i++)
        img[SETUP_LEN + i] = (uint8_t)(i * 13 + 7);
}

static int load_with(uint64_t ram_size, const char *cmdline, const uint8_t *rd, uint64_t rd_len, unsigned nmods,
                     struct load_result *r)
{
    struct guest_ram ram = {ram_buf, ram_size};
    uint8_t *copy = malloc(FILE_LEN); /* exactly the file: ASan sees an overread */
    memcpy(copy, img, FILE_LEN);
    struct load_req req = {.kernel = {"vmlinuz", copy, FILE_LEN, ""}, .cmdline = cmdline, .nmods = nmods,
                           .mods = {{"m", copy, 16, ""}}};
    if (rd)
        req.initrd = (struct load_file){"initrd.gz", rd, rd_len, ""};
    memset(ram_buf, 0x5a, RAM);
    err[0] = 0;
    int rc = loader_load(&ram, &req, r, err, sizeof(err));
    free(copy);
    return rc;
}

static void expect_fail_at(int line, uint64_t ram_size, const char *cmdline, const char *want)
{
    struct load_result r;
    if (load_with(ram_size, cmdline, NULL, 0, 0, &r) == -1 && strstr(err, want) && !strchr(err, '\n')) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "test_bzimage.c:%d: got \"%s\", expected \"...%s...\"\n", line, err, want);
}
#define FAIL(want) expect_fail_at(__LINE__, RAM, "", want)

static void good(void)
{
    make();
    struct load_result r;
    CHECK(load_with(RAM, "console=ttyS0 quiet", NULL, 0, 0, &r) == 0);
    CHECK_STR(err, "");
    CHECK(r.mode == BOOT_LINUX64);
    CHECK_U64(r.entry, PREF + 0x200);       /* startup_64 */
    CHECK_U64(r.info, GUEST_ZERO_PAGE);
    CHECK_U64(r.image_end, PREF + INIT_SIZE);
    CHECK(!memcmp(ram_buf + PREF, img + SETUP_LEN, KBYTES - 0x100));
    CHECK_U64(ram_buf[PREF + KBYTES - 0x100], 0);    /* not the signature: init_size is the kernel's, zeroed */
    CHECK_U64(ram_buf[PREF + INIT_SIZE - 1], 0);
    CHECK_U64(ram_buf[PREF + INIT_SIZE], 0x5a);      /* and nothing past it */
    /* The zero page: the setup header as the file has it, then the loader's fields. */
    CHECK(!memcmp(ram_buf + GUEST_ZERO_PAGE + 0x202, "HdrS", 4));
    CHECK_U64(bp64(0x258), PREF);
    CHECK_U64(ram_buf[GUEST_ZERO_PAGE + 0x210], 0xff); /* type_of_loader */
    CHECK_U64(bp32(0x228), GUEST_LINUX_CMDLINE);
    CHECK_STR((char *)ram_buf + GUEST_LINUX_CMDLINE, "console=ttyS0 quiet");
    CHECK_U64(bp32(0x218), 0);
    CHECK_U64(bp32(0x21c), 0);
    CHECK_U64(ram_buf[GUEST_ZERO_PAGE + 0x26c], 0);  /* past the header: not copied */
    CHECK_U64(bp64(0x070), 0xe0000);                  /* acpi_rsdp_addr: the guest's ACPI tables */
    /* e820: RAM below the EBDA, the EBDA and the BIOS area (ACPI tables from
     * 0xe0000) reserved, RAM from 1 MiB. */
    CHECK_U64(ram_buf[GUEST_ZERO_PAGE + 0x1e8], 4);
    static const uint64_t want[4][3] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xe0000, 0x20000, 2}, {0x100000, RAM - 0x100000, 1}};
    for (int i = 0; i < 4; i++) {
        CHECK_U64(bp64(0x2d0 + i * 20), want[i][0]);
        CHECK_U64(bp64(0x2d0 + i * 20 + 8), want[i][1]);
        CHECK_U64(bp32(0x2d0 + i * 20 + 16), want[i][2]);
    }
    /* The boot protocol's GDT: __BOOT_CS at 0x10 (64-bit code), __BOOT_DS at 0x18. */
    uint64_t gdt[4];
    memcpy(gdt, ram_buf + GUEST_GDT, sizeof(gdt));
    CHECK_U64(gdt[2], 0x00af9a000000ffffull);
    CHECK_U64(gdt[3], 0x00cf92000000ffffull);

    /* An initrd: as high as RAM allows, page-aligned, copied whole. */
    static uint8_t rd[10000];
    for (size_t i = 0; i < sizeof(rd); i++)
        rd[i] = (uint8_t)(i * 31);
    CHECK(load_with(RAM, "", rd, sizeof(rd), 0, &r) == 0);
    uint64_t at = (RAM - sizeof(rd)) & ~0xfffull;
    CHECK_U64(bp32(0x218), at);
    CHECK_U64(bp32(0x21c), sizeof(rd));
    CHECK(!memcmp(ram_buf + at, rd, sizeof(rd)));
    CHECK_U64(r.image_end, at + sizeof(rd));
    /* initrd_addr_max caps it. */
    put32(0x22c, 0x1ffffff);
    CHECK(load_with(RAM, "", rd, sizeof(rd), 0, &r) == 0);
    CHECK_U64(bp32(0x218), (0x2000000 - sizeof(rd)) & ~0xfffull);
    /* ... and must leave room above the kernel. */
    put32(0x22c, PREF + INIT_SIZE + 0x1000);
    CHECK(load_with(RAM, "", rd, sizeof(rd), 0, &r) == -1 && strstr(err, "does not fit"));
    make();

    /* Too little RAM for pref_address + init_size: refused, relocatable or
     * not (the decompressor never runs a kernel below pref_address). */
    CHECK(load_with(16u << 20, "", NULL, 0, 0, &r) == -1 && strstr(err, "give the guest at least 24 MiB"));
    img[0x234] = 0;
    CHECK(load_with(16u << 20, "", NULL, 0, 0, &r) == -1 && strstr(err, "give the guest at least 24 MiB"));
    CHECK(load_with(RAM, "", NULL, 0, 0, &r) == 0 && r.entry == PREF + 0x200);
    make();
    /* A pref_address off the alignment: the kernel runs at the next boundary. */
    put64(0x258, PREF + 0x1000);
    CHECK(load_with(RAM, "", NULL, 0, 0, &r) == 0 && r.entry == PREF + 0x1000 + 0x200);
    CHECK_U64(r.image_end, PREF + 0x200000 + INIT_SIZE);
    CHECK(load_with(PREF + INIT_SIZE + 0x100000, "", NULL, 0, 0, &r) == -1 && strstr(err, "needs 8 MiB from 0x1200000"));
    put64(0x258, 0x80000);
    CHECK(load_with(RAM, "", NULL, 0, 0, &r) == -1 && strstr(err, "not between 1 MiB and 4 GiB"));
    make();
    put32(0x230, 0x3000);
    CHECK(load_with(RAM, "", NULL, 0, 0, &r) == -1 && strstr(err, "kernel_alignment 0x3000"));
}

static void refused(void)
{
    make();
    put16(0x1fe, 0x55aa);
    FAIL("boot flag");
    make();
    put16(0x206, 0x020b);
    FAIL("boot protocol 2.11 is older than 2.12");
    make();
    img[0x211] = 0;
    FAIL("zImage");
    make();
    put16(0x236, 0x2);
    FAIL("no 64-bit entry point");
    make();
    img[0x1f1] = 40; /* setup past the end of the file */
    FAIL("no kernel after it");
    make();
    put32(0x1f4, KBYTES / 16 + 1);
    FAIL("syssize says");
    make();
    put32(0x1f4, 0);
    FAIL("syssize says 0 bytes");
    make();
    put32(0x238, 5);
    expect_fail_at(__LINE__, RAM, "console=ttyS0", "longer than the kernel takes (5)");
    expect_fail_at(__LINE__, 4ull << 30, "", "at most 3 GiB");
    struct load_result r;
    CHECK(load_with(RAM, "", NULL, 0, 1, &r) == -1 && strstr(err, "module = is for multiboot"));
    /* Cut anywhere in the header: refused or loaded, never read past the file. */
    for (size_t cut = 0; cut < 0x270; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, img, cut);
        struct guest_ram ram = {ram_buf, RAM};
        struct load_req req = {.kernel = {"k", c, cut, ""}, .cmdline = ""};
        CHECK(loader_load(&ram, &req, &r, err, sizeof(err)) == -1);
        free(c);
    }
}

int main(int argc, char **argv)
{
    ram_buf = malloc(RAM);
    if (argc == 3 && !strcmp(argv[1], "--write-seed")) {
        /* An odd size: fuzz_loader then tries it as a Linux kernel with an
         * initrd and no modules (see there). 1 MiB fits its 4 MiB RAM. */
        make();
        put32(0x260, 0x100000);
        put64(0x258, 0x200000); /* runs at 2 MiB: fits the fuzzer's 4 MiB */
        FILE *f = fopen(argv[2], "wb");
        uint8_t pad = 0;
        int bad = !f || fwrite(img, 1, FILE_LEN, f) != FILE_LEN || fwrite(&pad, 1, 1, f) != 1 || fclose(f);
        return bad;
    }
    good();
    refused();
    return check_report("test_bzimage");
}
