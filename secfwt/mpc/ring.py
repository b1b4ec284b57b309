"""CrypTen's ring encoding, one home: fixed point with 16 fractional bits in Z_2^64 (int64).

Where a secret-shared value meets a plaintext one (the data owner's frames, the servers'
openings), the audits ask the same question: is this ring element small enough to be a
plaintext fixed-point value rather than a uniformly random share?  A uniform element is within
``PLAINTEXT_BOUND`` of 0 with probability 2^-19; a plaintext value is, up to |x| < 2^28.
"""

from __future__ import annotations

import torch

PRECISION_BITS = 16
#: a masked ring value is below this magnitude with probability 2^-19
PLAINTEXT_BOUND = 2**44


def encode(x: torch.Tensor, precision_bits: int = PRECISION_BITS) -> torch.Tensor:
    """CrypTen's fixed-point encoding (16 fractional bits unless told) as int64 ring elements."""
    return torch.round(x.double() * 2.0**precision_bits).long()


def decode(ring: torch.Tensor) -> torch.Tensor:
    return ring.double() / 2.0**PRECISION_BITS


def small_fraction(ring) -> float:
    """Share of elements small enough to be a plaintext fixed-point value rather than a mask
    (0 for anything that is not a non-empty int64 tensor: bits, floats, objects)."""
    if not isinstance(ring, torch.Tensor) or ring.numel() == 0 or ring.dtype != torch.int64:
        return 0.0
    return ((ring >= -PLAINTEXT_BOUND) & (ring <= PLAINTEXT_BOUND)).double().mean().item()
