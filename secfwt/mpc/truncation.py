"""Two-party truncation: CrypTen's local one, how often it fails, and an exact alternative.

Two-party CrypTen truncates every product locally (SecureML's truncation): each party divides its
own share by 2^16.  A truncated ring element x (a product, at scale 2^32) comes out off by +-2^32
with probability |x| / 2^64 (``tests/test_encoder.py`` measures that rate).  Over a forward, the
expected number of such failures is the sum of |x| / 2^64 over every element it truncates.  A
failure corrupts the candidate whose row it hits: its loss comes back off by ~1e9.

Two things live here:

* :func:`truncation_budget`, the failure diagnostic's hook: it opens each value just before it is
  truncated (extra openings: a measurement, not the protocol; never in a benchmark record) and
  adds |x| / 2^64 up per scope.  The diagnostic that runs it over a FoT forward is
  :mod:`secfwt.truncation` (``python -m secfwt.truncation --task mrpc --seq 56 --rows 8``).
* :func:`exact_truncation`, the ``truncation=exact`` setting: every division of a shared value by a
  public integer d (a product's truncation by 2^16 included) becomes a dealer-assisted protocol
  that never fails.  The dealer deals r (uniform over the ring), floor(r / d) and the bit msb(r).
  The parties open x + r and add K = d floor(2^62 / d): c = x' + r, where x' = x + K lies in
  [0, 2^63) for any |x| < 2^62 (every CrypTen value).  Then x' = c - r + w 2^64, and the wrap w is exactly
  msb(r) AND NOT msb(c), a public test of c times the dealer's bit; so
  floor(x' / d) = floor(c / d) - floor(r / d) + w floor(2^64 / d) (+-1 in the last bit, as the
  local truncation), and K / d comes off publicly.  x + r is uniform over the ring: it shows nothing.

Where the cost is paid: ``exact`` adds ONE round and one opening (8 B per element from each party:
16 B) per truncation, and two dealer words per element (16 B offline, to party 0; party 1 draws
its shares from the seed it shares with the dealer).  ``local`` costs nothing and fails now and then.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import torch

from .compat import crypten

#: the offset's power: x + K lies in [0, 2^63) for |x| < 2^62, so the wrap test is exact
OFFSET_BITS = 62


def _as_divisor(y) -> torch.Tensor:
    return y if torch.is_tensor(y) else torch.tensor(int(y), dtype=torch.long)


def _ring_quotient(y: torch.Tensor) -> torch.Tensor:
    """(floor(2^64 / y), 2^64 mod y) for int64 y >= 1, the quotient mod 2^64 as int64 (2^64 = 2 (2^63 - 1) + 2)."""
    a, b = torch.div(torch.full_like(y, (1 << 63) - 1), y, rounding_mode="floor"), torch.remainder((1 << 63) - 1, y)
    rest = 2 * b + 2
    return 2 * a + torch.div(rest, y, rounding_mode="floor"), torch.remainder(rest, y)


def unsigned_floor_div(v: torch.Tensor, y) -> torch.Tensor:
    """floor(u / y) for u the unsigned reading of int64 ring elements v (mod 2^64, as int64), y >= 1."""
    y = _as_divisor(y)
    q, m = _ring_quotient(y)
    return torch.where(v < 0, torch.div(v + m, y, rounding_mode="floor") + q, torch.div(v, y, rounding_mode="floor"))


def _offset(y: torch.Tensor) -> torch.Tensor:
    """K = y floor(2^62 / y): a multiple of y, so K / y comes off exactly."""
    return y * torch.div(torch.full_like(y, 1 << OFFSET_BITS), y, rounding_mode="floor")


def _material(r: torch.Tensor, y) -> torch.Tensor:
    """What the dealer deals for mask r: [floor(r / y), msb(r)] (unsigned r)."""
    return torch.stack(torch.broadcast_tensors(unsigned_floor_div(r, y), (r < 0).long()))


# -- dealer material through CrypTen's providers -------------------------------------------------------
def _dealer_truncation_mask(server, size, divisor):
    """TTPServer side: party 0's share of [floor(r / d), msb(r)] for r from the parties' shared PRSS."""
    material = _material(server._get_additive_PRSS(size), divisor)
    return material - server._get_additive_PRSS(material.size(), remove_rank=True)


def _ttp_truncation_mask(provider, size, divisor, device=None):
    """(this party's share of r, its shares of [floor(r / d), msb(r)])."""
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    gen = client.get_generator(device=device)
    r = generate_random_ring_element(size, generator=gen, device=device)
    if crypten.communicator.get().get_rank() == 0:
        return r, client.ttp_request("secfwt_truncation_mask", device, size, divisor)
    return r, generate_random_ring_element(torch.Size((2, *size)), generator=gen, device=device)


def _tfp_truncation_mask(provider, size, divisor, device=None):
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.primitives import ArithmeticSharedTensor

    r = generate_random_ring_element(size, device=device)  # party 0's value; shared below
    share = ArithmeticSharedTensor(r, precision=0, src=0).share
    return share, ArithmeticSharedTensor(_material(r, divisor), precision=0, src=0).share


def install() -> None:
    """Register the truncation mask with CrypTen's TTP and TFP providers (idempotent)."""
    from crypten.mpc.provider import TrustedFirstParty, TrustedThirdParty, TTPServer

    TTPServer.secfwt_truncation_mask = _dealer_truncation_mask
    TrustedThirdParty.secfwt_truncation_mask = _ttp_truncation_mask
    TrustedFirstParty.secfwt_truncation_mask = _tfp_truncation_mask


install()


# -- the online protocol -----------------------------------------------------------------------------
def exact_truncate(arith, y) -> None:
    """Divide the ArithmeticSharedTensor ``arith`` by the public integer(s) y in place, in ONE round,
    without the local truncation's failures (see the module doc)."""
    from crypten.mpc.primitives import ArithmeticSharedTensor

    comm = crypten.communicator.get()
    if comm.get_world_size() != 2:
        raise NotImplementedError("the exact truncation is written for two computing parties")
    divisor = _as_divisor(y).to(arith.share.device)
    provider = crypten.mpc.get_default_provider()
    r, (floor_r, msb_r) = provider.secfwt_truncation_mask(arith.share.size(), y, device=arith.device)
    offset = _offset(divisor)
    c = ArithmeticSharedTensor.from_shares(arith.share + r, precision=0).reveal() + offset  # the one round
    quotient, _ = _ring_quotient(divisor)
    share = msb_r * (c >= 0).long() * quotient - floor_r  # w floor(2^64 / d) - floor(r / d); int64 wraps mod 2^64
    if comm.get_rank() == 0:
        share = share + unsigned_floor_div(c, divisor) - torch.div(offset, divisor, rounding_mode="floor")
    arith.share = share


def _public_integer(y):
    """y as an integer divisor when CrypTen's ``div_`` would truncate by it, else None."""
    if isinstance(y, float) and y.is_integer():
        y = int(y)
    if isinstance(y, int) and not isinstance(y, bool):
        return y if y >= 1 else None
    if torch.is_tensor(y) and (not y.is_floating_point() or y.frac().eq(0).all()) and (y >= 1).all():
        return y.long()
    return None


@contextlib.contextmanager
def _divisions(hook):
    """While active, CrypTen's ``ArithmeticSharedTensor.div_`` is ``hook(tensor, y, real_div_)``."""
    ast = crypten.mpc.primitives.arithmetic.ArithmeticSharedTensor
    real = ast.div_
    ast.div_ = lambda self, y: hook(self, y, real)
    try:
        yield
    finally:
        ast.div_ = real


def _exact_div(self, y, real):
    divisor = _public_integer(y)
    if divisor is None or crypten.communicator.get().get_world_size() != 2:
        return real(self, y)
    if not (isinstance(divisor, int) and divisor == 1):  # dividing by 1 changes nothing
        exact_truncate(self, divisor)
    return self


def exact_truncation(active: bool = True):
    """While active (``truncation=exact``), every two-party division of a shared value by a public
    integer runs :func:`exact_truncate` instead of CrypTen's local one."""
    return _divisions(_exact_div) if active else contextlib.nullcontext()


# -- the failure diagnostic's hook ---------------------------------------------------------------------
@contextlib.contextmanager
def truncation_budget(path=lambda: ""):
    """While active, every truncation (CrypTen's ``div_`` by a public integer) first opens the value
    it truncates and adds |x| / 2^64, its failure probability, to ``budget[path()]``; ``elements``
    counts the truncated elements.  Yields (budget, elements)."""
    budget: dict = defaultdict(float)
    elements: dict = defaultdict(int)

    def div_(self, y, real):
        if isinstance(y, int) or (torch.is_tensor(y) and not y.is_floating_point()):  # a truncation
            x = self.reveal()  # the diagnostic's own opening: the ring value about to be truncated
            budget[path()] += x.double().abs().sum().item() / 2.0**64
            elements[path()] += x.numel()
        return real(self, y)

    with _divisions(div_):
        yield budget, elements
