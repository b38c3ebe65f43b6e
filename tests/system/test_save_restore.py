"""Save and restore: a running guest teleported from hopvm into a file on the
Linux host (build/tools/hopvm-save, the target of the teleport) and back
into hopvm from that file (build/tools/hopvm-restore, the source), both
with hopvm's own session code. One hopvm in QEMU on the user network:
hopvm reaches the host's loopback as 10.0.2.2, the host reaches hopvm's
teleport port through a hostfwd. The counter must go on from where it was
saved, and a damaged file must be refused before anything is sent."""
import re
import shutil
import select
import subprocess
import time

import pytest

from conftest import BUILD, HopVM, _finish, free_port
from test_teleport import counts, listen, state

SAVE = BUILD / "tools" / "hopvm-save"
RESTORE = BUILD / "tools" / "hopvm-restore"
DUMP = BUILD / "tools" / "hopvm-stream"
TOOL_TIMEOUT = 60      # any one host tool run, seconds
PAGE = 4096
RAM_HDR = 16           # a RAM record's body header (docs/migration-protocol.md)


@pytest.fixture(scope="module")
def vm(request):
    """One hopvm with `counter` running and a port forwarded to its 6000."""
    for tool in (SAVE, RESTORE, DUMP):
        if not tool.exists():
            pytest.fail(f"{tool} missing: run `make host-tools`")
    hp = free_port()
    v = HopVM("test_save_restore", extra=("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{hp}-:6000",
                                          "-device", "virtio-net-pci,netdev=n0"))
    v.host_port = hp
    v.failed = True  # until the set-up is through
    try:
        v.wait_prompt()
        v.cmd("ip set eth0 10.0.2.15/24 gw 10.0.2.2")
        v.cmd("vm start counter")
        v.log_until("counter", r"counter 3\b")
        v.failed = False
        yield v
    finally:
        _finish(v, v.failed)


SAVERS = []  # hopvm-save processes a failed test may have left listening


@pytest.fixture(autouse=True)
def keep_log_on_failure(request):
    """A failed test keeps the shared hopvm's serial log in tests/logs, and
    leaves no hopvm-save behind."""
    yield
    while SAVERS:
        p = SAVERS.pop()
        if p.poll() is None:
            p.kill()
            p.wait()
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    if failed and "vm" in request.fixturenames:
        request.getfixturevalue("vm").failed = True


def start_save(path, port, password="pw"):
    """hopvm-save in the background, once it listens."""
    p = subprocess.Popen([str(SAVE), "--port", str(port), "--password", password, str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    SAVERS.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if ready else ""
    if "waiting for a guest on TCP port" not in line:
        p.kill()
        pytest.fail(f"hopvm-save did not start listening: {line!r}")
    return p


def finish(p):
    """Exit status and everything printed after the first line."""
    try:
        out, _ = p.communicate(timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail(f"hopvm-save still running after {TOOL_TIMEOUT} s: {out}")
    return p.returncode, out


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture(scope="module")
def saved(vm, tmp_path_factory):
    """counter teleported from hopvm into a file: (file, hopvm's output,
    hopvm-save's exit status and output, the last count before the save)."""
    path = tmp_path_factory.mktemp("saved") / "counter.hopvm"
    sp = free_port()
    if state(vm, "counter") != "running":
        vm.cmd("vm start counter")
        vm.log_until("counter", r"counter 3\b")
    p = start_save(path, sp)
    out = vm.cmd(f"teleport counter --host 10.0.2.2 --port {sp} --password pw", timeout=120)
    rc, said = finish(p)
    return path, out, rc, said, max(counts(vm))


def test_wrong_password_keeps_the_guest_running_and_saves_nothing(vm, tmp_path):
    if state(vm, "counter") != "running":
        vm.cmd("vm start counter")
    path = tmp_path / "never.hopvm"
    sp = free_port()
    p = start_save(path, sp)
    out = vm.cmd(f"teleport counter --host 10.0.2.2 --port {sp} --password wrong", timeout=60)
    rc, said = finish(p)
    assert "wrong password" in out and "'counter' runs on here" in out, out
    assert rc == 1 and "hopvm-save: failed: " in said and "wrong password; nothing was saved" in said, said
    assert not path.exists() and not path.with_name(path.name + ".tmp").exists()
    n = max(counts(vm))
    time.sleep(1.5)
    assert state(vm, "counter") == "running" and max(counts(vm)) > n


def test_save_writes_the_file_and_retires_the_guest(vm, saved):
    path, out, rc, said, last = saved
    assert re.search(r"teleport: 'counter' handed over to 10\.0\.2\.2 in [\d.]+ s: 16 MiB RAM", out), out
    assert rc == 0, said
    assert re.search(r"hopvm-save: saved 'counter' \(16 MiB, \d+ zero pages\) to .*counter\.hopvm in [\d.]+ s, "
                     r"sealed with the password", said), said
    assert path.exists() and not path.with_name(path.name + ".tmp").exists()
    assert state(vm, "counter") == "stopped"
    assert "teleported to 10.0.2.2" in vm.cmd("vm info counter")
    # The file is a saved guest, sealed: SEAL, then every record a teleport
    # carries, in order, each one's body unreadable (the guest's own log,
    # in the DEVICE record, is not in the file).
    rc, dump = run(DUMP, "dump", path)
    assert rc == 0, dump
    names = re.findall(r"^0x[0-9a-f]+\s+(\w+)", dump, re.M)
    assert names[:4] == ["SEAL", "VM_DEF", "ROUND", "RAM"], names[:5]
    vcpu, dev = names.index("VCPU"), names.index("DEVICE")
    assert set(names[3:vcpu]) == {"RAM"} and set(names[vcpu:dev]) == {"VCPU"}, names[vcpu - 2:]
    # The UART's DEVICE, then one per other device of the platform
    # (vmm/dev/devices.c: the 8259 pair, the I/O APIC, a local APIC per
    # vCPU, the PIT, the RTC, the ACPI PM block), then END.
    assert names[-1] == "END" and set(names[dev:-1]) == {"DEVICE"}, names[vcpu:]
    assert len(names[dev:-1]) == 1 + 5 + (dev - vcpu), names[vcpu:]
    assert "PBKDF2-HMAC-SHA256 20000 rounds" in dump, dump
    assert dump.count("(sealed)") == len(names) - 1, dump
    assert b"counter 2" not in path.read_bytes()


def test_restore_runs_the_guest_on_from_where_it_was_saved(vm, saved, tmp_path):
    path, _, rc, _, last = saved
    assert rc == 0
    listen(vm, "--password pw")
    mine = tmp_path / "counter.hopvm"
    shutil.copyfile(path, mine)
    rc, out = run(RESTORE, mine, "127.0.0.1", "--port", vm.host_port, "--password", "pw")
    assert rc == 0, out
    # The guest runs there now: the file is set aside, so it cannot be restored twice.
    assert not mine.exists() and (tmp_path / "counter.hopvm.restored").exists()
    assert re.search(r"hopvm-restore: 'counter' handed over to 127\.0\.0\.1 in [\d.]+ s: 16 MiB RAM", out), out
    vm.expect(r"teleport: 'counter' arrived from [\d.]+ .* it runs here", timeout=60)
    vm.wait_prompt()
    assert state(vm, "counter") == "running"
    deadline = time.monotonic() + 30
    while max(counts(vm)) <= last + 3 and time.monotonic() < deadline:
        time.sleep(1)
    got = counts(vm)
    # The log came back with the guest, and the count goes on: no restart, no gap.
    assert got == list(range(len(got))), got[last - 2:last + 5]
    assert got[-1] > last + 3, (last, got[-3:])


def test_a_saved_file_crosses_a_host_to_host_teleport_unchanged(saved, tmp_path):
    """hopvm-restore into hopvm-save: the same session code on both ends,
    and the file written again has the same records as the one read."""
    copy = tmp_path / "copy.hopvm"
    src = tmp_path / "src.hopvm"
    shutil.copyfile(saved[0], src)
    sp = free_port()
    p = start_save(copy, sp)
    rc, out = run(RESTORE, src, "127.0.0.1", "--port", sp, "--password", "pw")
    save_rc, said = finish(p)
    assert rc == 0 and save_rc == 0, (out, said)
    # The same records, each as long, under a salt of its own.
    def layout(path):
        dump = run(DUMP, "dump", path)[1]
        return re.findall(r"^0x([0-9a-f]+)\s+(\w+)\s+\S+\s+(\d+)", dump, re.M), re.search(r"salt ([0-9a-f]+)", dump)[1]
    (a, salt_a), (b, salt_b) = layout(copy), layout(saved[0])
    assert a == b and salt_a != salt_b
    # Nobody listening: one line, and the file is left alone.
    port = free_port()
    rc, out = run(RESTORE, saved[0], "127.0.0.1", "--port", port, "--password", "pw")
    assert rc == 1 and f"hopvm-restore: cannot connect to 127.0.0.1 port {port}: Connection refused" in out, out


def damaged_copy(saved, tmp_path, change):
    data = bytearray(saved[0].read_bytes())
    data = change(data)
    path = tmp_path / "damaged.hopvm"
    path.write_bytes(bytes(data))
    return path


def first_data_page(data):
    """Offset of the first page of the first RAM data record."""
    off = 8
    while off < len(data):
        rtype, n = int.from_bytes(data[off:off + 4], "little"), int.from_bytes(data[off + 4:off + 8], "little")
        if rtype == 0x21 and n > RAM_HDR:
            return off + 8 + RAM_HDR
        off += 8 + n + (-n % 8)
    raise AssertionError("no RAM data record")


def test_a_corrupted_file_is_refused(saved, tmp_path):
    def flip(d):
        d[first_data_page(d) + PAGE // 2] ^= 0x40
        return d
    path = damaged_copy(saved, tmp_path, flip)
    rc, out = run(RESTORE, path, "127.0.0.1", "--port", free_port(), "--password", "pw")
    assert rc == 1, out
    assert re.search(r"^hopvm-restore: .*damaged\.hopvm: offset 0x[0-9a-f]+: the RAM record does not open: "
                     r"wrong password, or the file was changed", out, re.M), out
    assert "sending" not in out  # refused before any connection


def test_a_sealed_file_needs_its_password(saved, tmp_path):
    rc, out = run(RESTORE, saved[0], "127.0.0.1", "--port", free_port())
    assert rc == 1 and re.search(r"offset 0x8: the file is sealed with a password: give --password", out), out
    rc, out = run(RESTORE, saved[0], "127.0.0.1", "--port", free_port(), "--password", "not-pw")
    assert rc == 1 and "the VM_DEF record does not open: wrong password, or the file was changed" in out, out
    assert len(out.strip().splitlines()) == 1, out


def test_a_truncated_file_is_refused(saved, tmp_path):
    for cut in (lambda d: d[:len(d) // 2], lambda d: d[:-56], lambda d: d[:5]):
        path = damaged_copy(saved, tmp_path, cut)
        rc, out = run(RESTORE, path, "127.0.0.1", "--port", free_port(), "--password", "pw")
        assert rc == 1, out
        assert re.search(r"hopvm-restore: .*damaged\.hopvm: offset 0x[0-9a-f]+: (truncated|not a saved hopvm guest)",
                         out), out
        assert len(out.strip().splitlines()) == 1, out  # one line, and nothing loaded or sent


def test_bad_command_lines_say_why(tmp_path):
    assert run(SAVE)[0] == 2
    rc, out = run(SAVE, "--port", "0", tmp_path / "x")
    assert rc == 2 and "hopvm-save: bad port '0' (1 to 65535)" in out, out
    rc, out = run(RESTORE, tmp_path / "x")
    assert rc == 2 and "usage: hopvm-restore FILE HOST" in out, out
    rc, out = run(RESTORE, tmp_path / "missing", "127.0.0.1")
    assert rc == 1 and "missing: No such file or directory" in out, out
