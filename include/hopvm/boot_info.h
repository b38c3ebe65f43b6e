/* The one hand-over from the UEFI entry (boot/) to the core (vmm/).
 * After ExitBootServices the core knows the machine only through this
 * structure and never calls UEFI again. Everything it points to lives in
 * memory of type BOOT_MEM_HOPVM, which the page allocator never hands out. */
#ifndef HOPVM_BOOT_INFO_H
#define HOPVM_BOOT_INFO_H
#include <stdint.h>

#define BOOT_INFO_MAGIC   0x4f4f42564d504f48ull /* "HOPVMBOO" */
#define BOOT_INFO_VERSION 1
#define BOOT_MAX_MEM      512
#define BOOT_MAX_FILES    32
#define BOOT_NAME_MAX     64

/* Memory kinds, normalised from the UEFI memory map (UEFI 2.10 7.2.3). */
enum boot_mem_type {
    BOOT_MEM_USABLE = 1,   /* conventional + boot-services memory: free for the allocator */
    BOOT_MEM_HOPVM,        /* loader code/data: our image, boot_info, loaded files */
    BOOT_MEM_RESERVED,     /* firmware reserved, runtime services, unusable, PAL */
    BOOT_MEM_ACPI_RECLAIM, /* ACPI tables */
    BOOT_MEM_ACPI_NVS,
    BOOT_MEM_MMIO,         /* memory-mapped I/O, never RAM */
    BOOT_MEM_PERSISTENT,
};

struct boot_mem_range {
    uint64_t base;  /* physical, 4 KiB aligned */
    uint64_t pages; /* 4 KiB pages */
    uint32_t type;  /* enum boot_mem_type */
    uint32_t efi_type;
};

/* A file read from the boot volume's \guests\ folder. */
struct boot_file {
    char name[BOOT_NAME_MAX];
    const uint8_t *data;
    uint64_t size;
};

struct boot_info {
    uint64_t magic;
    uint32_t version;
    uint32_t mem_count;
    uint64_t image_base; /* where UEFI loaded hopvm.efi */
    uint64_t image_size;
    uint64_t rsdp;       /* physical address of the ACPI RSDP, 0 if none */
    uint64_t tsc_at_exit; /* TSC right after ExitBootServices */
    uint32_t ebs_tries;   /* ExitBootServices attempts (stale map key retries + 1) */
    uint32_t file_count;
    const char *config;   /* \hopvm.cfg, NUL-terminated; NULL if absent */
    uint64_t config_size;
    char boot_error[128]; /* non-fatal problems the loader saw, for the core to print */
    struct boot_mem_range mem[BOOT_MAX_MEM];
    struct boot_file files[BOOT_MAX_FILES];
};

/* A file from the boot volume's \guests\ folder, or NULL (vmm/main.c). */
const struct boot_file *boot_file(const char *name);

/* The core's entry point; it never returns. */
__attribute__((noreturn)) void vmm_main(struct boot_info *bi);

#endif
