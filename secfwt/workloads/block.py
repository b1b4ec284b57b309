"""Workload ``block``: one encoder block on a secret hidden state, the unit the paper's costs are
made of; forward only, or forward and backward (weight and input gradients of a fixed, seeded
upstream gradient), checked against the plaintext twin's block (float64, autograd).

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import variants as attn
from .base import (
    PROTOCOL_PARAMS,
    ModelParam,
    Param,
    Workload,
    register,
    seed_param,
)

if TYPE_CHECKING:
    import torch


@dataclass
class State:
    p: dict
    model: object  # the plaintext twin (transformers), one block
    h: torch.Tensor  # the input hidden state, float64
    upstream: torch.Tensor  # the seeded upstream gradient, float64
    mpc: object  # the MPCEncoder
    h_shared: object  # h secret-shared (requires grad with ``backward``)


def setup(p: dict) -> State:
    import torch

    from ..mpc.compat import crypten
    from ..nn import encoder as enc

    model = enc.hf_model(p["model"], layers=1, seed=p["seed"], max_positions=max(514, p["seq"] + 2))
    g = torch.Generator().manual_seed(p["seed"] + 1)
    hidden = model.config.hidden_size
    h = torch.randn(p["batch"], p["seq"], hidden, generator=g, dtype=torch.float64)
    upstream = torch.randn(p["batch"], p["seq"], hidden, generator=g, dtype=torch.float64) * 0.01
    mpc = enc.MPCEncoder(model, enc.EncoderSpec.of(p), trainable=lambda n: p["backward"] and ".layer.0." in n)
    return State(p, model, h, upstream, mpc, crypten.cryptensor(h.float(), src=0, requires_grad=p["backward"]))


def run(s: State):
    from ..mpc.compat import crypten
    from ..mpc.meter import scope

    p = s.p
    with crypten.no_grad() if not p["backward"] else contextlib.nullcontext():
        with scope("forward"):
            out = s.mpc.block(0, s.h_shared)
        if p["backward"]:
            with scope("backward"):
                out.backward(crypten.cryptensor(s.upstream.float(), src=0).mul(p["loss_scale"]))
    return out


def check(s: State, out) -> dict:
    """The block's output against the twin's (``max_abs_err``); with ``backward``, every gradient
    (input, weights) as a cosine against autograd's (``grad_min_cosine`` over ``grad_tensors``)."""
    from ..mpc.util import reveal_float

    p, model = s.p, s.model
    h = s.h.clone().requires_grad_(p["backward"])
    want = plain_block(model, h, p)
    result = {"max_abs_err": (reveal_float(out.detach() if p["backward"] else out) - want.detach()).abs().max().item()}
    if p["backward"]:
        (want * s.upstream).sum().backward()
        cos = {"input": _cos(reveal_float(s.h_shared.grad) / p["loss_scale"], h.grad)}
        named = dict(model.named_parameters())
        for name, t in s.mpc.parameters():
            mine = reveal_float(t.grad) / p["loss_scale"]
            ref = named[name].grad
            if name in s.mpc.transposed:
                mine = mine.t()
            if ref.abs().max() > 1e-9:
                cos[name] = _cos(mine, ref)
        result["grad_min_cosine"] = min(cos.values())
        result["grad_tensors"] = len(cos)
    return result


def plain_block(model, h, p):
    """The twin's block 0 (float64), by running the plaintext forward from a hidden state."""
    import torch

    from ..nn import encoder as enc

    cfg = model.config
    sd = dict(model.named_parameters())
    n = enc.block_names(cfg, 0)
    heads = cfg.num_attention_heads
    bsz, seq, hidden = h.shape
    w_feat = enc.attn.random_features(hidden // heads, p["features"], seed=p["seed"] + 1) \
        if attn.is_rfa(p["attention"]) else None

    def lin(x, name):
        return x @ sd[name + ".weight"].t() + sd[name + ".bias"]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"],
                                              cfg.layer_norm_eps)

    q, k, v = (lin(h, n[x]).reshape(bsz, seq, heads, -1).transpose(1, 2) for x in ("q", "k", "v"))
    ctx = enc.attn.plain_attention(p["attention"], q, k, v, w_feat).transpose(1, 2).reshape(bsz, seq, -1)
    h = ln(lin(ctx, n["o"]) + h, n["ln1"])
    return ln(lin(enc.plain_gelu(lin(h, n["ffn1"]), p["gelu"]), n["ffn2"]) + h, n["ln2"])


def _cos(a, b) -> float:
    import torch

    return torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0).item()


WORKLOAD = register(Workload(
    name="block",
    description="one encoder block on a secret hidden state: forward, or forward and backward "
                "(weight and input gradients), against the plaintext twin's block",
    params=(
        ModelParam("model", str, "tiny", "tiny, small, base, large (RoBERTa), minilm or a config.json"),
        Param("seq", int, 32, "sequence length", positive=True, maximum=4096),
        Param("batch", int, 1, "batch size", positive=True, maximum=256),
        Param("attention", str, attn.SOFTMAX, "attention variant", choices=attn.VARIANTS),
        Param("features", int, 64, "random features (RFA)", positive=True, maximum=4096),
        *PROTOCOL_PARAMS,
        Param("backward", bool, False, "also back-propagate a seeded upstream gradient"),
        Param("loss_scale", float, 1024.0, "public factor on the upstream gradient", positive=True, maximum=2.0**20),
        seed_param(0, "seed of weights and inputs"),
    ),
    setup=setup, run=run, check=check, tolerance=5e-2, timeout_s=3600.0,
    checks=("max_abs_err", "grad_min_cosine", "grad_tensors"), scopes=("forward", "backward"),
))
