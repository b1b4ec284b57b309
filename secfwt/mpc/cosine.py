"""The one-round secure cosine/sine of SecFwT, on CrypTen's two-party arithmetic shares.

A ring element X of Z_{2^64} is read as the angle 2*pi*X / 2^64: the ring's wrap-around
is exactly the period, and multiplying a share by a public integer is local.

Protocol for fixed-point shares [x] (scale 2^f, f = 16 by default) and a public w:

1. locally scale to an angle: [X'] = m * [x] with m = round(w * 2^(64-f) / (2*pi)),
   so 2*pi*X'/2^64 = w*x (mod 2*pi);
2. dealer material (offline): shares of a uniform ring element [T] and fixed-point
   shares [cos t], [sin t] of its angle t = 2*pi*T/2^64;
3. online, ONE round: open delta = X' + T (8 bytes sent per element by each party,
   16 bytes per element in total, for cos and sin together);
4. locally, with d = 2*pi*delta/2^64 public:
   cos(wx) = cos(d) [cos t] + sin(d) [sin t],  sin(wx) = sin(d) [cos t] - cos(d) [sin t],
   then one local truncation by 2^f (two-party CrypTen truncates locally).

Precision (f = 16): CrypTen encodes x by truncation (error < 2^-16), so the angle is off by
less than |w| * 1.53e-5;
rounding m costs a relative 2^-47; cos(d), sin(d) and the dealer's cos t, sin t are each
quantised to 2^-17 and truncation adds up to 2^-16, so |error| <= ~6e-5 + |w| * 1.53e-5
(checked by tests: <= 1e-3 for x ~ U(-10, 10), w in {1, 2*pi}).  Before truncation the
value has magnitude <= 2 * 2^(2f) = 2^33 (product scale 2^32, well under the 2^40 limit),
so the local truncation fails with probability about 2^33 / 2^64 = 2^-31 per element.
m must fit in int64: |w| < pi * 2^(f-1) (about 1e5 for f = 16).

Harmonics (:func:`sine_series`): the same opening gives every harmonic k*w*x at once.  Multiplying
delta by a public integer k is local (k*delta = k*X' + k*T mod 2^64), so the dealer deals shares of
cos(k t), sin(k t) for each k and the parties combine sin(k w x) = sin(k d) cos(k t) - cos(k d) sin(k t)
locally.  A series sum_k c_k sin(k w x) costs ONE round and 16 bytes per element online, whatever
the number of harmonics; the dealer's material grows with it (2 values per harmonic per element).

Dealer material travels through CrypTen's provider mechanism: under TTP it is a real
request to the dealer process (CrypTen's ``TTPServer``), metered as offline traffic;
under TFP party 0 makes it (insecure against party 0, like all of TFP).
"""

from __future__ import annotations

import math

import torch

from .compat import crypten
from .ring import encode
from .util import register_autograd

TWO_PI = 2.0 * math.pi
RING = 2.0**64


def ring_to_angle(ring: torch.Tensor) -> torch.Tensor:
    """The angle 2*pi*X/2^64 of int64 ring elements, in float64."""
    return ring.double() * (TWO_PI / RING)


def angle_multiplier(w: float, precision_bits: int) -> int:
    """The public integer m with m * x_encoded = w * x read as an angle (mod 2*pi)."""
    m = round(w * 2.0 ** (64 - precision_bits) / TWO_PI)
    if not -(2**63) < m < 2**63:
        raise ValueError(f"|w| = {abs(w)} too large for a {precision_bits}-bit fixed-point input")
    return int(m)


def _trig_table(t_ring: torch.Tensor, precision_bits: int, harmonics=(1,)) -> torch.Tensor:
    """Fixed-point [cos k t, sin k t] of the mask's angle for each harmonic k: [2, K, *size]."""
    angles = torch.stack([ring_to_angle(t_ring * k) for k in harmonics])  # k*T wraps mod 2^64
    return encode(torch.stack([torch.cos(angles), torch.sin(angles)]), precision_bits)


# -- dealer material through CrypTen's providers ------------------------------------------------
def _dealer_trig_mask(server, size, precision_bits, harmonics=(1,)):
    """TTPServer side: T from the parties' shared PRSS, party 0's share of [cos kt, sin kt]."""
    t = server._get_additive_PRSS(size)
    table = _trig_table(t, precision_bits, harmonics)
    share = table - server._get_additive_PRSS(table.size(), remove_rank=True)
    return share.squeeze(1) if len(harmonics) == 1 else share  # cos/sin: the message as it always was


def _ttp_trig_mask(provider, size, precision_bits, harmonics=(1,), device=None):
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    gen = client.get_generator(device=device)
    t = generate_random_ring_element(size, generator=gen, device=device)
    table_size = torch.Size((2, len(harmonics), *size))
    if crypten.communicator.get().get_rank() == 0:
        extra = () if tuple(harmonics) == (1,) else (tuple(harmonics),)  # cos/sin: the request as it always was
        table = client.ttp_request("secfwt_trig_mask", device, size, precision_bits, *extra).reshape(table_size)
    else:
        table = generate_random_ring_element(table_size, generator=gen, device=device)
    return t, table


def _tfp_trig_mask(provider, size, precision_bits, harmonics=(1,), device=None):
    from crypten.common.rng import generate_random_ring_element
    from crypten.mpc.primitives import ArithmeticSharedTensor

    t = generate_random_ring_element(size, device=device)  # party 0's value; shared below
    t_sh = ArithmeticSharedTensor(t, precision=0, src=0).share
    table_sh = ArithmeticSharedTensor(_trig_table(t, precision_bits, harmonics), precision=0, src=0).share
    return t_sh, table_sh


def install() -> None:
    """Register the trig mask with CrypTen's TTP and TFP providers (idempotent)."""
    from crypten.mpc.provider import TrustedFirstParty, TrustedThirdParty, TTPServer

    TTPServer.secfwt_trig_mask = _dealer_trig_mask
    TrustedThirdParty.secfwt_trig_mask = _ttp_trig_mask
    TrustedFirstParty.secfwt_trig_mask = _tfp_trig_mask


install()


# -- the online protocol -------------------------------------------------------------------------
def _open_angle(x, w: float, harmonics):
    """The one round: (public ring delta = m*x + T, [cos kt, sin kt] shares [2, K, ...], bits)."""
    from crypten.mpc.primitives import ArithmeticSharedTensor

    comm = crypten.communicator.get()
    if comm.get_world_size() != 2:
        raise NotImplementedError("the one-round trig protocol relies on two-party local truncation")
    arith = x._tensor
    bits = arith.encoder._precision_bits
    size = arith.share.size()
    provider = crypten.mpc.get_default_provider()
    t_share, table_share = provider.secfwt_trig_mask(size, bits, tuple(harmonics), device=arith.device)
    masked = arith.share * angle_multiplier(w, bits) + t_share  # int64 arithmetic wraps mod 2^64
    delta = ArithmeticSharedTensor.from_shares(masked, precision=0).reveal()  # the one round
    return delta, table_share, bits


def cossin(x, w: float = 1.0):
    """(cos(w*x), sin(w*x)) of a secret-shared CrypTen tensor in one online round."""
    from crypten.mpc import MPCTensor

    delta, table_share, bits = _open_angle(x, w, (1,))
    d = ring_to_angle(delta)
    cos_d, sin_d = encode(torch.cos(d), bits), encode(torch.sin(d), bits)
    cos_t, sin_t = table_share[0, 0], table_share[1, 0]
    cos_out = MPCTensor.from_shares(cos_d * cos_t + sin_d * sin_t, precision=bits)  # at scale 2^(2f)
    sin_out = MPCTensor.from_shares(sin_d * cos_t - cos_d * sin_t, precision=bits)
    cos_out._tensor.div_(2**bits)  # local truncation back to scale 2^f
    sin_out._tensor.div_(2**bits)
    return cos_out, sin_out


#: extra fractional bits of the public multipliers in :func:`sine_series`: each of the 2K
#: products is rounded to 2^-(f+e+1) instead of 2^-(f+1), so the series' rounding error stays
#: ~1e-6 with K = 32 harmonics; the sum before the local truncation is then at scale 2^(2f+e),
#: |value| <= 2^(2f+e) * sum|c_k| ~ 2^36, and the truncation fails with probability ~2^-28 per
#: element (like a CrypTen product of magnitude 16 at scale 2^32).
SERIES_EXTRA_BITS = 4


def sine_series(x, w: float, harmonics, coeffs, derivative: bool = False):
    """sum_k c_k sin(k*w*x) of a secret-shared CrypTen tensor, in ONE online round (all harmonics
    from one opening); ``harmonics`` are positive integers, ``coeffs`` public floats.  With
    ``derivative``, also its derivative sum_k c_k k w cos(k*w*x), from the same opening and the same
    dealt cos(k t), sin(k t) (cos(k w x) = cos(k d) cos(k t) + sin(k d) sin(k t)): no second round,
    no more dealer material; returns (series, derivative)."""
    from crypten.mpc import MPCTensor

    if len(harmonics) != len(coeffs) or any(int(k) != k or k < 1 for k in harmonics):
        raise ValueError("harmonics must be positive integers, one coefficient each")
    delta, table_share, bits = _open_angle(x, w, harmonics)
    scale = bits + SERIES_EXTRA_BITS
    total = torch.zeros_like(delta)
    slope = torch.zeros_like(delta) if derivative else None
    for i, (k, c) in enumerate(zip(harmonics, coeffs)):
        d = ring_to_angle(delta * int(k))  # the public angle of k*delta, mod 2*pi
        cos_d, sin_d = torch.cos(d), torch.sin(d)
        total += encode(c * sin_d, scale) * table_share[0, i] - encode(c * cos_d, scale) * table_share[1, i]
        if derivative:
            ckw = c * k * w
            slope += encode(ckw * cos_d, scale) * table_share[0, i] + encode(ckw * sin_d, scale) * table_share[1, i]
    outs = []
    for ring in (total, slope) if derivative else (total,):
        out = MPCTensor.from_shares(ring, precision=bits)  # at scale 2^(2f+e)
        out._tensor.div_(2**scale)  # local truncation back to 2^f
        outs.append(out)
    return tuple(outs) if derivative else outs[0]


# -- random features with a backward --------------------------------------------------------------
def sin_cos(x, onepass: bool = True):
    """cat([sin x, cos x], -1) of a CrypTen tensor: RFA's features before their public 1/sqrt(D).
    ``onepass``: this module's one-round protocol, else CrypTen's ``cossin`` (28 rounds).
    Differentiable (CrypTen's autograd) when x requires a gradient: the backward needs no trig at
    all, as d sin = cos and d cos = -sin are the forward's own outputs; it is the two products
    g_sin cos x - g_cos sin x, in one round."""
    if crypten.CrypTensor.AUTOGRAD_ENABLED and getattr(x, "requires_grad", False):
        return x.secfwt_sin_cos(onepass)  # registered below
    return _sin_cos(x, onepass)


def _sin_cos(x, onepass: bool):
    cos, sin = cossin(x) if onepass else x.cossin()
    return crypten.cat([sin, cos], dim=-1)


def _sin_cos_forward(ctx, input, onepass):
    out = _sin_cos(input, onepass)
    ctx.save_for_backward(out)
    return out


def _sin_cos_backward(ctx, grad_output):
    (out,) = ctx.saved_tensors
    n = out.size(-1) // 2
    sin, cos = out.narrow(-1, 0, n), out.narrow(-1, n, n)
    g_sin, g_cos = grad_output.narrow(-1, 0, n), grad_output.narrow(-1, n, n)
    both = crypten.stack([g_sin, g_cos]) * crypten.stack([cos, sin])  # one round
    return both[0] - both[1]


register_autograd("secfwt_sin_cos", _sin_cos_forward, _sin_cos_backward)
