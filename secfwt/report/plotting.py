"""Matplotlib for the report: headless, and byte-for-byte reproducible figures.

SVGs carry no date and a fixed hash salt (matplotlib otherwise draws random clip-path ids), PNGs
no timestamp, so ``make report`` on unchanged records rewrites identical files.
"""

from __future__ import annotations

from pathlib import Path

#: fixed salt for the ids matplotlib writes into SVGs
SVG_HASH_SALT = "secfwt"


def pyplot():
    """matplotlib.pyplot on the Agg backend, with reproducible SVG output."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = SVG_HASH_SALT
    import matplotlib.pyplot as plt

    return plt


def save(fig, stem: Path, dpi: int = 120) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg without timestamps; close the figure."""
    paths = []
    for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None})):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=dpi, metadata=metadata)
        paths.append(path)
    pyplot().close(fig)
    return paths
