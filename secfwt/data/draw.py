"""Regenerate the committed few-shot files and pools from the project's shared data, byte for byte.

    python -m secfwt.data.draw --shared ../shared/data            # rewrite secfwt/data/<task>/
    python -m secfwt.data.draw --shared ../shared/data --out DIR  # write elsewhere (e.g. to compare)

Procedure (also in README.md here), per task and seed S: shuffle the task's draw pool (in file
order) with ``random.Random(S)``; skipping rows of the test file, the first 16 rows of each class
are ``train``, the next 16 of each class ``dev`` (both written class by class, in shuffled order
within a class): :func:`secfwt.data.draw_few_shot`, which also draws seeds that are not committed.
A task's one ``test.jsonl`` (``test="file"``): SST-2 and AG News: the test pool in file order,
minus every text drawn into the train or dev of a seed of DEFAULT_SEEDS, then with one
``random.Random(0)``: ``rng.sample`` of n/C rows from each class in turn (class 0 first), and
``rng.shuffle`` of the concatenation; MRPC: GLUE's dev split whole, in file order.  RTE
(``test="rest"``) has no test file: each seed is tested on the pool rows it did not draw.
Rows are JSON lines ``{"label": int, "text": str[, "text_pair": str]}``
(``json.dumps(sort_keys=True)``, ASCII escapes, "\\n" endings); pools are gzipped with no name
and mtime 0, so they too repeat byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
from pathlib import Path

from secfwt.data import DEFAULT_SEEDS, HERE, SEEDS, TASKS, draw_few_shot, key

#: rows of each test file drawn by sampling (None: the test pool whole, in file order)
TEST_SIZE = {"sst2": 500, "agnews": 400, "mrpc": None}

Row = dict  # {"text": str, "label": int}


def sst_dev(shared: Path) -> list[Row]:
    """Binary rows of sst/dev.tsv in file order: 1-2 -> 0, 4-5 -> 1, 3 dropped (872 rows)."""
    rows = []
    for line in (shared / "sst" / "dev.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            tag, text = line.split("\t", 1)
            rows.extend(_binary(int(tag.removeprefix("__label__")), text))
    return rows


def sst_test(shared: Path) -> list[Row]:
    """Binary rows of sst/test.jsonl in file order (1821 rows)."""
    rows = []
    for line in (shared / "sst" / "test.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.extend(_binary(int(r["label"]), r["text"]))
    return rows


def _binary(k: int, text: str) -> list[Row]:
    if k not in (1, 2, 3, 4, 5):
        raise ValueError(f"SST label {k} outside 1..5")
    return [] if k == 3 else [{"text": text.strip(), "label": int(k >= 4)}]


# AG News keeps the HTML entities of its source with the '&' replaced by a space (" #39;s"),
# and a backslash where the source had a line break. Only these entities are mapped back
# (to ASCII), each eating the one space before it; '&lt;'/'&gt;' markup and everything else
# stay as they are. Then backslashes become spaces and runs of whitespace one space.
AG_ENTITIES = {"#39": "'", "#145": "'", "#146": "'", "#147": '"', "#148": '"', "quot": '"',
               "#36": "$", "amp": "&", "#038": "&", "#151": "--", "#8212": "--", "hellip": "..."}
_AG_ENTITY = re.compile(r" ?(" + "|".join(AG_ENTITIES) + r");")


def clean_agnews(text: str) -> str:
    text = _AG_ENTITY.sub(lambda m: AG_ENTITIES[m.group(1)], text)
    return " ".join(text.replace("\\", " ").split())


def agnews(shared: Path) -> list[Row]:
    """agnews/test.jsonl in file order: Title + " " + Description (cleaned), Class Index - 1."""
    rows = []
    for line in (shared / "agnews" / "test.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            label = int(r["Class Index"]) - 1
            if label not in range(4):
                raise ValueError(f"AG News Class Index {r['Class Index']} outside 1..4")
            rows.append({"text": clean_agnews(r["Title"] + " " + r["Description"]), "label": label})
    return rows


def mrpc(shared: Path, name: str) -> list[Row]:
    """GLUE MRPC ``train.tsv`` or ``dev.tsv`` in file order: Quality -> label, #1/#2 String -> pair."""
    with open(shared / "mrpc" / name, encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if table[0] != ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"] or any(len(r) != 5 for r in table):
        raise ValueError(f"mrpc/{name}: not GLUE's five-column MRPC table")
    return [{"text": r[3].strip(), "text_pair": r[4].strip(), "label": _label(r[0], {"0": 0, "1": 1})}
            for r in table[1:]]


def rte(shared: Path) -> list[Row]:
    """rte/val.jsonl in file order: premise/hypothesis; entailment -> 1, not_entailment -> 0."""
    rows = []
    for line in (shared / "rte" / "val.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append({"text": r["premise"].strip(), "text_pair": r["hypothesis"].strip(),
                         "label": _label(r["label"], {"not_entailment": 0, "entailment": 1})})
    return rows


def _label(raw, labels: dict) -> int:
    if raw not in labels:
        raise ValueError(f"label {raw!r} is not one of {', '.join(labels)}")
    return labels[raw]


def pools(shared: Path) -> dict[str, tuple[list[Row], list[Row] | None]]:
    """Per task: (draw pool, test pool; None where the test is the rest of the draw pool)."""
    ag = agnews(shared)
    out = {"sst2": (sst_dev(shared), sst_test(shared)), "agnews": (ag, ag),
           "mrpc": (mrpc(shared, "train.tsv"), mrpc(shared, "dev.tsv")), "rte": (rte(shared), None)}
    assert set(out) == set(TASKS), "a task in secfwt.data.TASKS has no pools here"
    return out


def _unique(rows: list[Row], what: str) -> None:
    keys = [key(r) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{what}: duplicate rows would break disjointness by text")


def draw_test(pool: list[Row], classes: int, size: int | None, exclude: set) -> list[Row]:
    rest = [r for r in pool if key(r) not in exclude]
    if size is None:
        return rest
    if size % classes:
        raise ValueError(f"test size {size} not divisible by {classes} classes")
    rng = random.Random(0)
    test = [r for c in range(classes) for r in rng.sample([r for r in rest if r["label"] == c], size // classes)]
    rng.shuffle(test)
    return test


def draw_all(shared: Path) -> dict[str, list[Row]]:
    """Relative path ('<task>/seed13_train.jsonl', '<task>/pool.jsonl.gz', ...) -> rows, for every
    committed file."""
    files: dict[str, list[Row]] = {}
    for task, (draw_pool, test_pool) in pools(Path(shared)).items():
        t = TASKS[task]
        _unique(draw_pool, f"{task} draw pool")
        files[f"{task}/pool.jsonl.gz"] = draw_pool
        exclude: set = set()
        if test_pool is not None:
            _unique(test_pool, f"{task} test pool")
            drawn = {key(r) for s in DEFAULT_SEEDS for r in sum(draw_few_shot(draw_pool, t.classes, s), [])}
            test = draw_test(test_pool, t.classes, TEST_SIZE[task], drawn)
            files[f"{task}/test.jsonl"] = test
            exclude = {key(r) for r in test}
        for seed in SEEDS:
            train, dev = draw_few_shot(draw_pool, t.classes, seed, exclude)
            files[f"{task}/seed{seed}_train.jsonl"] = train
            files[f"{task}/seed{seed}_dev.jsonl"] = dev
    return files


def dumps(rows: list[Row]) -> str:
    return "".join(json.dumps({k: r[k] for k in ("label", "text", "text_pair") if k in r}, sort_keys=True) + "\n"
                   for r in rows)


def encode(rel: str, rows: list[Row]) -> bytes:
    """A file's bytes: JSON lines, gzipped (no name, mtime 0) for ``.gz``."""
    raw = dumps(rows).encode("ascii")
    return gzip.compress(raw, compresslevel=9, mtime=0) if rel.endswith(".gz") else raw


def write(files: dict[str, list[Row]], out: Path) -> list[Path]:
    paths = []
    for rel, rows in files.items():
        path = Path(out) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(rel, rows))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m secfwt.data.draw", description=__doc__.splitlines()[0])
    p.add_argument("--shared", required=True, type=Path, help="the shared data folder (holds sst/, agnews/, mrpc/, rte/)")
    p.add_argument("--out", type=Path, default=HERE, help="where to write <task>/*.jsonl (default: this package)")
    args = p.parse_args(argv)
    files = draw_all(args.shared)
    for path, rows in zip(write(files, args.out), files.values()):
        print(f"{path}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
