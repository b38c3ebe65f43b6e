/* hopvm.cfg: the configuration file on the boot volume (format in
 * README.md). Pure parser: unit-tested and fuzzed on Linux. */
#ifndef HOPVM_CONFIG_H
#define HOPVM_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_VMS     32
#define CFG_MAX_MODULES 4
#define CFG_MAX_VCPUS   8
#define CFG_NAME_MAX    32
#define CFG_FILE_MAX    64
#define CFG_CMDLINE_MAX 256
#define CFG_MEM_MIN     (1ull << 20)
#define CFG_MEM_MAX     (64ull << 30)
#define CFG_MAX_NETS    4
#define CFG_IF_MAX      8

struct cfg_module {
    char file[CFG_FILE_MAX];
    char args[CFG_CMDLINE_MAX];
};

/* The CPU a guest is shown (vmm/cpuid.c): the host's features, or a named
 * x86-64 baseline (the psABI's micro-architecture levels), so a guest can
 * move among hosts that all have that level. */
enum cfg_cpu { CFG_CPU_HOST, CFG_CPU_X86_64_V2, CFG_CPU_X86_64_V3, CFG_CPU_COUNT };
extern const char *const cfg_cpu_names[CFG_CPU_COUNT];

struct cfg_vm {
    char name[CFG_NAME_MAX];
    uint64_t memory;
    unsigned vcpus;
    char kernel[CFG_FILE_MAX];
    char cmdline[CFG_CMDLINE_MAX];
    char initrd[CFG_FILE_MAX];  /* Linux's initial ramdisk ("" if none) */
    struct cfg_module modules[CFG_MAX_MODULES];
    unsigned nmodules;
    bool autostart;
    enum cfg_cpu cpu;           /* `cpu =`; CFG_CPU_HOST if absent */
};

/* [net IF]: how one interface gets its IPv4 address. */
struct cfg_net {
    char ifname[CFG_IF_MAX];   /* eth0, eth1, ... */
    bool is_static;            /* false: DHCP (the default) */
    uint32_t addr, gw;         /* host order; gw 0: none */
    unsigned prefix;
};

struct config {
    char host_name[CFG_NAME_MAX];
    struct cfg_net nets[CFG_MAX_NETS];
    unsigned nnets;
    struct cfg_vm vms[CFG_MAX_VMS];
    unsigned nvms;
};

/* Called once per problem with the 1-based line number and a message. */
typedef void (*cfg_error_fn)(void *ctx, unsigned line, const char *msg);

/* Parses len bytes of text. A VM section with any error is dropped whole;
 * everything valid is kept. Returns the number of errors reported. */
unsigned config_parse(const char *text, size_t len, struct config *cfg, cfg_error_fn err, void *ctx);

/* vmm/main.c: this hopvm's [host] name ("hopvm" if the config has none). */
const char *host_name(void);

/* Parses "64M", "1G", "512K", "4096" into bytes. 0 or -1. */
int config_parse_size(const char *s, uint64_t *out);

#endif
