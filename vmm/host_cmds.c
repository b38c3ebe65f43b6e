/* Console commands about the host itself. */
#include <hopvm/acpi.h>
#include <hopvm/cmd.h>
#include <hopvm/cpu.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/lib.h>
#include <hopvm/mc146818.h>
#include <hopvm/mem.h>
#include <hopvm/time.h>
#include <hopvm/version.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

static const char *yn(bool b) { return b ? "yes" : "no"; }

/* "123.4 MiB" style, one decimal, integer arithmetic only. */
static const char *fmt_size(char *buf, size_t n, uint64_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    uint64_t whole = bytes, tenths = 0;
    while (whole >= 1024 && u < 4) {
        tenths = (whole % 1024) * 10 / 1024;
        whole /= 1024;
        u++;
    }
    if (u == 0)
        ksnprintf(buf, n, "%lu B", bytes);
    else
        ksnprintf(buf, n, "%lu.%lu %s", whole, tenths, unit[u]);
    return buf;
}

static void help_line(const struct cmd *c, void *ctx)
{
    (void)ctx;
    char head[48];
    ksnprintf(head, sizeof(head), "%s%s%s", c->name, c->usage[0] ? " " : "", c->usage);
    kprintf("  %-28s %s%s\n", head, c->help, (c->flags & CMD_DEBUG) ? " (debug build)" : "");
}

static enum cmd_status cmd_help(int argc, char **argv)
{
    if (argc > 2) {
        kprintf("error: help takes at most one command name\n");
        return CMD_USAGE;
    }
    if (argc == 2) {
        const struct cmd *c = cmd_find(argv[1]);
        if (!c) {
            kprintf("error: no command '%s'\n", argv[1]);
            return CMD_USAGE;
        }
        cmd_print_usage(c);
        kprintf("%s\n", c->help);
        return CMD_OK;
    }
    kprintf("commands:\n");
    cmd_foreach(help_line, NULL);
    kprintf("keys: Backspace, Ctrl-U (kill line), Ctrl-A/E, arrows (history, cursor), Ctrl-C\n");
    return CMD_OK;
}

static enum cmd_status no_args(int argc, const char *name)
{
    if (argc != 1) {
        kprintf("error: %s takes no arguments\n", name);
        return CMD_USAGE;
    }
    return CMD_OK;
}

static enum cmd_status cmd_version(int argc, char **argv)
{
    if (no_args(argc, argv[0]) != CMD_OK)
        return CMD_USAGE;
    kprintf("hopvm %s (git %s), built %s with gcc %s\n", HOPVM_VERSION, HOPVM_GIT,
            HOPVM_BUILD_DATE, __VERSION__);
    return CMD_OK;
}

static enum cmd_status cmd_cpu(int argc, char **argv)
{
    if (no_args(argc, argv[0]) != CMD_OK)
        return CMD_USAGE;
    const struct cpu_info *c = cpuinfo();
    kprintf("vendor:   %s\n", c->vendor);
    kprintf("model:    family 0x%x model 0x%x stepping %u \"%s\"\n", c->family, c->model,
            c->stepping, c->brand);
    kprintf("features: 1G pages %s, invariant TSC %s, %u physical address bits\n",
            yn(c->page1g), yn(c->invariant_tsc), c->phys_bits);
    uint64_t x = fpu_xcr0_offered();
    if (fpu_has_xsave())
        kprintf("XSAVE:    yes, guests get x87 SSE%s (XCR0 up to 0x%lx)\n", (x & XCR0_AVX) ? " AVX" : "", x);
    else
        kprintf("XSAVE:    no, guests get x87 and SSE (FXSAVE)\n");
    if (!c->svm)
        kprintf("AMD-V:    not present\n");
    else {
        kprintf("AMD-V:    present, %s (SVM revision %u)\n",
                c->svm_enabled ? "enabled" : c->svm_locked_off ? "disabled and locked by firmware" : "disabled",
                c->svm_rev);
        /* APM Vol.2 15.25: nested page tables use the long-mode format,
         * whose A/D bits the walker always maintains. */
        kprintf("  NPT: %s, NPT A/D bits: %s, NRIP save: %s, decode assists: %s\n", yn(c->npt),
                yn(c->npt), yn(c->nrips), yn(c->decode_assists));
        kprintf("  flush by ASID: %s, VMCB clean bits: %s, VGIF: %s, PML: n/a, ASIDs: %u\n",
                yn(c->flush_by_asid), yn(c->vmcb_clean), yn(c->vgif), c->asid_count);
    }
    if (!c->vmx)
        kprintf("VT-x:     not present\n");
    else {
        kprintf("VT-x:     present, %s\n",
                c->vmx_enabled ? "enabled" : c->vmx_locked_off ? "disabled and locked by firmware" : "disabled");
        kprintf("  EPT: %s, EPT A/D bits: %s, PML: %s, unrestricted guest: %s\n", yn(c->ept),
                yn(c->ept_ad), yn(c->pml), yn(c->unrestricted));
        kprintf("  VPID: %s, VPIDs: %u, preemption timer: %s\n", yn(c->vpid), c->vpid_count,
                yn(c->preemption_timer));
    }
    return CMD_OK;
}

static enum cmd_status cmd_mem(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "map")) {
        mem_print_map();
        return CMD_OK;
    }
    if (argc != 1) {
        kprintf("error: unknown argument '%s'\n", argv[1]);
        return CMD_USAGE;
    }
    struct mem_stats s;
    char b[32], b2[32];
    mem_get_stats(&s);
    kprintf("total RAM:          %s (%lu bytes in the firmware map)\n", fmt_size(b, sizeof(b), s.ram), s.ram);
    kprintf("usable by hopvm:    %s\n", fmt_size(b, sizeof(b), s.usable));
    kprintf("free:               %s\n", fmt_size(b, sizeof(b), s.free));
    kprintf("used by hopvm:      %s (allocations) + %s (image, boot data, files)\n",
            fmt_size(b, sizeof(b), s.usable - s.free), fmt_size(b2, sizeof(b2), s.image));
    kprintf("firmware reserved:  %s (runtime services, ACPI, reserved)\n", fmt_size(b, sizeof(b), s.firmware));
    kprintf("largest free range: %s at 0x%lx\n", fmt_size(b, sizeof(b), s.largest), s.largest_at);
    return CMD_OK;
}

static enum cmd_status cmd_uptime(int argc, char **argv)
{
    if (no_args(argc, argv[0]) != CMD_OK)
        return CMD_USAGE;
    uint64_t ms = time_ns() / 1000000;
    uint64_t s = ms / 1000;
    kprintf("up %lud %02lu:%02lu:%02lu.%03lu, %lu ticks at %u Hz, TSC %lu.%03lu MHz (%s)\n",
            s / 86400, s / 3600 % 24, s / 60 % 60, s % 60, ms % 1000, timer_ticks(), timer_hz(),
            tsc_hz() / 1000000, tsc_hz() / 1000 % 1000, time_source());
    /* The wall clock guests' RTCs and KVM clocks start from. */
    uint64_t unix_s = wall_ns() / 1000000000ull;
    struct rtc_time t;
    rtc_from_unix((int64_t)unix_s, &t);
    kprintf("time %04u-%02u-%02u %02u:%02u:%02u UTC (unix %lu), from the host's RTC\n", t.year, t.month, t.day,
            t.hour, t.minute, t.second, unix_s);
    return CMD_OK;
}

static enum cmd_status cmd_reboot(int argc, char **argv)
{
    if (no_args(argc, argv[0]) != CMD_OK)
        return CMD_USAGE;
    kprintf("rebooting\n");
    acpi_reset();
    /* Last resort: a triple fault resets every x86 (SDM Vol.3A 6.15 #DF). */
    kprintf("reset registers did not work; forcing a triple fault\n");
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } empty = {0, 0};
    __asm__ volatile("lidt %0; int3" ::"m"(empty));
    return CMD_FAIL;
}

static enum cmd_status cmd_poweroff(int argc, char **argv)
{
    if (no_args(argc, argv[0]) != CMD_OK)
        return CMD_USAGE;
    kprintf("powering off (ACPI S5)\n");
    const char *why = acpi_poweroff();
    kprintf("error: power-off failed: %s\n", why);
    return CMD_FAIL;
}

#ifdef HOPVM_DEBUG
/* Debug builds: the best way the dirty log may track writes, so the tests
 * reach write protection and D-bit scans on a CPU that has PML. */
static enum cmd_status cmd_dirty_mode(int argc, char **argv)
{
    static const struct { const char *word; enum dirty_mode mode; } modes[] = {
        {"auto", DIRTY_HW_LOG}, {"dbits", DIRTY_D_BITS}, {"wp", DIRTY_WRITE_PROTECT},
    };
    if (argc > 2) {
        kprintf("error: dirty-mode takes one of auto, dbits, wp\n");
        return CMD_USAGE;
    }
    for (size_t i = 0; argc == 2 && i < ARRAY_SIZE(modes); i++)
        if (!strcmp(argv[1], modes[i].word)) {
            dirty_best = modes[i].mode;
            kprintf("dirty log: at best %s\n", dirty_mode_name(dirty_best));
            return CMD_OK;
        }
    if (argc == 2) {
        kprintf("error: unknown dirty mode '%s' (auto, dbits, wp)\n", argv[1]);
        return CMD_USAGE;
    }
    kprintf("dirty log: at best %s\n", dirty_mode_name(dirty_best));
    return CMD_OK;
}

static enum cmd_status cmd_crash(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "pf";
    if (argc > 2) {
        kprintf("error: crash takes one kind\n");
        return CMD_USAGE;
    }
    if (!strcmp(kind, "pf")) {
        kprintf("crash: writing to unmapped address 0x5dead0000000\n");
        *(volatile uint64_t *)(uintptr_t)0x5dead0000000ull = 1;
    } else if (!strcmp(kind, "ud")) {
        __asm__ volatile("ud2");
    } else if (!strcmp(kind, "gp")) {
        wrmsr(0xdeadbeef, 0); /* an MSR that does not exist */
    } else if (!strcmp(kind, "de")) {
        volatile unsigned zero = 0;
        kprintf("%u\n", 1u / zero);
    } else {
        kprintf("error: unknown crash kind '%s'\n", kind);
        return CMD_USAGE;
    }
    return CMD_FAIL;
}
#endif

static const struct cmd host_cmds[] = {
    {.name = "help", .usage = "[CMD]", .help = "list commands, or show one command's usage", .run = cmd_help},
    {.name = "version", .usage = "", .help = "hopvm version and build", .run = cmd_version},
    {.name = "cpu", .usage = "", .help = "CPU model and virtualization support", .run = cmd_cpu},
    {.name = "mem", .usage = "[map]", .help = "physical memory: total, free, reserved, largest free range; map: the firmware map", .run = cmd_mem},
    {.name = "uptime", .usage = "", .help = "time since hopvm started, timer ticks, TSC rate, the time of day", .run = cmd_uptime},
    {.name = "reboot", .usage = "", .help = "reset the machine", .run = cmd_reboot},
    {.name = "poweroff", .usage = "", .help = "power the machine off (ACPI S5)", .run = cmd_poweroff},
#ifdef HOPVM_DEBUG
    {.name = "dirty-mode", .usage = "[auto|dbits|wp]",
     .help = "debug: the best way the dirty log may track writes (PML, D bits, write protection)",
     .run = cmd_dirty_mode, .flags = CMD_DEBUG},
    {.name = "crash", .usage = "[pf|gp|ud|de]", .help = "fault the host on purpose to test the crash dump",
     .run = cmd_crash, .flags = CMD_DEBUG},
#endif
};

void host_cmds_register(void)
{
    cmd_register(host_cmds, ARRAY_SIZE(host_cmds));
}
