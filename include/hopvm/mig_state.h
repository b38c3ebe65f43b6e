/* The device-tree bodies of the teleport stream's VM_DEF, VCPU and DEVICE
 * records (docs/migration-protocol.md, "Device trees"): encode from and
 * decode into fixed structs with libfdt. Pure: no allocation, caller
 * buffers; unit-tested (tests/unit/test_state.c) and fuzzed
 * (tests/fuzz/fuzz_state.c), because the decoders read untrusted bytes.
 *
 * Buffers handed to these functions must be 8-byte aligned: this vintage of
 * libfdt loads header words and reserve-map entries through typed pointers.
 * A misaligned buffer is refused (-1), never read. */
#ifndef HOPVM_MIG_STATE_H
#define HOPVM_MIG_STATE_H
#include <hopvm/config.h>
#include <hopvm/vcpu_state.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of /hopvm-stream in VM_DEF: the stream version whose trees
 * these are. */
#define MIG_STATE_VERSION 1

#define MIG_CPUID_MAX    32
#define MIG_CPUID_TABLE_MAX 128    /* the guest's whole CPUID (vmm/cpuid.c, VM_CPUID_MAX) */
#define MIG_BACKEND_MAX  8
#define MIG_FXSAVE_SIZE  512
#define MIG_YMMH_SIZE    256       /* the upper halves of YMM0-15 */
#define MIG_UART_RX_MAX  64        /* = sizeof(struct uart_dev.rx) */
#define MIG_UART_LOG_MAX 65536     /* = VM_LOG_SIZE */
#define MIG_UART_TYPE    "uart16550"

/* Worst-case encoded sizes (every string and array full), to size buffers.
 * Checked against real worst-case encodings by the unit test; all fit in
 * one stream record (REC_MAX_BODY is 1 MiB + 64). */
#define MIG_VMDEF_MAX 8192
#define MIG_VCPU_MAX  4096
#define MIG_UART_MAX  (MIG_UART_LOG_MAX + 1024)

/* VM_DEF: the guest's definition and the CPUID it was started with. */
struct mig_cpuid_leaf {
    uint32_t leaf, subleaf, eax, ebx, ecx, edx;
};
struct mig_vmdef {
    char name[CFG_NAME_MAX];        /* [A-Za-z0-9._-], as in hopvm.cfg */
    uint64_t memory;                /* bytes: CFG_MEM_MIN..CFG_MEM_MAX, 4 KiB multiple */
    uint32_t vcpus;                 /* 1..CFG_MAX_VCPUS */
    char kernel[CFG_FILE_MAX];      /* a file name in \guests: printable, no '/' or '\' */
    char cmdline[CFG_CMDLINE_MAX];  /* printable ASCII, may be empty */
    struct mig_cpuid_leaf cpuid[MIG_CPUID_MAX];
    unsigned ncpuid;                /* <= MIG_CPUID_MAX; no (leaf, subleaf) twice */
    /* Every leaf the guest's CPUID answers, fixed when it started: the
     * target answers from it (optional: 0 from a source that predates it,
     * and the target then answers with its own). */
    struct mig_cpuid_leaf table[MIG_CPUID_TABLE_MAX];
    unsigned ntable;                /* <= MIG_CPUID_TABLE_MAX; no (leaf, subleaf) twice */
    char source_host[CFG_NAME_MAX]; /* [A-Za-z0-9._-] */
    char backend[MIG_BACKEND_MAX];  /* "svm", "vmx": [A-Za-z0-9._-] */
};

/* VCPU: one vCPU's vendor-neutral state. s.tsc_offset is host-specific and
 * is not streamed (decode leaves it 0): tsc is the guest-visible TSC at the
 * pause, from which the target computes its own offset. */
struct mig_vcpu {
    uint32_t index;                 /* < CFG_MAX_VCPUS */
    struct vcpu_state s;
    uint64_t tsc;
    bool halted;
    uint8_t fxsave[MIG_FXSAVE_SIZE]; /* FXSAVE image (the XSAVE area's legacy region) */
    uint64_t xcr0;                  /* the guest's XCR0 (1, the reset value, if absent) */
    uint8_t ymmh[MIG_YMMH_SIZE];    /* YMM0-15 bits 255:128, 16 bytes each (zero if absent) */
    uint32_t tsc_aux;               /* IA32_TSC_AUX (0 if absent) */
};

/* DEVICE type "uart16550", instance 0: the guest's 16550 and its log. */
struct mig_uart {
    uint32_t thre;                  /* the THR-empty interrupt is raised (0 if absent) */
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rx[MIG_UART_RX_MAX];
    uint32_t rx_count;              /* pending input bytes, oldest first */
    uint64_t log_total;             /* bytes ever written (struct vm.log_len) */
    uint32_t log_count;             /* <= MIG_UART_LOG_MAX and <= log_total */
    uint8_t log[MIG_UART_LOG_MAX];  /* the newest log_count bytes, oldest first */
};

/* Encoders: write the tree into buf (cap bytes, 8-byte aligned) and set
 * *len to its size. -1 if cap is too small, or if the struct is not
 * encodable at all (a string without its NUL inside the field, a count
 * beyond its array); *len is then untouched. Content rules (name
 * characters, ranges) are the decoder's: a target applies them, and its
 * reason is the one worth showing. */
int mig_vmdef_encode(const struct mig_vmdef *d, void *buf, size_t cap, size_t *len);
int mig_vcpu_encode(const struct mig_vcpu *v, void *buf, size_t cap, size_t *len);
int mig_uart_encode(const struct mig_uart *u, void *buf, size_t cap, size_t *len);

/* Decoders of untrusted bytes: buf holds exactly one tree of len bytes
 * (the FDT's totalsize must equal len). 0 and *out filled, or -1 with
 * the first problem as a one-line reason in err (if errn > 0), such as
 * "VM_DEF: memory 0x123 is not a multiple of 4 KiB". *out may be partly
 * written on failure. Unknown properties and nodes are ignored: a newer
 * peer may add optional fields. */
int mig_vmdef_decode(const void *buf, size_t len, struct mig_vmdef *d, char *err, size_t errn);
int mig_vcpu_decode(const void *buf, size_t len, struct mig_vcpu *v, char *err, size_t errn);
int mig_uart_decode(const void *buf, size_t len, struct mig_uart *u, char *err, size_t errn);

/* The /device node's type ("uart16550", ...), to pick a decoder: 0, or -1
 * if the tree is bad, the type missing or malformed, or longer than n - 1. */
int mig_device_type(const void *buf, size_t len, char *type, size_t n);

/* The guest's serial log is a ring (vm_log_putc): byte i of everything
 * ever written sits at ring[i % ring_size]. These move the retained tail
 * between that ring and mig_uart.log keeping every byte at its index, so a
 * restored guest's log continues where it left off. from_ring keeps the
 * newest min(log_len, ring_size, MIG_UART_LOG_MAX) bytes; to_ring writes
 * the newest bytes that fit and sets *log_len to log_total (clear the ring
 * first: bytes it does not cover are left alone). ring_size > 0. */
void mig_uart_log_from_ring(struct mig_uart *u, const char *ring, size_t ring_size, uint64_t log_len);
void mig_uart_log_to_ring(const struct mig_uart *u, char *ring, size_t ring_size, uint64_t *log_len);

/* DEVICE records of the platform's devices (vmm/dev/: 8259s, I/O APIC,
 * local APICs, PIT, RTC, ACPI PM, ...): a type, an instance and named
 * properties, each a u32, a u64 or bytes (device-tree properties: numbers
 * big-endian). The engine carries them without knowing what they mean;
 * each device's load (in vmm/dev/) checks every value it takes, so a
 * record a device does not understand is refused by name. The UART keeps
 * its own record (mig_uart) for streams of version V-1. */
#define MIG_DEV_PROPS     64
#define MIG_DEV_NAME_MAX  32        /* a property name with its NUL */
#define MIG_DEV_VAL_MAX   256       /* bytes in one property's value */
#define MIG_DEV_MAX       (MIG_DEV_PROPS * (MIG_DEV_VAL_MAX + MIG_DEV_NAME_MAX + 16) + 512)
struct mig_dev_prop {
    char name[MIG_DEV_NAME_MAX];    /* [a-z0-9-], not "type" or "instance" */
    uint32_t len;                   /* <= MIG_DEV_VAL_MAX */
    uint8_t val[MIG_DEV_VAL_MAX];
};
struct mig_dev {
    char type[CFG_NAME_MAX];        /* [A-Za-z0-9._-], not "uart16550" */
    uint32_t instance;              /* e.g. the vCPU of a local APIC */
    uint32_t nprops;                /* <= MIG_DEV_PROPS, no name twice */
    struct mig_dev_prop props[MIG_DEV_PROPS];
};
void mig_dev_init(struct mig_dev *d, const char *type, uint32_t instance);
/* Adding a property: -1 if the record is full, the name is taken or bad,
 * or the value too long (a bug in the device's save, never the peer's). */
int mig_dev_put_u32(struct mig_dev *d, const char *name, uint32_t v);
int mig_dev_put_u64(struct mig_dev *d, const char *name, uint64_t v);
int mig_dev_put_bytes(struct mig_dev *d, const char *name, const void *p, uint32_t len);
/* Reading one: 0, or -1 with "property 'x' missing" / "... is N bytes,
 * expected M" in err. get_bytes wants exactly len bytes. */
int mig_dev_get_u32(const struct mig_dev *d, const char *name, uint32_t *v, char *err, size_t n);
int mig_dev_get_u64(const struct mig_dev *d, const char *name, uint64_t *v, char *err, size_t n);
int mig_dev_get_bytes(const struct mig_dev *d, const char *name, void *p, uint32_t len, char *err, size_t n);
/* An optional u32: dflt when absent (a source older than the property). */
int mig_dev_get_u32_opt(const struct mig_dev *d, const char *name, uint32_t dflt, uint32_t *v, char *err, size_t n);
int mig_dev_encode(const struct mig_dev *d, void *buf, size_t cap, size_t *len);
int mig_dev_decode(const void *buf, size_t len, struct mig_dev *d, char *err, size_t errn);

#endif
