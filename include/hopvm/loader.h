/* Guest kernel loading: multiboot v1 (32-bit protected mode), ELF64
 * (long mode) and Linux bzImages (the x86 boot protocol, 64-bit entry). Pure: writes into a host buffer that is the guest's RAM;
 * unit-tested and fuzzed on Linux. The guest-physical layout below 1 MiB
 * belongs to the loader (documented in README, "Guest kernels"). */
#ifndef HOPVM_LOADER_H
#define HOPVM_LOADER_H
#include <stddef.h>
#include <stdint.h>

#define LOADER_MAX_MODULES 4
#define GUEST_PML4      0x1000ull /* long mode: PML4, PDPT, 4 PDs (0-4 GiB, 2 MiB pages) */
#define GUEST_PDPT      0x2000ull
#define GUEST_PD        0x3000ull
#define GUEST_GDT       0x7000ull /* null, 0x08 code64, 0x10 data, 0x18 code32 */
#define GUEST_INFO      0x8000ull /* multiboot v1 information and its strings */
#define GUEST_INFO_END  0xa000ull
#define GUEST_STACK_TOP 0x80000ull /* long mode initial RSP */
#define GUEST_KERNEL_MIN 0x100000ull /* kernels load at or above 1 MiB */
#define GUEST_ACPI      0xe0000ull /* the guest's ACPI tables (vmm/acpi_guest.c), RSDP first */
#define GUEST_ACPI_MAX  0x10000ull
#define GUEST_SEL_CODE64 0x08
#define GUEST_SEL_DATA   0x10
#define GUEST_SEL_CODE32 0x18
#define MULTIBOOT_BOOT_MAGIC 0x2badb002u
/* Linux (vmm/bzimage.c): the zero page and the command line; the GDT at
 * GUEST_GDT then holds the boot protocol's __BOOT_CS and __BOOT_DS. */
#define GUEST_ZERO_PAGE  0x10000ull
#define GUEST_LINUX_CMDLINE 0x20000ull
#define GUEST_LINUX_CMDLINE_MAX 4096
#define GUEST_SEL_LINUX_CS 0x10
#define GUEST_SEL_LINUX_DS 0x18

struct guest_ram {
    uint8_t *host;  /* host view of guest-physical 0 */
    uint64_t size;
};

struct load_file {
    const char *name;
    const uint8_t *data;
    uint64_t size;
    const char *args;   /* module arguments ("" if none) */
};

struct load_req {
    struct load_file kernel;
    const char *cmdline;
    struct load_file mods[LOADER_MAX_MODULES];
    unsigned nmods;
    struct load_file initrd; /* Linux only; data NULL if none */
};

enum boot_mode { BOOT_MULTIBOOT32 = 1, BOOT_LONG64 = 2, BOOT_LINUX64 = 3 };

struct load_result {
    enum boot_mode mode;
    uint64_t entry;     /* guest-physical */
    uint64_t info;      /* multiboot information structure, or Linux's zero page */
    uint64_t image_end; /* end of the kernel and its modules */
};

/* Returns 0, or -1 with a one-line reason in err. On failure guest RAM may
 * hold a partial image; the caller discards it. */
int loader_load(const struct guest_ram *ram, const struct load_req *req, struct load_result *res,
                char *err, size_t errlen);

#endif
