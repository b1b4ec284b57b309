"""Few-shot text-classification tasks kept in the repository: the one home of task facts.

A task is its files plus one :data:`TASKS` entry.  Files live in ``<task>/`` here:

* ``pool.jsonl.gz``: the draw pool (rows in source order), from which any seed's 16-shot train
  and dev splits are drawn (:func:`draw_few_shot`);
* ``test.jsonl``: the held-out test split shared by every seed (tasks with ``test="file"``); a
  task with ``test="rest"`` tests each seed on the pool rows that seed did not draw;
* ``seed<S>_{train,dev}.jsonl``: the committed draws of :data:`SEEDS` (the same rows the pool
  gives; a test checks it), so that the usual seeds read one small file.

All of them are written by ``python -m secfwt.data.draw`` (procedure and provenance in
README.md here).  Rows are ``{"label": int, "text": str}``, plus ``"text_pair": str`` for a
sentence-pair task.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: seeds with committed draw files (LM-BFF's five); any other non-negative seed is drawn from the pool
SEEDS = (13, 21, 42, 87, 100)
#: the seeds a profile runs unless it asks for more (the first three of LM-BFF's)
DEFAULT_SEEDS = SEEDS[:3]
SPLITS = ("train", "dev", "test")
PER_CLASS = 16

Row = dict  # {"text": str, "label": int[, "text_pair": str]}


@dataclass(frozen=True)
class Task:
    """One few-shot task: what its labels are, how its head reads it, and where its test split is.

    ``pair`` tasks classify two sentences; their head (``pair``, :mod:`secfwt.nn.encoder`) scores
    the cosine of the two sentences' pooled embeddings against the public ``pair_threshold``,
    chosen on the train and dev draws of :data:`DEFAULT_SEEDS` only
    (:func:`secfwt.tuning.runs.choose_pair_threshold`).  Single-sentence tasks use the
    ``sentence`` head: the cosine with each label description's embedding."""

    name: str
    classes: int
    label_names: tuple[str, ...]
    label_descriptions: tuple[str, ...]  # one sentence per label (sentence head); () for pair tasks
    max_len: int  # tokens of one sentence, special tokens included, for truncation
    source: str  # one line of provenance
    pair: bool = False
    pair_threshold: float | None = None  # the pair head's public cosine threshold
    test: str = "file"  # "file": test.jsonl shared by the seeds; "rest": the pool rows a seed did not draw
    f1: bool = False  # also report F1 of label 1 (MRPC's convention)

    def __post_init__(self):
        if len(self.label_names) != self.classes:
            raise ValueError(f"{self.name}: need {self.classes} label names")
        if self.pair:
            if self.classes != 2 or self.pair_threshold is None or self.label_descriptions:
                raise ValueError(f"{self.name}: a pair task has 2 classes, a pair_threshold and no descriptions")
        elif len(self.label_descriptions) != self.classes:
            raise ValueError(f"{self.name}: need {self.classes} label descriptions")
        if self.test not in ("file", "rest"):
            raise ValueError(f"{self.name}: test must be 'file' or 'rest'")

    @property
    def head(self) -> str:
        """The encoder head that reads this task (:data:`secfwt.variants.HEADS`)."""
        return "pair" if self.pair else "sentence"


_KNNLM = "via GSYfate/knnlm-limits@9fc3297 data/"
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("sst2", 2, ("negative", "positive"),
         ("It was terrible.", "It was great."),  # fixed a priori: LM-BFF's SST-2 label words
         48, "Stanford Sentiment Treebank (Socher et al., 2013), binarised; " + _KNNLM + "sst"),
    Task("agnews", 4, ("World", "Sports", "Business", "Sci/Tech"),
         ("World news.", "Sports news.", "Business news.", "Science and technology news."),
         48, "AG's News test split (Zhang et al., 2015); " + _KNNLM + "agnews"),
    Task("mrpc", 2, ("not_paraphrase", "paraphrase"), (), 48,
         "Microsoft Research Paraphrase Corpus (Dolan & Brockett, 2005), GLUE train and dev; "
         "via F0restL1n/BERT@0d0288b glue_data/MRPC",
         pair=True, pair_threshold=0.79, f1=True),
    Task("rte", 2, ("not_entailment", "entailment"), (), 64,
         "Recognizing Textual Entailment (Dagan et al., 2006, and later rounds), GLUE validation; "
         + _KNNLM + "rte",
         pair=True, pair_threshold=0.563, test="rest"),
)}
LABEL_WORDS = {"sst2": ("terrible", "great")}  # masked-LM verbaliser: label 0 -> negative, 1 -> positive


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    return seed


def path(task: str, split: str, seed: int = 13) -> Path:
    """The committed file of one split of a committed seed ('test': one file shared by the seeds)."""
    t = get_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if split == "test" and t.test == "file":
        return HERE / task / "test.jsonl"
    if check_seed(seed) not in SEEDS or split == "test":
        raise ValueError(f"{task} {split} of seed {seed} is drawn from the pool, not a committed file")
    return HERE / task / f"seed{seed}_{split}.jsonl"


def parse(text: str) -> list[Row]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=None)
def pool(task: str) -> tuple[Row, ...]:
    """The task's draw pool, in source order."""
    get_task(task)
    return tuple(parse(gzip.decompress((HERE / task / "pool.jsonl.gz").read_bytes()).decode("ascii")))


def key(row: Row) -> tuple[str, str]:
    """What makes two rows the same example (texts are unique within a pool)."""
    return row["text"], row.get("text_pair", "")


def draw_few_shot(rows, classes: int, seed: int, exclude: set = frozenset()) -> tuple[list[Row], list[Row]]:
    """(train, dev) of one seed: shuffle the pool with ``random.Random(seed)``; the first
    :data:`PER_CLASS` rows of each class not in ``exclude`` (keys) are train, the next dev,
    written class by class in shuffled order."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    by_class = [[r for r in rows if r["label"] == c and key(r) not in exclude] for c in range(classes)]
    if min(map(len, by_class)) < 2 * PER_CLASS:
        raise ValueError(f"a class has fewer than {2 * PER_CLASS} rows to draw from")
    train = [r for rs in by_class for r in rs[:PER_CLASS]]
    dev = [r for rs in by_class for r in rs[PER_CLASS:2 * PER_CLASS]]
    return train, dev


def test_rest(rows, drawn: list[Row]) -> list[Row]:
    """A ``test="rest"`` task's test split: the pool rows not drawn, in pool order."""
    taken = {key(r) for r in drawn}
    return [r for r in rows if key(r) not in taken]


@lru_cache(maxsize=64)
def _drawn(task: str, seed: int) -> tuple[tuple[Row, ...], ...]:
    t = get_task(task)
    exclude = {key(r) for r in load(task, "test")} if t.test == "file" else set()
    train, dev = draw_few_shot(pool(task), t.classes, seed, exclude)
    test = test_rest(pool(task), train + dev) if t.test == "rest" else []
    return tuple(train), tuple(dev), tuple(test)


def load(task: str, split: str, seed: int = 13) -> list[Row]:
    """Rows of one split: a committed file where there is one, else drawn from the pool."""
    t = get_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    check_seed(seed)
    if (split == "test" and t.test == "file") or (split != "test" and seed in SEEDS):
        return parse(path(task, split, seed).read_text(encoding="ascii"))
    return [dict(r) for r in _drawn(task, seed)[SPLITS.index(split)]]


def texts(rows: list[Row]) -> list:
    """What the tokenizer reads per row: a sentence, or a (sentence, sentence) pair."""
    return [(r["text"], r["text_pair"]) if "text_pair" in r else r["text"] for r in rows]
