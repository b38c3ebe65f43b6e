"""An unmodified Debian kernel under hopvm (build/linux.img: the kernel from
deps/guest, a busybox initramfs, tests/system/hopvm-linux.cfg with two
vCPUs), on the platform of issue 13: the Linux boot protocol
(vmm/bzimage.c), the ACPI tables (vmm/acpi_guest.c), local APICs with
TSC-deadline timers, the I/O APIC and the 8259s (vmm/irq.c), the KVM
clock, the 16550 on IRQ 4 and the ACPI PM block.

Each test checks a whole property: the kernel got every piece of the zero
page where hopvm put it, it found both CPUs and brought the second up
through INIT/SIPI, its console is interrupt-driven and interactive, its
clock agrees with hopvm's, and poweroff and reboot act on the guest only."""
import pathlib
import re
import time

import pytest

import conftest
from conftest import BUILD, PROMPT

# One Bochs runs this module's tests on bochs-vmx: two Linux boots of 2-3
# minutes each and the tests between them. The harness's kill limit for a
# Bochs process (15 minutes) was once reached here; 30 minutes covers it.
conftest.BOCHS_LIMIT = max(conftest.BOCHS_LIMIT, 1800)

IMAGE = BUILD / "linux.img"
MACHINES = ["qemu-svm", "bochs-vmx"]
RAM = 128 << 20                          # tests/system/hopvm-linux.cfg
VCPUS = 2
INITRD = BUILD / "linux" / "initramfs.cpio.gz"
CMDLINE = "earlyprintk=serial,ttyS0,115200 console=ttyS0 loglevel=7"
SHELL = "/root # "
BOOT_TIMEOUT = {"qemu-svm": 120, "bochs-vmx": 900}


class GuestShell:
    """The guest's busybox shell through `console linux`: run() types a
    command and returns what it printed between two markers that only the
    shell's own output can contain ($((...)) is expanded by the shell, so
    the echo of the typed line never matches)."""

    def __init__(self, console):
        self.c = console
        self.n = 0

    def __enter__(self):
        self.c.send("console linux\r")
        self.c.expect(r"\[attached to linux; Ctrl-\] returns to hopvm\]")
        self.c.send("\r")
        self.c.p.expect_exact(SHELL, timeout=60)
        return self

    def run(self, command, timeout=60):
        self.n += 1
        n = self.n
        self.c.send(f"echo @@$(({n}+0))B; {command}; echo @@$(({n}+0))E\r")
        self.c.expect(rf"@@{n}B\r+\n(.*?)@@{n}E", timeout=timeout)
        out = self.c.p.match.group(1).decode(errors="replace").replace("\r", "")
        # Lines a background loop printed meanwhile are not the command's.
        return "".join(l for l in out.splitlines(True) if not re.fullmatch(r"tick \d+\n?", l))

    def __exit__(self, *exc):
        self.c.send("\x1d")
        self.c.expect(r"\[detached: back to hopvm\]")
        self.c.p.expect_exact(PROMPT)


def boot(console, machine):
    out = console.cmd("vm list")
    if re.search(r"^\s*linux\s+running", out, re.M):
        return console.cmd("vm log linux")
    console.cmd("vm start linux")
    console.log_until("linux", r"hopvm-linux: init up|Kernel panic", timeout=BOOT_TIMEOUT[machine])
    log = console.log_until("linux", re.escape(SHELL) + r"|Kernel panic", timeout=60).string
    assert "Kernel panic" not in log, log[-4000:]
    return log


def test_debian_kernel_boots_to_a_shell(console, machine):
    log = boot(console, machine)
    assert re.search(r"Linux version 6\.\d+\.\d+-\d+-amd64 .*Debian", log), log[:2000]
    assert f"Kernel command line: {CMDLINE}" in log, log
    # The e820 map, as vmm/bzimage.c wrote it (the BIOS area from 0xe0000
    # holds the ACPI tables).
    for line in ("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                 "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
                 "BIOS-e820: [mem 0x00000000000e0000-0x00000000000fffff] reserved",
                 f"BIOS-e820: [mem 0x0000000000100000-0x{RAM - 1:016x}] usable"):
        assert line in log, (line, log[:4000])
    # The initrd: page-aligned at the top of RAM (initrd_addr_max is higher).
    size = pathlib.Path(INITRD).stat().st_size
    start = (RAM - size) & ~0xfff
    m = re.search(r"RAMDISK: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", log)
    assert m and int(m.group(1), 16) == start and int(m.group(2), 16) == RAM - 1, (m and m.group(0), hex(start))
    # The ACPI tables, found through boot_params.acpi_rsdp_addr.
    assert re.search(r"ACPI: RSDP 0x00000000000E0000 000024 \(v02 HOPVM \)", log), log[:6000]
    assert "ACPI: PM-Timer IO Port: 0x608" in log, log[:6000]
    assert "IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23" in log, log[:6000]
    # Time without calibration: the KVM clock and the TSC-deadline timer.
    assert "Booting paravirtualized kernel on KVM" in log, log[:6000]
    assert "TSC deadline timer available" in log, log[:6000]
    assert "Unable to read current time from RTC" not in log, log
    # Both vCPUs: the MADT's two, the second started by INIT/SIPI.
    assert f"smp: Brought up 1 node, {VCPUS} CPUs" in log, log
    assert f"hopvm-linux: init up, {VCPUS} cpus" in log, log
    # The serial port is a 16550A on IRQ 4.
    assert "ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A" in log, log
    # Nothing the kernel found wrong with the platform.
    # (A kernel warning prints "WARNING: CPU: n PID: ..."; "RETBleed: WARNING"
    # is a mitigation notice about the emulated CPU.)
    for bad in ("unchecked MSR access", "WARNING: CPU", "cut here", "BUG:", "Call Trace",
                "calibrate_delay_direct() failed", "Unable to calibrate", "IRQ handler type mismatch",
                "spurious", "No irq handler"):
        assert bad not in log, (bad, log)
    out = console.cmd("vm info linux")
    assert re.search(r"^state:\s+running", out, re.M), out
    assert "unassigned MMIO: 0" in out, out


def interrupts(text, line):
    """The per-CPU counts of one /proc/interrupts line, e.g. '4:'."""
    for row in text.splitlines():
        fields = row.split()
        if fields and fields[0] == line:
            return [int(x) for x in fields[1:1 + VCPUS]]
    raise AssertionError(f"no line {line} in /proc/interrupts:\n{text}")


def test_console_is_interactive_and_interrupt_driven(console, machine):
    boot(console, machine)
    with GuestShell(console) as sh:
        assert sh.run("nproc").strip() == str(VCPUS)
        assert sh.run("echo $((6 * 7))").strip() == "42"
        before = sh.run("cat /proc/interrupts")
        # The console's line is the I/O APIC's pin 4, edge (ISA), and it
        # has interrupted: typing and output go through IRQ 4.
        row = next(r for r in before.splitlines() if r.split() and r.split()[0] == "4:")
        assert "IO-APIC" in row and "4-edge" in row and "ttyS0" in row, row
        after = sh.run("cat /proc/interrupts")
        assert sum(interrupts(after, "4:")) > sum(interrupts(before, "4:")), (before, after)
        # Every CPU takes its local timer (the TSC-deadline timer) ...
        loc0, loc1 = interrupts(before, "LOC:"), interrupts(after, "LOC:")
        assert all(b > a for a, b in zip(loc0, loc1)) or all(x > 0 for x in loc1), (before, after)
        # ... and rescheduling IPIs reach the second one.
        assert sum(interrupts(after, "RES:")) > 0, after
        # Work really runs on both CPUs.
        out = sh.run("for c in 0 1; do taskset -c $c cat /proc/self/stat | cut -d' ' -f39; done")
        assert out.split() == ["0", "1"], out


def test_nmi_ipis_reach_every_cpu(console, machine):
    """Linux's all-CPU backtrace (sysrq l) sends an NMI IPI to the other CPU
    and itself; twice in a row, so NMIs also arrive while a handler runs
    (the NMI mask: VT-x's blocking by NMI, AMD-V's IRET intercept). Each
    CPU answers each time, and the guest goes on."""
    boot(console, machine)
    with GuestShell(console) as sh:
        out = sh.run("echo l > /proc/sysrq-trigger; echo l > /proc/sysrq-trigger; sleep 1; dmesg | tail -80",
                     timeout=120)
        for cpu in range(VCPUS):
            assert len(re.findall(rf"NMI backtrace for cpu {cpu}\b", out)) >= 2, out
        assert "Uhhuh" not in out and "NMI received for unknown reason" not in out, out
        assert sh.run("echo $((6 * 7))").strip() == "42"


def test_guest_clock_matches_hopvms(console, machine):
    boot(console, machine)
    with GuestShell(console) as sh:
        guest = int(sh.run("date +%s").strip())
    host = int(re.search(r"\(unix (\d+)\)", console.cmd("uptime")).group(1))
    # Read one after the other: the guest's second may have ended just
    # before hopvm's was read, and the console round trip takes time.
    assert host - 2 <= guest <= host, (guest, host)


def test_eight_vcpus_come_up(console, machine):
    """The most vCPUs a guest may have (CFG_MAX_VCPUS): every AP starts
    through INIT/SIPI and the kernel runs on all of them. QEMU only: eight
    APs under Bochs take minutes."""
    if machine != "qemu-svm":
        pytest.skip("eight vCPUs are tested on QEMU only (time)")
    console.cmd("vm stop linux")  # two 128 MiB guests do not fit the test machine
    console.cmd("vm start linux8")
    console.log_until("linux8", r"hopvm-linux: init up, \d+ cpus|Kernel panic", timeout=240)
    log = console.log_until("linux8", re.escape(SHELL), timeout=60).string
    assert "hopvm-linux: init up, 8 cpus" in log, log[-3000:]
    console.send("console linux8\r")
    console.expect(r"\[attached to linux8; Ctrl-\] returns to hopvm\]")
    try:
        console.send("\r")
        console.p.expect_exact(SHELL, timeout=60)
        console.send("echo @@$((1+1)); grep -c processor /proc/cpuinfo; echo @@$((2+1))\r")
        console.expect(r"@@2\r+\n(\d+)\r+\n@@3", timeout=60)
        assert int(console.p.match.group(1)) == 8
    finally:
        console.send("\x1d")
        console.expect(r"\[detached: back to hopvm\]")
        console.p.expect_exact(PROMPT)
    console.cmd("vm stop linux8")


def test_guest_reboot_and_poweroff_end_only_the_guest(console, machine):
    boot(console, machine)
    sh = GuestShell(console).__enter__()
    sh.c.send("reboot\r")
    # The kernel resets through the FADT's reset register (port 0xcf9); the
    # console stays attached and the new boot streams to it (watched here,
    # not by polling `vm log`: under Bochs, printing the full 64 KiB log
    # over and over leaves the guest little time to boot).
    sh.c.expect(r"vm linux: reset by the guest \(port 0xcf9\); started again", timeout=120)
    sh.c.expect(r"Linux version 6\.", timeout=BOOT_TIMEOUT[machine])
    sh.c.expect(rf"hopvm-linux: init up, {VCPUS} cpus", timeout=BOOT_TIMEOUT[machine])
    sh.c.p.expect_exact(SHELL, timeout=120)
    assert sh.run("nproc").strip() == str(VCPUS)
    sh.c.send("poweroff\r")
    # The guest's end detaches the console by itself.
    console.expect(r"\[guest stopped: back to hopvm\]", timeout=120)
    console.expect(r"vm linux: powered off \(ACPI S5\)")
    console.p.expect_exact(PROMPT)
    out = console.cmd("vm list")
    assert re.search(r"^\s*linux\s+exited", out, re.M), out
    # hopvm itself is still there.
    assert "hopvm" in console.cmd("version")


def test_linux_teleports_mid_workload_and_keeps_going(hopvm):
    """A two-vCPU Linux guest, printing a counter from a shell loop and
    holding a file in tmpfs, moves live to another hopvm: the counter goes
    on with no gap, no repeat and no restart, the file's checksum is the
    same, and the guest on the target has both CPUs, its interrupts, its
    clock and its console."""
    from test_teleport import listen, pair, state
    a, b = pair(hopvm, image=IMAGE)
    a.cmd("vm start linux")
    a.log_until("linux", re.escape(SHELL), timeout=BOOT_TIMEOUT["qemu-svm"])
    with GuestShell(a) as sh:
        sh.run("dd if=/dev/urandom of=/tmp/blob bs=1k count=512 2>/dev/null; md5sum /tmp/blob > /tmp/sum")
        want = sh.run("cat /tmp/sum").split()[0]
        # Both CPUs busy: one prints the counter, one spins.
        sh.run("(while :; do :; done) & (i=0; while :; do echo tick $i; i=$((i+1)); usleep 100000; done) & true")
    a.log_until("linux", r"tick 20\b", timeout=60)
    listen(b, "--password linux")
    out = a.cmd("teleport linux --host 192.168.77.2 --password linux", timeout=300)
    assert re.search(r"teleport: 'linux' handed over to 192\.168\.77\.2 in [\d.]+ s: 128 MiB RAM", out), out
    b.expect(r"teleport: 'linux' arrived from 192\.168\.77\.1 .* it runs here", timeout=60)
    b.wait_prompt()
    last_a = max(int(x) for x in re.findall(r"tick (\d+)$", a.cmd("vm log linux"), re.M))
    assert state(a, "linux") == "stopped"
    b.log_until("linux", rf"tick {last_a + 30}\b", timeout=60)
    log = b.cmd("vm log linux")
    ticks = [int(x) for x in re.findall(r"tick (\d+)$", log, re.M)]  # after a prompt, too
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), [t for i, t in enumerate(ticks) if t != ticks[0] + i][:5]
    assert ticks[-1] >= last_a + 30
    with GuestShell(b) as sh:
        assert sh.run("md5sum /tmp/blob").split()[0] == want
        assert sh.run("nproc").strip() == str(VCPUS)
        # Both CPUs still take their timers and IPIs on the target.
        one = sh.run("cat /proc/interrupts")
        time.sleep(1)
        two = sh.run("cat /proc/interrupts")
        assert all(y > x for x, y in zip(interrupts(one, "LOC:"), interrupts(two, "LOC:"))), (one, two)
        guest = int(sh.run("date +%s").strip())
    host = int(re.search(r"\(unix (\d+)\)", b.cmd("uptime")).group(1))
    assert host - 3 <= guest <= host + 1, (guest, host)
    assert "Kernel panic" not in b.cmd("vm log linux")
    assert state(b, "linux") == "running"
