/* hopvm.cfg parser. The file comes from a USB stick anyone may have
 * edited: every line is bounds-checked, every value validated, and an
 * error names its line. Pure; fuzzed (tests/fuzz/fuzz_config.c). */
#include <hopvm/config.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>

#define LINE_MAX_LEN 512

enum section { SEC_NONE, SEC_HOST, SEC_VM, SEC_NET, SEC_BAD };

struct parser {
    struct config *cfg;
    cfg_error_fn err;
    void *ctx;
    unsigned line, errors;
    enum section sec;
    struct cfg_vm vm;     /* the VM section being read */
    unsigned vm_line;     /* where it started */
    bool vm_bad;
    unsigned seen;        /* keys seen in this section (bit per key) */
    unsigned gw_line;     /* where the [net IF] section's gateway was */
};

static void error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error(struct parser *p, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->errors++;
    if (p->sec == SEC_VM)
        p->vm_bad = true;
    if (p->err)
        p->err(p->ctx, p->line, msg);
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        s[--n] = 0;
    return s;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) >= CFG_NAME_MAX)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool valid_file(const char *s)
{
    if (!*s || strlen(s) >= CFG_FILE_MAX)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '/' || *s == '\\')
            return false; /* a plain name in \guests\, never a path */
    return true;
}

static bool copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

int config_parse_size(const char *s, uint64_t *out)
{
    char num[24];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n + 1);
    unsigned shift = 0;
    char suf = num[n - 1];
    if (suf == 'K' || suf == 'k') shift = 10;
    else if (suf == 'M' || suf == 'm') shift = 20;
    else if (suf == 'G' || suf == 'g') shift = 30;
    if (shift)
        num[n - 1] = 0;
    uint64_t v;
    if (parse_u64(num, &v) != 0 || v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

static void finish_vm(struct parser *p)
{
    if (p->sec == SEC_NET) {
        const struct cfg_net *n = &p->cfg->nets[p->cfg->nnets - 1];
        unsigned line = p->line;
        p->line = p->gw_line;
        if (n->gw && !n->is_static)
            error(p, "[net %s]: a gateway needs a static address (DHCP supplies its own)", n->ifname);
        p->line = line;
    }
    if (p->sec != SEC_VM)
        return;
    unsigned line = p->line;
    p->line = p->vm_line;
    if (!p->vm_bad && !p->vm.kernel[0])
        error(p, "vm '%s' has no kernel", p->vm.name);
    if (!p->vm_bad) {
        if (p->cfg->nvms == CFG_MAX_VMS)
            error(p, "too many vm sections (at most %d)", CFG_MAX_VMS);
        else
            p->cfg->vms[p->cfg->nvms++] = p->vm;
    }
    p->line = line;
}

/* [net IF]: IF is a hopvm interface name, eth0 to eth9. */
static void start_net(struct parser *p, const char *ifname)
{
    p->sec = SEC_BAD;
    if (strncmp(ifname, "eth", 3) || ifname[3] < '0' || ifname[3] > '9' || ifname[4]) {
        error(p, "bad interface '%.40s' in [net IF] (eth0, eth1, ...)", ifname);
        return;
    }
    for (unsigned i = 0; i < p->cfg->nnets; i++)
        if (!strcmp(p->cfg->nets[i].ifname, ifname)) {
            error(p, "[net %s] is given twice", ifname);
            return;
        }
    if (p->cfg->nnets == CFG_MAX_NETS) {
        error(p, "too many net sections (at most %d)", CFG_MAX_NETS);
        return;
    }
    struct cfg_net *n = &p->cfg->nets[p->cfg->nnets++];
    copy(n->ifname, sizeof(n->ifname), ifname);
    p->sec = SEC_NET;
}

static void start_section(struct parser *p, char *s)
{
    finish_vm(p);
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != ']') {
        p->sec = SEC_BAD;
        error(p, "section header must end with ']'");
        return;
    }
    s[n - 1] = 0;
    s = trim(s + 1);
    p->seen = 0;
    if (!strcmp(s, "host")) {
        p->sec = SEC_HOST;
        return;
    }
    if (!strncmp(s, "vm", 2) && is_space(s[2])) {
        char *name = trim(s + 3);
        p->sec = SEC_VM;
        memset(&p->vm, 0, sizeof(p->vm));
        p->vm.memory = 64ull << 20;
        p->vm.vcpus = 1;
        p->vm_line = p->line;
        p->vm_bad = false;
        if (!valid_name(name)) {
            error(p, "bad vm name '%.40s' (letters, digits, '-', '_', '.'; at most %d)", name, CFG_NAME_MAX - 1);
            return;
        }
        for (unsigned i = 0; i < p->cfg->nvms; i++)
            if (!strcmp(p->cfg->vms[i].name, name)) {
                error(p, "vm '%s' is defined twice", name);
                return;
            }
        copy(p->vm.name, sizeof(p->vm.name), name);
        return;
    }
    if (!strncmp(s, "net", 3) && is_space(s[3])) {
        start_net(p, trim(s + 4));
        return;
    }
    p->sec = SEC_BAD;
    error(p, "unknown section '[%.40s]' (expected [host], [vm NAME] or [net IF])", s);
}

/* Keys of a VM section; the index is the bit in parser.seen. */
enum vm_key { K_MEMORY, K_VCPUS, K_KERNEL, K_CMDLINE, K_MODULE, K_AUTOSTART, K_INITRD, K_CPU, K_COUNT };
static const char *const vm_keys[K_COUNT] = {
    [K_MEMORY] = "memory", [K_VCPUS] = "vcpus", [K_KERNEL] = "kernel",
    [K_CMDLINE] = "cmdline", [K_MODULE] = "module", [K_AUTOSTART] = "autostart", [K_INITRD] = "initrd",
    [K_CPU] = "cpu",
};

const char *const cfg_cpu_names[CFG_CPU_COUNT] = {
    [CFG_CPU_HOST] = "host", [CFG_CPU_X86_64_V2] = "x86-64-v2", [CFG_CPU_X86_64_V3] = "x86-64-v3",
};

static void vm_key(struct parser *p, const char *key, char *val)
{
    struct cfg_vm *vm = &p->vm;
    int k = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (!strcmp(key, vm_keys[i]))
            k = i;
    if (k < 0) {
        error(p, "unknown key '%.40s' in a vm section", key);
        return;
    }
    if (k != K_MODULE && (p->seen & (1u << k))) {
        error(p, "'%s' given twice", key);
        return;
    }
    p->seen |= 1u << k;
    uint64_t v;
    switch ((enum vm_key)k) {
    case K_MEMORY:
        if (config_parse_size(val, &v) != 0 || v < CFG_MEM_MIN || v > CFG_MEM_MAX || (v & 0xfff))
            error(p, "bad memory '%.40s' (1M to 64G, a multiple of 4K; e.g. 64M)", val);
        else
            vm->memory = v;
        break;
    case K_VCPUS:
        if (parse_u64(val, &v) != 0 || v < 1 || v > CFG_MAX_VCPUS)
            error(p, "bad vcpus '%.40s' (1 to %d)", val, CFG_MAX_VCPUS);
        else
            vm->vcpus = (unsigned)v;
        break;
    case K_KERNEL:
        if (!valid_file(val))
            error(p, "bad kernel file name '%.40s' (a file name in \\guests, no path)", val);
        else
            copy(vm->kernel, sizeof(vm->kernel), val);
        break;
    case K_INITRD:
        if (!valid_file(val))
            error(p, "bad initrd file name '%.40s' (a file name in \\guests, no path)", val);
        else
            copy(vm->initrd, sizeof(vm->initrd), val);
        break;
    case K_CMDLINE:
        if (!copy(vm->cmdline, sizeof(vm->cmdline), val))
            error(p, "cmdline longer than %d bytes", CFG_CMDLINE_MAX - 1);
        break;
    case K_MODULE: {
        if (vm->nmodules == CFG_MAX_MODULES) {
            error(p, "too many modules (at most %d)", CFG_MAX_MODULES);
            break;
        }
        char *args = val;
        while (*args && !is_space(*args))
            args++;
        if (*args)
            *args++ = 0;
        struct cfg_module *m = &vm->modules[vm->nmodules];
        if (!valid_file(val))
            error(p, "bad module file name '%.40s'", val);
        else if (!copy(m->args, sizeof(m->args), trim(args)))
            error(p, "module arguments longer than %d bytes", CFG_CMDLINE_MAX - 1);
        else {
            copy(m->file, sizeof(m->file), val);
            vm->nmodules++;
        }
        break;
    }
    case K_AUTOSTART:
        if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
            vm->autostart = true;
        else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0"))
            vm->autostart = false;
        else
            error(p, "bad autostart '%.40s' (yes or no)", val);
        break;
    case K_CPU: {
        int c = -1;
        for (int i = 0; i < CFG_CPU_COUNT; i++)
            if (!strcmp(val, cfg_cpu_names[i]))
                c = i;
        if (c < 0)
            error(p, "bad cpu '%.40s' (host, x86-64-v2 or x86-64-v3)", val);
        else
            vm->cpu = (enum cfg_cpu)c;
        break;
    }
    case K_COUNT:
        break;
    }
}

static void host_key(struct parser *p, const char *key, const char *val)
{
    if (!strcmp(key, "name")) {
        if (!valid_name(val))
            error(p, "bad host name '%.40s'", val);
        else
            copy(p->cfg->host_name, sizeof(p->cfg->host_name), val);
        return;
    }
    error(p, "unknown key '%.40s' in [host]", key);
}

static void net_key(struct parser *p, const char *key, const char *val)
{
    struct cfg_net *n = &p->cfg->nets[p->cfg->nnets - 1];
    if (!strcmp(key, "address")) {
        if (!strcmp(val, "dhcp"))
            n->is_static = false;
        else if (inet_parse4_prefix(val, &n->addr, &n->prefix))
            n->is_static = true;
        else
            error(p, "bad address '%.40s' (dhcp, or ADDR/PREFIX such as 192.168.7.2/24)", val);
        return;
    }
    if (!strcmp(key, "gateway")) {
        if (!inet_parse4(val, &n->gw))
            error(p, "bad gateway '%.40s' (an IPv4 address such as 192.168.7.1)", val);
        p->gw_line = p->line;
        return;
    }
    error(p, "unknown key '%.40s' in [net %s] (address, gateway)", key, n->ifname);
}

static void parse_line(struct parser *p, char *s)
{
    s = trim(s);
    if (!*s || *s == '#' || *s == ';')
        return;
    if (*s == '[') {
        start_section(p, s);
        return;
    }
    char *eq = s;
    while (*eq && *eq != '=')
        eq++;
    if (!*eq) {
        error(p, "expected 'key = value' or a [section]");
        return;
    }
    *eq = 0;
    char *key = trim(s), *val = trim(eq + 1);
    size_t n = strlen(val);
    if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
        val[n - 1] = 0; /* quotes keep leading/trailing spaces and '#' */
        val++;
    }
    switch (p->sec) {
    case SEC_NONE: error(p, "'%.40s' outside a section", key); break;
    case SEC_HOST: host_key(p, key, val); break;
    case SEC_NET: net_key(p, key, val); break;
    case SEC_VM:
        if (!p->vm_bad)
            vm_key(p, key, val);
        break;
    case SEC_BAD: break; /* already reported at the header */
    }
}

unsigned config_parse(const char *text, size_t len, struct config *cfg, cfg_error_fn err, void *ctx)
{
    struct parser p = {.cfg = cfg, .err = err, .ctx = ctx};
    memset(cfg, 0, sizeof(*cfg));
    char line[LINE_MAX_LEN + 1];
    size_t i = 0;
    while (i < len) {
        size_t n = 0;
        bool too_long = false, nul = false;
        p.line++;
        for (; i < len && text[i] != '\n'; i++) {
            if (text[i] == 0)
                nul = true;
            if (n < LINE_MAX_LEN)
                line[n++] = text[i];
            else
                too_long = true;
        }
        i++; /* the newline */
        if (n && line[n - 1] == '\r')
            n--;
        line[n] = 0;
        if (too_long)
            error(&p, "line longer than %d bytes", LINE_MAX_LEN);
        else if (nul)
            error(&p, "NUL byte in a text file");
        else
            parse_line(&p, line);
    }
    p.line++;
    finish_vm(&p);
    return p.errors;
}
