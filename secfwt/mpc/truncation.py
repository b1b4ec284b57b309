"""How often CrypTen's two-party truncation fails in a FoT forward: the expected count, measured.

Two-party CrypTen truncates every product locally (SecureML's truncation): each party divides its
own share by 2^16.  A truncated ring element x (a product, at scale 2^32) comes out off by +-2^32
with probability |x| / 2^64 (``tests/test_encoder.py`` measures that rate).  Over a forward, the
expected number of such failures is the sum of |x| / 2^64 over every element it truncates.  A
failure corrupts the candidate whose row it hits: its loss comes back off by ~1e9.

This diagnostic opens each value just before it is truncated (extra openings: a measurement, not
the protocol; never in a benchmark record) and adds |x| / 2^64 up per scope of the forward, for
one CMA-ES candidate over a task's training rows at the public padded length.  This module holds
the hook on CrypTen's truncation; the diagnostic that runs it over a FoT forward is
:mod:`secfwt.truncation`:

    python -m secfwt.truncation --task mrpc --seq 56 --rows 8     # JSON on stdout
"""

from __future__ import annotations

import contextlib
from collections import defaultdict


@contextlib.contextmanager
def truncation_budget(path=lambda: ""):
    """While active, every truncation (CrypTen's ``div_`` by a public integer) first opens the value
    it truncates and adds |x| / 2^64, its failure probability, to ``budget[path()]``; ``elements``
    counts the truncated elements.  Yields (budget, elements)."""
    import torch

    from .compat import crypten

    ast = crypten.mpc.primitives.arithmetic.ArithmeticSharedTensor
    real = ast.div_
    budget: dict = defaultdict(float)
    elements: dict = defaultdict(int)

    def div_(self, y):
        if isinstance(y, int) or (torch.is_tensor(y) and not y.is_floating_point()):  # a truncation
            x = self.reveal()  # the diagnostic's own opening: the ring value about to be truncated
            budget[path()] += x.double().abs().sum().item() / 2.0**64
            elements[path()] += x.numel()
        return real(self, y)

    ast.div_ = div_
    try:
        yield budget, elements
    finally:
        ast.div_ = real
