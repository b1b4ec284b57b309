"""The committed few-shot data: balanced, disjoint, in range, and regenerable from the shared data."""

from collections import Counter
from pathlib import Path

import pytest

from secfwt.data import HERE, SEEDS, TASKS, Task, get_task, load
from secfwt.data.draw import TEST_SIZE
from secfwt.data.draw import main as draw_main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [(t, s) for t in TASKS for s in SEEDS]


def texts(rows):
    return {r["text"] for r in rows}


def test_registry():
    assert SEEDS == (13, 21, 42) and set(TASKS) == {"sst2", "agnews"} == set(TEST_SIZE)
    for name, task in TASKS.items():
        assert isinstance(task, Task) and task.name == name and get_task(name) is task
        assert len(task.label_names) == len(task.label_descriptions) == task.classes
        assert task.max_len > 0 and task.source
    assert TASKS["sst2"].label_descriptions == ("It was terrible.", "It was great.")


@pytest.mark.parametrize("task,seed", CASES)
def test_train_and_dev_have_16_per_class(task, seed):
    want = {c: 16 for c in range(TASKS[task].classes)}
    for split in ("train", "dev"):
        assert Counter(r["label"] for r in load(task, split, seed)) == want


@pytest.mark.parametrize("task,seed", CASES)
def test_splits_of_a_seed_are_disjoint_by_text(task, seed):
    train, dev, test = (load(task, split, seed) for split in ("train", "dev", "test"))
    for rows in (train, dev, test):
        assert len(texts(rows)) == len(rows)
    assert not texts(train) & texts(dev)
    assert not texts(train) & texts(test)
    assert not texts(dev) & texts(test)


@pytest.mark.parametrize("task", TASKS)
def test_test_set_is_class_balanced_and_excludes_every_seed_draw(task):
    test = load(task, "test")
    classes = TASKS[task].classes
    assert len(test) == TEST_SIZE[task]
    assert Counter(r["label"] for r in test) == {c: TEST_SIZE[task] // classes for c in range(classes)}
    drawn = set().union(*(texts(load(task, split, s)) for s in SEEDS for split in ("train", "dev")))
    assert not texts(test) & drawn
    assert load(task, "test", 21) == test  # one test file shared by the seeds


@pytest.mark.parametrize("task,seed", CASES)
def test_rows_are_text_and_labels_in_range(task, seed):
    for split in ("train", "dev", "test"):
        for r in load(task, split, seed):
            assert set(r) == {"text", "label"} and type(r["label"]) is int
            assert 0 <= r["label"] < TASKS[task].classes
            assert isinstance(r["text"], str) and r["text"] == r["text"].strip() and r["text"]


def test_seeds_draw_different_rows():
    for task in TASKS:
        assert len({frozenset(texts(load(task, "train", s))) for s in SEEDS}) == len(SEEDS)


@pytest.mark.parametrize("args,match", [
    (("sst5", "train"), "unknown task 'sst5'; known: sst2, agnews"),
    (("sst2", "validation"), "unknown split 'validation'"),
    (("sst2", "train", 7), "unknown seed 7"),
    (("agnews", "test", 0), "unknown seed 0"),
])
def test_load_rejects_bad_names(args, match):
    with pytest.raises(ValueError, match=match):
        load(*args)


def test_get_task_lists_known_names():
    with pytest.raises(ValueError, match="known: sst2, agnews"):
        get_task("mnli")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not present at {SHARED}")
def test_draw_regenerates_the_committed_files_byte_for_byte(tmp_path, capsys):
    assert draw_main(["--shared", str(SHARED), "--out", str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.jsonl"))
    committed = sorted(p.relative_to(HERE) for p in HERE.rglob("*.jsonl"))
    assert made == committed and len(made) == len(TASKS) * (2 * len(SEEDS) + 1)
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (HERE / rel).read_bytes(), rel
