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

/* A number option in [lo, hi]; -1 with one error line. */
static int num(const char *opt, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (parse_u64(v, out) != 0 || *out < lo || *out > hi) {
        kprintf("error: bad %s '%s' (%lu to %lu)\n", opt, v, lo, hi);
        return -1;
    }
    return 0;
}

/* Options after the first word(s); source: the sending options are allowed. */
static int parse(int argc, char **argv, int first, bool source, const char **host, struct teleport_opts *a)
{
    memset(a, 0, sizeof(*a));
    a->port = TELEPORT_PORT;
    a->downtime_ns = TELEPORT_DOWNTIME_MS * 1000000ull;
    a->max_rounds = TELEPORT_MAX_ROUNDS;
    *host = NULL;
    bool have_pw = false, live_opt = false;
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        uint64_t x;
        if (source && !strcmp(o, "--offline")) {
            a->offline = true;
            continue;
        }
        if (source && !strcmp(o, "--no-throttle")) {
            a->no_throttle = live_opt = true;
            continue;
        }
        if (!strcmp(o, "--v1")) { /* the old unsealed stream, for a peer that has nothing newer */
            a->v1 = true;
            continue;
        }
        if (i + 1 >= argc) {
            kprintf("error: '%s' needs a value\n", o);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--port")) {
            if (num(o, v, 1, 65535, &x) != 0)
                return -1;
            a->port = (uint16_t)x;
        } else if (!strcmp(o, "--host") && source) {
            *host = v;
        } else if (!strcmp(o, "--downtime") && source) {
            if (num(o, v, 1, 60000, &x) != 0) /* milliseconds */
                return -1;
            a->downtime_ns = x * 1000000;
            live_opt = true;
        } else if (!strcmp(o, "--max-rounds") && source) {
            if (num(o, v, 1, 1000, &x) != 0)
                return -1;
            a->max_rounds = (uint32_t)x;
            live_opt = true;
        } else if (!strcmp(o, "--bandwidth") && source) {
            if (num(o, v, 1, 100000, &x) != 0) /* MB/s */
                return -1;
            a->bandwidth_Bps = x * 1000000;
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
    if (source && !*host) {
        kprintf("error: teleport VM --host H [--port P] [--password X | --password-file F] [--downtime MS] "
                "[--bandwidth MB/s] [--max-rounds N] [--no-throttle] [--offline] [--v1]\n");
        return -1;
    }
    if (a->offline && live_opt) {
        kprintf("error: --offline pauses the guest for the whole transfer: --downtime, --max-rounds and "
                "--no-throttle are for a live teleport\n");
        return -1;
    }
    return 0;
}

static enum cmd_status cmd_teleport(int argc, char **argv)
{
    struct teleport_opts a;
    const char *host;
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
        if (parse(argc, argv, 2, false, &host, &a) != 0)
            return CMD_USAGE;
        return teleport_listen(a.port, a.password, a.v1) == 0 ? CMD_OK : CMD_FAIL;
    }
    struct vm *vm = vm_find(argv[1]);
    if (!vm) {
        kprintf("error: no guest named '%s' (see 'vm list')\n", argv[1]);
        return CMD_FAIL;
    }
    if (parse(argc, argv, 2, true, &host, &a) != 0)
        return CMD_USAGE;
    return teleport_send(vm, host, &a) == 0 ? CMD_OK : CMD_FAIL;
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
    kprintf("%-22s %s%s%s\n", "status", tp.active && !tp.tcp.pcb && !tp.source ? "listening" : mig_phase_name(s->phase),
            s->error[0] ? ": " : "", s->error);
    kprintf("%-22s %s, peer %s port %u, guest '%s'\n", "role", tp.source ? "source" : "target", tp.peer, tp.port,
            s->def.name[0] ? s->def.name : tp.name);
    if (s->peer_authed)
        kprintf("%-22s version %u, %s; peer %s\n", "stream", s->version,
                s->version == STREAM_V1 ? "NOT encrypted (HMAC digest)" : "sealed (SPAKE2, ChaCha20-Poly1305)",
                s->password[0] ? "proved the password" : "NOT authenticated (no password)");
    kprintf("%-22s %s\n", "mode", !tp.source ? (s->caps & CAP_LIVE ? "as the source sends it" : "stop-and-copy")
                                 : s->live ? "live (pre-copy)" : "offline (stop-and-copy)");
    kprintf("%-22s %lu KiB\n", "RAM total", s->st.ram_pages * 4);
    kprintf("%-22s %lu KiB (pages described, every round)\n", "RAM transferred", s->st.pages_done * 4);
    kprintf("%-22s %lu KiB (of the current round)\n", "RAM remaining", s->st.round_left * 4);
    kprintf("%-22s %lu\n", "zero pages", s->st.zero_pages);
    kprintf("%-22s %u", "rounds", s->st.rounds);
    for (uint32_t r = 0; r < s->st.rounds && r < MIG_ROUND_LOG; r++)
        kprintf("%s%lu", r ? ", " : " (pages: ", s->st.round_pages[r]);
    kprintf(s->st.rounds > MIG_ROUND_LOG ? " in the rest)\n" : s->st.rounds ? ")\n" : "\n");
    if (tp.source && s->live) {
        kprintf("%-22s %s\n", "dirty tracking", tp.dirty_mode ? tp.dirty_mode : "not started");
        fixed2("dirty rate", s->st.dirty_rate / 10000, " MB/s (at the last harvest)");
        fixed2("link rate", s->st.link_rate / 10000, " MB/s (estimated)");
        kprintf("%-22s %u %%\n", "throttle reached", s->st.throttle_pct);
        if (s->st.expected_downtime_ns == UINT64_MAX)
            kprintf("%-22s not measured yet (target %lu ms)\n", "expected downtime", tp.opts.downtime_ns / 1000000);
        else
            kprintf("%-22s %lu ms (target %lu ms)\n", "expected downtime", s->st.expected_downtime_ns / 1000000,
                    tp.opts.downtime_ns / 1000000);
    }
    kprintf("%-22s %lu bytes (%lu out, %lu in)\n", "bytes on the wire", wire, s->st.bytes_out, s->st.bytes_in);
    fixed2("throughput", ns ? wire * 100000 / ns : 0, " MB/s");
    if (tp.t_stream)
        kprintf("%-22s %lu ms\n", "setup time", (tp.t_stream - tp.t0) / 1000000);
    fixed2("total time", ns / 10000000, " s");
    if (tp.t_handover && tp.t_pause && tp.t_handover >= tp.t_pause)
        kprintf("%-22s %lu ms\n", "downtime", (tp.t_handover - tp.t_pause) / 1000000);
    if (tp.t_handover && tp.t_sent >= tp.t_pause && tp.t_handover >= tp.t_sent) {
        /* Where the pause went: this side's part, then waiting on the peer. */
        kprintf("%-22s %s ", "downtime split", tp.source ? "sending" : "receiving");
        kprint_x100((tp.t_sent - tp.t_pause) / 10000);
        kprintf(" ms, %s ", tp.source ? "until COMMIT_READY" : "until COMMIT");
        kprint_x100((tp.t_handover - tp.t_sent) / 10000);
        kprintf(" ms\n");
    }
    return CMD_OK;
}

static const struct cmd teleport_cmds[] = {
    {.name = "teleport", .usage = "listen [--port P] [--password X | --password-file F] [--v1] | VM --host H "
                                  "[--port P] [--password X | --password-file F] [--downtime MS] [--bandwidth MB/s] "
                                  "[--max-rounds N] [--no-throttle] [--offline] [--v1]",
     .help = "receive a guest from, or hand a running guest to, a peer hopvm (port 6000); live by default",
     .run = cmd_teleport},
    {.name = "info", .usage = "migrate",
     .help = "the current or last teleport: mode, rounds, RAM, dirty rate, throttle, bytes, MB/s, downtime",
     .run = cmd_info},
};

void teleport_cmds_register(void) { cmd_register(teleport_cmds, ARRAY_SIZE(teleport_cmds)); }
