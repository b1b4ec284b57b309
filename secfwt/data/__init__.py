"""Few-shot text-classification draws kept in the repository: the one home of task facts.

Files live in ``<task>/seed<S>_{train,dev}.jsonl`` and ``<task>/test.jsonl`` here, drawn by
``python -m secfwt.data.draw`` (procedure and provenance in README.md here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = (13, 21, 42)
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Task:
    name: str
    classes: int
    label_names: tuple[str, ...]
    label_descriptions: tuple[str, ...]  # one natural sentence per label, for a sentence-embedding head
    max_len: int  # tokens including special tokens, for truncation
    source: str  # one line of provenance

    def __post_init__(self):
        if not (len(self.label_names) == len(self.label_descriptions) == self.classes):
            raise ValueError(f"{self.name}: need {self.classes} label names and descriptions")


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("sst2", 2, ("negative", "positive"),
         ("It was terrible.", "It was great."),  # fixed a priori: LM-BFF's SST-2 label words
         48, "Stanford Sentiment Treebank (Socher et al., 2013), binarised; via GSYfate/knnlm-limits@9fc3297 data/sst"),
    Task("agnews", 4, ("World", "Sports", "Business", "Sci/Tech"),
         ("World news.", "Sports news.", "Business news.", "Science and technology news."),
         48, "AG's News test split (Zhang et al., 2015); via GSYfate/knnlm-limits@9fc3297 data/agnews"),
)}
LABEL_WORDS = {"sst2": ("terrible", "great")}  # masked-LM verbaliser: label 0 -> negative, 1 -> positive


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None


def path(task: str, split: str, seed: int = 13) -> Path:
    """The committed file of one split ('test' is one file shared by all seeds)."""
    get_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if seed not in SEEDS:
        raise ValueError(f"unknown seed {seed!r}; known: {', '.join(map(str, SEEDS))}")
    if split == "test":
        return HERE / task / "test.jsonl"
    return HERE / task / f"seed{seed}_{split}.jsonl"


def load(task: str, split: str, seed: int = 13) -> list[dict]:
    """Rows {"text": str, "label": int in 0..classes-1} of a committed split ('train', 'dev', 'test')."""
    return [json.loads(line) for line in path(task, split, seed).read_text(encoding="utf-8").splitlines()
            if line.strip()]
