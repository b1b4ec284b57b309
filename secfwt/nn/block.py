"""One encoder block on a secret hidden state: the unit the paper's costs are made of.

Forward only, or forward and backward (weight and input gradients of a fixed, seeded
upstream gradient).  The reference is the plaintext twin's block (float64, autograd).
"""

from __future__ import annotations

import contextlib

import torch

from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.util import reveal_float
from . import attention as attn
from . import encoder as enc


def setup(p: dict) -> dict:
    model = enc.hf_model(p["model"], layers=1, seed=p["seed"], max_positions=max(514, p["seq"] + 2))
    g = torch.Generator().manual_seed(p["seed"] + 1)
    hidden = model.config.hidden_size
    h = torch.randn(p["batch"], p["seq"], hidden, generator=g, dtype=torch.float64)
    upstream = torch.randn(p["batch"], p["seq"], hidden, generator=g, dtype=torch.float64) * 0.01
    mpc = enc.MPCEncoder(model, enc.EncoderSpec.of(p), trainable=lambda n: p["backward"] and ".layer.0." in n)
    return {"p": p, "model": model, "h": h, "upstream": upstream, "mpc": mpc,
            "h_enc": crypten.cryptensor(h.float(), src=0, requires_grad=p["backward"])}


def run(s: dict):
    p = s["p"]
    with crypten.no_grad() if not p["backward"] else contextlib.nullcontext():
        with scope("forward"):
            out = s["mpc"].block(0, s["h_enc"])
        if p["backward"]:
            with scope("backward"):
                out.backward(crypten.cryptensor(s["upstream"].float(), src=0).mul(p["loss_scale"]))
    return out


def check(s: dict, out) -> dict:
    p, model = s["p"], s["model"]
    h = s["h"].clone().requires_grad_(p["backward"])
    want = plain_block(model, h, p)
    result = {"max_abs_err": (reveal_float(out.detach() if p["backward"] else out) - want.detach()).abs().max().item()}
    if p["backward"]:
        (want * s["upstream"]).sum().backward()
        cos = {"input": _cos(reveal_float(s["h_enc"].grad) / p["loss_scale"], h.grad)}
        named = dict(model.named_parameters())
        for name, t in s["mpc"].parameters():
            mine = reveal_float(t.grad) / p["loss_scale"]
            ref = named[name].grad
            if name in s["mpc"].transposed:
                mine = mine.t()
            if ref.abs().max() > 1e-9:
                cos[name] = _cos(mine, ref)
        result["grad_min_cosine"] = min(cos.values())
        result["grad_tensors"] = len(cos)
    return result


def plain_block(model, h, p):
    """The twin's block 0 (float64), by running the plaintext forward from a hidden state."""
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
    return torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0).item()

