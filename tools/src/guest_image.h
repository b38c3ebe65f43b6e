/* A guest held in a Linux host tool's memory (hopvm-save, hopvm-restore):
 * its definition, RAM, vCPUs, UART and other devices, in the structs the
 * teleport session speaks (mig_state.h), and the saved-guest file that
 * keeps it (docs/migration-protocol.md: the magic "HOPVMTP1", then VM_DEF,
 * ROUND, RAM..., VCPU..., the UART's DEVICE, one generic DEVICE per other
 * device (none in files of older hopvms), and END, whose digest is plain
 * SHA-256). */
#ifndef HOPVM_TOOLS_GUEST_IMAGE_H
#define HOPVM_TOOLS_GUEST_IMAGE_H
#include <hopvm/mig_state.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Generic DEVICE records a guest may have: a local APIC per vCPU and a few
 * others (8259 pair, I/O APIC, PIT, RTC, platform), with room to spare. */
#define GUEST_DEV_MAX 32

struct guest_image {
    struct mig_vmdef def;
    uint8_t *ram;                        /* def.memory bytes, or NULL */
    struct mig_vcpu vcpu[CFG_MAX_VCPUS]; /* [0, def.vcpus) */
    struct mig_uart uart;
    /* The platform's other devices, as the source sent them (decoded but
     * not interpreted: the hopvm that loads them checks their values),
     * kept and given back in the same order. */
    struct mig_dev dev[GUEST_DEV_MAX];   /* [0, ndev) */
    unsigned ndev;
};

/* What a saved file holds, for the tools' summary lines. */
struct guest_file_info {
    uint64_t records;     /* VM_DEF up to END, END excluded (as END counts them) */
    uint64_t data_pages, zero_pages;
    uint64_t bytes;       /* the whole file, magic included */
};

/* Takes d as the guest's definition and allocates its RAM, zeroed.
 * 0, or -1 with the reason (out of memory) in err. */
int guest_image_alloc(struct guest_image *g, const struct mig_vmdef *d, char *err, size_t n);
void guest_image_free(struct guest_image *g);

/* Keeps a copy of d after the devices already kept: 0, or -1 with the
 * reason in err if GUEST_DEV_MAX are kept already. */
int guest_image_add_device(struct guest_image *g, const struct mig_dev *d, char *err, size_t n);

/* Writes the guest to path through path.tmp (sealed if password is not
 * NULL or ""), synced to disk and renamed,
 * so that path is either the old file or the whole new one. 0, or -1 with
 * the reason in err (path.tmp removed). */
int guest_image_save(const struct guest_image *g, const char *path, const char *password,
                     struct guest_file_info *info, char *err, size_t n);

/* Fails early, before a teleport starts, if path.tmp cannot be created. */
int guest_image_check_writable(const char *path, char *err, size_t n);

/* Reads and checks a saved guest (a sealed one needs its password): the record rules a target applies to a
 * stream, every page of RAM, every vCPU, the UART, every other device's
 * record (mig_dev_decode's rules: the values are for the hopvm that loads
 * them), and END's counts and digest. 0 and g filled (free it with
 * guest_image_free), or -1 with "offset 0x...: reason" in err and nothing
 * allocated. */
int guest_image_load(struct guest_image *g, const char *path, const char *password, struct guest_file_info *info,
                     char *err, size_t n);

#endif
