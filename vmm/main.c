/* The host core, from the hand-over of boot_info to the console prompt.
 * Order matters: leave everything that lives in boot-services memory
 * (stack, GDT, IDT, page tables) before the allocator can reuse it. */
#include <hopvm/acpi.h>
#include <hopvm/boot_info.h>
#include <hopvm/cmd.h>
#include <hopvm/config.h>
#include <hopvm/console.h>
#include <hopvm/cpu.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/mc146818.h>
#include <hopvm/mem.h>
#include <hopvm/net.h>
#include <hopvm/teleport.h>
#include <hopvm/nic.h>
#include <hopvm/paging.h>
#include <hopvm/pci.h>
#include <hopvm/time.h>
#include <hopvm/uart.h>
#include <hopvm/version.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define TICK_HZ 1000 /* 1 ms: COM1's 16-byte FIFO fills in 1.4 ms at 115200 */

uint8_t boot_stack[BOOT_STACK_SIZE] __attribute__((aligned(16)));

static struct boot_info *bootinfo;
static struct config config;

void image_info(uint64_t *base, uint64_t *size)
{
    *base = bootinfo ? bootinfo->image_base : 0;
    *size = bootinfo ? bootinfo->image_size : 0;
}

const struct boot_file *boot_file(const char *name)
{
    for (uint32_t i = 0; bootinfo && i < bootinfo->file_count; i++)
        if (!strcmp(bootinfo->files[i].name, name))
            return &bootinfo->files[i];
    return NULL;
}

const char *host_name(void) { return config.host_name[0] ? config.host_name : "hopvm"; }

static void config_error(void *ctx, unsigned line, const char *msg)
{
    (void)ctx;
    kprintf("config: hopvm.cfg:%u: %s\n", line, msg);
}

static void load_config(const struct boot_info *bi)
{
    if (!bi->config) {
        kprintf("config: no hopvm.cfg; no guests defined\n");
        return;
    }
    unsigned errs = config_parse(bi->config, bi->config_size, &config, config_error, NULL);
    kprintf("config: %u guest(s) defined%s\n", config.nvms, errs ? " (sections with errors were skipped)" : "");
    for (unsigned i = 0; i < config.nvms; i++) {
        const struct cfg_vm *vm = &config.vms[i];
        if (!boot_file(vm->kernel))
            kprintf("config: vm '%s': kernel '%s' is not in \\guests on the boot volume\n", vm->name, vm->kernel);
    }
    vm_init_all(&config);
}

static void autostart(void)
{
    struct vm *vm;
    char err[192];
    for (unsigned i = 0; (vm = vm_at(i)); i++) {
        if (!vm->def->autostart)
            continue;
        if (vm_start(vm, err, sizeof(err)) == 0)
            kprintf("autostart: vm %s started\n", vm->name);
        else
            kprintf("autostart: vm %s: %s\n", vm->name, err);
    }
}

__attribute__((noreturn)) static void core_main(void *arg)
{
    struct boot_info *bi = arg;
    cpu_tables_init();
    uint64_t mapped = paging_init(bi);
    kprintf("hopvm %s (git %s): core running on its own stack, GDT, IDT and page tables\n",
            HOPVM_VERSION, HOPVM_GIT);
    if (bi->boot_error[0])
        kprintf("boot: %s\n", bi->boot_error);
    if (bi->mem_count == BOOT_MAX_MEM)
        kprintf("boot: warning: memory map truncated at %d ranges\n", BOOT_MAX_MEM);
    if (host_mem_init(bi, mapped) != 0) {
        kprintf("fatal: no usable memory for the page allocator\n");
        cpu_park();
    }
    struct mem_stats ms;
    mem_get_stats(&ms);
    kprintf("mem: %lu MiB RAM, %lu MiB free (ExitBootServices after %u tr%s)\n", ms.ram >> 20,
            ms.free >> 20, bi->ebs_tries, bi->ebs_tries == 1 ? "y" : "ies");
    acpi_init(bi->rsdp);
    pci_init(acpi()->mcfg_base, acpi()->mcfg_bus_start, acpi()->mcfg_bus_end);
    cpuinfo_init();
    fpu_cpu_init(); /* before the backends read the host's CR4 */
    if (time_init() == 0)
        kprintf("time: TSC %lu.%03lu MHz, calibrated against the %s\n", tsc_hz() / 1000000,
                tsc_hz() / 1000 % 1000, time_source());
    if (host_rtc_init() == 0) {
        struct rtc_time t;
        rtc_from_unix((int64_t)(wall_ns() / 1000000000ull), &t);
        kprintf("time: %04u-%02u-%02u %02u:%02u:%02u UTC from the host's RTC\n", t.year, t.month, t.day, t.hour,
                t.minute, t.second);
    } else {
        kprintf("time: the host's RTC reads no plausible date; guests' clocks start at 1970\n");
    }
    timer_init(TICK_HZ);
    nic_irq_init();
    e1000_probe_all();
    virtio_net_probe_all();
    net_start();
    sti();
    hv_init();
    load_config(bi);
    net_apply_config(&config);
    host_cmds_register();
    vm_cmds_register();
    bench_cmds_register();
    pci_cmds_register();
    net_cmds_register();
    nettest_cmds_register();
    teleport_cmds_register();
    autostart();
    kprintf("ready. Type 'help' for commands.\n");
    host_loop();
}

__attribute__((noreturn)) void vmm_main(struct boot_info *bi)
{
    /* The UART first: from here on nothing fails silently. */
    uart_init(COM1_PORT, 115200);
    bootinfo = bi;
    if (bi->magic != BOOT_INFO_MAGIC || bi->version != BOOT_INFO_VERSION) {
        kprintf("fatal: boot_info magic/version mismatch\n");
        cpu_park();
    }
    cli();
    switch_stack_and_call(boot_stack + BOOT_STACK_SIZE, core_main, bi);
}
