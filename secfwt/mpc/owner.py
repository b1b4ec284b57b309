"""The data owner as its own party: it holds the inputs and labels, the servers only shares.

SecFwT's threat model has three roles: a model owner and a data owner outsource tuning to two
non-colluding servers.  The data owner is not a server.  It sends **additive shares** of its
inputs over the ring Z_2^64 (fixed point, 16 fractional bits, CrypTen's encoding) - one share to
each server - and receives each server's share of an output, which only it can add up.  A
server sees a uniformly random ring element per input element and nothing of the outputs.

Transport: one TCP connection per server to the data owner's process (loopback in local runs),
framed as a JSON header line and raw little-endian int64 bytes; no pickle.  Each connection
starts with the run's token (``SECFWT_RUN_TOKEN``, random per run), which the owner checks
before it reads anything else.  Every frame is tallied (messages and bytes per direction), so
the data owner's traffic is reported beside the servers' online and dealer traffic.

The owner-channel audit (:func:`audit_channel`) checks what each server received against what
the data owner meant to share: every frame uniform over the ring (no plaintext, no biased bit),
uncorrelated with the owner's values, adding up to them only across the servers, and never
summing (or differencing) to something small with another frame the same server received (both
shares of one value, or a reused mask).

Timeouts: none of the owner's own.  The owner waits for the servers as long as the launcher
lets the run live (its timeout and stall watch end every process of a run); a server's connect
retries follow the launcher's join timeout (``SECFWT_JOIN_TIMEOUT_S``).

Masks come from ``secrets``-seeded torch generators: fine for a benchmark; a deployment would
use a cryptographic PRG.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .process import PEER_CLOSED, TOKEN_ENV  # noqa: F401  (re-exported; process imports only the standard library at load)
from .ring import PRECISION_BITS, decode, encode, small_fraction  # noqa: F401  (encode, decode: re-exported)

ADDRESS_ENV = "SECFWT_OWNER"


#: the data owner's stream of a public protocol seed (the parties' are their ranks)
OWNER_SEED_STREAM = 997


@dataclass
class Traffic:
    """Frames and bytes between the data owner and the servers (both directions)."""

    to_servers_messages: int = 0
    to_servers_bytes: int = 0
    to_owner_messages: int = 0
    to_owner_bytes: int = 0
    log: list = field(default_factory=list)  # (direction, name, shape) of every frame
    #: the owner-channel audit's evidence: per frame shared, the owner's values at the sampled
    #: positions (data owner) or what a server could see of its share (:func:`frame_stats`)
    audit: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "log"} | {"frames": self.log}


#: elements of each frame sampled for the audit (evenly spaced, the same positions on every side)
AUDIT_SAMPLE = 256
#: elements of each frame whose 64 bit positions are counted
AUDIT_BIT_ELEMENTS = 1 << 16
#: verdicts of the owner-channel audit, worst last
SECRET, CORRELATED, NOT_UNIFORM, TWO_SHARES, PLAINTEXT = (
    "uniform share", "correlated with the owner's values", "not uniform over the ring",
    "small sum or difference with another frame (both shares, or a reused mask)", "plaintext")


def _sample_positions(n: int) -> torch.Tensor:
    return torch.linspace(0, n - 1, min(n, AUDIT_SAMPLE), dtype=torch.float64).round().long()


def sample(ring: torch.Tensor) -> list[int]:
    """The frame's elements at the audit's sampled positions, in order."""
    flat = ring.reshape(-1)
    return flat[_sample_positions(flat.numel())].tolist() if flat.numel() else []


def frame_stats(ring: torch.Tensor) -> dict:
    """What one server can see of one frame: the share of elements small enough to be plaintext
    fixed point, the largest deviation of any of the 64 bit positions from a fair coin in units
    of its standard deviation (0.5 / sqrt(n) over the first n elements), and the sampled elements
    (for :func:`audit_channel`, which holds them against the data owner's values)."""
    flat = ring.reshape(-1)
    head = flat[:AUDIT_BIT_ELEMENTS]
    n = head.numel()
    if n:
        ones = torch.stack([((head >> b) & 1).sum() for b in range(64)]).double() / n
        sigmas = ((ones - 0.5).abs() / (0.5 / n**0.5)).max().item()
    else:
        sigmas = 0.0
    return {"elements": int(flat.numel()), "small_fraction": small_fraction(flat), "bit_sigmas": sigmas,
            "bit_elements": int(n), "sample": sample(flat)}


def _correlation(a: list[int], b: list[int]) -> float | None:
    x, y = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if x.numel() < 2 or x.std() == 0 or y.std() == 0:
        return None
    return torch.corrcoef(torch.stack([x, y]))[0, 1].item()


#: a frame fails the audit beyond these (uniform shares: ~1e-6 small; 6 sigma per bit over 64
#: bits is ~1e-7 per frame; |r| of 256 independent pairs is ~N(0, 1/256), 6 sigma = 0.375)
MAX_SMALL_FRACTION = 1e-3
MAX_BIT_SIGMAS = 6.0
MAX_CORRELATION = 6.0 / AUDIT_SAMPLE**0.5


def audit_channel(owner_audit: list[dict], server_audits: dict) -> list[dict]:
    """The owner-channel audit: every frame the data owner shared, as each server received it.

    ``owner_audit``: per frame, its name and the owner's encoded values at the sampled positions;
    ``server_audits``: rank -> per frame, :func:`frame_stats` of what that server received.
    Returns one row per (server, frame name, verdict): frames, elements, the worst statistics,
    and whether the servers' shares added up to the owner's values (correctness, not secrecy)."""
    ranks = sorted(server_audits, key=int)
    names = [f["name"] for f in owner_audit]
    for rank in ranks:
        got = [f["name"] for f in server_audits[rank]]
        if got != names:
            raise ValueError(f"server {rank} received frames {got}, the data owner sent {names}")
    rows: dict = {}
    for i, given in enumerate(owner_audit):
        frames = {rank: server_audits[rank][i] for rank in ranks}
        total = sum((torch.tensor(f["sample"], dtype=torch.int64) for f in frames.values()),
                    torch.zeros(len(given["sample"]), dtype=torch.int64))  # int64 wraps: mod 2^64
        adds_up = total.tolist() == given["sample"]
        for rank, f in frames.items():
            share = torch.tensor(f["sample"], dtype=torch.int64)
            corr = _correlation(f["sample"], given["sample"])
            others = [torch.tensor(o["sample"], dtype=torch.int64) for o in server_audits[rank][:i]
                      if len(o["sample"]) == len(f["sample"]) and o["elements"] == f["elements"]]
            paired = max((max(small_fraction(share + o), small_fraction(share - o)) for o in others), default=0.0)
            if f["small_fraction"] > 0.5:
                verdict = PLAINTEXT
            elif paired > 0.5:
                verdict = TWO_SHARES
            elif f["small_fraction"] > MAX_SMALL_FRACTION or f["bit_sigmas"] > MAX_BIT_SIGMAS:
                verdict = NOT_UNIFORM
            elif corr is not None and abs(corr) > MAX_CORRELATION:
                verdict = CORRELATED
            else:
                verdict = SECRET
            key = (str(rank), given["name"], verdict)
            row = rows.setdefault(key, {"server": str(rank), "name": given["name"], "verdict": verdict,
                                        "secret": verdict == SECRET, "frames": 0,
                                        "elements": 0, "max_small_fraction": 0.0, "max_bit_sigmas": 0.0,
                                        "max_abs_correlation": 0.0, "adds_up": True})
            row["frames"] += 1
            row["elements"] += f["elements"]
            row["max_small_fraction"] = max(row["max_small_fraction"], f["small_fraction"])
            row["max_bit_sigmas"] = max(row["max_bit_sigmas"], f["bit_sigmas"])
            row["max_abs_correlation"] = max(row["max_abs_correlation"], abs(corr) if corr is not None else 0.0)
            row["adds_up"] = row["adds_up"] and adds_up
    return list(rows.values())


def _send_frame(sock: socket.socket, header: dict, payload: bytes = b"") -> int:
    head = (json.dumps(header) + "\n").encode()
    sock.sendall(head + payload)
    return len(head) + len(payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError(PEER_CLOSED)
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv_line(sock: socket.socket, limit: int = 1 << 16) -> bytes:
    out = bytearray()
    while not out.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError(PEER_CLOSED)
        out += byte
        if len(out) > limit:
            raise ConnectionError("header too long")
    return bytes(out)


def _recv_frame(sock: socket.socket) -> tuple[dict, torch.Tensor | None, int]:
    line = _recv_line(sock)
    header = json.loads(line)
    tensor = None
    if "shape" in header:
        n = 8 * int(torch.Size(header["shape"]).numel())
        tensor = torch.frombuffer(bytearray(_recv_exact(sock, n)), dtype=torch.int64).reshape(header["shape"]).clone()
        return header, tensor, len(line) + n
    return header, tensor, len(line)


def _ring_frame(name: str, ring: torch.Tensor) -> tuple[dict, bytes]:
    ring = ring.contiguous().to(torch.int64)
    return {"name": name, "shape": list(ring.shape)}, ring.numpy().tobytes()


def _hello_timeout() -> float:
    from .process import join_timeout_s

    return join_timeout_s()


class DataOwner:
    """The data owner's end: listens, admits exactly the servers that present the run's token."""

    def __init__(self, world_size: int, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 timeout: float | None = None):
        """``timeout``: how long :meth:`accept` waits for the servers; None (the launcher's runs)
        waits until they come or the launcher ends the run."""
        self.world_size = world_size
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(timeout)
        self.servers: dict[int, socket.socket] = {}
        self.traffic = Traffic()
        self.refused = 0
        # the owner's share masks: secret randomness, or derived from a public protocol seed (reproducible
        # runs, NOT secure; see secfwt.mpc.parties.PROTOCOL_SEED_ENV)
        from .process import protocol_seed

        seed = protocol_seed(OWNER_SEED_STREAM)
        self.rng = torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))

    @property
    def address(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"{host}:{port}"

    def accept(self) -> None:
        """Admit one connection per server rank; connections with a wrong token are dropped."""
        while len(self.servers) < self.world_size:
            conn, _ = self.listener.accept()
            conn.settimeout(self.listener.gettimeout() or _hello_timeout())  # a silent peer is dropped
            try:
                hello = json.loads(_recv_line(conn, limit=1024))
                ok = hmac.compare_digest(str(hello.get("token", "")), self.token) and \
                    hello.get("rank") in range(self.world_size) and hello["rank"] not in self.servers
            except (ValueError, ConnectionError, OSError):
                ok = False
            if not ok:
                self.refused += 1
                conn.close()
                continue
            conn.settimeout(None)  # admitted: a generation's forward may take long; the launcher's run timeout bounds it
            self.servers[hello["rank"]] = conn

    def share(self, name: str, x: torch.Tensor) -> None:
        """Send additive shares of x (fixed point) to the servers: uniformly random each."""
        ring = encode(x)
        masks = [torch.randint(-2**63, 2**63 - 1, ring.shape, generator=self.rng, dtype=torch.int64)
                 for _ in range(self.world_size - 1)]
        shares = [ring - sum(masks, torch.zeros_like(ring))] + masks  # int64 wraps: arithmetic mod 2^64
        self.traffic.audit.append({"name": name, "sample": sample(ring)})  # the audit's plaintext side
        for rank, share in enumerate(shares):
            header, payload = _ring_frame(name, share)
            self.traffic.to_servers_bytes += _send_frame(self.servers[rank], header, payload)
            self.traffic.to_servers_messages += 1
        self.traffic.log.append(("to servers", name, list(ring.shape)))

    def receive(self, name: str, precision_bits: int = PRECISION_BITS) -> torch.Tensor:
        """Add the servers' shares of an output: only the data owner sees the value."""
        total = None
        for rank in range(self.world_size):
            header, ring, n = _recv_frame(self.servers[rank])
            if header.get("name") != name:
                raise ConnectionError(f"expected {name!r} from server {rank}, got {header.get('name')!r}")
            self.traffic.to_owner_bytes += n
            self.traffic.to_owner_messages += 1
            total = ring if total is None else total + ring
        self.traffic.log.append(("to owner", name, list(total.shape)))
        return total.double() / 2.0**precision_bits

    def close(self) -> None:
        for conn in self.servers.values():
            conn.close()
        self.listener.close()


class OwnerLink:
    """A server's end: connect to the data owner, turn its frames into CrypTen shares."""

    def __init__(self, rank: int, address: str | None = None, token: str | None = None,
                 timeout: float | None = None):
        """``timeout``: how long to retry connecting (default: the launcher's join timeout)."""
        timeout = _hello_timeout() if timeout is None else timeout
        address = address or os.environ[ADDRESS_ENV]
        host, _, port = address.rpartition(":")
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection((host, int(port)), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ConnectionError(f"data owner at {address} not reachable within {timeout:.0f} s") from None
                time.sleep(0.05)
        token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        _send_frame(self.sock, {"rank": rank, "token": token})
        self.sock.settimeout(None)  # the owner may compute for long between frames (run timeout bounds it)
        self.traffic = Traffic()

    def input(self, name: str):
        """The data owner's next input as a CrypTen tensor (this server's share)."""
        from .compat import crypten

        header, ring, n = _recv_frame(self.sock)
        if header.get("name") != name:
            raise ConnectionError(f"expected input {name!r} from the data owner, got {header.get('name')!r}")
        self.traffic.to_servers_bytes += n
        self.traffic.to_servers_messages += 1
        self.traffic.log.append(("to servers", name, list(ring.shape)))
        self.traffic.audit.append({"name": name, **frame_stats(ring)})
        return crypten.mpc.MPCTensor.from_shares(ring, precision=PRECISION_BITS)

    def output(self, name: str, x) -> None:
        """Send this server's share of x to the data owner (nothing is opened between servers)."""
        header, payload = _ring_frame(name, x._tensor.share)
        self.traffic.to_owner_bytes += _send_frame(self.sock, header, payload)
        self.traffic.to_owner_messages += 1
        self.traffic.log.append(("to owner", name, list(x.size())))

    def close(self) -> None:
        self.sock.close()


def main(argv=None) -> int:
    """Entry of the data owner's process (started by :func:`secfwt.mpc.parties.run_parties`)."""
    from .process import Task, die_with_launcher

    die_with_launcher()
    ap = argparse.ArgumentParser(prog="python -m secfwt.mpc.owner")
    ap.add_argument("--world-size", type=int, required=True)
    ap.add_argument("--address-file", required=True, help="where to write HOST:PORT once listening")
    ap.add_argument("--task", required=True, help='JSON {"target": "module:function", "kwargs": {...}}')
    ap.add_argument("--out", required=True)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback unless the link is emulated)")
    args = ap.parse_args(argv)
    spec = json.loads(args.task)
    owner = DataOwner(args.world_size, host=args.host)
    tmp = Path(args.address_file + ".part")
    tmp.write_text(owner.address)
    tmp.replace(args.address_file)
    try:
        owner.accept()
        result = Task(spec["target"], spec["kwargs"]).resolve()(owner=owner, **spec["kwargs"])
    finally:
        owner.close()
    out = Path(args.out + ".part")
    out.write_text(json.dumps({"result": result, "traffic": owner.traffic.as_dict(), "refused": owner.refused}))
    out.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
