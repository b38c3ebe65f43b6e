"""Shared fixtures: where the build is, and hopvm booted in QEMU.

System tests drive hopvm's serial console the way an operator does. Every
QEMU run has a hard timeout, and the serial log of a failed test is kept in
tests/logs/ (the path is printed in the failure report).
"""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pexpect
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("HOPVM_BUILD", ROOT / "build"))
LOGS = ROOT / "tests" / "logs"
OVMF = "/usr/share/ovmf/OVMF.fd"
PROMPT = "hopvm> "
BOOT_TIMEOUT = 90      # OVMF + hopvm start-up under TCG: ~5 s measured
QEMU_LIMIT = 300       # hard limit on any single QEMU process, seconds
ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")


def qemu_command(image, mem_mb=256, extra=()):
    """The QEMU line CI uses: TCG, q35, `-cpu max` (AMD SVM + NPT), OVMF."""
    return [
        "timeout", "--kill-after=5", str(QEMU_LIMIT),
        "qemu-system-x86_64", "-nodefaults", "-machine", "q35", "-accel", "tcg",
        "-cpu", "max", "-m", str(mem_mb), "-bios", OVMF,
        "-drive", f"format=raw,file={image},snapshot=on",
        "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        *extra,
    ]


class HopVM:
    """One hopvm booted in QEMU, with its serial console."""

    def __init__(self, name, image=None, mem_mb=256, extra=()):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.mem_mb = mem_mb
        self.log_path = LOGS / f"{name}.log"
        self.log = open(self.log_path, "wb")
        image = image or BUILD / "hopvm.img"
        if not pathlib.Path(image).exists():
            raise RuntimeError(f"{image} missing: run `make test` (it builds the image first)")
        cmd = qemu_command(image, mem_mb, extra)
        self.log.write(("# " + " ".join(cmd) + "\n").encode())
        self.p = pexpect.spawn(cmd[0], cmd[1:], timeout=30)
        self.p.logfile_read = self.log  # what hopvm printed, not what we typed

    def wait_prompt(self, timeout=BOOT_TIMEOUT):
        self.p.expect_exact(PROMPT, timeout=timeout)

    def cmd(self, line, timeout=30, echo=True):
        """Types a line, returns what hopvm printed before the next prompt.

        With echo=True the typed line's echo is awaited first, so a prompt
        redrawn by an earlier asynchronous message is never mistaken for
        this command's end. Lines with editing keys pass echo=False."""
        self.p.send(line + "\r")
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
        if self.p.isalive():
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
        vm = HopVM(request.node.name, **kw)
        vms.append(vm)
        return vm

    yield boot
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for vm in vms:
        _finish(vm, failed)


@pytest.fixture(scope="module")
def shared_hopvm(request):
    """One booted hopvm shared by the read-only console tests of a module."""
    image = getattr(request.module, "IMAGE", None)
    vm = HopVM(request.module.__name__.rsplit(".", 1)[-1], image=image)
    vm.wait_prompt()
    vm.failed = False
    yield vm
    _finish(vm, vm.failed)


@pytest.fixture
def console(shared_hopvm, request):
    yield shared_hopvm
    if getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed:
        shared_hopvm.failed = True


def have(tool):
    return shutil.which(tool) is not None
