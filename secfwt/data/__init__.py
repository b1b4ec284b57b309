"""Small few-shot draws of real data sets kept in the repository (see README.md here)."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = ("sst2",)
LABEL_WORDS = {"sst2": ("terrible", "great")}  # verbaliser: label 0 -> negative, 1 -> positive


def load(name: str, split: str) -> list[dict]:
    """Rows {"text", "label"} of a committed few-shot split ('train', 'dev' or 'test')."""
    path = HERE / f"{name}_{split}.jsonl"
    if name not in DATASETS or not path.exists():
        raise ValueError(f"unknown data set or split {name}/{split}; have {', '.join(DATASETS)} x train/dev/test")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
