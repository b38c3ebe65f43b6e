/* Runtime shared by hopvm's test guests: serial output on the guest's
 * COM1, the debug-exit port, the TSC and the multiboot information.
 * Built both as 32-bit (multiboot v1 guests) and 64-bit (ELF64 guests). */
#ifndef GUEST_RT_H
#define GUEST_RT_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Multiboot v1 information structure (Multiboot Specification 0.6.96, 3.3). */
struct mb_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
};
struct mb_module {
    uint32_t mod_start, mod_end, string, reserved;
};
#define MB_INFO_MEM     (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)
#define MB_BOOT_MAGIC   0x2badb002u

void putc_serial(char c);
void puts_serial(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void guest_exit(uint8_t code);

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* TSC rate from hopvm's CPUID leaf 0x40000010 (EAX = kHz); 0 if absent. */
uint64_t tsc_khz(void);
/* The value of key=VALUE in the command line, as a number; def if absent. */
uint64_t cmdline_num(const struct mb_info *mbi, const char *key, uint64_t def);
const char *cmdline(const struct mb_info *mbi);
size_t strlen(const char *s);
void *memset(void *d, int c, size_t n);

/* Each guest provides this. */
void guest_main(uint32_t magic, const struct mb_info *mbi);

#endif
