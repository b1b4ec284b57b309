"""Attention cores on secret-shared Q, K, V and their plaintext PyTorch twins.

Shapes are ``[batch, heads, seq, head_dim]``.  Variants:

* ``softmax-stock``: ``softmax(q k^T / sqrt(d)) v`` with CrypTen's own softmax.  Its
  reciprocal is accurate only on about [0.01, 10], so the denominator (a sum of up
  to ``seq`` exponentials) leaves that range as ``seq`` grows: the error is
  recorded, never hidden.
* ``rfa-builtin``: Random Feature Attention (Peng et al., 2021) with CrypTen's own
  ``cos``/``sin`` (28 rounds each).  phi(x) = [sin(W x), cos(W x)] / sqrt(D) of the
  l2-normalised q and k, linear-time aggregation, and a normaliser scaled by the
  public 1/seq so its reciprocal stays in CrypTen's accurate range.

Where the cost is paid: softmax-stock pays O(L^2) non-linear work (max, exp,
reciprocal over the L x L scores); RFA pays O(L * D) for the trig functions and
only matrix products (Beaver triples, one round each) elsewhere.
"""

from __future__ import annotations

import math

import torch

from ..mpc.meter import scope

VARIANTS = ("softmax-stock", "rfa-builtin")
ALIASES = {"softmax": "softmax-stock", "rfa": "rfa-builtin"}


def random_features(head_dim: int, features: int, seed: int, sigma: float = 1.0) -> torch.Tensor:
    """The public random projection W ~ N(0, sigma^2), shape ``[head_dim, features]``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(head_dim, features, generator=g, dtype=torch.float64) * sigma


# -- MPC --------------------------------------------------------------------------------------
def mpc_attention(variant: str, q, k, v, w: torch.Tensor | None = None):
    """Attention core on CrypTen tensors; scopes name each component for the meter."""
    if variant == "softmax-stock":
        return _mpc_softmax_attention(q, k, v)
    if variant == "rfa-builtin":
        return _mpc_rfa_attention(q, k, v, w)
    raise ValueError(f"unknown attention variant {variant!r}")


def _mpc_softmax_attention(q, k, v):
    d = q.size(-1)
    with scope("scores"):
        scores = q.matmul(k.transpose(-2, -1)).div(math.sqrt(d))
    with scope("softmax"):
        probs = scores.softmax(-1)
    with scope("context"):
        return probs.matmul(v)


def _mpc_l2_normalise(x):
    return x * x.square().sum(-1, keepdim=True).inv_sqrt()


def _mpc_feature_map(x, w):
    d_feat = w.size(-1)
    proj = x.matmul(w.to(torch.float32))  # public matrix: local product + local truncation
    cos, sin = proj.cossin()
    from ..mpc.compat import crypten

    return crypten.cat([sin, cos], dim=-1).div(math.sqrt(d_feat))


def _mpc_rfa_attention(q, k, v, w):
    seq = k.size(-2)
    with scope("normalise"):
        qn, kn = _mpc_l2_normalise(q), _mpc_l2_normalise(k)
    with scope("features"):
        phi_q, phi_k = _mpc_feature_map(qn, w), _mpc_feature_map(kn, w)
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
def plain_attention(variant: str, q, k, v, w: torch.Tensor | None = None) -> torch.Tensor:
    """The exact computation each MPC variant approximates, in float64 PyTorch."""
    q, k, v = (t.double() for t in (q, k, v))
    if variant.startswith("softmax"):
        return plain_softmax_attention(q, k, v)
    if variant.startswith("rfa"):
        return plain_rfa_attention(q, k, v, w)
    raise ValueError(f"unknown attention variant {variant!r}")


def plain_softmax_attention(q, k, v):
    scores = q.double() @ k.double().transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, -1) @ v.double()


def plain_rfa_attention(q, k, v, w):
    def phi(x):
        x = x / x.norm(dim=-1, keepdim=True)
        proj = x @ w
        return torch.cat([torch.sin(proj), torch.cos(proj)], -1) / math.sqrt(w.size(-1))

    phi_q, phi_k = phi(q.double()), phi(k.double())
    num = phi_q @ (phi_k.transpose(-2, -1) @ v.double())
    den = phi_q @ phi_k.sum(-2).unsqueeze(-1)
    return num / den


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
