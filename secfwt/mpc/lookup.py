"""Dealer-assisted table lookups on a bounded secret value, in ONE online round: the comparisons of
a secure max without CrypTen's 64-bit comparison circuit, and a reciprocal's start.

The trick (a table in place of function secret sharing's keys): the value X (fixed point, scale
2^f) is known to lie in a public window |x| < reach.  The parties open e = X - A, a Beaver-masked
value (uniform over the 64-bit ring, 8 bytes sent per element by each party: 16 B in all).  The
public shift e * 2^s puts the window's top n bits at the top of the ring, so the public index
j = top_n(e * 2^s) differs from top_n(X * 2^s), the value read at resolution 2^-r, by the dealer's
top_n(A * 2^s) and a carry of 0 or 1: the dealer, who knows A, deals shares of a table of 2^n
entries indexed by j, and each party reads its share of entry j locally.  What the dealer
tabulates at j is a function of v = floor(x / 2^-r) - c, c in {0, 1} the carry:

* ``relu`` (two tables): the bit b = [v >= 0] and the product b * A.  With e public, b * X =
  b * e + b * A: the selected difference of a max, exact (b is an integer: no truncation), in the
  same single round.  b is right whenever |x| >= 2^-r; below, either choice is within 2^-r.
* a value table (``reciprocal``): shares of g(v), fixed point, e.g. the start of a Newton
  reciprocal on the interval v names.

Where the cost is paid: online ONE opening (16 B per element) per lookup; the dealer's tables are
2^n words (8 B) per element per table, sent to party 0 (party 1 draws its shares from the seed it
shares with the dealer): the bytes move offline, as FSS systems' keys do.  Correctness needs
|x| < reach; outside, the index wraps and the result is wrong (the callers' windows come from the
model owner's calibration, with margin).

Dealer material travels like :mod:`secfwt.mpc.cosine`'s: a real request to CrypTen's ``TTPServer``
under TTP (metered offline); under TFP party 0 makes it (insecure against party 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .compat import crypten
from .ring import encode

RING_BITS = 64


@dataclass(frozen=True)
class Window:
    """The public window of a lookup: 2^bits table entries of 2^-resolution_bits each, centred on
    ``centre`` (a public offset subtracted locally before the opening)."""

    bits: int
    resolution_bits: int
    centre: float = 0.0

    @property
    def entries(self) -> int:
        return 1 << self.bits

    @property
    def step(self) -> float:
        return 2.0 ** -self.resolution_bits

    @property
    def reach(self) -> float:
        """The largest |x - centre| read without wrapping (v and v - 1 both inside the table)."""
        return (self.entries // 2 - 1) * self.step

    def shift(self, precision_bits: int) -> int:
        s = RING_BITS - self.bits + self.resolution_bits - precision_bits
        if s < 0:
            raise ValueError(f"a {self.bits}-bit window at resolution 2^-{self.resolution_bits} does not fit "
                             f"a {precision_bits}-bit fixed-point value")
        return s


def window_for(reach: float, resolution_bits: int, centre: float = 0.0) -> Window:
    """The smallest window that reads every |x - centre| <= reach at resolution 2^-resolution_bits."""
    if not reach > 0 or not math.isfinite(reach):
        raise ValueError(f"a lookup window needs a positive finite reach, not {reach!r}")
    bits = max(2, math.ceil(math.log2(2 * (reach / 2.0 ** -resolution_bits + 1))))
    return Window(bits, resolution_bits, centre)


def _index(ring: torch.Tensor, bits: int, shift: int) -> torch.Tensor:
    """top_bits(ring * 2^shift) as an index in [0, 2^bits) (int64 products wrap mod 2^64)."""
    return ((ring * (1 << shift)) >> (RING_BITS - bits)) & ((1 << bits) - 1)


def _signed(v: torch.Tensor, bits: int) -> torch.Tensor:
    half = 1 << (bits - 1)
    return torch.where(v >= half, v - (1 << bits), v)


def reciprocal_start(v: torch.Tensor, step: float, centre: float, floor: float) -> torch.Tensor:
    """The Newton reciprocal's start for the interval a value read as v lies in: x in
    [centre + v step, centre + (v + 2) step), clipped below at the public floor; the constant
    2 / (a + b) is optimal on [a, b] (its relative error (b - a) / (b + a))."""
    a = torch.clamp(centre + v * step, min=floor)
    b = torch.clamp(centre + (v + 2) * step, min=floor) + step * 1e-9
    return 2.0 / (a + b)


def _tables(a_ring: torch.Tensor, kind: str, window: tuple, precision_bits: int, args: tuple) -> torch.Tensor:
    """The dealer's tables [T, *size, 2^bits] for mask A: what entry j means given A (see module doc)."""
    bits, resolution_bits, centre = window
    w = Window(bits, resolution_bits, centre)
    j = torch.arange(w.entries, dtype=torch.long)
    v = _signed((j + _index(a_ring, bits, w.shift(precision_bits)).unsqueeze(-1)) & (w.entries - 1), bits)
    if kind == "relu":
        bit = (v >= 0).long()
        return torch.stack([bit, bit * a_ring.unsqueeze(-1)])  # int64 product wraps mod 2^64
    if kind == "reciprocal":
        (floor,) = args
        return encode(reciprocal_start(v.double(), w.step, centre, floor), precision_bits).unsqueeze(0)
    raise ValueError(f"unknown lookup table {kind!r}")


TABLES = {"relu": 2, "reciprocal": 1}


# -- dealer material through CrypTen's providers ------------------------------------------------
#: table entries the dealer computes and sends per request: tables are large (2^n words per element),
#: so they travel in chunks that bound every process's peak memory, not in one message
CHUNK_ENTRIES = 1 << 24


def _chunks(elements: int, entries: int):
    """(start, stop) element ranges whose tables hold at most CHUNK_ENTRIES entries each."""
    step = max(1, CHUNK_ENTRIES // entries)
    return [(i, min(i + step, elements)) for i in range(0, elements, step)]


def _dealer_lookup_mask(server, size, kind, window, precision_bits, args=()):
    """TTPServer side, first request: A from the parties' shared PRSS, kept for the chunk requests."""
    server.secfwt_lookup_pending = (server._get_additive_PRSS(size).flatten(), kind, window, precision_bits, args)
    return torch.zeros(1, dtype=torch.long)


def _dealer_lookup_chunk(server, start, stop):
    """TTPServer side: party 0's share of the tables of elements [start, stop) of the pending mask."""
    a, kind, window, precision_bits, args = server.secfwt_lookup_pending
    tables = _tables(a[start:stop], kind, window, precision_bits, args)
    return tables - server._get_additive_PRSS(tables.size(), remove_rank=True)


def _ttp_lookup_mask(provider, size, kind, window, precision_bits, args=(), device=None):
    """(this party's share of A, a lazy sequence of (start, stop, its table shares [T, stop - start, N])
    over the flattened elements): a chunk is fetched only when read, so a party holds one at a time."""
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    gen = client.get_generator(device=device)
    a = generate_random_ring_element(size, generator=gen, device=device)
    count, entries, kinds = a.numel(), 1 << window[0], TABLES[kind]
    rank0 = crypten.communicator.get().get_rank() == 0
    if rank0:
        client.ttp_request("secfwt_lookup_mask", device, size, kind, window, precision_bits, args)

    def chunks():
        for start, stop in _chunks(count, entries):
            shape = torch.Size((kinds, stop - start, entries))
            yield start, stop, (client.ttp_request("secfwt_lookup_chunk", device, start, stop).reshape(shape) if rank0
                                else generate_random_ring_element(shape, generator=gen, device=device))

    return a, chunks()


def _tfp_lookup_mask(provider, size, kind, window, precision_bits, args=(), device=None):
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.primitives import ArithmeticSharedTensor

    a = generate_random_ring_element(size, device=device)  # party 0's value; shared below
    a_sh = ArithmeticSharedTensor(a, precision=0, src=0).share
    tables_sh = ArithmeticSharedTensor(_tables(a.flatten(), kind, window, precision_bits, args), precision=0, src=0).share
    return a_sh, iter([(0, a.numel(), tables_sh)])


def install() -> None:
    """Register the lookup mask with CrypTen's TTP and TFP providers (idempotent)."""
    from crypten.mpc.provider import TrustedFirstParty, TrustedThirdParty, TTPServer

    TTPServer.secfwt_lookup_mask = _dealer_lookup_mask
    TTPServer.secfwt_lookup_chunk = _dealer_lookup_chunk
    TrustedThirdParty.secfwt_lookup_mask = _ttp_lookup_mask
    TrustedFirstParty.secfwt_lookup_mask = _tfp_lookup_mask


install()


# -- the online protocol -------------------------------------------------------------------------
def _open_masked(x, kind: str, window: Window, args: tuple = ()):
    """The one round: (public e = X - A, this party's table shares in chunks, precision bits)."""
    from crypten.mpc.primitives import ArithmeticSharedTensor

    if crypten.communicator.get().get_world_size() != 2:
        raise NotImplementedError("the lookup protocol is written for two computing parties")
    if window.centre:
        x = x - window.centre
    arith = x._tensor
    bits = arith.encoder._precision_bits
    size = arith.share.size()
    provider = crypten.mpc.get_default_provider()
    spec = (window.bits, window.resolution_bits, float(window.centre))
    a_share, chunks = provider.secfwt_lookup_mask(size, kind, spec, bits, tuple(args), device=arith.device)
    e = ArithmeticSharedTensor.from_shares(arith.share - a_share, precision=0).reveal()  # the one round
    return e, chunks, bits


def _read(chunks, e: torch.Tensor, window: Window, bits: int) -> torch.Tensor:
    """Each party's shares of entry j = top_n(e 2^s) of every table, chunk by chunk: [T, *size]."""
    j = _index(e, window.bits, window.shift(bits)).flatten()
    out = None
    for start, stop, tables in chunks:
        if out is None:
            out = torch.empty(tables.size(0), j.numel(), dtype=torch.long)
        index = j[start:stop].unsqueeze(0).unsqueeze(-1).expand(tables.size(0), stop - start, 1)
        out[:, start:stop] = tables.gather(-1, index).squeeze(-1)
    return out.reshape(out.size(0), *e.size())


def relu(x, window: Window):
    """max(x, 0) of a CrypTen tensor with |x| < window.reach, exact where |x| >= window.step, in ONE
    round (16 B per element online; 2 tables of window.entries words per element from the dealer)."""
    from crypten.mpc import MPCTensor

    e, chunks, bits = _open_masked(x, "relu", window)
    bit, bit_a = _read(chunks, e, window, bits)
    return MPCTensor.from_shares(bit * e + bit_a, precision=bits)  # b X at X's scale: exact


def value(x, window: Window, kind: str, *args):
    """Shares of the dealer's tabulated function of x (read at the window's resolution), ONE round."""
    from crypten.mpc import MPCTensor

    e, chunks, bits = _open_masked(x, kind, window, args)
    return MPCTensor.from_shares(_read(chunks, e, window, bits)[0], precision=bits)


def tree_max(x, dim: int, window: Window):
    """The largest entry along ``dim`` (kept as size 1) of a CrypTen tensor whose entries differ by
    less than window.reach: a tree of pairwise max(a, b) = b + relu(a - b), ONE round per level
    (ceil(log2 n) rounds), each entry an exact entry of x and within depth * window.step of the max."""
    dim = dim % x.dim()
    while x.size(dim) > 1:
        n = x.size(dim)
        half = n // 2
        a, b = x.narrow(dim, 0, half), x.narrow(dim, half, half)
        pairs = b + relu(a - b, window)
        x = crypten.cat([pairs, x.narrow(dim, 2 * half, 1)], dim=dim) if n % 2 else pairs
    return x


def tree_depth(n: int) -> int:
    """Levels of :func:`tree_max` over n entries."""
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0
