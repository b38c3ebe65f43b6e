"""Guests on every machine hopvm is tested on (conftest.MACHINES: QEMU TCG
with SVM, Bochs with VT-x, Bochs with SVM + NRIP save): every test guest,
two at once with the console answering, crash isolation, MMIO and string
I/O, and broken kernel files. One boot of build/test.img
(tests/system/hopvm-test.cfg) per machine serves the module."""
import datetime
import re
import time

import pytest

from conftest import BUILD, MACHINES, PROMPT

IMAGE = BUILD / "test.img"


def info(console, name):
    return console.cmd(f"vm info {name}")


def state(console, name):
    return re.search(r"^state:\s+(\w+)", info(console, name), re.M).group(1)


def counter_values(console, name):
    # The last line may be half-written (the guest prints while `vm log` runs).
    return [int(x) for x in re.findall(r"^counter (\d+)", console.cmd(f"vm log {name}"), re.M)][:-1]


def test_cpu_and_backend(console):
    out = console.cmd("cpu")
    if console.machine == "bochs-vmx":
        assert "VT-x:     present, enabled" in out
        assert "EPT: yes, EPT A/D bits: yes" in out and "unrestricted guest: yes" in out
        assert re.search(r"VPID: yes, VPIDs: 65535, preemption timer: (yes|no)", out)
    else:
        assert re.search(r"AMD-V:\s+present, enabled", out) and "NPT: yes" in out
        # Both SVM paths: QEMU has no NRIP save (fixed lengths), Bochs has it.
        assert f"NRIP save: {'yes' if console.machine == 'bochs-svm' else 'no'}" in out


def test_pci_enumeration(console):
    out = console.cmd("pci")
    if console.machine == "qemu-svm":  # q35: MCFG gives ECAM
        assert "configuration space via ECAM (ACPI MCFG)" in out
        assert re.search(r"^00:00\.0 8086:29c0 class 06\.00\.00 host bridge", out, re.M)
        assert re.search(r"^00:1f\.2 8086:2922 class 01\.06\.01 SATA controller", out, re.M)
    else:  # Bochs i440fx, no ACPI tables: the legacy ports
        assert "configuration space via ports 0xCF8/0xCFC" in out
        assert re.search(r"^00:00\.0 8086:1237 class 06\.00\.00 host bridge", out, re.M)


def test_vm_list_shows_the_configured_guests(console):
    out = console.cmd("vm list")
    for name in ("hello", "counter", "memtouch", "exitstorm", "crash", "compute", "tsc", "xstate"):
        assert re.search(rf"^{name}\s+stopped\s+\d+ MiB\s+1\s+0\s+{name}\.elf", out, re.M), out


def test_hello_multiboot(console):
    assert "vm hello: started (16 MiB, 1 vCPU)" in console.cmd("vm start hello")
    console.expect(r"vm hello: exited with code 0 \(debug-exit port\)")
    log = console.cmd("vm log hello")
    assert "Hello from a hopvm guest!" in log
    assert "hello: cmdline 'greeting=hi from the tests'" in log
    assert "hello: memory lower 639 KiB, upper 15360 KiB" in log
    assert "hello: mmap 00100000-00ffffff type 1" in log
    assert re.search(r"hello: module 0 'counter\.elf first module' \d+ bytes", log)
    assert re.search(r"hello: module 1 'crash\.elf' \d+ bytes", log)
    assert "hello: unclaimed port 0x2e0 reads 0xff" in log  # unclaimed ports float high
    assert "hello: hypervisor 'hopvm' max leaf 0x40000010" in log
    out = info(console, "hello")
    assert "exit code: 0" in out and re.search(r"state:\s+exited", out)
    assert re.search(r"unclaimed port I/O: 1 \(the latest at port 0x2e0\)$", out, re.M), out
    # A finished guest starts again from scratch.
    console.cmd("vm start hello")
    console.expect(r"vm hello: exited with code 0")


def test_exitstorm_counts_exits(console):
    console.cmd("vm start exitstorm")
    console.expect(r"vm exitstorm: exited with code 0", timeout=60)
    assert "exitstorm: 40000 exits done" in console.cmd("vm log exitstorm")
    out = info(console, "exitstorm")
    io = int(re.search(r"io (\d+)", out).group(1))
    cpuid = int(re.search(r"cpuid (\d+)", out).group(1))
    assert io >= 20000 and cpuid >= 20000, out
    assert "unclaimed port I/O: 20000" in out


def test_compute_elf64_long_mode(console):
    console.cmd("vm start compute")
    console.expect(r"vm compute: exited with code 0", timeout=60)
    log = console.cmd("vm log compute")
    assert "compute: long mode, magic 0x2badb002" in log
    assert "compute: MMIO from long mode" in log  # REX-encoded MOV to the MMIO UART
    assert re.search(r"compute: 1000000 iterations in \d+ cycles", log)


def test_two_guests_at_once_and_console_answers(console):
    console.cmd("vm start counter")
    console.cmd("vm start counter2")
    # Both run: each gets to 10 lines. (Not a fixed sleep: under Bochs the
    # guests' time, which paces them, runs slower than the wall clock when
    # the host is busy; seen: 10 and 18 lines after 3 s.)
    console.log_until("counter", r"counter 10\b", timeout=120)
    console.log_until("counter2", r"counter 10\b", timeout=120)
    # The console answers promptly while both spin.
    t0 = time.monotonic()
    out = console.cmd("vm list")
    assert time.monotonic() - t0 < 5
    assert re.search(r"^counter\s+running", out, re.M) and re.search(r"^counter2\s+running", out, re.M)
    a, b = counter_values(console, "counter"), counter_values(console, "counter2")
    assert len(a) >= 10 and len(b) >= 10, (a[-3:], b[-3:])
    assert a == list(range(len(a))) and b == list(range(len(b)))  # no gaps, no repeats
    # Pause freezes one guest; the other keeps counting; resume continues.
    console.cmd("vm pause counter")
    frozen = counter_values(console, "counter")
    before2 = len(counter_values(console, "counter2"))
    time.sleep(1.5)
    assert counter_values(console, "counter") == frozen
    assert len(counter_values(console, "counter2")) > before2
    assert state(console, "counter") == "paused"
    console.cmd("vm resume counter")
    time.sleep(1.5)
    assert len(counter_values(console, "counter")) > len(frozen)
    assert "vm counter2: stopped" in console.cmd("vm stop counter2")
    assert state(console, "counter2") == "stopped"


def test_console_attach_and_detach(console):
    if state(console, "counter") != "running":
        console.cmd("vm start counter")
    console.send("console counter\r")
    try:
        console.expect(r"\[attached to counter; Ctrl-\] returns to hopvm\]")
        # The guest's own lines stream to the terminal while attached.
        console.expect(r"counter (\d+)\r+\n")
        first = int(console.p.match.group(1))
        console.expect(r"counter (\d+)\r+\n")
        assert int(console.p.match.group(1)) == first + 1
        # Keys reach the guest's UART.
        console.send("k")
        console.expect(r"counter: got key 'k'")
    finally:
        console.send("\x1d")
    console.expect(r"\[detached: back to hopvm\]")
    console.p.expect_exact(PROMPT)
    assert "hopvm" in console.cmd("version")


def test_memtouch_verifies_its_pages(console):
    console.cmd("vm start memtouch")
    m = console.log_until("memtouch", r"memtouch: pass 1 verified 8 MiB checksum ([0-9a-f]{8}) (\w+)", timeout=90)
    assert m.group(2) == "ok"
    log = console.cmd("vm log memtouch")
    assert "BAD" not in log
    # Pages keep changing, so consecutive checksums differ.
    sums = re.findall(r"checksum ([0-9a-f]{8})", log)
    assert len(set(sums)) == len(sums), sums
    console.cmd("vm stop memtouch")


def test_memtouch_across_4k_nested_pages(console):
    console.cmd("vm start memtouch-odd")
    m = console.log_until("memtouch-odd", r"memtouch: pass 1 verified 11 MiB checksum [0-9a-f]{8} (\w+)", timeout=90)
    assert m.group(1) == "ok"
    assert "checksum 00000000" not in console.cmd("vm log memtouch-odd")
    console.cmd("vm stop memtouch-odd")


def test_triple_fault_stops_only_that_guest(console):
    if console.machine == "bochs-svm":
        # Bochs 2.7 resets the whole machine on a guest triple fault under
        # SVM instead of taking the SHUTDOWN intercept (measured); real AMD
        # CPUs and QEMU deliver the #VMEXIT.
        pytest.skip("Bochs 2.7 does not deliver the SVM shutdown intercept")
    if state(console, "counter") != "running":
        console.cmd("vm start counter")
    console.cmd("vm start crash")
    console.expect(r"vm crash: stopped: triple fault \(shutdown\) \(RIP 0x[0-9a-f]+\)")
    out = info(console, "crash")
    assert re.search(r"state:\s+crashed \(triple fault", out)
    assert "registers when it stopped:" in out and re.search(r"RIP=0000000000[0-9a-f]{6}", out)
    assert "IDTR base=0000000000000000 limit=0000" in out  # the empty IDT that caused it
    # The neighbour keeps counting, the host keeps answering.
    n = len(counter_values(console, "counter"))
    time.sleep(1.5)
    assert len(counter_values(console, "counter")) > n
    assert state(console, "counter") == "running"
    assert "hopvm" in console.cmd("version")


def test_guest_vmrun_gets_ud(console):
    console.cmd("vm start vmrun")
    console.expect(r"vm vmrun: exited with code 6")
    assert "crash: VMRUN raised #UD" in console.cmd("vm log vmrun")


def test_mmio_and_string_io(console):
    # The UART's MMIO window exercises #NPF -> decode -> device; REP OUTSB
    # exercises string I/O through the guest's memory.
    console.cmd("vm start mmio")
    console.expect(r"vm mmio: exited with code 0")
    log = console.cmd("vm log mmio")
    assert "crash: hello through the MMIO UART" in log
    assert "crash: MMIO LSR 0x60, SCR 0x5a" in log  # byte, dword and MOVZX loads; imm store
    assert "crash: hello through REP OUTSB" in log
    assert re.search(r"npf/mmio \d+", info(console, "mmio"))


def test_access_outside_guest_memory_is_a_pc_hole(console):
    """Nothing at a guest-physical address: reads give all ones and writes
    are dropped, as on a PC (kernels probe), counted in `vm info`; code
    fetched from there stops the guest."""
    console.cmd("vm start stray")
    console.expect(r"vm stray: stopped: instruction fetch outside its memory at guest-physical 0xe0000000")
    assert state(console, "stray") == "crashed"
    log = console.cmd("vm log stray")
    assert "crash: read 0xffffffff at 0xe0000000\n" in log, log
    assert "crash: read 0xffffffff after a write, byte 0xff\n" in log, log
    assert "unassigned MMIO: 4" in info(console, "stray")  # read, write, byte read, read
    assert state(console, "counter") == "running"


def test_guest_spinning_without_exits_does_not_starve_the_console(console):
    # spin64 computes with interrupts off and never exits on its own: only
    # hopvm's tick (or, on VT-x, the preemption timer) takes the CPU back.
    if console.machine == "bochs-svm":
        # Measured: Bochs 2.7 does not exit on a physical interrupt while an
        # SVM guest runs with RFLAGS.IF = 0, although V_INTR_MASKING says the
        # host's IF governs (APM 15.21.1); QEMU and real CPUs do.
        pytest.skip("Bochs 2.7 SVM: no INTR exit from a guest with IF = 0")
    console.cmd("vm start spin64")
    console.log_until("spin64", r"compute: MMIO from long mode", timeout=60)
    for _ in range(3):
        t0 = time.monotonic()
        assert re.search(r"^spin64\s+running", console.cmd("vm list"), re.M)
        assert time.monotonic() - t0 < 10
    assert "vm spin64: stopped" in console.cmd("vm stop spin64")


def test_failed_vm_entry_stops_only_that_guest(console):
    if console.machine == "bochs-svm":
        pytest.skip("Bochs 2.7's VMRUN does not check CS.L with CS.D; the guest would triple-fault")
    if state(console, "counter") != "running":
        console.cmd("vm start counter")
    console.cmd("vm start spin64")
    console.log_until("spin64", r"compute: MMIO from long mode", timeout=60)
    assert "CS now has L and D/B set" in console.cmd("vm corrupt spin64")
    console.expect(r"vm spin64: stopped: (VM entry failed: invalid guest state: guest CS has both L and D/B "
                   r"set in IA-32e mode \(26\.3\.1\.2\)|VMRUN failed: EFER\.LME, CR0\.PG, CR4\.PAE, CS\.L "
                   r"and CS\.D all set \(APM 15\.5\.1\))")
    assert state(console, "spin64") == "crashed"
    assert state(console, "counter") == "running"
    assert "hopvm" in console.cmd("version")


def test_guest_tsc_is_its_own(console):
    """RDTSC starts near zero with the guest, a WRMSR to IA32_TSC (MSR 0x10)
    sets what RDTSC reads next, and RDMSR 0x10 reads the same counter: the
    vCPU's TSC offset at work (on VT-x, the "use TSC offsetting" control)."""
    console.cmd("vm start tsc")
    console.log_until("tsc", r"tsc: rdtsc \d+, rdmsr \d+, rdtsc \d+\n", timeout=60)
    log = console.cmd("vm log tsc")
    assert "vm tsc: stopped" in console.cmd("vm stop tsc")  # it goes on ticking (test_tsc_move.py)
    first, khz = map(int, re.search(r"tsc: first rdtsc (\d+) \((\d+) kHz\)", log).groups())
    assert khz > 0, log
    second = khz * 1000  # TSC ticks per second, at the rate hopvm gives the guest
    # A few instructions after the start, not the host's uptime.
    assert first < 5 * second, (first, khz)
    after0 = int(re.search(r"tsc: rdtsc after wrtsc\(0\): (\d+)", log).group(1))
    assert after0 < second, (after0, khz)
    to, got = map(int, re.search(r"tsc: rdtsc after wrtsc\((\d+)\): (\d+)", log.split("wrtsc(0)")[1]).groups())
    assert to <= got < to + second, (to, got, khz)
    a, b, c = map(int, re.search(r"tsc: rdtsc (\d+), rdmsr (\d+), rdtsc (\d+)", log).groups())
    assert a <= b <= c and c - a < second, (a, b, c, khz)
    assert "tsc: rdtscp aux 0x5a5a1234, rdmsr 0x5a5a1234\n" in log, log  # IA32_TSC_AUX
    # The PIT runs at 1.193182 MHz of the same time as the TSC: 10 ms of it
    # is 10 ms of TSC ticks, less only by the exit between the load and the
    # first RDTSC, more by the last poll (an exit each). The guest prints the
    # least of three, so a time slice another guest took does not count; a
    # PIT off by even a third fails.
    pit = int(re.search(r"tsc: PIT channel 2 counted 10 ms in (\d+) TSC ticks", log).group(1))
    assert 0.9 * second / 100 < pit < 1.33 * second / 100, (pit, khz)
    # The guest's RTC runs from the host's (read by hopvm at start-up; under
    # QEMU that is the wall clock in UTC, Bochs's is an hour off whatever
    # its clock option says), and a guest sets its own without touching it.
    def when(s):
        return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    rtc = when(re.search(r"tsc: rtc (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\n", log).group(1))
    boot = when(re.search(r"time: (\S+ \S+) UTC from the host's RTC",
                          console.log_path.read_text(errors="replace")).group(1))
    assert 0 <= (rtc - boot).total_seconds() < 3600, (rtc, boot)  # since hopvm started, by hopvm's clock
    if console.machine == "qemu-svm":
        assert abs((datetime.datetime.now(datetime.timezone.utc) - rtc).total_seconds()) < 120, rtc
    assert re.search(r"tsc: rtc set to 1999-12-31 23:59:58, reads 1999-12-31 23:59:5[89]\n", log), log
    assert re.search(r"rdmsr \d+, wrmsr \d+", info(console, "tsc"))  # both went through the MSR policy


def test_guest_xsave_as_cpuid_offers_it(console):
    """Every machine offers XSAVE and AVX. xstate (protected mode) and
    xstate64 (long mode, a REX-encoded MOV to CR4) probe it while avx2
    holds x87|SSE|AVX in XCR0 beside them: CR4.OSXSAVE turns on and shows
    in CPUID; XSETBV is #UD without it and #GP(0) for XCR 1, for no x87,
    for AVX without SSE, for a component not offered; an AVX instruction is
    #UD with the guest's XCR0 = x87|SSE (the other guest's XCR0 is not the
    one in force) and runs with x87|SSE|AVX; CPUID leaf 0DH follows XCR0;
    CR4 bits of hidden features and reserved ones stay #GP(0). QEMU 7.2's
    AMD-V ignores the XSETBV intercept: hopvm reads XCR0 back after each
    exit there, and stops the guest at the one probe whose #GP it cannot
    give (a component not offered), the last. One test for both: a parametrized one would make pytest reorder the module's tests
    across machines."""
    assert "guests get x87 SSE AVX" in console.cmd("cpu")
    console.cmd("vm start avx2")
    console.log_until("avx2", r"avx 2 intact", timeout=120)
    for name in ("xstate", "xstate64"):
        console.cmd(f"vm start {name}")
        # The whole line: pexpect would match a part of it still arriving.
        console.expect(rf"vm {name}: (exited with code \d+|stopped: [^\r\n]*'vm info {name}' shows the registers)",
                       timeout=60)
        ended = console.p.match.group(1).decode()
        log = console.cmd(f"vm log {name}")
        if console.machine == "qemu-svm":
            # QEMU 7.2's AMD-V runs XSETBV despite the intercept: the last
            # probe's PKRU bit cannot get its #GP, and hopvm stops the guest.
            # Stopped at the first exit after that XSETBV: every earlier
            # probe printed, nothing after it.
            assert "the guest set XCR0 past the XSETBV intercept" in ended, (ended, log)
            assert log.rstrip().endswith("xstate: MOV to CR4 back: no fault") and "PKRU" not in log, log
        else:
            assert "exited with code 0" in ended, (ended, log)
            assert "xstate: XSETBV of a component not offered (PKRU): #GP(0)\n" in log, log
            assert "xstate: all as expected" in log and "UNEXPECTED" not in log, log
        assert "XSAVE 1 OSXSAVE 0 AVX 1" in log, log
        for what, said in (("XSETBV before CR4.OSXSAVE", "#UD"), ("MOV to CR4 with OSXSAVE", "no fault"),
                           ("CPUID.1:ECX.OSXSAVE with CR4.OSXSAVE", "1"), ("XCR0 at the start", "1"),
                           ("CPUID.(0DH,0).EAX components", "7"), ("CPUID.(0DH,0).ECX size of all", "832"),
                           ("XSETBV of XCR 1", "#GP(0)"), ("XSETBV without x87", "#GP(0)"),
                           ("XSETBV of AVX without SSE", "#GP(0)"),
                           ("XSETBV of x87|SSE", "no fault"), ("XCR0 after x87|SSE", "3"),
                           ("CPUID.(0DH,0).EBX size for x87|SSE", "576"),
                           ("AVX instruction with XCR0 x87|SSE", "#UD"),
                           ("XSETBV of x87|SSE|AVX", "no fault"), ("XCR0 after x87|SSE|AVX", "7"),
                           ("CPUID.(0DH,0).EBX size for x87|SSE|AVX", "832"),
                           ("AVX instruction with XCR0 x87|SSE|AVX", "no fault"),
                           ("MOV to CR4 without OSXSAVE", "no fault"),
                           ("CPUID.1:ECX.OSXSAVE without CR4.OSXSAVE", "0"),
                           ("XSETBV after CR4.OSXSAVE is cleared", "#UD"),
                           ("AVX instruction without CR4.OSXSAVE", "#UD"),
                           ("MOV to CR4 with VMXE", "#GP(0)"), ("MOV to CR4 with MCE", "#GP(0)"),
                           ("MOV to CR4 with reserved bit 15", "#GP(0)"), ("MOV to CR4 with PGE", "no fault")):
            assert f"xstate: {what}: {said}\n" in log, (what, log)
        if name == "xstate64":
            assert "xstate: MOV to CR4 without PAE in long mode: #GP(0)\n" in log, log
        assert "UNEXPECTED" not in log, log
        # The refused writes reached hopvm's check, counted as their own reason.
        out = info(console, name)
        writes = re.search(r"cr write (\d+)", out)
        assert writes and int(writes.group(1)) >= 3, out  # VMXE, MCE, bit 15
        if console.machine != "qemu-svm":
            assert int(re.search(r"xsetbv (\d+)", out).group(1)) >= 6, out
    log = console.cmd("vm log avx2")
    assert state(console, "avx2") == "running" and "UNEXPECTED" not in log, log
    console.cmd("vm stop avx2")


def avx_lines(console, name):
    # The last line may be half-written (the guest prints while `vm log` runs).
    return [int(x) for x in re.findall(r"^avx (\d+) intact$", console.cmd(f"vm log {name}"), re.M)][:-1]


def test_two_guests_keep_their_own_ymm_registers(console):
    """avx and avx2 each hold a different pattern in all sixteen YMM
    registers and check them all the time: hopvm switches the whole XSAVE
    state between them, upper halves included, and each one's XCR0."""
    console.cmd("vm start avx")
    console.cmd("vm start avx2")
    console.log_until("avx", r"avx 10 intact", timeout=180)
    console.log_until("avx2", r"avx 10 intact", timeout=180)
    for name, seed in (("avx", 1), ("avx2", 2)):
        log = console.cmd(f"vm log {name}")
        assert f"avx: seed {seed}, XCR0 0x7, 16 YMM registers loaded" in log, log
        assert "UNEXPECTED" not in log and state(console, name) == "running", log
        got = avx_lines(console, name)
        assert got == list(range(len(got))) and len(got) >= 10, got[-5:]
    console.cmd("vm stop avx")
    console.cmd("vm stop avx2")


def test_bad_kernel_files_are_refused(console):
    cases = {
        "truncated": "kernel 'truncated.elf' refused: segment 0 data runs past the end of the file (truncated?)",
        "badmagic": "kernel 'badmagic.elf' refused: unknown kernel format",
        "outside": "kernel 'outside.elf' refused: segment 0x40000000-0x40000100 is outside guest RAM (16 MiB)",
        "toobig": "kernel 'toobig.elf' refused: kernel file of",
        "missing": "kernel file 'nosuchfile.elf' is not in \\guests on the boot volume",
        "huge": "not enough free memory for 61440 MiB",
    }
    before = console.cmd("mem")
    free_before = re.search(r"free:\s+(\S+ \w+)", before).group(1)
    for name, want in cases.items():
        out = console.cmd(f"vm start {name}")
        assert out.startswith(f"error: vm start {name}: "), out
        assert want in out, out
        assert len(out.strip().splitlines()) == 1, out
        assert state(console, name) == "stopped"
    # Nothing leaked: every refused start gave its memory back.
    assert re.search(r"free:\s+(\S+ \w+)", console.cmd("mem")).group(1) == free_before
    assert state(console, "counter") == "running"


def test_vm_command_errors(console):
    assert "error: vm needs a subcommand" in console.cmd("vm")
    assert "error: unknown subcommand 'vm frob'" in console.cmd("vm frob")
    assert "error: vm start takes one guest name" in console.cmd("vm start")
    assert "error: no guest named 'nosuch'" in console.cmd("vm start nosuch")
    assert "error: vm start counter: 'counter' is already running" in console.cmd("vm start counter")
    assert "error: 'hello' is exited already" in console.cmd("vm stop hello")
    assert "error: 'hello' is exited, not running" in console.cmd("vm pause hello")
    assert "error: 'counter' is running, not paused" in console.cmd("vm resume counter")
    assert "error: no guest named 'nosuch'" in console.cmd("console nosuch")
    assert "error: 'hello' is exited; start it first" in console.cmd("console hello")
    assert "usage: vm list | start|pause|resume|stop|info|log NAME" in console.cmd("vm list extra")


def test_stop_frees_memory(console):
    console.cmd("vm stop counter")
    assert state(console, "counter") == "stopped"
    out = console.cmd("mem")
    used = re.search(r"used by hopvm:\s+(\S+) (\w+)", out)
    # Only host structures remain: guest RAM (16+ MiB each) is back.
    assert used.group(2) in ("KiB", "MiB") and (used.group(2) == "KiB" or float(used.group(1)) < 4), out
