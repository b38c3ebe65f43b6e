/* libFuzzer: the VM_DEF, VCPU and DEVICE tree decoders and
 * mig_device_type (migrate/state_fdt.c) on any bytes. No crash, no
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
static uint64_t out[MIG_UART_MAX / 8 + 1]; /* 8-byte aligned, the largest */

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
    free(buf);
    return 0;
}
