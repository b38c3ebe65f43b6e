/* Console commands for guests: `vm SUBCOMMAND NAME` and `console NAME`.
 * The subcommands are a table like the top-level commands. */
#include <hopvm/cmd.h>
#include <hopvm/console.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/nested_pt.h>
#include <hopvm/uart.h>
#include <hopvm/vm.h>

struct vm_subcmd {
    const char *name;
    bool needs_vm;
    bool changes_state; /* refused while a teleport owns the guest */
    enum cmd_status (*run)(struct vm *vm);
    const char *help;
};

static enum cmd_status vm_list(struct vm *unused)
{
    (void)unused;
    kprintf("%-16s %-8s %8s %5s %12s  %s\n", "NAME", "STATE", "MEMORY", "VCPUS", "EXITS", "KERNEL");
    struct vm *vm;
    for (unsigned i = 0; (vm = vm_at(i)); i++)
        kprintf("%-16s %-8s %4lu MiB %5u %12lu  %s\n", vm->name, vm_state_name(vm->state),
                vm->def->memory >> 20, vm->def->vcpus, vm_exits_total(vm), vm->def->kernel);
    if (!vm_at(0))
        kprintf("(no guests defined in hopvm.cfg)\n");
    return CMD_OK;
}

static enum cmd_status vm_start_cmd(struct vm *vm)
{
    char err[192];
    if (vm_start(vm, err, sizeof(err)) != 0) {
        kprintf("error: vm start %s: %s\n", vm->name, err);
        return CMD_FAIL;
    }
    kprintf("vm %s: started (%lu MiB, %u vCPU%s)\n", vm->name, vm->ram_size >> 20, vm->nvcpus,
            vm->nvcpus == 1 ? "" : "s");
    return CMD_OK;
}

static enum cmd_status vm_pause_cmd(struct vm *vm)
{
    if (vm->state != VM_RUNNING) {
        kprintf("error: '%s' is %s, not running\n", vm->name, vm_state_name(vm->state));
        return CMD_FAIL;
    }
    vm->state = VM_PAUSED;
    kprintf("vm %s: paused\n", vm->name);
    return CMD_OK;
}

static enum cmd_status vm_resume_cmd(struct vm *vm)
{
    if (vm->state != VM_PAUSED) {
        kprintf("error: '%s' is %s, not paused\n", vm->name, vm_state_name(vm->state));
        return CMD_FAIL;
    }
    vm->state = VM_RUNNING;
    kprintf("vm %s: resumed\n", vm->name);
    return CMD_OK;
}

static enum cmd_status vm_stop_cmd(struct vm *vm)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        kprintf("error: '%s' is %s already\n", vm->name, vm_state_name(vm->state));
        return CMD_FAIL;
    }
    vm_stop(vm);
    kprintf("vm %s: stopped\n", vm->name);
    return CMD_OK;
}

static void print_seg(const char *n, const struct seg_state *s)
{
    kprintf("%-4s sel=%04x base=%016lx limit=%08x attr=%03x\n", n, s->sel, s->base, s->limit, s->attr);
}

static void print_regs(const struct vcpu_state *s)
{
    const uint64_t *g = s->gpr;
    kprintf("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", g[GPR_RAX], g[GPR_RBX], g[GPR_RCX], g[GPR_RDX]);
    kprintf("RSI=%016lx RDI=%016lx RBP=%016lx RSP=%016lx\n", g[GPR_RSI], g[GPR_RDI], g[GPR_RBP], g[GPR_RSP]);
    kprintf("R8 =%016lx R9 =%016lx R10=%016lx R11=%016lx\n", g[GPR_R8], g[GPR_R9], g[GPR_R10], g[GPR_R11]);
    kprintf("R12=%016lx R13=%016lx R14=%016lx R15=%016lx\n", g[GPR_R12], g[GPR_R13], g[GPR_R14], g[GPR_R15]);
    kprintf("RIP=%016lx RFLAGS=%016lx\n", s->rip, s->rflags);
    kprintf("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx EFER=%016lx\n", s->cr0, s->cr2, s->cr3, s->cr4, s->efer);
    print_seg("CS", &s->cs);
    print_seg("SS", &s->ss);
    print_seg("DS", &s->ds);
    print_seg("TR", &s->tr);
    kprintf("GDTR base=%016lx limit=%04x  IDTR base=%016lx limit=%04x\n", s->gdtr.base, s->gdtr.limit,
            s->idtr.base, s->idtr.limit);
}

static enum cmd_status vm_info(struct vm *vm)
{
    const struct cfg_vm *d = vm->def;
    kprintf("name:     %s\n", vm->name);
    kprintf("state:    %s%s%s%s\n", vm_state_name(vm->state), vm->reason[0] ? " (" : "", vm->reason,
            vm->reason[0] ? ")" : "");
    kprintf("config:   %lu MiB, %u vCPU(s), kernel %s, cmdline '%s', %u module(s)\n", d->memory >> 20,
            d->vcpus, d->kernel, d->cmdline, d->nmodules);
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
        struct vcpu_state s;
        hv()->get_state(vm->vcpus[0], &s);
        kprintf("RIP:      0x%lx (vCPU 0%s), guest RAM at host 0x%lx\n", s.rip,
                vm->vcpus[0]->halted ? ", halted" : "", (uint64_t)(uintptr_t)vm->ram);
        /* The nested tables' shape: after dirty logging they must be as
         * fast as before (no 4 KiB split left, nothing write-protected). */
        struct nested_pt_shape sh;
        nested_pt_shape(vm->npt, vm->ram_size, &sh);
        kprintf("nested:   %lu x 2 MiB, %lu x 4 KiB, %lu read-only; dirty log %s%s", sh.large, sh.small, sh.readonly,
                vm->dirty.on ? "on, " : "off", vm->dirty.on ? dirty_mode_name(vm->dirty.mode) : "");
        if (vm->throttle_pct)
            kprintf("; throttled to %u %% CPU", 100 - vm->throttle_pct);
        kprintf("\n");
    } else if (vm->have_regs) {
        kprintf("RIP:      0x%lx (when it stopped)\n", vm->regs.rip);
    }
    if (vm->exit_code >= 0)
        kprintf("exit code: %d\n", vm->exit_code);
    kprintf("run time: %lu ms; exits: %lu total", vm->run_ns / 1000000, vm_exits_total(vm));
    for (int r = 0; r < EXIT_REASON_COUNT; r++)
        if (vm->exits[r])
            kprintf(", %s %lu", exit_reason_names[r], vm->exits[r]);
    kprintf("\nunclaimed port I/O: %lu", vm->io_unhandled);
    if (vm->io_unhandled)
        kprintf(" (the latest at port 0x%x)", vm->io_unhandled_last);
    kprintf("\nunassigned MMIO: %lu\n", vm->mmio_unassigned);
    if (vm->have_regs) {
        kprintf("registers when it stopped:\n");
        print_regs(&vm->regs);
    }
    return CMD_OK;
}

static enum cmd_status vm_log(struct vm *vm)
{
    if (!vm->log || !vm->log_len) {
        kprintf("(no output from '%s')\n", vm->name);
        return CMD_OK;
    }
    uint64_t n = vm->log_len < VM_LOG_SIZE ? vm->log_len : VM_LOG_SIZE;
    if (vm->log_len > VM_LOG_SIZE)
        kprintf("[... %lu earlier bytes dropped]\n", vm->log_len - VM_LOG_SIZE);
    for (uint64_t i = vm->log_len - n; i < vm->log_len; i++) {
        char c = vm->log[i % VM_LOG_SIZE];
        if (c == '\n' && (i == 0 || vm->log[(i - 1) % VM_LOG_SIZE] != '\r'))
            uart_putc('\r');
        uart_putc(c);
    }
    if (vm->log[(vm->log_len - 1) % VM_LOG_SIZE] != '\n')
        kprintf("\n");
    return CMD_OK;
}

#ifdef HOPVM_DEBUG
/* Debug builds: make vCPU 0's state one the CPU must refuse (CS with both
 * L and D/B in long mode: SDM Vol.3C 26.3.1.2, APM Vol.2 15.5.1), to show
 * that a failed VM entry stops only that guest. */
static enum cmd_status vm_corrupt(struct vm *vm)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        kprintf("error: '%s' is %s, not running\n", vm->name, vm_state_name(vm->state));
        return CMD_FAIL;
    }
    struct vcpu_state s;
    hv()->get_state(vm->vcpus[0], &s);
    if (!(s.efer & EFER_LMA)) {
        kprintf("error: '%s' is not in long mode\n", vm->name);
        return CMD_FAIL;
    }
    s.cs.attr |= SEG_ATTR_L | SEG_ATTR_DB;
    hv()->set_state(vm->vcpus[0], &s);
    kprintf("vm %s: CS now has L and D/B set\n", vm->name);
    return CMD_OK;
}
#endif

static const struct vm_subcmd subcmds[] = {
    {.name = "list", .needs_vm = false, .run = vm_list, .help = "all guests: state, memory, vCPUs, exits"},
    {.name = "start", .needs_vm = true, .changes_state = true, .run = vm_start_cmd, .help = "load the kernel and run the guest"},
    {.name = "pause", .needs_vm = true, .changes_state = true, .run = vm_pause_cmd, .help = "stop scheduling the guest"},
    {.name = "resume", .needs_vm = true, .changes_state = true, .run = vm_resume_cmd, .help = "schedule a paused guest again"},
    {.name = "stop", .needs_vm = true, .changes_state = true, .run = vm_stop_cmd, .help = "end the guest and free its memory"},
    {.name = "info", .needs_vm = true, .run = vm_info, .help = "state, RIP, exit counts, registers after a crash"},
    {.name = "log", .needs_vm = true, .run = vm_log, .help = "what the guest printed on its serial port"},
#ifdef HOPVM_DEBUG
    {.name = "corrupt", .needs_vm = true, .changes_state = true, .run = vm_corrupt, .help = "debug: give vCPU 0 a state VM entry refuses"},
#endif
};

static enum cmd_status cmd_vm(int argc, char **argv)
{
    if (argc < 2) {
        kprintf("error: vm needs a subcommand (");
        for (size_t i = 0; i < ARRAY_SIZE(subcmds); i++)
            kprintf("%s%s", i ? ", " : "", subcmds[i].name);
        kprintf(")\n");
        return CMD_USAGE;
    }
    const struct vm_subcmd *sc = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(subcmds) && !sc; i++)
        if (!strcmp(subcmds[i].name, argv[1]))
            sc = &subcmds[i];
    if (!sc) {
        kprintf("error: unknown subcommand 'vm %s'\n", argv[1]);
        return CMD_USAGE;
    }
    if (argc != (sc->needs_vm ? 3 : 2)) {
        kprintf("error: vm %s takes %s\n", sc->name, sc->needs_vm ? "one guest name" : "no arguments");
        return CMD_USAGE;
    }
    struct vm *vm = NULL;
    if (sc->needs_vm && !(vm = vm_find(argv[2]))) {
        kprintf("error: no guest named '%s' (see 'vm list')\n", argv[2]);
        return CMD_FAIL;
    }
    if (vm && vm->mig.migrating && sc->changes_state) {
        kprintf("error: '%s' is being teleported; wait for it or cancel the teleport (Ctrl-C)\n", vm->name);
        return CMD_FAIL;
    }
    return sc->run(vm);
}

static enum cmd_status cmd_console(int argc, char **argv)
{
    if (argc != 2) {
        kprintf("error: console takes one guest name\n");
        return CMD_USAGE;
    }
    struct vm *vm = vm_find(argv[1]);
    if (!vm) {
        kprintf("error: no guest named '%s' (see 'vm list')\n", argv[1]);
        return CMD_FAIL;
    }
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        kprintf("error: '%s' is %s; start it first\n", vm->name, vm_state_name(vm->state));
        return CMD_FAIL;
    }
    kprintf("[attached to %s; Ctrl-] returns to hopvm]\n", vm->name);
    console_attach(vm);
    return CMD_OK;
}

static const struct cmd vm_cmds[] = {
    {.name = "vm", .usage = "list | start|pause|resume|stop|info|log NAME",
     .help = "manage guests", .run = cmd_vm},
    {.name = "console", .usage = "NAME", .help = "attach to a guest's serial port (Ctrl-] returns)",
     .run = cmd_console},
};

void vm_cmds_register(void)
{
    cmd_register(vm_cmds, ARRAY_SIZE(vm_cmds));
}
