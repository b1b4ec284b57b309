"""Link profiles and the one time model of the suite.

    est_s = compute_s + rounds * ROUND_TRIPS_PER_ROUND * latency_s + carried_bytes * 8 / bandwidth_bps

``latency_s`` is the link's round-trip time (what ``ping`` shows; the emulator delays each
direction by half of it).  ``rounds`` are CrypTen's sequential online communication rounds, and
each costs :data:`ROUND_TRIPS_PER_ROUND` round trips: measured over emulated links
(:mod:`secfwt.mpc.emulate`, the ``emulation`` profile), a two-party gloo all-reduce (how CrypTen
opens shares) takes two round trips, four one-way delays (ring reduce-scatter, then all-gather).
``compute_s`` is the measured local compute time (wall minus time inside communication calls).
Compute and communication do not overlap (CrypTen waits on every round).  ``carried_bytes``
depends on the link's duplex:

* ``half`` (the default, and the paper-profile convention of earlier reports): both
  directions share one pipe, so it carries ``bytes``, the online bytes sent by all
  computing parties together.
* ``full``: each direction has the full bandwidth, so a round takes as long as its busier
  direction: ``duplex_bytes`` (see :mod:`secfwt.mpc.meter`).  CrypTen opens shares with
  symmetric all-reduces, so this is about half of ``bytes``.

Until the emulated links measured it, the model charged one latency per round
(:data:`ROUND_TRIPS_PER_ROUND` = 1): it predicted about half of the measured time on every
latency-bound workload.  Reports recompute every estimate from a record's counts with the
current model (:func:`record_estimates`); a record's stored ``est_s`` is the model of its day.

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

    def text(self) -> str:
        """'3 Gbps / 0.8 ms': the link as prose names it (latency: a round trip)."""
        bw = self.bandwidth_bps
        rate = f"{bw / 1e9:g} Gbps" if bw >= 1e9 else f"{bw / 1e6:g} Mbps"
        return f"{rate} / {self.latency_s * 1e3:g} ms"


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


#: round trips (link latencies) one CrypTen round costs: a two-party gloo all-reduce is a ring
#: reduce-scatter then all-gather, each step a notification and a data message: four one-way delays.
#: Measured over emulated links (the ``emulation`` profile: median 2.07 over 40 runs, 1.6 to 2.4)
ROUND_TRIPS_PER_ROUND = 2
#: the model before it met a link: one latency per round (kept to show what it got wrong)
UNCORRECTED_ROUND_TRIPS = 1


def network_seconds(rounds: float, nbytes: float, link: Link, duplex_bytes: float | None = None,
                    duplex: str | None = None, round_trips: float = ROUND_TRIPS_PER_ROUND) -> float:
    """The network's share of :func:`estimate_seconds`, without this machine's compute:
    rounds x round trips per round x latency + carried bytes x 8 / bandwidth, where a ``half``
    duplex link carries ``nbytes`` (both directions) and a ``full`` one ``duplex_bytes`` (the busier
    direction; NaN when a record predates that counter).  ``duplex`` overrides the link's own."""
    duplex = duplex or link.duplex
    if duplex not in DUPLEX:
        raise InputError(f"unknown duplex {duplex!r}; choose one of {', '.join(DUPLEX)}")
    carried = nbytes if duplex == "half" else duplex_bytes
    if carried is None:
        return float("nan")
    return rounds * round_trips * link.latency_s + carried * 8.0 / link.bandwidth_bps


def estimate_seconds(compute_s: float, rounds: float, nbytes: float, link: Link,
                     duplex_bytes: float | None = None, round_trips: float = ROUND_TRIPS_PER_ROUND) -> float:
    """The time model: local compute, plus the round trips of every round, plus serialisation of the
    bytes the link's duplex carries."""
    return compute_s + network_seconds(rounds, nbytes, link, duplex_bytes, round_trips=round_trips)


def estimates(costs: dict, links: list[Link]) -> dict[str, float]:
    """``est_s`` per link of a record's (or a scope's, or its ``one_time`` part's) counters and
    measured compute, with the current model."""
    return {link.name: estimate_seconds(costs["compute_s"], costs["rounds"], costs["bytes"], link,
                                        duplex_bytes=costs.get("duplex_bytes")) for link in links}


def stored_links(record: dict) -> list[Link]:
    """The links a record was estimated for: their stored specs, else the named profile."""
    specs = record.get("links") or {}
    names = list(specs) + [n for n in (record.get("est_s") or {}) if n not in specs]
    return [Link(**specs[n]) if n in specs else PROFILES[n] for n in names if n in specs or n in PROFILES]


def record_estimates(record: dict) -> dict[str, float]:
    """A record's ``est_s`` recomputed from its counts with the current model (reports use this, not
    the stored ``est_s``, which is the model of the day the record was made); a link it names
    without a spec keeps its stored estimate."""
    stored = dict(record.get("est_s") or {})
    if record.get("compute_s") is None or record.get("rounds") is None:
        return stored
    return {**stored, **estimates(record, stored_links(record))}
