"""An unmodified Debian kernel under hopvm (build/linux.img: the kernel from
deps/guest, a busybox initramfs, tests/system/hopvm-linux.cfg).

What this checks today is the Linux boot protocol (vmm/bzimage.c), end to
end: the kernel decompresses and starts, and what it says about itself
shows that it found everything the zero page gives it where hopvm put it:
the command line, the e820 map, and the initrd at the top of guest RAM;
and it reads the time of day from the guest's RTC. The
platform it needs to go further (local APIC, interrupt controllers,
timers, ACPI tables) is issue 13's next step: today the kernel finds no
timer to calibrate against and waits, running, for one."""
import pathlib
import re

from conftest import BUILD

IMAGE = BUILD / "linux.img"
RAM = 128 << 20                          # tests/system/hopvm-linux.cfg
INITRD = BUILD / "linux" / "initramfs.cpio.gz"
CMDLINE = "earlyprintk=serial,ttyS0,115200 console=ttyS0 loglevel=7"


def test_debian_kernel_boots_with_hopvms_zero_page(console):
    console.cmd("vm start linux")
    log = console.log_until("linux", r"tsc: Unable to calibrate|Kernel panic|Run /init", timeout=180).string
    assert re.search(r"Linux version 6\.\d+\.\d+-\d+-amd64 .*Debian", log), log[:2000]
    assert f"Kernel command line: {CMDLINE}" in log, log
    # The e820 map, as vmm/bzimage.c wrote it.
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
    # It read the time from the RTC (vmm/dev/rtc.c).
    assert "Unable to read current time from RTC" not in log, log
    # Whatever stopped it from going further, it did not crash.
    out = console.cmd("vm info linux")
    assert re.search(r"^state:\s+running", out, re.M), out
    console.cmd("vm stop linux")
