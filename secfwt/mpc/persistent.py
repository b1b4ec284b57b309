"""Persistent Beaver masks for fixed operands: open W - B once per run, not once per product.

A forward-only tuning run multiplies thousands of candidates' activations by the **same** frozen
weights.  CrypTen's Beaver matmul opens both masked operands every time: x - A and W - B, with a
fresh triple (A, B, C = A B).  For a fixed secret W the dealer may instead fix B for the whole run:

1. **once per run** (``open_all``): the parties open delta = W - B for every fixed operand together
   (one round; 16 bytes per weight element, like the W - B half of one ordinary product);
2. **per product** x W: the dealer deals a fresh A (shape of x) and C = A B with the **same** B; the
   parties open only eps = x - A (one round) and compute locally
   [x W] = [C] + eps [B] + [A] delta + eps delta (the public term added by party 0),
   then truncate by 2^f locally, as CrypTen's own matmul does.

Security (semi-honest, the dealer trusted as everywhere in this suite).  B is uniform over the ring
and independent of everything else, so delta = W - B is uniform and carries no information about W;
it is the same value each time it would have been opened, so opening it once reveals what opening it
once reveals - nothing.  Every per-product opening eps = x - A uses a fresh uniform A, independent of
B, delta and every other opening: the servers' joint view is uniform ring elements, exactly as with
fresh triples.  What must never happen is reusing A: two openings x1 - A and x2 - A differ by
x1 - x2, which is plaintext (``tests/test_persistent.py`` checks that such a mutant fails).  C = A B
is a fresh sharing each time.  The dealer keeps B for the run (TTP); under TFP party 0 does, and TFP
is insecure against party 0 regardless.

Where the cost is paid: one-time, 16 bytes per fixed-operand element and one round for all of them;
per product, 16 bytes per element of x and one round (the W - B bytes are gone); offline, the dealer
sends party 0's share of C per product, as for a fresh triple, and nothing for B (the parties derive
their shares of B from the generators they share with the dealer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .compat import crypten


def _ring(size, generator=None, device=None) -> torch.Tensor:
    from crypten.common.rng import generate_random_ring_element

    return generate_random_ring_element(size, generator=generator, device=device)


def _product_size(x_size, w_size, transpose: bool) -> torch.Size:
    w = torch.empty(w_size, device="meta")
    return torch.matmul(torch.empty(x_size, device="meta"), w.t() if transpose else w).size()


def _product(a: torch.Tensor, b: torch.Tensor, transpose: bool) -> torch.Tensor:
    return torch.matmul(a, b.t() if transpose else b)


# -- dealer material through CrypTen's providers ------------------------------------------------
def _dealer_fixed_masks(server, keys, sizes):
    """TTPServer side: each B from the parties' shared generators, kept for the run by key."""
    store = server.__dict__.setdefault("_secfwt_fixed_masks", {})
    for key, size in zip(keys, sizes):
        if key in store:
            raise ValueError(f"fixed operand {key!r} already has a mask")
        store[key] = server._get_additive_PRSS(size)
    return torch.zeros(1, dtype=torch.long)  # the request protocol needs a reply; 8 bytes


def _dealer_fixed_triple(server, key: str, x_size, transpose: bool = False):
    """TTPServer side: a fresh A, and party 0's share of C = A B with the run's B for ``key``."""
    b = server._secfwt_fixed_masks[key]
    a = server._get_additive_PRSS(x_size)
    c = _product(a, b, transpose)
    return c - server._get_additive_PRSS(c.size(), remove_rank=True)


def _ttp_fixed_masks(provider, keys, sizes, device=None) -> list[torch.Tensor]:
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    gen = client.get_generator(device=device)
    shares = [_ring(size, gen, device) for size in sizes]
    if crypten.communicator.get().get_rank() == 0:
        client.ttp_request("secfwt_fixed_masks", device, list(keys), list(sizes))  # the dealer draws the same Bs
    return shares


def _ttp_fixed_triple(provider, key: str, x_size, w_size, transpose: bool = False, device=None):
    from crypten.mpc.provider.ttp_provider import TTPClient

    client = TTPClient.get()
    gen = client.get_generator(device=device)
    a = _ring(x_size, gen, device)
    if crypten.communicator.get().get_rank() == 0:
        c = client.ttp_request("secfwt_fixed_triple", device, key, x_size, transpose)
    else:
        c = _ring(_product_size(x_size, w_size, transpose), gen, device)
    return a, c


def _tfp_fixed_masks(provider, keys, sizes, device=None) -> list[torch.Tensor]:
    from crypten.mpc.primitives import ArithmeticSharedTensor

    shares = []
    for key, size in zip(keys, sizes):
        b = _ring(size, device=device)  # party 0's value is the mask; shared below
        if crypten.communicator.get().get_rank() == 0:
            provider.__dict__.setdefault("_secfwt_fixed_masks", {})[key] = b
        shares.append(ArithmeticSharedTensor(b, precision=0, src=0).share)
    return shares


def _tfp_fixed_triple(provider, key: str, x_size, w_size, transpose: bool = False, device=None):
    from crypten.mpc.primitives import ArithmeticSharedTensor

    a = _ring(x_size, device=device)
    if crypten.communicator.get().get_rank() == 0:
        c = _product(a, provider._secfwt_fixed_masks[key], transpose)
    else:
        c = torch.zeros(_product_size(x_size, w_size, transpose), dtype=torch.long, device=device)
    return ArithmeticSharedTensor(a, precision=0, src=0).share, ArithmeticSharedTensor(c, precision=0, src=0).share


def _install_providers() -> None:
    """Register the fixed-operand material with CrypTen's TTP and TFP providers (idempotent)."""
    from crypten.mpc.provider import TrustedFirstParty, TrustedThirdParty, TTPServer

    TTPServer.secfwt_fixed_masks = _dealer_fixed_masks
    TTPServer.secfwt_fixed_triple = _dealer_fixed_triple
    TrustedThirdParty.secfwt_fixed_masks = _ttp_fixed_masks
    TrustedThirdParty.secfwt_fixed_triple = _ttp_fixed_triple
    TrustedFirstParty.secfwt_fixed_masks = _tfp_fixed_masks
    TrustedFirstParty.secfwt_fixed_triple = _tfp_fixed_triple


def register_autograd() -> None:
    """``x.secfwt_fixed_matmul(operands, key)``: x W for a frozen W, with CrypTen's autograd.  The
    backward gives x's gradient g W^T through the same persistent mask (W^T - B^T is the opened
    delta, transposed: local), and - to change nothing but the masks - also computes W's gradient
    x^T g as CrypTen's own matmul backward does for a frozen operand (a fresh Beaver product), then
    discards it, as CrypTen's backward does (idempotent)."""
    from crypten.gradients import FUNCTION_REGISTRY, AutogradFunction, register_function

    if "secfwt_fixed_matmul" in FUNCTION_REGISTRY:
        return

    @register_function("secfwt_fixed_matmul")
    class AutogradFixedMatMul(AutogradFunction):  # noqa: F841 (registered by the decorator)
        @staticmethod
        def forward(ctx, input, operands, key):
            ctx.save_multiple_for_backward([input, operands, key])
            return operands.product(input, key)

        @staticmethod
        def backward(ctx, grad_output):
            input, operands, key = ctx.saved_tensors
            grad_input = operands.product(grad_output, key, transpose=True)
            input.transpose(-2, -1).matmul(grad_output)  # W's gradient, as CrypTen computes it; W is frozen
            return grad_input


def install() -> None:
    """The dealer material (TTP and TFP providers) and the autograd function (idempotent)."""
    _install_providers()
    register_autograd()


install()


# -- the parties' side ---------------------------------------------------------------------------
@dataclass
class FixedOperand:
    """A secret right operand W that stays the same for the whole run (a frozen weight)."""

    key: str
    tensor: object  # the CrypTen tensor W
    mask: torch.Tensor | None = None  # this party's share of B
    delta: torch.Tensor | None = None  # the public W - B, once opened

    @property
    def elements(self) -> int:
        return int(self.tensor.nelement())


class FixedOperands:
    """The fixed operands of one run, by key: registered (no communication), opened once
    (:meth:`open_all`), then multiplied any number of times (:meth:`matmul`)."""

    def __init__(self):
        self.items: dict[str, FixedOperand] = {}

    def register(self, key: str, tensor) -> None:
        if key in self.items:
            if self.items[key].tensor is not tensor:
                raise ValueError(f"fixed operand {key!r} registered twice with different tensors")
            return
        self.items[key] = FixedOperand(key, tensor)

    def __contains__(self, key: str) -> bool:
        return key in self.items

    @property
    def opened(self) -> list[FixedOperand]:
        return [op for op in self.items.values() if op.delta is not None]

    def open_all(self) -> None:
        """Deal B for every unopened operand and open every W - B in ONE round (one-time cost)."""
        todo = [op for op in self.items.values() if op.delta is None]
        if not todo:
            return
        provider = crypten.mpc.get_default_provider()
        masks = provider.secfwt_fixed_masks([op.key for op in todo], [op.tensor.size() for op in todo],
                                            device=todo[0].tensor.device)
        for op, mask in zip(todo, masks):
            op.mask = mask
        masked = [op.tensor._tensor.share - op.mask for op in todo]  # W - B, ring arithmetic
        opened = crypten.communicator.get().all_reduce(masked, batched=True)
        for op, delta in zip(todo, opened):
            op.delta = delta

    def matmul(self, x, key: str):
        """x W with W the fixed operand ``key``: opens only x - A, with a fresh A.  Differentiable in
        x (W is frozen): the backward's g W^T reuses W's mask the same way."""
        if crypten.CrypTensor.AUTOGRAD_ENABLED and getattr(x, "requires_grad", False):
            return x.secfwt_fixed_matmul(self, key)  # through CrypTen's autograd (register_autograd)
        return self.product(x, key)

    def product(self, x, key: str, transpose: bool = False):
        """x W (or x W^T), no autograd: the protocol itself."""
        from crypten.mpc import MPCTensor

        op = self.items.get(key)
        if op is None or op.delta is None:
            raise RuntimeError(f"fixed operand {key!r} is not open: call open_all() once before using it")
        arith = x._tensor
        bits = arith.encoder._precision_bits
        if op.tensor.encoder.scale != arith.encoder.scale:
            raise ValueError("a fixed operand and its input must have the same fixed-point scale")
        provider = crypten.mpc.get_default_provider()
        a, c = provider.secfwt_fixed_triple(key, arith.share.size(), op.tensor.size(), transpose, device=arith.device)
        comm = crypten.communicator.get()
        eps = comm.all_reduce(arith.share - a)  # the one round: x - A with a fresh A
        w_delta, w_mask = (op.delta.t(), op.mask.t()) if transpose else (op.delta, op.mask)
        z = c + torch.matmul(eps, w_mask) + torch.matmul(a, w_delta)
        if comm.get_rank() == 0:
            z = z + torch.matmul(eps, w_delta)
        out = MPCTensor.from_shares(z, precision=bits)  # at scale 2^(2f)
        out._tensor.div_(2**bits)  # local truncation back to 2^f, as CrypTen's matmul
        return out
