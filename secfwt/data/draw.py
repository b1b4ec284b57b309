"""Regenerate the committed few-shot files from the project's shared data, byte for byte.

    python -m secfwt.data.draw --shared ../shared/data            # rewrite secfwt/data/<task>/
    python -m secfwt.data.draw --shared ../shared/data --out DIR  # write elsewhere (e.g. to compare)

Procedure (also in README.md here), per task and seed S in SEEDS: shuffle the task's draw pool
(in file order) with ``random.Random(S)``; the first 16 rows of each class are ``train``, the
next 16 of each class ``dev`` (both written class by class, in shuffled order within a class).
The task's one ``test.jsonl``: the test pool in file order, minus every text drawn into any
seed's train or dev, then with one ``random.Random(0)``: ``rng.sample`` of n/C rows from each
class in turn (class 0 first), and ``rng.shuffle`` of the concatenation. Rows are JSON lines
``{"label": int, "text": str}`` (``json.dumps(sort_keys=True)``, ASCII escapes, "\\n" endings).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from secfwt.data import HERE, SEEDS, TASKS

PER_CLASS = 16
TEST_SIZE = {"sst2": 500, "agnews": 400}

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


def pools(shared: Path) -> dict[str, tuple[list[Row], list[Row]]]:
    """Per task: (draw pool, test pool)."""
    ag = agnews(shared)
    out = {"sst2": (sst_dev(shared), sst_test(shared)), "agnews": (ag, ag)}
    assert set(out) == set(TASKS), "a task in secfwt.data.TASKS has no pools here"
    return out


def _unique(rows: list[Row], what: str) -> None:
    texts = [r["text"] for r in rows]
    if len(set(texts)) != len(texts):
        raise ValueError(f"{what}: duplicate texts would break disjointness by text")


def draw_few_shot(pool: list[Row], classes: int, seed: int) -> tuple[list[Row], list[Row]]:
    rows = list(pool)
    random.Random(seed).shuffle(rows)
    by_class = [[r for r in rows if r["label"] == c] for c in range(classes)]
    if min(map(len, by_class)) < 2 * PER_CLASS:
        raise ValueError("a class has fewer than 32 rows to draw from")
    train = [r for rs in by_class for r in rs[:PER_CLASS]]
    dev = [r for rs in by_class for r in rs[PER_CLASS:2 * PER_CLASS]]
    return train, dev


def draw_test(pool: list[Row], classes: int, size: int, exclude: set[str]) -> list[Row]:
    if size % classes:
        raise ValueError(f"test size {size} not divisible by {classes} classes")
    rng = random.Random(0)
    rest = [r for r in pool if r["text"] not in exclude]
    test = [r for c in range(classes) for r in rng.sample([r for r in rest if r["label"] == c], size // classes)]
    rng.shuffle(test)
    return test


def draw_all(shared: Path) -> dict[str, list[Row]]:
    """Relative path ('<task>/seed13_train.jsonl', ...) -> rows, for every committed file."""
    files: dict[str, list[Row]] = {}
    for task, (draw_pool, test_pool) in pools(Path(shared)).items():
        _unique(draw_pool, f"{task} draw pool")
        _unique(test_pool, f"{task} test pool")
        drawn: set[str] = set()
        for seed in SEEDS:
            train, dev = draw_few_shot(draw_pool, TASKS[task].classes, seed)
            files[f"{task}/seed{seed}_train.jsonl"] = train
            files[f"{task}/seed{seed}_dev.jsonl"] = dev
            drawn |= {r["text"] for r in train + dev}
        files[f"{task}/test.jsonl"] = draw_test(test_pool, TASKS[task].classes, TEST_SIZE[task], drawn)
    return files


def dumps(rows: list[Row]) -> str:
    return "".join(json.dumps({"label": r["label"], "text": r["text"]}, sort_keys=True) + "\n" for r in rows)


def write(files: dict[str, list[Row]], out: Path) -> list[Path]:
    paths = []
    for rel, rows in files.items():
        path = Path(out) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dumps(rows).encode("ascii"))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m secfwt.data.draw", description=__doc__.splitlines()[0])
    p.add_argument("--shared", required=True, type=Path, help="the shared data folder (holds sst/, agnews/)")
    p.add_argument("--out", type=Path, default=HERE, help="where to write <task>/*.jsonl (default: this package)")
    args = p.parse_args(argv)
    for path in write(draw_all(args.shared), args.out):
        print(f"{path}: {len(path.read_text().splitlines())} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
