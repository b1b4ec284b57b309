"""An emulated network link between the two computing parties, for measured (not modelled) times.

This kernel has no ``netem`` (``tc`` cannot add delay), so the link is a userspace relay:

* each computing party runs in its own network namespace; its peer's address is routed through a
  TUN device (MTU 64 KB, so a scaled profile needs only hundreds of packets per second);
* one relay process (:func:`relay`, outside the namespaces) holds both TUN devices, reads every
  packet, paces it to the bandwidth and delivers it after half the link's latency: a round trip
  (``ping``) takes the link's latency, the convention of :mod:`secfwt.links`.  A ``full`` duplex
  link paces each direction on its own clock; a ``half`` one puts both on one clock.  Queues are
  unbounded (no drops): TCP's window, slow start and acknowledgements are the kernel's own;
* the dealer (and a data owner) run in a third namespace, joined to both parties by an unshaped
  bridge: the offline traffic is not on the emulated link (the paper's model does not charge it),
  and records say so (``emulated_link.offline_path``).

Everything a run creates carries the launcher's pid in its name (namespaces
``secfwt-<pid>-<role>``, TUN devices ``sfw<pid><a|b>``).  :class:`EmulatedLink` removes it when the
run ends, however it ends; what a SIGKILLed launcher left is removed by the next run
(:func:`remove_stale`).  Needs root (CAP_NET_ADMIN) and ``ip`` (iproute2).

The relay's own ceiling (where it measures itself rather than the link) is
:data:`CEILING_BPS`; see ``python -m secfwt.mpc.emulate --ceiling``.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..links import Link

#: the parties' own addresses (one /32 each, on their TUN device) and the offline bridge's
PARTY_ADDRESS = ("10.77.0.1", "10.77.0.2")
OFFLINE_SUBNET = "10.78.0"
OFFLINE_ADDRESS = f"{OFFLINE_SUBNET}.254"
TUN_MTU = 65000
NS_PREFIX = "secfwt-"
_NS_NAME = re.compile(rf"^{NS_PREFIX}(\d+)-(p0|p1|off)$")
#: bandwidth above which the relay, not the link, is the bottleneck on this kind of 2-core machine
#: (measured with ``--ceiling``: see the README); emulating faster links is refused
CEILING_BPS = 1e9
OFFLINE_PATH = ("unshaped: dealer (and data owner) reach both parties over a kernel bridge in their own "
                "namespace; only party-to-party traffic crosses the emulated link")


class EmulationUnavailable(InputError):
    """Emulation cannot run here (not root, no iproute2, no TUN): a usage error, exit 2."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def available() -> str | None:
    """None when this process can emulate a link, else the one-line reason it cannot."""
    if os.geteuid() != 0:
        return "--emulate needs root (network namespaces and TUN devices need CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "--emulate needs iproute2's `ip`"
    if not os.path.exists("/dev/net/tun"):
        return "--emulate needs TUN devices (/dev/net/tun is missing)"
    return None


def check_link(link: Link) -> None:
    """Refuse links the relay cannot emulate faithfully."""
    if link.bandwidth_bps > CEILING_BPS:
        raise InputError(f"--emulate {link.name}: {link.bandwidth_bps / 1e6:.0f} Mbit/s is above the relay's "
                         f"ceiling of {CEILING_BPS / 1e6:.0f} Mbit/s on this machine (it would measure itself); "
                         "use a scaled profile such as 200mbit:20ms")
    if link.latency_s < 1e-3:
        raise InputError(f"--emulate {link.name}: latency below 1 ms is below the relay's timer resolution")


def describe(link: Link) -> dict:
    """What a record says about the emulated link it was measured over (``emulated_link``)."""
    return {**link.as_dict(), "one_way_delay_s": link.latency_s / 2, "relay": "secfwt.mpc.emulate",
            "tun_mtu": TUN_MTU, "offline_path": OFFLINE_PATH}


def namespaces(pid: int) -> dict[str, str]:
    return {role: f"{NS_PREFIX}{pid}-{role}" for role in ("p0", "p1", "off")}


def remove_stale() -> None:
    """Namespaces of runs whose launcher is gone (SIGKILLed: nothing could clean up), and any named
    after this process (a dead launcher's pid, reused by this one: this process has none yet)."""
    from .process import _alive

    listed = _ip("netns", "list", check=False).stdout.split()
    for name in listed:
        m = _NS_NAME.match(name)
        if m and (int(m.group(1)) == os.getpid() or not _alive(int(m.group(1)))):
            _ip("netns", "del", name, check=False)


@dataclass
class EmulatedLink:
    """Namespaces, bridge, TUN devices and relay for one run; a context manager that leaves nothing
    behind.  ``command(role, argv)`` and ``env(role)`` place a process (role ``0``, ``1`` for the
    computing parties, ``"off"`` for the dealer and a data owner)."""

    link: Link

    def __post_init__(self):
        self.pid = os.getpid()
        self.ns = namespaces(self.pid)
        self.tuns = (f"sfw{self.pid}a", f"sfw{self.pid}b")
        self.relay: subprocess.Popen | None = None
        self.unchecked = False  # True: skip check_link (the ceiling measurement only)

    def __enter__(self) -> EmulatedLink:
        reason = available()
        if reason:
            raise EmulationUnavailable(reason)
        if not self.unchecked:
            check_link(self.link)
        remove_stale()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def _build(self) -> None:
        off = self.ns["off"]
        for name in self.ns.values():
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", off, "link", "add", "name", "bridge0", "type", "bridge")
        _ip("-n", off, "addr", "add", f"{OFFLINE_ADDRESS}/24", "dev", "bridge0")
        _ip("-n", off, "link", "set", "bridge0", "up")
        self.relay = subprocess.Popen(
            [sys.executable, "-m", "secfwt.mpc.emulate", "--relay", *self.tuns, "--bandwidth",
             repr(self.link.bandwidth_bps), "--latency", repr(self.link.latency_s), "--duplex", self.link.duplex,
             "--parent", str(self.pid)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        line = self.relay.stdout.readline().decode().strip()
        if line != "ready":
            err = self.relay.stderr.read().decode().strip().splitlines()
            raise RuntimeError(f"link relay failed to start: {err[-1] if err else line or 'no output'}")
        for rank, tun in enumerate(self.tuns):
            ns, me, peer = self.ns[f"p{rank}"], PARTY_ADDRESS[rank], PARTY_ADDRESS[1 - rank]
            _ip("link", "set", tun, "netns", ns)
            _ip("-n", ns, "link", "set", tun, "mtu", str(TUN_MTU), "up")
            _ip("-n", ns, "addr", "add", f"{me}/32", "dev", tun)
            _ip("-n", ns, "route", "add", f"{peer}/32", "dev", tun, "src", me)
            _ip("-n", ns, "link", "add", "off", "type", "veth", "peer", "name", f"p{rank}", "netns", off)
            _ip("-n", ns, "addr", "add", f"{OFFLINE_SUBNET}.{rank + 1}/24", "dev", "off")
            _ip("-n", ns, "link", "set", "off", "up")
            _ip("-n", off, "link", "set", f"p{rank}", "master", "bridge0", "up")
            _ip("-n", off, "route", "add", f"{me}/32", "via", f"{OFFLINE_SUBNET}.{rank + 1}")

    def close(self) -> None:
        """Stop the relay and delete the namespaces (their veths, bridge and TUN devices go with them),
        with SIGINT, SIGTERM and SIGHUP held until it is done (a second signal cannot cut it short)."""
        held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            if self.relay is not None:
                try:
                    if self.relay.poll() is None:
                        self.relay.kill()
                    self.relay.wait(timeout=10)
                finally:
                    for f in (self.relay.stdout, self.relay.stderr):
                        f.close()
                    self.relay = None
        finally:
            for name in self.ns.values():
                _ip("netns", "del", name, check=False)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def traffic(self) -> int:
        """Bytes the relay has read and written so far (its progress; 0 once it is gone)."""
        try:
            io = Path(f"/proc/{self.relay.pid}/io").read_text().split()
            return int(io[io.index("rchar:") + 1]) + int(io[io.index("wchar:") + 1])
        except (AttributeError, OSError, ValueError):
            return 0

    offline_address = OFFLINE_ADDRESS

    def command(self, role, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns[self._role(role)], *argv]

    def env(self, role) -> dict[str, str]:
        """gloo's interface: a party's TUN device (its address), the dealer's bridge."""
        role = self._role(role)
        return {"GLOO_SOCKET_IFNAME": "bridge0" if role == "off" else self.tuns[int(role[1])]}

    @staticmethod
    def _role(role) -> str:
        return role if role == "off" else f"p{int(role)}"



# --- the relay process -------------------------------------------------------------------------

_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000


def _open_tun(name: str) -> int:
    import fcntl
    import struct

    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


class Wire:
    """The link's schedule, a pure function of arrival times and sizes: a packet that arrives at
    ``now`` starts when its direction's wire is free, takes ``nbytes * 8 / bandwidth`` to serialise
    and arrives ``one_way_s`` after that.  ``full`` duplex: one clock per direction; ``half``: one
    clock for both."""

    def __init__(self, bandwidth_bps: float, one_way_s: float, duplex: str = "full"):
        if duplex not in ("half", "full"):
            raise ValueError(f"duplex must be half or full, not {duplex!r}")
        self.per_byte = 8.0 / bandwidth_bps
        self.one_way_s = one_way_s
        self.duplex = duplex
        self.free_at = [0.0, 0.0]

    @classmethod
    def for_link(cls, bandwidth_bps: float, latency_s: float, duplex: str) -> Wire:
        """The wire of a link whose ``latency_s`` is a round trip: half of it each way."""
        return cls(bandwidth_bps, latency_s / 2, duplex)

    def admit(self, direction: int, now: float, nbytes: int) -> float:
        """When a packet of ``nbytes`` that enters ``direction`` (0 or 1) at ``now`` is delivered."""
        clock = direction if self.duplex == "full" else 0
        self.free_at[clock] = max(self.free_at[clock], now) + nbytes * self.per_byte
        return self.free_at[clock] + self.one_way_s


def relay(fds: tuple[int, int], wire: Wire, stop=lambda: False) -> None:
    """Forward packets between two packet fds (TUN devices) on ``wire``'s schedule.  Delivery times
    only grow within a direction, so a FIFO per direction is the whole scheduler."""
    import select

    queues = (collections.deque(), collections.deque())  # (deliver_at, packet): fd 0 -> 1, fd 1 -> 0
    while not stop():
        now = time.monotonic()
        heads = [q[0][0] for q in queues if q]
        ready, _, _ = select.select(fds, [], [], max(0.0, min(heads) - now) if heads else 0.5)
        now = time.monotonic()
        for fd in ready:
            d = fds.index(fd)
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                queues[d].append((wire.admit(d, now, len(packet)), packet))
        now = time.monotonic()
        for d, q in enumerate(queues):
            while q and q[0][0] <= now:
                try:
                    os.write(fds[1 - d], q.popleft()[1])
                except OSError:  # the far side is gone or not up yet: the packet is lost, as on a wire
                    pass


_SINK = """
import socket, sys
server = socket.create_server((sys.argv[1], 5001))
conn, _ = server.accept()
left = int(sys.argv[2])
while left > 0:
    left -= len(conn.recv(1 << 20))
conn.sendall(b"k")
"""
_SOURCE = """
import socket, sys, time
for _ in range(100):
    try:
        conn = socket.create_connection((sys.argv[1], 5001))
        break
    except OSError:
        time.sleep(0.05)
payload = b"\\0" * int(sys.argv[2])
t0 = time.perf_counter()
conn.sendall(payload)
conn.recv(1)
print(time.perf_counter() - t0)
"""


def throughput(link: Link, nbytes: int = 200_000_000, checked: bool = False) -> float:
    """Bits per second one TCP stream reaches from party 0 to party 1 over ``link`` emulated (the
    relay's ceiling when ``link`` is faster than the relay; ``checked=False`` lets such links in)."""
    em = EmulatedLink(link)
    em.unchecked = not checked
    with em:
        sink = subprocess.Popen(em.command(1, [sys.executable, "-c", _SINK, PARTY_ADDRESS[1], str(nbytes)]))
        try:
            out = subprocess.run(em.command(0, [sys.executable, "-c", _SOURCE, PARTY_ADDRESS[1], str(nbytes)]),
                                 capture_output=True, text=True, timeout=600, check=True).stdout
            sink.wait(timeout=60)
        finally:
            if sink.poll() is None:
                sink.kill()
                sink.wait()
    return nbytes * 8 / float(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m secfwt.mpc.emulate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--relay", nargs=2, metavar=("TUN_A", "TUN_B"), help="run the relay between two TUN devices")
    ap.add_argument("--bandwidth", type=float, default=1e9)
    ap.add_argument("--latency", type=float, default=0.02, help="round-trip latency in seconds")
    ap.add_argument("--duplex", choices=("half", "full"), default="full")
    ap.add_argument("--parent", type=int, help="exit when this process is gone")
    ap.add_argument("--ceiling", action="store_true",
                    help="measure the relay's own ceiling: one TCP stream over an unpaced link, and over 1gbit:2ms")
    args = ap.parse_args(argv)
    if args.ceiling:
        from ..links import parse_link

        for spec in ("100gbit:1ms:full", "1gbit:2ms:full"):
            print(f"{spec}: {throughput(parse_link(spec)) / 1e6:.0f} Mbit/s (one TCP stream, 200 MB)")
        return 0
    if args.relay:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the launcher
        if args.parent and os.getppid() != args.parent:
            return 1
        fds = tuple(_open_tun(n) for n in args.relay)
        print("ready", flush=True)
        relay(fds, Wire.for_link(args.bandwidth, args.latency, args.duplex))
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
