/* Linux kernels (bzImage) by the x86 boot protocol, 64-bit entry
 * (Documentation/arch/x86/boot.rst, "The Linux/x86 Boot Protocol", and
 * zero-page.rst): the protected-mode kernel goes where its setup header
 * asks (pref_address, or for a relocatable kernel the lowest address with
 * its kernel_alignment that has room for init_size), the initrd as high as
 * initrd_addr_max and guest RAM allow, and a zero page (struct boot_params)
 * with the setup header, the command line and an e820 map. The vCPU starts
 * in long mode at the kernel's startup_64 (load address + 0x200) with RSI
 * pointing at the zero page and the flat __BOOT_CS/__BOOT_DS segments the
 * protocol names. Every field read from the file is checked against the
 * file and guest RAM: the file is whatever was copied onto the USB stick.
 * Pure; unit-tested and fuzzed (tests/fuzz/fuzz_loader.c). */
#include <hopvm/lib.h>
#include <hopvm/loader.h>
#include "loader_internal.h"

/* Setup header offsets in the file and in boot_params (boot.rst, "THE
 * REAL-MODE KERNEL HEADER"; the same offsets in both). */
#define HDR_START          0x1f1
#define HDR_SETUP_SECTS    0x1f1
#define HDR_SYSSIZE        0x1f4 /* the protected-mode code, in 16-byte paragraphs */
#define HDR_BOOT_FLAG      0x1fe
#define HDR_JUMP_LEN       0x201 /* the header ends at 0x202 + this byte */
#define HDR_MAGIC          0x202
#define HDR_VERSION        0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS      0x211
#define HDR_RAMDISK_IMAGE  0x218
#define HDR_RAMDISK_SIZE   0x21c
#define HDR_CMD_LINE_PTR   0x228
#define HDR_INITRD_MAX     0x22c
#define HDR_KERNEL_ALIGN   0x230
#define HDR_RELOCATABLE    0x234
#define HDR_XLOADFLAGS     0x236
#define HDR_CMDLINE_SIZE   0x238
#define HDR_PREF_ADDRESS   0x258
#define HDR_INIT_SIZE      0x260
#define HDR_MIN_END        0x264 /* through init_size: protocol 2.10 and later */
#define HDR_MAX_END        0x290 /* struct setup_header ends here in boot_params */
/* boot_params fields outside the header (zero-page.rst). */
#define BP_E820_ENTRIES    0x1e8
#define BP_E820_TABLE      0x2d0
#define BP_E820_MAX        128
#define E820_ENTRY_LEN     20
#define E820_RAM           1
#define E820_RESERVED      2

#define BOOT_FLAG          0xaa55
#define BOOT_MAGIC         0x53726448u /* "HdrS" */
#define PROTOCOL_MIN       0x020c      /* 2.12: xloadflags, the 64-bit entry */
#define LOADED_HIGH        0x01        /* loadflags: a bzImage, loaded at 1 MiB or above */
#define XLF_KERNEL_64      0x01        /* xloadflags: startup_64 at +0x200 */
#define ENTRY_64_OFFSET    0x200
#define LOADER_UNDEFINED   0xff        /* type_of_loader: a boot loader without an assigned ID */
#define SECTOR             512
#define SETUP_SECTS_DEFAULT 4          /* setup_sects 0 means 4 */
#define CMDLINE_SIZE_OLD   255         /* before protocol 2.06 */
#define EBDA_START         0x9fc00ull  /* the last KiB below 640 KiB, as a PC BIOS keeps it */
#define BIOS_START         GUEST_ACPI  /* the BIOS area, where the ACPI tables are */
#define BP_ACPI_RSDP_ADDR  0x070       /* boot_params.acpi_rsdp_addr (protocol 2.14) */
#define LOW_END            0xa0000ull
#define IDENTITY_END       (4ull << 30) /* loader.c's page tables map 0-4 GiB */
#define LINUX_RAM_MAX      (3ull << 30) /* above: the APIC/IOAPIC/PCI hole would need a split map */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

bool bzimage_detect(const uint8_t *f, uint64_t size)
{
    return size >= HDR_MAGIC + 4 && rd32(f + HDR_MAGIC) == BOOT_MAGIC;
}

static void e820_add(uint8_t *bp, uint64_t addr, uint64_t len, uint32_t type)
{
    uint8_t n = bp[BP_E820_ENTRIES];
    uint8_t *e = bp + BP_E820_TABLE + n * E820_ENTRY_LEN;
    memcpy(e, &addr, 8);
    memcpy(e + 8, &len, 8);
    memcpy(e + 16, &type, 4);
    bp[BP_E820_ENTRIES] = n + 1;
}

/* Where the protected-mode kernel goes, and where what it uses ends. The
 * x86-64 decompressor (arch/x86/boot/compressed/head_64.S) runs the kernel
 * at the load address rounded up to kernel_alignment, but never below
 * LOAD_PHYSICAL_ADDR, which is pref_address: loading lower saves nothing,
 * so the kernel goes at pref_address and needs init_size from there
 * (boot.rst, "pref_address", "init_size", "kernel_alignment"). */
static int place_kernel(const struct guest_ram *ram, const uint8_t *f, uint64_t kbytes, uint64_t *at,
                        uint64_t *end, char *err, size_t n)
{
    uint64_t pref = rd64(f + HDR_PREF_ADDRESS), need = MAX((uint64_t)rd32(f + HDR_INIT_SIZE), kbytes);
    uint64_t align = rd32(f + HDR_KERNEL_ALIGN), top = MIN(ram->size, IDENTITY_END), run = pref;
    if (pref < GUEST_KERNEL_MIN || pref >= IDENTITY_END)
        return load_fail(err, n, "the kernel wants to run at 0x%lx, not between 1 MiB and 4 GiB", pref);
    if (f[HDR_RELOCATABLE]) {
        if (align < PAGE_SIZE || (align & (align - 1)) || align > (1ull << 30))
            return load_fail(err, n, "kernel_alignment 0x%lx is not a power of two from 4 KiB to 1 GiB", align);
        run = (pref + align - 1) & ~(align - 1);
    }
    if (run > top || need > top - run)
        return load_fail(err, n, "the kernel needs %lu MiB from 0x%lx (init_size): give the guest at least %lu MiB",
                         need >> 20, run, (run + need + (1 << 20) - 1) >> 20);
    *at = pref;
    *end = run + need;
    return 0;
}

/* As high as initrd_addr_max and guest RAM allow, page-aligned, above the
 * kernel's init_size (boot.rst, "initrd_addr_max"; what GRUB does). */
static int place_initrd(const struct guest_ram *ram, const uint8_t *f, const struct load_file *rd, uint64_t floor,
                        uint64_t *at, char *err, size_t n)
{
    uint64_t top = MIN(MIN(ram->size, IDENTITY_END), (uint64_t)rd32(f + HDR_INITRD_MAX) + 1);
    floor = (floor + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    if (rd->size == 0)
        return load_fail(err, n, "initrd '%s' is empty", rd->name);
    if (rd->size > top || ((top - rd->size) & ~(uint64_t)(PAGE_SIZE - 1)) < floor)
        return load_fail(err, n, "initrd '%s' (%lu KiB) does not fit between the kernel (ends at 0x%lx) and 0x%lx: "
                         "give the guest more memory", rd->name, rd->size >> 10, floor, top);
    *at = (top - rd->size) & ~(uint64_t)(PAGE_SIZE - 1);
    memcpy(ram->host + *at, rd->data, rd->size);
    return 0;
}

int bzimage_load(const struct guest_ram *ram, const struct load_req *req, struct load_result *res, char *err,
                 size_t n)
{
    const uint8_t *f = req->kernel.data;
    uint64_t size = req->kernel.size;
    if (size < HDR_MIN_END)
        return load_fail(err, n, "Linux setup header truncated (%lu bytes)", size);
    uint16_t flag, version;
    memcpy(&flag, f + HDR_BOOT_FLAG, 2);
    memcpy(&version, f + HDR_VERSION, 2);
    if (flag != BOOT_FLAG)
        return load_fail(err, n, "Linux setup header without its boot flag 0xAA55");
    if (version < PROTOCOL_MIN)
        return load_fail(err, n, "Linux boot protocol %u.%02u is older than 2.12 (no 64-bit entry): a kernel "
                         "from 2013 or later is needed", version >> 8, version & 0xff);
    if (!(f[HDR_LOADFLAGS] & LOADED_HIGH))
        return load_fail(err, n, "a zImage (loaded below 1 MiB): only bzImage kernels are supported");
    uint16_t xlf;
    memcpy(&xlf, f + HDR_XLOADFLAGS, 2);
    if (!(xlf & XLF_KERNEL_64))
        return load_fail(err, n, "the kernel has no 64-bit entry point (a 32-bit kernel?)");
    if (ram->size > LINUX_RAM_MAX)
        return load_fail(err, n, "a Linux guest has at most 3 GiB of memory for now (no PCI hole yet)");
    if (req->nmods)
        return load_fail(err, n, "module = is for multiboot kernels: a Linux kernel takes initrd =");
    unsigned sects = f[HDR_SETUP_SECTS] ? f[HDR_SETUP_SECTS] : SETUP_SECTS_DEFAULT;
    uint64_t setup = (uint64_t)(sects + 1) * SECTOR;
    if (setup >= size)
        return load_fail(err, n, "the real-mode setup (%u sectors) is the whole file: no kernel after it", sects);
    size_t cmdlen = strlen(req->cmdline);
    uint32_t cmdmax = version >= 0x0206 ? rd32(f + HDR_CMDLINE_SIZE) : CMDLINE_SIZE_OLD;
    if (cmdlen > cmdmax || cmdlen >= GUEST_LINUX_CMDLINE_MAX)
        return load_fail(err, n, "cmdline of %lu bytes is longer than the kernel takes (%u)", (unsigned long)cmdlen,
                         MIN(cmdmax, (uint32_t)GUEST_LINUX_CMDLINE_MAX - 1));
    /* syssize, not the file's end: what follows may be a signature
     * (Debian's signed kernels carry a 1472-byte Authenticode blob). */
    uint64_t kbytes = (uint64_t)rd32(f + HDR_SYSSIZE) * 16, at = 0, end = 0, rd_at = 0;
    if (kbytes == 0 || kbytes > size - setup)
        return load_fail(err, n, "syssize says %lu bytes of kernel, the file has %lu after the setup: truncated?",
                         kbytes, size - setup);
    if (place_kernel(ram, f, kbytes, &at, &end, err, n) != 0)
        return -1;
    memcpy(ram->host + at, f + setup, kbytes);
    memset(ram->host + at + kbytes, 0, end - at - kbytes); /* init_size: the decompressor's room */
    if (req->initrd.data && place_initrd(ram, f, &req->initrd, end, &rd_at, err, n) != 0)
        return -1;

    /* The zero page: the file's setup header, then what a boot loader
     * fills in (boot.rst, "Details of header fields": "write" fields). */
    uint8_t *bp = ram->host + GUEST_ZERO_PAGE;
    memset(bp, 0, PAGE_SIZE);
    uint64_t hdr_end = MIN(MIN((uint64_t)HDR_MAGIC + f[HDR_JUMP_LEN], (uint64_t)HDR_MAX_END), size);
    memcpy(bp + HDR_START, f + HDR_START, hdr_end - HDR_START);
    bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
    memcpy(ram->host + GUEST_LINUX_CMDLINE, req->cmdline, cmdlen + 1);
    wr32(bp + HDR_CMD_LINE_PTR, (uint32_t)GUEST_LINUX_CMDLINE);
    wr32(bp + HDR_RAMDISK_IMAGE, (uint32_t)rd_at);
    wr32(bp + HDR_RAMDISK_SIZE, req->initrd.data ? (uint32_t)req->initrd.size : 0);
    /* What a PC's BIOS would report: conventional memory up to the EBDA,
     * the BIOS area reserved, RAM from 1 MiB on. */
    uint64_t rsdp = GUEST_ACPI;
    memcpy(bp + BP_ACPI_RSDP_ADDR, &rsdp, 8);
    e820_add(bp, 0, EBDA_START, E820_RAM);
    e820_add(bp, EBDA_START, LOW_END - EBDA_START, E820_RESERVED);
    e820_add(bp, BIOS_START, GUEST_KERNEL_MIN - BIOS_START, E820_RESERVED);
    e820_add(bp, GUEST_KERNEL_MIN, ram->size - GUEST_KERNEL_MIN, E820_RAM);
    linux_gdt(ram);
    res->mode = BOOT_LINUX64;
    res->entry = at + ENTRY_64_OFFSET;
    res->info = GUEST_ZERO_PAGE;
    res->image_end = req->initrd.data ? rd_at + req->initrd.size : end;
    return 0;
}
