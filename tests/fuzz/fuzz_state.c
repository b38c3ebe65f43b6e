/* libFuzzer: the VM_DEF, VCPU and DEVICE tree decoders and
 * mig_device_type (migrate/state_fdt.c), and the generic DEVICE decoder
 * (migrate/dev_state.c), on any bytes. No crash, no
 * overread, no undefined behaviour (libfdt included); a refusal always
 * has a one-line reason; whatever is accepted satisfies the documented
 * limits and survives encode + decode unchanged. */
#include <hopvm/lib.h>
#include <hopvm/mig_state.h>
#include <stdlib.h>

#define REASON_MAX 200

static struct mig_vmdef vmdef, vmdef2;
static struct mig_vcpu vcpu, vcpu2;
static struct mig_uart uart, uart2;
static struct mig_dev dev, dev2;
/* 8-byte aligned, the largest */
static uint64_t out[(MIG_UART_MAX > MIG_DEV_MAX ? MIG_UART_MAX : MIG_DEV_MAX) / 8 + 1];

static void check_reason(int rc, const char *why)
{
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && (!why[0] || memchr(why, '\n', strlen(why))))
        abort();
}

static bool valid_name(const char *s, size_t field)
{
    size_t n = strnlen(s, field);
    if (!n || n == field)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

static void vmdef_case(const void *buf, size_t size)
{
    char why[REASON_MAX] = "";
    size_t len;
    int rc = mig_vmdef_decode(buf, size, &vmdef, why, sizeof(why));
    check_reason(rc, why);
    if (rc)
        return;
    if (!valid_name(vmdef.name, sizeof(vmdef.name)) || !valid_name(vmdef.source_host, sizeof(vmdef.source_host)) ||
        !valid_name(vmdef.backend, sizeof(vmdef.backend)) || !vmdef.kernel[0] ||
        strnlen(vmdef.kernel, CFG_FILE_MAX) == CFG_FILE_MAX ||
        strnlen(vmdef.cmdline, CFG_CMDLINE_MAX) == CFG_CMDLINE_MAX || vmdef.memory < CFG_MEM_MIN ||
        vmdef.memory > CFG_MEM_MAX || vmdef.memory % 4096 || vmdef.vcpus < 1 || vmdef.vcpus > CFG_MAX_VCPUS ||
        vmdef.ncpuid > MIG_CPUID_MAX)
        abort();
    if (mig_vmdef_encode(&vmdef, out, sizeof(out), &len) || len > MIG_VMDEF_MAX ||
        mig_vmdef_decode(out, len, &vmdef2, why, sizeof(why)) || memcmp(&vmdef, &vmdef2, sizeof(vmdef)))
        abort();
}

static void vcpu_case(const void *buf, size_t size)
{
    char why[REASON_MAX] = "";
    size_t len;
    int rc = mig_vcpu_decode(buf, size, &vcpu, why, sizeof(why));
    check_reason(rc, why);
    if (rc)
        return;
    if (vcpu.index >= CFG_MAX_VCPUS || vcpu.s.tsc_offset || vcpu.s.int_shadow > SHADOW_MOV_SS ||
        vcpu.s.nmi_blocked > 1 || vcpu.s.event.type > EVENT_SOFTINT || vcpu.s.event.has_error > 1 ||
        vcpu.s.gdtr.limit > 0xffff || vcpu.s.cs.attr > 0xfff)
        abort();
    if (mig_vcpu_encode(&vcpu, out, sizeof(out), &len) || len > MIG_VCPU_MAX ||
        mig_vcpu_decode(out, len, &vcpu2, why, sizeof(why)) || memcmp(&vcpu, &vcpu2, sizeof(vcpu)))
        abort();
}

static void uart_case(const void *buf, size_t size)
{
    char why[REASON_MAX] = "", type[CFG_NAME_MAX];
    size_t len;
    int trc = mig_device_type(buf, size, type, sizeof(type));
    if (trc == 0 && !valid_name(type, sizeof(type)))
        abort();
    int rc = mig_uart_decode(buf, size, &uart, why, sizeof(why));
    check_reason(rc, why);
    if (rc)
        return;
    if (trc || strcmp(type, MIG_UART_TYPE) || uart.rx_count > MIG_UART_RX_MAX ||
        uart.log_count > MIG_UART_LOG_MAX || uart.log_count > uart.log_total)
        abort();
    if (mig_uart_encode(&uart, out, sizeof(out), &len) || len > MIG_UART_MAX ||
        mig_uart_decode(out, len, &uart2, why, sizeof(why)) || memcmp(&uart, &uart2, sizeof(uart)))
        abort();
}

/* A property name as the record allows: [a-z0-9-], not type or instance. */
static bool valid_prop_name(const char *s)
{
    size_t n = strnlen(s, MIG_DEV_NAME_MAX);
    if (!n || n == MIG_DEV_NAME_MAX || !strcmp(s, "type") || !strcmp(s, "instance"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static void dev_case(const void *buf, size_t size)
{
    char why[REASON_MAX] = "", type[CFG_NAME_MAX];
    size_t len;
    int trc = mig_device_type(buf, size, type, sizeof(type));
    int rc = mig_dev_decode(buf, size, &dev, why, sizeof(why));
    check_reason(rc, why);
    if (rc)
        return;
    /* Accepted: a valid type that is not the UART's (as mig_device_type
     * reads it), and properties within the limits, none twice. */
    if (trc || strcmp(type, dev.type) || !valid_name(dev.type, sizeof(dev.type)) || !strcmp(dev.type, MIG_UART_TYPE) ||
        dev.nprops > MIG_DEV_PROPS)
        abort();
    for (uint32_t i = 0; i < dev.nprops; i++) {
        if (!valid_prop_name(dev.props[i].name) || dev.props[i].len > MIG_DEV_VAL_MAX)
            abort();
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(dev.props[i].name, dev.props[j].name))
                abort();
    }
    /* Each property reads back through the getters as it was decoded. */
    for (uint32_t i = 0; i < dev.nprops; i++) {
        uint8_t val[MIG_DEV_VAL_MAX];
        uint32_t v32;
        uint64_t v64;
        const struct mig_dev_prop *p = &dev.props[i];
        if (mig_dev_get_bytes(&dev, p->name, val, p->len, why, sizeof(why)) || memcmp(val, p->val, p->len) ||
            (mig_dev_get_u32(&dev, p->name, &v32, why, sizeof(why)) == 0) != (p->len == 4) ||
            (mig_dev_get_u64(&dev, p->name, &v64, why, sizeof(why)) == 0) != (p->len == 8))
            abort();
    }
    if (mig_dev_encode(&dev, out, sizeof(out), &len) || len > MIG_DEV_MAX ||
        mig_dev_decode(out, len, &dev2, why, sizeof(why)) || memcmp(&dev, &dev2, sizeof(dev)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes (malloc aligns it for libfdt) so
     * ASan catches any overread. */
    void *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    vmdef_case(buf, size);
    vcpu_case(buf, size);
    uart_case(buf, size);
    dev_case(buf, size);
    free(buf);
    return 0;
}
