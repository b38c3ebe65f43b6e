"""hopvm boots in nested QEMU (TCG, AMD SVM + NPT, OVMF) and answers on its
serial console. The read-only checks share one boot; tests that end the
machine get their own."""
import re
import time

import pexpect

from conftest import PROMPT


def test_boot_reaches_prompt(console):
    # The shared fixture already waited for the prompt; the console answers.
    assert "hopvm" in console.cmd("version")


def test_help_lists_every_command(console):
    out = console.cmd("help")
    for name in ("help", "version", "cpu", "mem", "uptime", "reboot", "poweroff", "crash", "vm",
                 "console", "bench"):
        assert re.search(rf"^\s+{name}\b", out, re.M), f"{name} missing from help:\n{out}"


def test_help_for_one_command(console):
    out = console.cmd("help mem")
    assert "usage: mem [map]" in out


def test_version(console):
    assert re.search(r"hopvm \d+\.\d+\.\d+ \(git \w+\), built", console.cmd("version"))


def test_cpu_reports_amd_v_with_npt(console):
    out = console.cmd("cpu")
    assert "vendor:   AuthenticAMD" in out
    assert re.search(r"AMD-V:\s+present, enabled", out), out
    assert "NPT: yes" in out
    assert "ASIDs: 16" in out  # what QEMU 7.2 TCG advertises
    assert "VT-x:     not present" in out


def test_mem_matches_qemu_ram(console):
    out = console.cmd("mem")
    m = re.search(r"total RAM:\s+\S+ MiB \((\d+) bytes", out)
    assert m, out
    total = int(m.group(1))
    want = console.mem_mb << 20
    assert abs(total - want) / want < 0.03, f"{total} bytes vs -m {console.mem_mb}M"
    free = int(float(re.search(r"free:\s+([\d.]+) MiB", out).group(1)))
    assert 0.8 * console.mem_mb < free < console.mem_mb
    assert re.search(r"largest free range: [\d.]+ MiB at 0x[0-9a-f]+", out)


def test_mem_map_lists_ranges(console):
    out = console.cmd("mem map")
    assert "usable" in out and "hopvm" in out and "ACPI" in out


def test_uptime_ticks_follow_the_tsc(console):
    def sample():
        out = console.cmd("uptime")
        m = re.search(r"up (\d+)d (\d+):(\d+):(\d+)\.(\d+), (\d+) ticks at (\d+) Hz", out)
        assert m, out
        d, h, mi, s, ms, ticks, hz = map(int, m.groups())
        return ((d * 24 + h) * 60 + mi) * 60 + s + ms / 1000, ticks, hz

    t0, k0, hz = sample()
    time.sleep(2)
    t1, k1, _ = sample()
    assert t1 - t0 > 1.5
    # The APIC tick and the TSC clock were calibrated separately: they agree
    # to within what emulation allows (a starved QEMU drops periodic ticks,
    # measured 876/s on a loaded CI machine); a wrong divider would be off
    # by a factor of 2 or more.
    rate = (k1 - k0) / (t1 - t0)
    assert 0.6 * hz < rate < 1.15 * hz, f"{rate:.0f} ticks/s at {hz} Hz"


def test_unknown_command_errors_and_prompt_returns(console):
    out = console.cmd("frobnicate now")
    assert out.strip() == "error: unknown command 'frobnicate' (type 'help' for the list)"
    assert "hopvm" in console.cmd("version")


def test_bad_arguments_print_error_and_usage(console):
    out = console.cmd("mem bogus")
    assert "error: unknown argument 'bogus'" in out and "usage: mem [map]" in out
    out = console.cmd("cpu extra")
    assert "error: cpu takes no arguments" in out and "usage: cpu" in out
    out = console.cmd("help nosuch")
    assert "error: no command 'nosuch'" in out
    out = console.cmd('help "unterminated')
    assert "error: unterminated quote" in out


def test_line_editing(console):
    # Backspace fixes a typo; Ctrl-U drops a line; Up recalls history.
    assert "usage: mem [map]" in console.cmd("help mxx\x7f\x7fem", echo=False)
    assert "vendor:" in console.cmd("garbage\x15cpu", echo=False)
    console.cmd("version")
    assert "hopvm" in console.cmd("\x1b[A", echo=False)
    # Newest first: version (recalled lines are not stored twice), cpu, help mem.
    assert "usage: mem [map]" in console.cmd("\x1b[A\x1b[A\x1b[A", echo=False)


def test_empty_line_just_prompts(console):
    assert console.cmd("").strip() == ""


def test_crash_prints_register_dump(hopvm):
    vm = hopvm()
    vm.wait_prompt()
    vm.p.send("crash pf\r")
    vm.expect(r"\*\*\* hopvm: #PF page fault \(vector 14\)")
    vm.expect("CPU parked")
    dump = vm.p.before.decode(errors="replace")
    for reg in ("RIP=", "RSP=", "RAX=", "R15=", "CR0=", "CR3=", "CR4=", "backtrace"):
        assert reg in dump, f"{reg} missing from dump:\n{dump}"
    assert "CR2=00005dead0000000" in dump
    assert "#1 " in dump  # at least one caller in the backtrace
    # The host is parked: no prompt comes back.
    assert vm.p.expect([PROMPT, pexpect.TIMEOUT], timeout=3) == 1


def test_crash_invalid_opcode(hopvm):
    vm = hopvm()
    vm.wait_prompt()
    vm.p.send("crash ud\r")
    vm.expect(r"#UD invalid opcode \(vector 6\)")
    vm.expect("CPU parked")


def test_poweroff_ends_qemu(hopvm):
    vm = hopvm()
    vm.wait_prompt()
    vm.p.send("poweroff\r")
    vm.expect("powering off")
    assert vm.wait_exit(timeout=20) == 0


def test_reboot_resets_the_machine(hopvm):
    # -no-reboot turns the reset into a QEMU exit that the test can see.
    vm = hopvm(extra=("-no-reboot",))
    vm.wait_prompt()
    vm.p.send("reboot\r")
    vm.expect("rebooting")
    assert vm.wait_exit(timeout=20) == 0


def test_memory_size_follows_qemu(hopvm):
    vm = hopvm(mem_mb=1024)
    vm.wait_prompt()
    out = vm.cmd("mem")
    total = int(re.search(r"\((\d+) bytes", out).group(1))
    assert abs(total - (1024 << 20)) / (1024 << 20) < 0.03


def test_pci_finds_nics_with_bars_and_capabilities(hopvm):
    vm = hopvm(extra=("-netdev", "user,id=n0", "-device", "e1000,netdev=n0",
                      "-netdev", "user,id=n1", "-device", "virtio-net-pci,netdev=n1"))
    vm.wait_prompt()
    out = vm.cmd("pci -v")
    e1000 = re.search(r"^(\S+) 8086:100e class 02\.00\.00 Ethernet controller.*\n((?:    .*\n)*)", out, re.M)
    assert e1000, out
    assert "BAR0 mem32" in e1000.group(2) and "size 0x20000" in e1000.group(2)
    virtio = re.search(r"^(\S+) 1af4:1000 class 02\.00\.00 Ethernet controller.*\n((?:    .*\n)*)", out, re.M)
    assert virtio, out
    assert "MSI-X@" in virtio.group(2) and "BAR4 mem64" in virtio.group(2)
    assert "error: pci takes only -v" in vm.cmd("pci -x")
