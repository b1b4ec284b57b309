"""A piecewise-polynomial GeLU whose segment is chosen by secure comparisons, as PUMA (Dong et
al., 2023) and BumbleBee (Lu et al., 2025) do (beyond the paper).

GeLU(x) = x/2 + E(x)/2 with E(x) = x erf(x / sqrt(2)), an even function equal to |x| beyond the
bound T.  So, with the two comparison bits a = [x > T] and b = [x < -T]:

    GeLU(x) = x/2 + (a - b) x/2 + (1 - a - b) Q(y),    y = 2 (x / T)^2 - 1,

where Q(y) = sum_k c_k T_k(y) is a Chebyshev series fitted (least squares, in float64) to E(x)/2 on
|x| <= T.  Outside the bound the first two terms give x (x > T) or 0 (x < -T); there GeLU differs
from them by at most T (1 - Phi(T)) = 1.3e-4 at T = 4, and the polynomial, whose value may wrap
the ring there, is multiplied by 0.  No range limit: unlike the Fourier GeLU, it holds for any x.

Where the cost is paid, online: ONE batched comparison of 2 n values (CrypTen's A2B/B2A: most of
the bytes and rounds), x^2 (1 round), the Chebyshev terms by T_{a+b} = 2 T_a T_b - T_|a-b|
(log2(degree) rounds: 3 for degree 8), and one round of two products for the selection.  Under
autograd the forward also keeps GeLU'(x) = 1/2 + (a - b)/2 + (1 - a - b) x R(y), R a Chebyshev
series in the same terms (two more products, no more rounds); the backward is one product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ...mpc.compat import crypten
from . import Gelu, with_slope


@dataclass(frozen=True)
class PiecewiseGelu(Gelu):
    bound: float = 4.0  # T: the polynomial's segment is |x| <= T
    degree: int = 8  # of the Chebyshev series in y = 2 (x / T)^2 - 1 (a polynomial of degree 2 * 8 in x)

    @cached_property
    def coefficients(self) -> tuple[float, ...]:
        """Least squares of E(x)/2 = x erf(x / sqrt 2) / 2 on the Chebyshev terms, over [0, T]."""
        x = torch.linspace(0.0, self.bound, 40001, dtype=torch.float64)
        basis = torch.stack(self._chebyshev(2.0 * (x / self.bound) ** 2 - 1.0, torch.stack), dim=1)
        target = 0.5 * x * torch.erf(x / math.sqrt(2.0))
        return tuple(torch.linalg.lstsq(basis, target.unsqueeze(1)).solution.squeeze(1).tolist())

    def _chebyshev(self, y, stack):
        """T_0(y) .. T_degree(y), each new power of two's terms in one batched product (``stack``
        joins the factors: CrypTen's stack, so that each level is one round)."""
        terms = [None, y]  # T_0 = 1 is kept apart (a public constant)
        while len(terms) <= self.degree:
            new = list(range(len(terms), min(2 * len(terms) - 2, self.degree) + 1))
            halves = [(k // 2, k - k // 2) for k in new]
            products = stack([terms[a] for a, _ in halves]) * stack([terms[b] for _, b in halves])
            for i, (a, b) in enumerate(halves):
                lower = terms[b - a] if b != a else 1.0
                terms.append(products[i] * 2.0 - lower)
        if isinstance(y, torch.Tensor):
            terms[0] = torch.ones_like(y)
        return terms

    @cached_property
    def slope_coefficients(self) -> tuple[float, ...]:
        """R with GeLU'(x) = 1/2 + x R(y) inside the bound: dQ/dx = Q'(y) 4 x / T^2, and Q' is a
        Chebyshev series in the same terms (numpy's chebder)."""
        from numpy.polynomial import chebyshev

        return tuple(float(c) * 4.0 / self.bound**2 for c in chebyshev.chebder(self.coefficients))

    @staticmethod
    def _series(terms, coefficients):
        out = terms[1] * coefficients[1] + coefficients[0]
        for c, t in zip(coefficients[2:], terms[2:]):
            out = out + t * c
        return out

    def mpc(self, x, clamp: bool = False):
        """GeLU of a CrypTen tensor (``clamp`` is ignored: the segments bound it); differentiable under
        CrypTen's autograd when x requires a gradient (:meth:`mpc_with_slope`)."""
        if crypten.CrypTensor.AUTOGRAD_ENABLED and getattr(x, "requires_grad", False):
            return with_slope(self, x)  # the backward: one product g * GeLU'(x)
        return self._evaluate(x, slope=False)

    def mpc_with_slope(self, x):
        """(GeLU(x), GeLU'(x)) of a plain MPCTensor from the same comparison and Chebyshev terms: the
        slope costs two more products per element and no extra round (inside * x rides with x^2,
        inside * R(y) with the selection)."""
        return self._evaluate(x, slope=True)

    def _evaluate(self, x, slope: bool):
        bits = crypten.stack([x, -x]).gt(self.bound)  # [x > T], [x < -T]: one batched comparison
        bits._tensor.encode_as_(x._tensor)  # the 0/1 bits at x's fixed-point scale (local: shares times 2^16)
        above, below = bits[0], bits[1]
        sign, inside = above - below, 1 - above - below
        if slope:
            first = crypten.stack([x, inside]) * crypten.stack([x, x])  # x^2 and inside * x: one round
            square, inside_x = first[0], first[1]
        else:
            square = x.square()
        terms = self._chebyshev(square.mul(2.0 / self.bound**2).sub(1.0), crypten.stack)
        left = [sign, inside] + ([inside_x] if slope else [])
        right = [x.mul(0.5), self._series(terms, self.coefficients)]
        right += [self._series(terms, self.slope_coefficients)] if slope else []
        chosen = crypten.stack(left) * crypten.stack(right)  # the selection: one round
        value = x.mul(0.5) + chosen[0] + chosen[1]
        return (value, chosen[2] + sign.mul(0.5).add(0.5)) if slope else value

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        """The same function in plaintext (x's dtype)."""
        inside = x.abs() <= self.bound
        y = 2.0 * (x.clamp(-self.bound, self.bound) / self.bound) ** 2 - 1.0
        poly = self._series(self._chebyshev(y, torch.stack), self.coefficients)
        return torch.where(inside, 0.5 * x + poly, torch.where(x > 0, x, torch.zeros_like(x)))


IMPLEMENTATION = PIECEWISE_GELU = PiecewiseGelu()
