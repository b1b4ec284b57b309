"""The committed few-shot data: balanced, disjoint, in range, and regenerable from the shared data."""

from collections import Counter
from pathlib import Path

import pytest

from secfwt import data
from secfwt.data import DEFAULT_SEEDS, HERE, SEEDS, TASKS, Task, get_task, key, load, pool
from secfwt.data.draw import TEST_SIZE
from secfwt.data.draw import main as draw_main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [(t, s) for t in TASKS for s in SEEDS]
FILE_TESTS = [t for t in TASKS if TASKS[t].test == "file"]


def texts(rows):
    return {key(r) for r in rows}


def test_registry():
    assert SEEDS == (13, 21, 42, 87, 100) and DEFAULT_SEEDS == (13, 21, 42)
    assert set(TASKS) == {"sst2", "agnews", "mrpc", "rte"} and set(TEST_SIZE) == set(FILE_TESTS)
    for name, task in TASKS.items():
        assert isinstance(task, Task) and task.name == name and get_task(name) is task
        assert len(task.label_names) == task.classes
        assert len(task.label_descriptions) == (0 if task.pair else task.classes)
        assert task.max_len > 0 and task.source and task.head == ("pair" if task.pair else "sentence")
    assert TASKS["sst2"].label_descriptions == ("It was terrible.", "It was great.")
    assert [t for t in TASKS if TASKS[t].pair] == ["mrpc", "rte"] and TASKS["rte"].test == "rest"
    assert TASKS["mrpc"].f1 and not TASKS["rte"].f1


@pytest.mark.parametrize("bad,match", [
    (dict(pair=True, pair_threshold=None), "pair_threshold"),
    (dict(pair=True, pair_threshold=0.5, label_descriptions=("a", "b")), "no descriptions"),
    (dict(test="dev"), "test must be"),
])
def test_task_entries_are_checked(bad, match):
    fields = dict(name="x", classes=2, label_names=("a", "b"), label_descriptions=(), max_len=8, source="s")
    if not bad.get("pair"):
        fields["label_descriptions"] = ("A.", "B.")
    with pytest.raises(ValueError, match=match):
        Task(**{**fields, **bad})


@pytest.mark.parametrize("task", TASKS)
def test_committed_draws_are_the_pools_draws(task):
    """A committed seed's files hold exactly what the pool gives that seed (so a seed that is not
    committed is drawn by the same rule), and a seed drawn from the pool never meets the test split."""
    t = TASKS[task]
    test_keys = {key(r) for r in load(task, "test")} if t.test == "file" else set()
    for seed in SEEDS:
        train, dev = data.draw_few_shot(pool(task), t.classes, seed, test_keys)
        assert (train, dev) == (load(task, "train", seed), load(task, "dev", seed)), seed
    for seed in (0, 7, 1234):
        train, dev, test = (load(task, split, seed) for split in ("train", "dev", "test"))
        assert len(train) == len(dev) == 16 * t.classes
        assert not texts(train) & texts(test) and not texts(dev) & texts(test) and not texts(train) & texts(dev)
        assert len(texts(train) | texts(dev) | texts(test)) == len(train) + len(dev) + len(test)
    assert load(task, "train", 7) != load(task, "train", 8)


def test_rte_tests_each_seed_on_the_rows_it_did_not_draw():
    whole = {key(r) for r in pool("rte")}
    for seed in (13, 21, 87):
        train, dev, test = (load("rte", split, seed) for split in ("train", "dev", "test"))
        assert texts(train) | texts(dev) | texts(test) == whole and len(test) == len(whole) - 64
    assert load("rte", "test", 13) != load("rte", "test", 21)


def test_mrpc_tests_on_glue_dev_whole():
    test = load("mrpc", "test")
    assert len(test) == 408 and sum(r["label"] for r in test) == 279  # GLUE MRPC dev: 279 paraphrases
    assert all(set(r) == {"label", "text", "text_pair"} for r in test)
    assert not texts(test) & texts(pool("mrpc"))  # GLUE's train and dev share no pair


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


@pytest.mark.parametrize("task", [t for t in FILE_TESTS if TEST_SIZE[t]])
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
            assert set(r) == ({"text", "text_pair", "label"} if TASKS[task].pair else {"text", "label"})
            assert type(r["label"]) is int and 0 <= r["label"] < TASKS[task].classes
            for field in set(r) - {"label"}:
                assert isinstance(r[field], str) and r[field] == r[field].strip() and r[field]


def test_seeds_draw_different_rows():
    for task in TASKS:
        assert len({frozenset(texts(load(task, "train", s))) for s in SEEDS}) == len(SEEDS)


@pytest.mark.parametrize("args,match", [
    (("sst5", "train"), "unknown task 'sst5'; known: sst2, agnews, mrpc, rte"),
    (("sst2", "validation"), "unknown split 'validation'"),
    (("sst2", "train", -1), "non-negative integer"),
    (("agnews", "test", "13"), "non-negative integer"),
])
def test_load_rejects_bad_names(args, match):
    with pytest.raises(ValueError, match=match):
        load(*args)


def test_get_task_lists_known_names():
    with pytest.raises(ValueError, match="known: sst2, agnews, mrpc, rte"):
        get_task("mnli")


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not present at {SHARED}")
def test_draw_regenerates_the_committed_files_byte_for_byte(tmp_path, capsys):
    assert draw_main(["--shared", str(SHARED), "--out", str(tmp_path)]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.jsonl*"))
    committed = sorted(p.relative_to(HERE) for p in HERE.rglob("*.jsonl*"))
    assert made == committed and len(made) == len(TASKS) * (2 * len(SEEDS) + 1) + len(FILE_TESTS)
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (HERE / rel).read_bytes(), rel
