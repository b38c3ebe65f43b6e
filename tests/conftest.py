"""Shared fixtures: where the build is, and hopvm booted in an emulator.

System tests drive hopvm's serial console the way an operator does, on
three machines (MACHINES): QEMU TCG with AMD SVM (no NRIP save), Bochs with
a VT-x CPU (EPT, VPID, unrestricted guest) and Bochs with an AMD CPU that
has NRIP save. Every emulator run has a hard timeout, and the serial log of
a failed test is kept in tests/logs/ (the path is printed in the report).
"""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pexpect
import pexpect.fdpexpect
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("HOPVM_BUILD", ROOT / "build"))
LOGS = ROOT / "tests" / "logs"
OVMF = "/usr/share/ovmf/OVMF.fd"
NODELAY = BUILD / "tools" / "libnodelay.so"
PROMPT = "hopvm> "
BOOT_TIMEOUT = 90      # OVMF + hopvm start-up under TCG: ~5 s measured
QEMU_LIMIT = 300       # hard limit on any single QEMU process, seconds
BOCHS_LIMIT = 900      # Bochs: ~20 s to the prompt, ~100 MIPS after that

# name -> Bochs CPU model; "qemu-svm" is QEMU. Bochs 2.7 with OVMF
# publishes no ACPI tables: hopvm calibrates against the PIT there and
# cannot power off (the harness ends Bochs).
MACHINES = ["qemu-svm", "bochs-vmx", "bochs-svm"]
BOCHS_CPU = {"bochs-vmx": "corei7_skylake_x", "bochs-svm": "ryzen"}
BOCHS_CYL, BOCHS_HEADS, BOCHS_SPT = 135, 16, 63
BOCHSRC = """megs: {mem}
romimage: file=/usr/share/ovmf/OVMF.fd, address=0xffe00000
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model={cpu}, count=1, ips=100000000
pci: enabled=1, chipset=i440fx
display_library: rfb, options="timeout=0"
com1: enabled=1, mode=socket-client, dev=127.0.0.1:{port}
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path={disk}, mode=flat, cylinders={cyl}, heads={heads}, spt={spt}
boot: disk
log: /dev/null
speaker: enabled=0
sound: driver=dummy
"""
ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")


def qemu_command(image, mem_mb=256, extra=()):
    """The QEMU line CI uses: TCG, q35, `-cpu max` (AMD SVM + NPT), OVMF."""
    return [
        "timeout", "--kill-after=5", str(QEMU_LIMIT),
        "qemu-system-x86_64", "-nodefaults", "-machine", "q35", "-accel", "tcg",
        "-cpu", "max", "-m", str(mem_mb), "-bios", OVMF,
        "-drive", f"format=raw,file={image},snapshot=on",
        "-display", "none", "-monitor", "none",
        # signal=off: Ctrl-C goes to hopvm (it cancels a task), not to QEMU.
        "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        *extra,
    ]


class HopVM:
    """One hopvm booted in an emulator (machine: one of MACHINES), with its
    serial console as a pexpect object in .p."""

    def __init__(self, name, image=None, mem_mb=256, extra=(), machine="qemu-svm"):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.machine = machine
        self.mem_mb = mem_mb
        self.log_path = LOGS / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = self.sock = self.tmp = None
        image = image or BUILD / "hopvm.img"
        if not pathlib.Path(image).exists():
            raise RuntimeError(f"{image} missing: run `make test` (it builds the image first)")
        if machine == "qemu-svm":
            cmd = qemu_command(image, mem_mb, extra)
            self.log.write(("# " + " ".join(cmd) + "\n").encode())
            env = dict(os.environ)
            if NODELAY.exists():  # see wire()
                env["LD_PRELOAD"] = f"{NODELAY} {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else str(NODELAY)
            self.p = pexpect.spawn(cmd[0], cmd[1:], timeout=30, env=env)
        else:
            self.p = self._boot_bochs(image, BOCHS_CPU[machine], mem_mb, extra)
        self.p.logfile_read = self.log  # what hopvm printed, not what we typed

    def _boot_bochs(self, image, cpu, mem_mb, extra=()):
        """Bochs connects its COM1 to a socket this harness listens on.
        extra: more bochsrc lines (a NIC, for instance)."""
        if not shutil.which("bochs"):
            raise RuntimeError("bochs missing: run `make setup`")
        self.tmp = tempfile.TemporaryDirectory(prefix="hopvm-bochs-")
        disk = pathlib.Path(self.tmp.name) / "disk.img"
        shutil.copyfile(image, disk)
        # Bochs wants whole cylinders; the GPT backup header moves to the new end.
        os.truncate(disk, BOCHS_CYL * BOCHS_HEADS * BOCHS_SPT * 512)
        subprocess.run(["sgdisk", "-e", str(disk)], check=True, capture_output=True)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        rc = pathlib.Path(self.tmp.name) / "bochsrc"
        rc.write_text(BOCHSRC.format(mem=mem_mb, cpu=cpu, port=port, disk=disk, cyl=BOCHS_CYL,
                                     heads=BOCHS_HEADS, spt=BOCHS_SPT) + "".join(l + "\n" for l in extra))
        dbg = pathlib.Path(self.tmp.name) / "dbg.rc"
        dbg.write_text("c\n")  # the debugger is compiled in: tell it to run
        cmd = ["timeout", "--kill-after=5", str(BOCHS_LIMIT), "bochs", "-q", "-unlock", "-f", str(rc),
               "-rc", str(dbg)]
        self.log.write(("# " + " ".join(cmd) + "\n").encode())
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        listener.settimeout(60)
        try:
            self.sock, _ = listener.accept()
        finally:
            listener.close()
        return pexpect.fdpexpect.fdspawn(self.sock.fileno(), timeout=30)

    def send(self, text):
        """Types text. Bochs takes serial input one byte per poll: pace it."""
        if self.machine == "qemu-svm":
            self.p.send(text)
            return
        for ch in text:
            self.p.send(ch)
            time.sleep(0.01)

    def wait_prompt(self, timeout=BOOT_TIMEOUT):
        self.p.expect_exact(PROMPT, timeout=timeout)

    def cmd(self, line, timeout=30, echo=True):
        """Types a line, returns what hopvm printed before the next prompt.

        With echo=True the typed line's echo is awaited first, so a prompt
        redrawn by an earlier asynchronous message is never mistaken for
        this command's end. Lines with editing keys pass echo=False."""
        self.send(line + "\r")
        if echo:
            # The pty may turn hopvm's CR LF into CR CR LF.
            self.p.expect(re.escape(line.encode()) + rb"\r+\n", timeout=timeout)
        self.p.expect_exact(PROMPT, timeout=timeout)
        out = ANSI.sub("", self.p.before.decode(errors="replace")).replace("\r", "")
        if echo:
            return out
        # The first line is the echo of what was typed.
        return out.split("\n", 1)[1] if "\n" in out else ""

    def log_until(self, name, pattern, timeout=60):
        """Polls `vm log NAME` until pattern appears; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.cmd(f"vm log {name}"))
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the log of {name} after {timeout} s")
            time.sleep(0.5)

    def expect(self, pattern, timeout=30):
        return self.p.expect(pattern, timeout=timeout)

    def wait_exit(self, timeout=30):
        self.p.expect(pexpect.EOF, timeout=timeout)
        self.p.close()
        return self.p.exitstatus

    def close(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
            if self.sock:
                self.sock.close()
            self.tmp.cleanup()
        elif self.p.isalive():
            self.p.terminate(force=True)
        self.log.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _finish(vm, failed):
    vm.close()
    if failed:
        print(f"\nserial log kept: {vm.log_path}")
    else:
        vm.log_path.unlink(missing_ok=True)


@pytest.fixture
def hopvm(request):
    """A fresh hopvm for one test; its log is kept if the test fails."""
    vms = []

    def boot(**kw):
        # Several hopvm instances in one test get a log each.
        vm = HopVM(request.node.name + (f"-{len(vms)}" if vms else ""), **kw)
        vms.append(vm)
        return vm

    yield boot
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for vm in vms:
        _finish(vm, failed)


def machines(module):
    """The machines a test module runs on: its MACHINES, else QEMU only."""
    return getattr(module, "MACHINES", ["qemu-svm"])


def pytest_generate_tests(metafunc):
    if "machine" in metafunc.fixturenames:
        metafunc.parametrize("machine", machines(metafunc.module), scope="module")


@pytest.fixture(scope="module")
def machine():
    return "qemu-svm"  # replaced by pytest_generate_tests where a module lists MACHINES


@pytest.fixture(scope="module")
def shared_hopvm(request, machine):
    """One booted hopvm shared by the tests of a module (per machine)."""
    image = getattr(request.module, "IMAGE", None)
    vm = HopVM(f"{request.module.__name__.rsplit('.', 1)[-1]}-{machine}", image=image, machine=machine)
    vm.wait_prompt()
    vm.failed = False
    yield vm
    _finish(vm, vm.failed)


@pytest.fixture
def console(shared_hopvm, request):
    yield shared_hopvm
    if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
        shared_hopvm.failed = True


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wire():
    """One virtual Ethernet wire between two QEMUs: the -netdev values for
    side A (it listens: start it first) and side B. QEMU's stream socket,
    with Nagle turned off by build/tools/libnodelay.so (tools/src/nodelay.c
    says why: without it every pause of a live teleport had a 43 ms floor
    that a real wire does not have)."""
    port = free_port()
    return f"socket,id=n0,listen=127.0.0.1:{port}", f"socket,id=n0,connect=127.0.0.1:{port}"


def have(tool):
    return shutil.which(tool) is not None
