"""Workload ``attention``: the core of one multi-head attention on secret-shared Q, K, V (scores or
random features, normaliser, context), optionally with its backward; checked against the plaintext
twin of the same variant and against exact softmax attention.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import variants as attn
from .base import Param, Workload, register, seed_param

if TYPE_CHECKING:
    import torch


@dataclass
class State:
    p: dict
    plain: tuple  # (q, k, v) in float64
    w: torch.Tensor | None  # the random features (RFA variants)
    shared: tuple  # (q, k, v) secret-shared


def setup(p: dict) -> State:
    from ..mpc.util import share_from_owner
    from ..nn import attention

    q, k, v = attention.attention_inputs(p["batch"], p["heads"], p["seq"], p["head_dim"], seed=p["seed"])
    w = attention.random_features(p["head_dim"], p["features"], seed=p["seed"] + 1)
    return State(p, (q, k, v), w, tuple(share_from_owner(t) for t in (q, k, v)))


def _upstream(p: dict) -> torch.Tensor:
    """The upstream gradient the backward is checked with: seeded, O(1), both signs."""
    import torch

    g = torch.Generator().manual_seed(p["seed"] + 2)
    return torch.randn(p["batch"], p["heads"], p["seq"], p["head_dim"], generator=g, dtype=torch.float64)


def run(s: State):
    """The attention core; with ``backward`` also the gradients of Q, K and V for a seeded upstream
    gradient (scope ``backward``: what the backward alone costs)."""
    from ..mpc.compat import crypten
    from ..mpc.meter import scope
    from ..mpc.util import share_from_owner
    from ..nn import attention

    if not s.p["backward"]:
        with crypten.no_grad():
            return attention.mpc_attention(s.p["impl"], *s.shared, w=s.w)
    qkv = [t.clone() for t in s.shared]
    for t in qkv:
        t.requires_grad = True
    out = attention.mpc_attention(s.p["impl"], *qkv, w=s.w)
    upstream = share_from_owner(_upstream(s.p))
    with scope("backward"):
        out.backward(upstream)
    return out.detach(), [t.grad for t in qkv]


def check(s: State, out) -> dict:
    """Error against the plaintext twin of the same variant (``max_abs_err``) and against exact softmax
    attention (``approx_err``); with ``backward``, the gradients of Q, K and V against the twin's
    autograd: the largest error relative to each gradient's largest entry (``grad_max_rel_err``:
    magnitude) and the smallest cosine (``grad_min_cosine``: direction)."""
    import torch

    from ..mpc.util import max_abs_err, reveal_float
    from ..nn import attention

    value, grads = out if s.p["backward"] else (out, None)
    got = reveal_float(value)
    q, k, v = s.plain
    twin = attention.plain_attention(s.p["impl"], q, k, v, s.w)
    exact = attention.plain_softmax_attention(q, k, v)
    result = {"max_abs_err": max_abs_err(got, twin), "approx_err": max_abs_err(got, exact)}
    if grads is None:
        return result
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    attention.plain_attention(s.p["impl"], *leaves, s.w).backward(_upstream(s.p))
    rel, cos = [], []
    for mpc_grad, leaf in zip(grads, leaves):
        g = reveal_float(mpc_grad).double()
        rel.append(max_abs_err(g, leaf.grad) / leaf.grad.abs().max().item())
        cos.append(torch.nn.functional.cosine_similarity(g.flatten(), leaf.grad.flatten(), dim=0).item())
    return {**result, "grad_max_rel_err": max(rel), "grad_min_cosine": min(cos)}


WORKLOAD = register(Workload(
    name="attention",
    description="core of one multi-head attention on secret-shared Q, K, V (scores/features, "
                "normaliser, context); error against the plaintext twin of the same variant "
                "(max_abs_err) and against exact softmax attention (approx_err)",
    params=(
        Param("impl", str, attn.VARIANTS[0], "attention variant", choices=attn.VARIANTS, aliases=attn.ALIASES),
        Param("seq", int, 64, "sequence length L", positive=True, maximum=8192),
        Param("heads", int, 4, "attention heads", positive=True, maximum=64),
        Param("head_dim", int, 32, "dimension per head", positive=True, maximum=1024),
        Param("features", int, 32, "random features D (RFA only; phi has 2D entries)", positive=True, maximum=4096),
        Param("batch", int, 1, "batch size", positive=True, maximum=256),
        seed_param(0, "seed of inputs and random features"),
        Param("backward", bool, False, "also the gradients of Q, K and V for a seeded upstream gradient (its cost "
                                       "in scope backward)"),
    ),
    setup=setup, run=run, check=check, tolerance=5e-2,
    checks=("max_abs_err", "approx_err", "grad_max_rel_err", "grad_min_cosine"),
    scopes=("scores", "softmax", "features", "normaliser", "normalise", "aggregate", "context", "backward"),
))
