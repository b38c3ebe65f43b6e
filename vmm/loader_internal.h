/* Shared between vmm/loader.c, vmm/multiboot.c and vmm/bzimage.c only. */
#ifndef HOPVM_LOADER_INTERNAL_H
#define HOPVM_LOADER_INTERNAL_H
#include <hopvm/loader.h>
#include <stdbool.h>

#define MAX_SEGS 16

struct seg {
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

int load_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies filesz bytes to gpa and zeroes up to memsz, after range checks. */
int place(const struct guest_ram *ram, uint64_t gpa, const uint8_t *src, uint64_t filesz,
          uint64_t memsz, char *err, size_t n);
/* Loads an ELF of the given class (1: 32, 2: 64) by its program headers. */
int elf_load(const struct guest_ram *ram, const uint8_t *f, uint64_t size, int want_class,
             uint64_t *entry, uint64_t *end, char *err, size_t n);

/* Offset of a valid multiboot v1 header in the first 8 KiB, or -1. */
long multiboot_header_find(const uint8_t *f, uint64_t size);
int multiboot_load(const struct guest_ram *ram, const uint8_t *f, uint64_t size, uint64_t *entry,
                   uint64_t *end, char *err, size_t n);
/* Places the modules and writes the information structure at GUEST_INFO. */
int multiboot_info(const struct guest_ram *ram, const struct load_req *req, struct load_result *res,
                   char *err, size_t n);

/* vmm/bzimage.c: a Linux setup header ("HdrS") is there; the load. */
bool bzimage_detect(const uint8_t *f, uint64_t size);
int bzimage_load(const struct guest_ram *ram, const struct load_req *req, struct load_result *res, char *err,
                 size_t n);
/* The boot protocol's GDT at GUEST_GDT: __BOOT_CS 0x10, __BOOT_DS 0x18. */
void linux_gdt(const struct guest_ram *ram);

#endif
