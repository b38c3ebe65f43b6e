/* hopvm.cfg parsing: valid files, every kind of error, and that errors in
 * one VM section never lose the others. */
#include "check.h"
#include <hopvm/config.h>
#include <hopvm/lib.h>

static char errors[4096];
static unsigned last_line;

static void on_error(void *ctx, unsigned line, const char *msg)
{
    (void)ctx;
    size_t n = strlen(errors);
    snprintf(errors + n, sizeof(errors) - n, "%u: %s\n", line, msg);
    last_line = line;
}

static unsigned parse(const char *text, struct config *cfg)
{
    errors[0] = 0;
    last_line = 0;
    return config_parse(text, strlen(text), cfg, on_error, NULL);
}

/* One-error input: checks the line and that the message contains want. */
static void expect_error(const char *text, unsigned line, const char *want)
{
    static struct config cfg;
    unsigned n = parse(text, &cfg);
    CHECK_U64(n, 1);
    CHECK_U64(last_line, line);
    if (!strstr(errors, want)) {
        check_failed++;
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", errors, want);
    }
}

int main(void)
{
    static struct config cfg;
    const char *good =
        "# comment\n"
        "; also a comment\n"
        "[host]\n"
        "name = lab-a\n"
        "\n"
        "[vm hello]\r\n"
        "  memory = 16M\n"
        "vcpus=2\n"
        "kernel = hello.elf\n"
        "cmdline = \" spaced # not a comment \"\n"
        "module = initrd.img root=/dev/ram0 quiet\n"
        "module = extra.bin\n"
        "autostart = yes\n"
        "[ vm  counter ]\n"
        "kernel = counter.elf\n"
        "cpu = x86-64-v2\n"
        "[vm linux]\n"
        "kernel = vmlinuz\n"
        "initrd = initramfs.cpio.gz\n"
        "cpu = x86-64-v3\n";
    CHECK_U64(parse(good, &cfg), 0);
    CHECK_STR(errors, "");
    CHECK_STR(cfg.host_name, "lab-a");
    CHECK_U64(cfg.nvms, 3);
    CHECK_STR(cfg.vms[2].initrd, "initramfs.cpio.gz");
    CHECK_STR(cfg.vms[0].initrd, "");
    CHECK_U64(cfg.vms[0].cpu, CFG_CPU_HOST); /* absent: the host's */
    CHECK_U64(cfg.vms[1].cpu, CFG_CPU_X86_64_V2);
    CHECK_U64(cfg.vms[2].cpu, CFG_CPU_X86_64_V3);
    const struct cfg_vm *h = &cfg.vms[0];
    CHECK_STR(h->name, "hello");
    CHECK_U64(h->memory, 16ull << 20);
    CHECK_U64(h->vcpus, 2);
    CHECK_STR(h->kernel, "hello.elf");
    CHECK_STR(h->cmdline, " spaced # not a comment ");
    CHECK_U64(h->nmodules, 2);
    CHECK_STR(h->modules[0].file, "initrd.img");
    CHECK_STR(h->modules[0].args, "root=/dev/ram0 quiet");
    CHECK_STR(h->modules[1].args, "");
    CHECK(h->autostart);
    const struct cfg_vm *c = &cfg.vms[1];
    CHECK_STR(c->name, "counter");
    CHECK_U64(c->memory, 64ull << 20); /* defaults */
    CHECK_U64(c->vcpus, 1);
    CHECK(!c->autostart);

    /* [net IF]: static or DHCP addressing per interface. */
    CHECK_U64(parse("[net eth0]\naddress = 192.168.7.2/24\ngateway = 192.168.7.1\n"
                    "[net eth1]\naddress = dhcp\n", &cfg), 0);
    CHECK_U64(cfg.nnets, 2);
    CHECK_STR(cfg.nets[0].ifname, "eth0");
    CHECK(cfg.nets[0].is_static);
    CHECK_U64(cfg.nets[0].addr, 0xc0a80702u);
    CHECK_U64(cfg.nets[0].prefix, 24);
    CHECK_U64(cfg.nets[0].gw, 0xc0a80701u);
    CHECK(!cfg.nets[1].is_static);
    expect_error("[net eth0]\naddress = 192.168.7/24\n", 2, "bad address '192.168.7/24'");
    expect_error("[net eth0]\naddress = 192.168.7.2\n", 2, "bad address");
    expect_error("[net eth0]\naddress = 192.168.7.2/33\n", 2, "bad address");
    expect_error("[net eth0]\naddress = 1.2.3.256/8\n", 2, "bad address");
    expect_error("[net eth0]\ngateway = 10.0.0.1.5\n", 2, "bad gateway");
    expect_error("[net wlan0]\n", 1, "bad interface 'wlan0'");
    expect_error("[net eth0]\n[net eth0]\n", 2, "given twice");
    expect_error("[net eth0]\nmtu = 9000\n", 2, "unknown key 'mtu' in [net eth0]");
    expect_error("[net eth0]\ngateway = 10.0.0.1\n", 2, "a gateway needs a static address");

    /* Empty and comment-only files are fine. */
    CHECK_U64(parse("", &cfg), 0);
    CHECK_U64(parse("# nothing\n\n", &cfg), 0);
    CHECK_U64(cfg.nvms, 0);

    expect_error("name = x\n", 1, "outside a section");
    expect_error("[host]\nbogus = 1\n", 2, "unknown key 'bogus' in [host]");
    expect_error("[host\n", 1, "must end with ']'");
    expect_error("[guest x]\n", 1, "unknown section");
    expect_error("[vm]\nkernel=a\n", 1, "unknown section");
    expect_error("[vm bad/name]\nkernel=a\n", 1, "bad vm name");
    expect_error("[vm a]\n", 1, "has no kernel");
    expect_error("[vm a]\nkernel = a\nkernel = b\n", 3, "given twice");
    expect_error("[vm a]\nkernel = ../etc/passwd\n", 2, "bad kernel file name");
    expect_error("[vm a]\nkernel = a\ninitrd = x/y\n", 3, "bad initrd file name");
    expect_error("[vm a]\nkernel = a\ncpu = x86-64-v4\n", 3, "bad cpu 'x86-64-v4' (host, x86-64-v2 or x86-64-v3)");
    expect_error("[vm a]\nkernel = a\ncpu = host\ncpu = host\n", 4, "given twice");
    expect_error("[vm a]\nkernel = a\ninitrd = x\ninitrd = y\n", 4, "given twice");
    expect_error("[vm a]\nkernel=k\nmemory = 12Q\n", 3, "bad memory");
    expect_error("[vm a]\nkernel=k\nmemory = 512K\n", 3, "bad memory");
    expect_error("[vm a]\nkernel=k\nmemory = 65G\n", 3, "bad memory");
    expect_error("[vm a]\nkernel=k\nmemory = 99999999999999999999G\n", 3, "bad memory");
    expect_error("[vm a]\nkernel=k\nmemory = 1048577\n", 3, "bad memory");
    expect_error("[vm a]\nkernel=k\nvcpus = 0\n", 3, "bad vcpus");
    expect_error("[vm a]\nkernel=k\nvcpus = 9\n", 3, "bad vcpus");
    expect_error("[vm a]\nkernel=k\nautostart = maybe\n", 3, "bad autostart");
    expect_error("[vm a]\nkernel=k\nfoo = 1\n", 3, "unknown key 'foo'");
    expect_error("[vm a]\nkernel=k\njust words\n", 3, "expected 'key = value'");
    expect_error("[vm a]\nkernel=k\nmodule=a\nmodule=b\nmodule=c\nmodule=d\nmodule=e\n", 7, "too many modules");
    expect_error("[vm a]\nkernel=k\n[vm a]\nkernel=k\n", 3, "defined twice");
    static const char nul[] = "[host]\nname=a\0b\n";
    errors[0] = 0;
    CHECK_U64(config_parse(nul, sizeof(nul) - 1, &cfg, on_error, NULL), 1);
    CHECK(strstr(errors, "2: NUL byte") != NULL);
    char longline[700];
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, "[host]\nname=", 12);
    longline[sizeof(longline) - 1] = 0;
    expect_error(longline, 2, "longer than 512");
    char longcmd[400] = "[vm a]\nkernel=k\ncmdline=";
    size_t l = strlen(longcmd);
    memset(longcmd + l, 'y', 300);
    longcmd[l + 300] = 0;
    expect_error(longcmd, 3, "cmdline longer");

    /* A bad section is dropped; the good ones around it stay. */
    const char *mixed =
        "[vm good1]\nkernel = a.elf\n"
        "[vm broken]\nkernel = b.elf\nmemory = lots\nvcpus = 2\n"
        "[vm good2]\nkernel = c.elf\n";
    CHECK_U64(parse(mixed, &cfg), 1);
    CHECK_U64(cfg.nvms, 2);
    CHECK_STR(cfg.vms[0].name, "good1");
    CHECK_STR(cfg.vms[1].name, "good2");

    /* More sections than fit: the extra ones are reported. */
    char many[4096] = "";
    for (int i = 0; i < CFG_MAX_VMS + 2; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof(many) - n, "[vm v%d]\nkernel=k\n", i);
    }
    CHECK_U64(parse(many, &cfg), 2);
    CHECK_U64(cfg.nvms, CFG_MAX_VMS);

    uint64_t v;
    CHECK(config_parse_size("4096", &v) == 0 && v == 4096);
    CHECK(config_parse_size("2k", &v) == 0 && v == 2048);
    CHECK(config_parse_size("1G", &v) == 0 && v == 1ull << 30);
    CHECK(config_parse_size("0x10M", &v) == 0 && v == 16ull << 20);
    CHECK(config_parse_size("M", &v) == -1);
    CHECK(config_parse_size("", &v) == -1);
    CHECK(config_parse_size("17179869184G", &v) == -1);
    return check_report("test_config");
}
