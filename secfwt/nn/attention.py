"""Attention cores on secret-shared Q, K, V and their plaintext PyTorch twins.

Shapes are ``[batch, heads, seq, head_dim]``.  Variants:

* ``softmax-stock``: ``softmax(q k^T / sqrt(d)) v`` with CrypTen's own softmax.  Its
  reciprocal is accurate only on about [0.01, 10], so the denominator (a sum of up
  to ``seq`` exponentials) leaves that range as ``seq`` grows: the error is
  recorded, never hidden.
* ``softmax-stable``: the same, but the denominator (between 1 and L after the max is
  subtracted) is divided by the public L/4 before CrypTen's reciprocal and the result
  rescaled after, so the reciprocal always sees [4/L, 4], inside its accurate range, at no
  extra communication.  This is what makes it right at L = 512.
* ``softmax-lookup``: exact softmax without CrypTen's secure max: the max is a tree of pairwise
  max(a, b) = b + relu(a - b) whose relu is ONE dealer-assisted table lookup on the bounded
  difference (:mod:`secfwt.mpc.lookup`: 16 B online per comparison instead of CrypTen's ~1.35 KB,
  one round per level instead of ~11); the shift is an exact score within depth * 2^-r of the max,
  so the denominator lies in the public [1, L e^(depth 2^-r)], and its reciprocal starts from a
  second lookup on that range (the optimal constant per cell) and takes the Newton steps the start's
  worst cell needs (4 at L = 128) instead of CrypTen's exp start and 10.  The scores' window is
  public: twice the model owner's calibrated largest |score| plus the padding mask's bias.
* ``rfa-builtin``: Random Feature Attention (Peng et al., 2021) with CrypTen's own
  ``cossin`` (exp(ix) by 10 squarings: 28 rounds).  phi(x) = [sin(W x), cos(W x)] / sqrt(D)
  of the l2-normalised q and k, linear-time aggregation, and a normaliser scaled by the
  public 1/L so its reciprocal stays in CrypTen's accurate range.
* ``rfa-onepass``: the same RFA with SecFwT's one-round cosine/sine
  (:mod:`secfwt.mpc.cosine`).

The l2 normalisation is range-safe: ``inv_sqrt`` is applied to the mean square
(sum / d, a public scale) times the model owner's calibrated public ``qk_scale`` squared, and
the public factors are folded back in afterwards.

Where the cost is paid: softmax-stock pays O(L^2) non-linear work (max, exp,
reciprocal over the L x L scores); RFA pays O(L * D) for the trig functions and
only matrix products (Beaver triples, one round each) elsewhere.
"""

from __future__ import annotations

import functools
import math

import torch

from ..mpc.meter import scope
from ..variants import ALIASES, PAPER_PAIR, REGISTRY, RFA, SOFTMAX, VARIANTS, Variant, is_rfa, lookup  # noqa: F401


def random_features(head_dim: int, features: int, seed: int, sigma: float = 1.0) -> torch.Tensor:
    """The public random projection W ~ N(0, sigma^2), shape ``[head_dim, features]``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(head_dim, features, generator=g, dtype=torch.float64) * sigma


# -- MPC --------------------------------------------------------------------------------------
def mpc_attention(variant: str, q, k, v, w: torch.Tensor | None = None, keys=None, qk_scale: float = 1.0,
                  score_bound: float | None = None):
    """Attention core on CrypTen tensors; scopes name each component for the meter.

    ``keys`` (optional) masks padded keys with the data owner's secret-shared mask: softmax adds
    ``keys.bias`` ([B, 1, 1, L], 0 or a large negative score: local), RFA multiplies phi(k) by
    ``keys.mask`` ([B, 1, L, 1], 0/1: one Beaver multiplication).  ``qk_scale`` (RFA only) is the
    model owner's public factor that centres the q/k rows' mean square in inv_sqrt's accurate range
    (:func:`secfwt.nn.encoder.calibrate`); it is folded into public divisions, so it costs nothing.
    ``score_bound`` (softmax-lookup only) is the model owner's public bound on |score| (default
    :data:`SCORE_BOUND`): it sizes the lookup tables, not the online cost."""
    spec = lookup(variant)
    if spec.rfa:
        return _mpc_rfa_attention(q, k, v, w, onepass=spec.onepass, keys=keys, qk_scale=qk_scale)
    if spec.lookup:
        return _mpc_softmax_attention(q, k, v, keys=keys, lookup_bound=score_bound or SCORE_BOUND)
    return _mpc_softmax_attention(q, k, v, stable=spec.stable, keys=keys)


def stable_softmax(x, dim: int = -1):
    """Softmax whose reciprocal stays in CrypTen's accurate range at any length n along ``dim``:
    after the max is subtracted the denominator lies in [1, n]; dividing it by the public
    n/4 maps it into [4/n, 4]; the public factor is folded back into the result."""
    from ..mpc.compat import crypten

    n = x.size(dim)
    c = max(n / 4.0, 1.0)
    with scope("max"):
        shifted = x - x.max(dim, keepdim=True)[0]
    with scope("exp"):
        num = shifted.exp()
    with scope("reciprocal"), crypten.cfg.temp_override({"functions.reciprocal_all_pos": True}):
        inv = num.sum(dim, keepdim=True).div(c).reciprocal().div(c)
    return num * inv


#: softmax-lookup: the default public bound on |score| (q k^T / sqrt(d)) where no calibration gives one
SCORE_BOUND = 16.0
#: softmax-lookup: the max's comparisons read differences at 2^-1 (the shift is within depth / 2 of the
#: max: exp's largest value at most e^(depth / 2)); the reciprocal's start reads its input at 2^0
LOOKUP_MAX_RESOLUTION_BITS = 1
LOOKUP_RECIPROCAL_RESOLUTION_BITS = 0
#: the reciprocal's table holds at most 2^13 entries (64 KB a row from the dealer): a wider range (long
#: sequences) is read coarser, and more Newton steps make up for the coarser start
LOOKUP_RECIPROCAL_MAX_BITS = 13
#: the reciprocal's relative error after its Newton steps: fixed point's own resolution
LOOKUP_RECIPROCAL_TARGET = 2.0**-16


def lookup_windows(seq: int, score_bound: float, masked: bool):
    """The public windows of softmax-lookup over ``seq`` keys: the max's differences (twice the
    score bound, plus the padding mask's bias when keys are masked) and the denominator's range
    [1, seq e^(depth 2^-r)] (the shift is an exact score at most depth 2^-r below the max)."""
    from ..mpc import lookup as lut

    spread = 2.0 * score_bound + (abs(MASK_BIAS) if masked else 0.0)
    diff = lut.window_for(spread, LOOKUP_MAX_RESOLUTION_BITS)
    top = seq * math.exp(lut.tree_depth(seq) * diff.step)
    resolution = LOOKUP_RECIPROCAL_RESOLUTION_BITS
    while True:
        den = lut.window_for((top - 1.0) / 2 + 2.0 / 2.0**resolution, resolution, centre=(top + 1.0) / 2)
        if den.bits <= LOOKUP_RECIPROCAL_MAX_BITS:
            return diff, den
        resolution -= 1


@functools.lru_cache(maxsize=None)
def reciprocal_newton_steps(window) -> int:
    """Newton steps that take the range start's worst relative error (over every cell the dealer
    tabulates, floored at 1) to :data:`LOOKUP_RECIPROCAL_TARGET`: each step squares it.  4 at L = 128
    (worst cell [1, 3): 1/2); more where a long sequence's range is read coarser."""
    from ..mpc import lookup as lut

    v = torch.arange(-(window.entries // 2), window.entries // 2, dtype=torch.float64)
    lo = torch.clamp(window.centre + v * window.step, min=1.0)
    hi = torch.clamp(window.centre + (v + 2) * window.step, min=1.0)
    y0 = lut.reciprocal_start(v, window.step, window.centre, 1.0)
    worst = torch.maximum((1 - lo * y0).abs(), (1 - hi * y0).abs()).max().item()
    if worst <= LOOKUP_RECIPROCAL_TARGET:
        return 0
    return math.ceil(math.log2(math.log(LOOKUP_RECIPROCAL_TARGET) / math.log(worst)))


def lookup_softmax(x, dim: int = -1, score_bound: float = SCORE_BOUND, masked: bool = False):
    """Softmax along ``dim`` with the max and the reciprocal's start from dealer-assisted lookups
    (see the module doc); differentiable through CrypTen's autograd (backward p (g - sum g p): 2
    products, no lookup)."""
    from ..mpc.compat import crypten

    if crypten.CrypTensor.AUTOGRAD_ENABLED and getattr(x, "requires_grad", False):
        return x.secfwt_lookup_softmax(dim, score_bound, masked)
    return _lookup_softmax(x, dim, score_bound, masked)


def _lookup_softmax(x, dim: int, score_bound: float, masked: bool):
    from ..mpc import lookup as lut

    diff, den_window = lookup_windows(x.size(dim), score_bound, masked)
    with scope("max"):
        shifted = x - lut.tree_max(x, dim, diff)
    with scope("exp"):
        num = shifted.exp()
    with scope("reciprocal"):
        den = num.sum(dim, keepdim=True)
        inv = lut.value(den, den_window, "reciprocal", 1.0)
        for _ in range(reciprocal_newton_steps(den_window)):
            inv = inv * (2 - den * inv)
    return num * inv


def _lookup_softmax_forward(ctx, x, dim, score_bound, masked):
    out = _lookup_softmax(x, dim, score_bound, masked)
    ctx.save_multiple_for_backward((out, dim))
    return out


def _lookup_softmax_backward(ctx, grad):
    probs, dim = ctx.saved_tensors
    return probs * (grad - (grad * probs).sum(dim, keepdim=True))


def _register_lookup_softmax() -> None:
    from ..mpc.util import register_autograd

    register_autograd("secfwt_lookup_softmax", _lookup_softmax_forward, _lookup_softmax_backward)


def _mpc_softmax_attention(q, k, v, stable: bool = False, keys=None, lookup_bound: float | None = None):
    d = q.size(-1)
    with scope("scores"):
        scores = q.matmul(k.transpose(-2, -1)).div(math.sqrt(d))
        if keys is not None:
            scores = scores + keys.bias
    with scope("softmax"):
        if lookup_bound is not None:
            _register_lookup_softmax()
            probs = lookup_softmax(scores, -1, lookup_bound, masked=keys is not None)
        else:
            probs = stable_softmax(scores, -1) if stable else scores.softmax(-1)
    with scope("context"):
        return probs.matmul(v)


def _mpc_l2_normalise(x, scale: float = 1.0):
    """x / |x| along the last axis, as x * inv_sqrt(s^2 |x|^2 / d) * s / sqrt(d): the public s (the
    calibrated ``qk_scale``) puts the mean square inside inv_sqrt's accurate range, which its
    backward needs as much as its forward.  Both public factors fold into local divisions."""
    from .layers import inv_sqrt  # with its autograd registered

    d = x.size(-1)
    mean_square = x.square().sum(-1, keepdim=True).div(d / scale**2)
    return x * inv_sqrt(mean_square).div(math.sqrt(d) / scale)


def _mpc_feature_map(x, w, onepass: bool):
    from ..mpc import cosine

    proj = x.matmul(w.to(torch.float32))  # public matrix: local product + local truncation
    return cosine.sin_cos(proj, onepass).div(math.sqrt(w.size(-1)))  # differentiable: its backward has no trig


def _mpc_rfa_attention(q, k, v, w, onepass: bool, keys=None, qk_scale: float = 1.0):
    from ..mpc.compat import crypten

    seq_q, seq = q.size(-2), k.size(-2)
    with scope("normalise"):  # q and k together: one pass of rounds for both
        qk = _mpc_l2_normalise(crypten.cat([q, k], dim=-2), qk_scale)
    with scope("features"):
        phi = _mpc_feature_map(qk, w, onepass)
        rows = phi.dim() - 2  # CrypTen's narrow backward needs dim >= 0
        phi_q, phi_k = phi.narrow(rows, 0, seq_q), phi.narrow(rows, seq_q, seq)
        if keys is not None:
            phi_k = phi_k * keys.mask
    with scope("aggregate"):
        kv = phi_k.transpose(-2, -1).matmul(v)  # [B, H, 2D, d]
        z = phi_k.sum(-2).unsqueeze(-1)  # [B, H, 2D, 1]
        num = phi_q.matmul(kv)
        den = phi_q.matmul(z)  # [B, H, L, 1], about seq * E[kernel]
    with scope("normaliser"):
        inv = den.div(seq).reciprocal().div(seq)  # public rescale keeps reciprocal in range
    with scope("context"):
        return num * inv


# -- plaintext twins --------------------------------------------------------------------------
def plain_attention(variant: str, q, k, v, w: torch.Tensor | None = None, key_mask=None,
                    dtype=torch.float64) -> torch.Tensor:
    """The exact computation each MPC variant approximates (float64 by default; float32 for
    long plaintext tuning runs).  ``key_mask`` [B, L] (1 real, 0 padding) masks keys as MPC does."""
    q, k, v = (t.to(dtype) for t in (q, k, v))
    if lookup(variant).rfa:
        return plain_rfa_attention(q, k, v, w.to(dtype), key_mask)
    return plain_softmax_attention(q, k, v, key_mask)


#: Score added to padded keys before softmax.  exp(-30) ~ 1e-13 is below fixed point's 2^-16,
#: and the shifted exponent stays far inside CrypTen's exp range (|x| < 256); the plaintext twin
#: uses the same value, so both compute the same function.
MASK_BIAS = -30.0


def plain_softmax_attention(q, k, v, key_mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if key_mask is not None:
        scores = scores + (1.0 - key_mask.to(scores.dtype))[:, None, None, :] * MASK_BIAS
    return torch.softmax(scores, -1) @ v


def plain_feature_map(x, w):
    x = x / x.norm(dim=-1, keepdim=True)
    proj = x @ w.to(x.dtype)
    return torch.cat([torch.sin(proj), torch.cos(proj)], -1) / math.sqrt(w.size(-1))


def plain_rfa_normaliser(q, k, w):
    """phi(q) . sum_j phi(k_j): the RFA denominator, about seq * E[kernel] (can be small for few features)."""
    return plain_feature_map(q, w) @ plain_feature_map(k, w).sum(-2).unsqueeze(-1)


def plain_rfa_attention(q, k, v, w, key_mask=None):
    phi_q, phi_k = plain_feature_map(q, w), plain_feature_map(k, w)
    if key_mask is not None:
        phi_k = phi_k * key_mask.to(phi_k.dtype)[:, None, :, None]
    num = phi_q @ (phi_k.transpose(-2, -1) @ v)
    return num / (phi_q @ phi_k.sum(-2).unsqueeze(-1))


def attention_inputs(batch: int, heads: int, seq: int, head_dim: int, seed: int, sigma: float = 1.0):
    """Seeded Q, K, V.  Rows of q and k have norm (sigma^2 sqrt(d))^(1/2), so that the
    softmax reference softmax(q k^T/sqrt(d)) equals softmax(sigma^2 q^ k^T), the kernel
    RFA estimates: one plaintext softmax serves as the reference of every variant."""
    g = torch.Generator().manual_seed(seed)
    shape = (batch, heads, seq, head_dim)
    radius = math.sqrt(sigma**2 * math.sqrt(head_dim))

    def direction():
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        return x / x.norm(dim=-1, keepdim=True) * radius

    q, k = direction(), direction()
    v = torch.randn(shape, generator=g, dtype=torch.float64)
    return q, k, v
