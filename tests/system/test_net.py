"""NICs at the link level: two hopvm instances in two QEMU processes joined
by a QEMU socket netdev on loopback (one listens, one connects), for each
driver (e1000 against e1000e, virtio-net against virtio-net) and across
them. TCP/IP (lwIP) comes with the rest of the networking issue; these
tests need no IP."""
import re
import socket
import time

import pytest


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# (QEMU device, what `ip` says) for side A and side B.
PAIRS = {
    "e1000": (("e1000", "e1000 (82540EM)"), ("e1000e", "e1000e (82574L)")),
    "virtio": (("virtio-net-pci", "virtio-net"), ("virtio-net-pci", "virtio-net")),
    "mixed": (("e1000", "e1000 (82540EM)"), ("virtio-net-pci", "virtio-net")),
}


@pytest.fixture(params=sorted(PAIRS))
def pair(hopvm, request):
    (dev_a, name_a), (dev_b, name_b) = PAIRS[request.param]
    port = free_port()
    a = hopvm(extra=("-netdev", f"socket,id=n0,listen=127.0.0.1:{port}",
                     "-device", f"{dev_a},netdev=n0,mac=52:54:00:00:00:01"))
    time.sleep(0.5)  # the listener must exist before the other side connects
    b = hopvm(extra=("-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
                     "-device", f"{dev_b},netdev=n0,mac=52:54:00:00:00:02"))
    a.wait_prompt()
    b.wait_prompt()
    a.nic, b.nic = name_a, name_b
    return a, b


def stats(vm):
    row = re.search(r"^eth0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", vm.cmd("net stats"), re.M)
    keys = ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "rx_err", "rx_drop", "tx_drop", "test_rx")
    return dict(zip(keys, map(int, row.groups())))


def test_nics_found_with_mac_and_link(pair):
    a, b = pair
    assert f"eth0: {a.nic}, MAC 52:54:00:00:00:01, link up" in a.cmd("ip")
    assert f"eth0: {b.nic}, MAC 52:54:00:00:00:02, link up" in b.cmd("ip")
    for vm in (a, b):
        driver = "virtio-net" if "virtio" in vm.nic else "e1000"
        assert re.search(rf"class 02\.00\.00 Ethernet controller\s+driver: {driver}", vm.cmd("pci"))


def test_frames_cross_both_ways_without_loss(pair):
    a, b = pair
    assert "net: eth0: sent 5000 test frame(s)" in a.cmd("net txtest eth0 5000", timeout=120)
    deadline = time.monotonic() + 30
    while stats(b)["test_rx"] < 5000 and time.monotonic() < deadline:
        time.sleep(0.5)
    sb = stats(b)
    assert sb["test_rx"] == 5000 and sb["rx_err"] == 0, sb
    assert "net: eth0: sent 300 test frame(s)" in b.cmd("net txtest eth0 300")
    time.sleep(1)
    sa = stats(a)
    # The TCP/IP stack's own frames (DHCP discovers) come on top of the test's.
    assert sa["test_rx"] == 300 and sa["tx_frames"] >= 5000 and sa["tx_bytes"] >= 5000 * 60, sa
    assert sa["rx_err"] == 0, sa


def test_net_command_errors(hopvm):
    a = hopvm(extra=("-netdev", "user,id=n0", "-device", "e1000,netdev=n0"))
    a.wait_prompt()
    assert "error: no interface 'eth9'" in a.cmd("net txtest eth9 1")
    assert "error: bad frame count 'lots'" in a.cmd("net txtest eth0 lots")
    assert "error: bad frame count '0'" in a.cmd("net txtest eth0 0")
    assert "usage: net stats | txtest IF N" in a.cmd("net bogus")


@pytest.mark.parametrize("device", ["e1000", "e1000e", "virtio-net-pci"])
def test_dhcp_from_qemu_user_network(hopvm, device):
    # QEMU's user-mode network runs a DHCP server handing out 10.0.2.15/24.
    vm = hopvm(extra=("-netdev", "user,id=n0", "-device", f"{device},netdev=n0"))
    vm.wait_prompt()
    deadline = time.monotonic() + 30
    while True:
        out = vm.cmd("ip")
        if "inet 10.0.2.15/24 gw 10.0.2.2 (DHCP)" in out or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "inet 10.0.2.15/24 gw 10.0.2.2 (DHCP)" in out, out
    # QEMU's gateway answers ICMP echo.
    assert "3 transmitted, 3 received" in vm.cmd("ping 10.0.2.2 -c 3", timeout=60)


def test_ping_both_ways_with_static_addresses(pair):
    a, b = pair
    assert "inet 192.168.77.1/24 gw 0.0.0.0 (static)" in a.cmd("ip set eth0 192.168.77.1/24")
    assert "inet 192.168.77.2/24 gw 192.168.77.1 (static)" in b.cmd("ip set eth0 192.168.77.2/24 gw 192.168.77.1")
    out = a.cmd("ping 192.168.77.2 -c 3", timeout=60)
    assert "3 transmitted, 3 received" in out, out
    assert re.search(r"64 bytes from 192\.168\.77\.2: seq=1 time=\d+\.\d{3} ms", out)
    assert "2 transmitted, 2 received" in b.cmd("ping 192.168.77.1 -c 2", timeout=60)
    out = a.cmd("ping 192.168.77.9 -c 1", timeout=60)
    assert "no reply from 192.168.77.9: seq=1" in out and "1 transmitted, 0 received" in out


def test_ip_and_ping_errors(hopvm):
    vm = hopvm(extra=("-netdev", "user,id=n0", "-device", "e1000,netdev=n0"))
    vm.wait_prompt()
    assert "error: '1.2.3/24' is not ADDR/PREFIX" in vm.cmd("ip set eth0 1.2.3/24")
    assert "error: '10.0.0.1' is not ADDR/PREFIX" in vm.cmd("ip set eth0 10.0.0.1")
    assert "error: '10.0.0.1/33' is not ADDR/PREFIX" in vm.cmd("ip set eth0 10.0.0.1/33")
    assert "error: gateway 'x' is not an IPv4 address" in vm.cmd("ip set eth0 10.0.0.1/8 gw x")
    assert "error: no interface 'eth5'" in vm.cmd("ip set eth5 10.0.0.1/8")
    assert "error: ip set IF ADDR/PREFIX [gw GW]" in vm.cmd("ip set eth0")
    assert "error: 'nowhere' is not an IPv4 address" in vm.cmd("ping nowhere")
    assert "error: bad count '0'" in vm.cmd("ping 10.0.2.2 -c 0")
    assert "error: ping HOST [-c N]" in vm.cmd("ping")
