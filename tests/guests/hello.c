/* hello: proves a multiboot guest boots: prints what the loader handed it
 * and exits with code 0 through the debug-exit port. */
#include "rt.h"

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    printf("Hello from a hopvm guest!\n");
    if (magic != MB_BOOT_MAGIC) {
        printf("hello: bad boot magic 0x%x\n", magic);
        guest_exit(1);
    }
    printf("hello: cmdline '%s'\n", cmdline(mbi));
    if (mbi->flags & MB_INFO_MEM)
        printf("hello: memory lower %u KiB, upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    if (mbi->flags & MB_INFO_MMAP) {
        uint32_t off = 0;
        while (off < mbi->mmap_length) {
            const uint32_t *e = (const uint32_t *)(uintptr_t)(mbi->mmap_addr + off);
            printf("hello: mmap %08x-%08x type %u\n", e[1], e[1] + e[3] - 1, e[5]);
            off += e[0] + 4;
        }
    }
    if (mbi->flags & MB_INFO_MODS) {
        const struct mb_module *m = (const struct mb_module *)(uintptr_t)mbi->mods_addr;
        for (uint32_t i = 0; i < mbi->mods_count; i++)
            printf("hello: module %u '%s' %u bytes\n", i, (const char *)(uintptr_t)m[i].string,
                   m[i].mod_end - m[i].mod_start);
    }
    printf("hello: unclaimed port 0x2e0 reads 0x%x\n", inb(0x2e0));
    uint32_t r[4];
    cpuid(0x40000000, r);
    printf("hello: hypervisor '%c%c%c%c%c' max leaf 0x%x\n", (char)r[1], (char)(r[1] >> 8),
           (char)(r[1] >> 16), (char)(r[1] >> 24), (char)r[2], r[0]);
    printf("hello: bye\n");
    guest_exit(0);
}
