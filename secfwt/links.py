"""Link profiles and the one time model of the suite.

    est_s = compute_s + rounds * latency_s + carried_bytes * 8 / bandwidth_bps

``rounds`` are sequential online communication rounds, ``compute_s`` the measured local
compute time (wall minus time inside communication calls).  ``carried_bytes`` depends on
the link's duplex:

* ``half`` (the default, and the paper-profile convention of earlier reports): both
  directions share one pipe, so it carries ``bytes``, the online bytes sent by all
  computing parties together.
* ``full``: each direction has the full bandwidth, so a round takes as long as its busier
  direction: ``duplex_bytes`` (see :mod:`secfwt.mpc.meter`).  CrypTen opens shares with
  symmetric all-reduces, so this is about half of ``bytes``.

Named profiles are the paper's (SecFwT, arXiv 2506.15307); inline ones read
``<bandwidth>:<latency>[:<duplex>]``, e.g. ``1gbit:10ms``, ``3gbps:0.8ms:full``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .errors import InputError

DUPLEX = ("half", "full")


@dataclass(frozen=True)
class Link:
    name: str
    bandwidth_bps: float
    latency_s: float
    duplex: str = "half"

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "lan": Link("lan", 3e9, 0.8e-3),
    "wan200": Link("wan200", 200e6, 40e-3),
    "wan100": Link("wan100", 100e6, 80e-3),
}

_BANDWIDTH_UNITS = {"bit": 1, "bps": 1, "kbit": 1e3, "kbps": 1e3, "mbit": 1e6, "mbps": 1e6,
                    "gbit": 1e9, "gbps": 1e9}
_LATENCY_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_INLINE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*:\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*(?::\s*([a-z]+)\s*)?$")


def parse_link(spec: str) -> Link:
    """A named profile (``lan``, ``wan200``, ``wan100``, half duplex) or an inline ``1gbit:10ms``
    (``1gbit:10ms:full`` for full duplex)."""
    key = spec.strip().lower()
    if key in PROFILES:
        return PROFILES[key]
    m = _INLINE.match(key)
    if not m or m.group(2) not in _BANDWIDTH_UNITS or m.group(4) not in _LATENCY_UNITS \
            or (m.group(5) or "half") not in DUPLEX:
        raise InputError(f"unknown link {spec!r}: use one of {', '.join(PROFILES)} or BANDWIDTH:LATENCY[:DUPLEX] "
                         f"such as 1gbit:10ms or 1gbit:10ms:full (duplex: {', '.join(DUPLEX)})")
    bandwidth = float(m.group(1)) * _BANDWIDTH_UNITS[m.group(2)]
    latency = float(m.group(3)) * _LATENCY_UNITS[m.group(4)]
    if bandwidth <= 0:
        raise InputError(f"link {spec!r}: bandwidth must be positive")
    return Link(key, bandwidth, latency, m.group(5) or "half")


def parse_links(specs: str | list[str]) -> list[Link]:
    items = specs.split(",") if isinstance(specs, str) else specs
    links = [parse_link(s) for s in items if s.strip()]
    if not links:
        raise InputError("no link given")
    return links


def network_seconds(rounds: float, nbytes: float, link: Link, duplex_bytes: float | None = None,
                    duplex: str | None = None) -> float:
    """The network's share of :func:`estimate_seconds`, without this machine's compute:
    rounds x latency + carried bytes x 8 / bandwidth, where a ``half`` duplex link carries
    ``nbytes`` (both directions) and a ``full`` one ``duplex_bytes`` (the busier direction; NaN
    when a record predates that counter).  ``duplex`` overrides the link's own."""
    duplex = duplex or link.duplex
    if duplex not in DUPLEX:
        raise InputError(f"unknown duplex {duplex!r}; choose one of {', '.join(DUPLEX)}")
    carried = nbytes if duplex == "half" else duplex_bytes
    if carried is None:
        return float("nan")
    return rounds * link.latency_s + carried * 8.0 / link.bandwidth_bps


def estimate_seconds(compute_s: float, rounds: float, nbytes: float, link: Link,
                     duplex_bytes: float | None = None) -> float:
    """The time model: local compute, plus one latency per round, plus serialisation of the
    bytes the link's duplex carries."""
    return compute_s + network_seconds(rounds, nbytes, link, duplex_bytes)
