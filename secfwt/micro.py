"""The micro workloads' party-side code (attention cores, single operations, trig, GeLU, LayerNorm):
seeded plaintext inputs shared by party 0, the MPC computation, and its check against PyTorch.
Their declarations (parameters, defaults, validation) are in :mod:`secfwt.workloads`, which loads
this module only inside a party."""

from __future__ import annotations

import math

import torch

from .mpc.compat import crypten
from .mpc.meter import scope
from .mpc.util import reveal_float
from .nn import attention as attn
from .variants import OPS


def share(x: torch.Tensor):
    return crypten.cryptensor(x.float(), src=0)


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    err = (a.double() - b.double()).abs().max().item()
    return err if math.isfinite(err) else float("inf")


def attention_setup(p):
    q, k, v = attn.attention_inputs(p["batch"], p["heads"], p["seq"], p["head_dim"], seed=p["seed"])
    w = attn.random_features(p["head_dim"], p["features"], seed=p["seed"] + 1)
    return {"p": p, "plain": (q, k, v), "w": w, "enc": tuple(share(t) for t in (q, k, v))}


#: the upstream gradient an attention core's backward is checked with: seeded, O(1), both signs
def _attention_upstream(p) -> torch.Tensor:
    g = torch.Generator().manual_seed(p["seed"] + 2)
    return torch.randn(p["batch"], p["heads"], p["seq"], p["head_dim"], generator=g, dtype=torch.float64)


def attention_run(s):
    """The attention core; with ``backward`` also the gradients of Q, K and V for a seeded upstream
    gradient (scope ``backward``: what the backward alone costs)."""
    p = s["p"]
    if not p["backward"]:
        with crypten.no_grad():
            return attn.mpc_attention(p["impl"], *s["enc"], w=s["w"])
    qkv = [t.clone() for t in s["enc"]]
    for t in qkv:
        t.requires_grad = True
    out = attn.mpc_attention(p["impl"], *qkv, w=s["w"])
    upstream = share(_attention_upstream(p))
    with scope("backward"):
        out.backward(upstream)
    return out.detach(), [t.grad for t in qkv]


def attention_check(s, out):
    """Error against the plaintext twin of the same variant (``max_abs_err``) and against exact softmax
    attention (``approx_err``); with ``backward``, the gradients of Q, K and V against the twin's
    autograd: the largest error relative to each gradient's largest entry (``grad_max_rel_err``:
    magnitude) and the smallest cosine (``grad_min_cosine``: direction)."""
    p = s["p"]
    value, grads = out if p["backward"] else (out, None)
    got = reveal_float(value)
    q, k, v = s["plain"]
    twin = attn.plain_attention(p["impl"], q, k, v, s["w"])
    exact = attn.plain_softmax_attention(q, k, v)
    result = {"max_abs_err": max_abs(got, twin), "approx_err": max_abs(got, exact)}
    if grads is None:
        return result
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    attn.plain_attention(p["impl"], *leaves, s["w"]).backward(_attention_upstream(p))
    rel, cos = [], []
    for mpc_grad, leaf in zip(grads, leaves):
        g = reveal_float(mpc_grad).double()
        rel.append(max_abs(g, leaf.grad) / leaf.grad.abs().max().item())
        cos.append(torch.nn.functional.cosine_similarity(g.flatten(), leaf.grad.flatten(), dim=0).item())
    return {**result, "grad_max_rel_err": max(rel), "grad_min_cosine": min(cos)}


def op_setup(p):
    g = torch.Generator().manual_seed(p["seed"])
    n = p["size"]
    shape = (n, n)
    x, y = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    return {"p": p, "plain": (x, y), "enc": (share(x), share(y))}


#: each operation in MPC and in plaintext (names: :data:`secfwt.variants.OPS`)
OP_FUNCTIONS = {
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "matmul": (lambda x, y: x.matmul(y), lambda x, y: x @ y),
    "softmax": (lambda x, y: x.softmax(-1), lambda x, y: torch.softmax(x, -1)),
}
assert tuple(OP_FUNCTIONS) == OPS


def op_run(s):
    with crypten.no_grad():
        return OP_FUNCTIONS[s["p"]["op"]][0](*s["enc"])


def op_check(s, out):
    """The largest and the mean absolute error: the mean sums every element's rounding, so two runs
    with different masks differ in it even where their largest errors fall on the same fixed-point step."""
    want = OP_FUNCTIONS[s["p"]["op"]][1](*(t.double() for t in s["plain"]))
    got = reveal_float(out)  # one opening for both errors
    return {"max_abs_err": max_abs(got, want), "mean_abs_err": (got.double() - want).abs().mean().item()}


def trig_setup(p):
    g = torch.Generator().manual_seed(p["seed"])
    x = (torch.rand(p["size"], generator=g, dtype=torch.float64) * 2 - 1) * p["range"]
    return {"p": p, "plain": x, "enc": share(x)}


def trig_run(s):
    from .mpc import cosine

    x, w = s["enc"], s["p"]["w"]
    with crypten.no_grad():
        if s["p"]["impl"] == "onepass":
            return cosine.cossin(x, w)
        return (x * w if w != 1.0 else x).cossin()


def trig_check(s, out):
    # the input as the parties hold it (fixed point), so the error is the protocol's own
    x = s["plain"]
    cos, sin = (reveal_float(t) for t in out)
    w = s["p"]["w"]
    return {"max_abs_err": max(max_abs(cos, torch.cos(w * x)), max_abs(sin, torch.sin(w * x)))}


#: the upstream gradient a GeLU's backward is checked with: seeded, O(1), both signs
def _gelu_upstream(p) -> torch.Tensor:
    g = torch.Generator().manual_seed(p["seed"] + 1)
    return torch.randn(p["size"], generator=g, dtype=torch.float64)


def gelu_run(s):
    """GeLU of the shared x; with ``backward`` also x's gradient for a seeded upstream g (scope
    ``backward``: what the backward alone costs)."""
    from .nn.layers import gelu

    p = s["p"]
    if not p["backward"]:
        with crypten.no_grad():
            return gelu(s["enc"], p["impl"], clamp=p["clamp"])
    x = s["enc"].clone()
    x.requires_grad = True
    out = gelu(x, p["impl"], clamp=p["clamp"])
    upstream = share(_gelu_upstream(p))
    with scope("backward"):
        out.backward(upstream)
    return out.detach(), x.grad


def gelu_check(s, out):
    """Error against the exact (erf) GeLU, the function both variants approximate; with
    ``backward``, the gradient's error against g * GeLU'(x) of the exact GeLU (``grad_max_abs_err``)."""
    x = s["plain"]
    if not s["p"]["backward"]:
        return {"max_abs_err": max_abs(reveal_float(out), torch.nn.functional.gelu(x))}
    value, grad = out
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.gelu(xg).backward(_gelu_upstream(s["p"]))
    return {"max_abs_err": max_abs(reveal_float(value), torch.nn.functional.gelu(x)),
            "grad_max_abs_err": max_abs(reveal_float(grad), xg.grad)}


def layernorm_setup(p):
    """Rows of ``hidden`` values whose variances are log-uniform over [low, high]: the range the
    public pre-scale puts LayerNorm's variances in (calibrated: MiniLM spans [0.18, 63])."""
    g = torch.Generator().manual_seed(p["seed"])
    log_var = torch.empty(p["rows"], 1, dtype=torch.float64).uniform_(math.log(p["low"]), math.log(p["high"]),
                                                                      generator=g)
    x = torch.randn(p["rows"], p["hidden"], generator=g, dtype=torch.float64) * (log_var / 2).exp()
    return {"p": p, "plain": x, "enc": share(x)}


def layernorm_run(s):
    from .nn.layers import layer_norm

    hidden = s["p"]["hidden"]
    ones, zeros = crypten.cryptensor(torch.ones(hidden), src=0), crypten.cryptensor(torch.zeros(hidden), src=0)
    with crypten.no_grad():
        return layer_norm(s["enc"], ones, zeros, 1e-12, inv_sqrt_variant=s["p"]["impl"])


def layernorm_check(s, out):
    """Against float64 LayerNorm: the largest absolute error, and the largest relative error of the
    normalised values (that of the inverse square root, row by row) where they are at least 0.5."""
    x = s["plain"]
    want = torch.nn.functional.layer_norm(x, x.shape[-1:], eps=1e-12)
    got = reveal_float(out)
    big = want.abs() >= 0.5
    return {"max_abs_err": max_abs(got, want),
            "max_rel_err": ((got - want)[big] / want[big]).abs().max().item()}

