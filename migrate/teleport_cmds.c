/* Console: `teleport listen [--port P] [--password X | --password-file F]`
 * (target), `teleport VM --host H [--port P] [--password X |
 * --password-file F]` (source) and `info migrate`. A password file is
 * read from the boot volume's \secrets folder, so no password need be
 * typed where a console log keeps it. */
#include <hopvm/boot_info.h>
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/teleport.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>

struct tp_args {
    const char *host;
    uint16_t port;
    char password[MIG_PASSWORD_MAX + 1];
};

static int password_file(const char *name, char *out, size_t n)
{
    char path[BOOT_NAME_MAX];
    ksnprintf(path, sizeof(path), "secrets/%s", name);
    const struct boot_file *f = boot_file(path);
    if (!f) {
        kprintf("error: no password file '%s' in \\secrets on the boot volume\n", name);
        return -1;
    }
    size_t len = 0;
    while (len < f->size && f->data[len] != '\n' && f->data[len] != '\r')
        len++;
    if (len >= n) {
        kprintf("error: the password in '%s' is longer than %d bytes\n", name, MIG_PASSWORD_MAX);
        return -1;
    }
    memcpy(out, f->data, len);
    out[len] = 0;
    return 0;
}

/* Options after the first word(s); host_ok: --host is allowed (source). */
static int parse(int argc, char **argv, int first, bool source, struct tp_args *a)
{
    memset(a, 0, sizeof(*a));
    a->port = TELEPORT_PORT;
    bool have_pw = false;
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) {
            kprintf("error: '%s' needs a value\n", o);
            return -1;
        }
        const char *v = argv[++i];
        uint64_t port;
        if (!strcmp(o, "--port")) {
            if (parse_u64(v, &port) != 0 || port == 0 || port > 65535) {
                kprintf("error: bad port '%s' (1 to 65535)\n", v);
                return -1;
            }
            a->port = (uint16_t)port;
        } else if (!strcmp(o, "--host") && source) {
            a->host = v;
        } else if (!strcmp(o, "--password") || !strcmp(o, "--password-file")) {
            if (have_pw) {
                kprintf("error: give one of --password and --password-file\n");
                return -1;
            }
            have_pw = true;
            if (o[10] == '-') {
                if (password_file(v, a->password, sizeof(a->password)) != 0)
                    return -1;
            } else if (strlen(v) > MIG_PASSWORD_MAX) {
                kprintf("error: password longer than %d bytes\n", MIG_PASSWORD_MAX);
                return -1;
            } else {
                ksnprintf(a->password, sizeof(a->password), "%s", v);
            }
        } else {
            kprintf("error: unknown option '%s'\n", o);
            return -1;
        }
    }
    if (source && !a->host) {
        kprintf("error: teleport VM --host H [--port P] [--password X | --password-file F]\n");
        return -1;
    }
    return 0;
}

static enum cmd_status cmd_teleport(int argc, char **argv)
{
    struct tp_args a;
    if (argc < 2) {
        kprintf("error: teleport listen [options] | teleport VM --host H [options]\n");
        return CMD_USAGE;
    }
    if (!net_netif(0)) {
        kprintf("error: no network interface\n");
        return CMD_FAIL;
    }
    if (tp.active) {
        kprintf("error: a teleport is already running (see 'info migrate')\n");
        return CMD_FAIL;
    }
    if (!strcmp(argv[1], "listen")) {
        if (parse(argc, argv, 2, false, &a) != 0)
            return CMD_USAGE;
        return teleport_listen(a.port, a.password) == 0 ? CMD_OK : CMD_FAIL;
    }
    struct vm *vm = vm_find(argv[1]);
    if (!vm) {
        kprintf("error: no guest named '%s' (see 'vm list')\n", argv[1]);
        return CMD_FAIL;
    }
    if (parse(argc, argv, 2, true, &a) != 0)
        return CMD_USAGE;
    return teleport_send(vm, a.host, a.port, a.password) == 0 ? CMD_OK : CMD_FAIL;
}

static void fixed2(const char *label, uint64_t x100, const char *unit)
{
    kprintf("%-22s ", label);
    kprint_x100(x100);
    kprintf("%s\n", unit);
}

static enum cmd_status cmd_info(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "migrate")) {
        kprintf("error: info migrate\n");
        return CMD_USAGE;
    }
    const struct mig_session *s = &tp.s;
    if (!tp.t0 && !tp.active) {
        kprintf("no teleport since start-up\n");
        return CMD_OK;
    }
    uint64_t end = tp.active ? time_ns() : tp.t_end, ns = end - tp.t0;
    uint64_t wire = s->st.bytes_out + s->st.bytes_in;
    kprintf("%-22s %s%s%s\n", "status", tp.active && !tp.pcb && !tp.source ? "listening" : mig_phase_name(s->phase),
            s->error[0] ? ": " : "", s->error);
    kprintf("%-22s %s, peer %s port %u, guest '%s'\n", "role", tp.source ? "source" : "target", tp.peer, tp.port,
            s->def.name[0] ? s->def.name : tp.name);
    kprintf("%-22s %lu KiB\n", "RAM total", s->st.ram_pages * 4);
    kprintf("%-22s %lu KiB\n", "RAM transferred", s->st.pages_done * 4);
    kprintf("%-22s %lu KiB\n", "RAM remaining", (s->st.ram_pages - s->st.pages_done) * 4);
    kprintf("%-22s %lu\n", "zero pages", s->st.zero_pages);
    kprintf("%-22s %lu bytes (%lu out, %lu in)\n", "on the wire", wire, s->st.bytes_out, s->st.bytes_in);
    fixed2("throughput", ns ? wire * 100000 / ns : 0, " MB/s");
    fixed2("total time", ns / 10000000, " s");
    if (tp.t_handover)
        kprintf("%-22s %lu ms\n", "downtime", (tp.t_handover - tp.t_pause) / 1000000);
    return CMD_OK;
}

static const struct cmd teleport_cmds[] = {
    {.name = "teleport", .usage = "listen [--port P] [--password X | --password-file F] | VM --host H [--port P] "
                                  "[--password X | --password-file F]",
     .help = "receive a guest from, or hand a running guest to, a peer hopvm (port 6000)", .run = cmd_teleport},
    {.name = "info", .usage = "migrate", .help = "the current or last teleport: status, RAM, bytes, MB/s, downtime",
     .run = cmd_info},
};

void teleport_cmds_register(void) { cmd_register(teleport_cmds, ARRAY_SIZE(teleport_cmds)); }
