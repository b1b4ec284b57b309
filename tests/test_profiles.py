"""Profiles: valid parameters, CI's time budget, what `secfwt list --profile` shows."""

import json
import subprocess
import sys

import pytest

from secfwt.profiles import PROFILES, estimated_minutes
from secfwt.workloads import get


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_only_name_valid_parameters(name):
    prof = PROFILES[name]
    assert prof["description"] and estimated_minutes(prof) > 0
    for sweep in prof["sweeps"]:
        wl = get(sweep.workload)
        for param, values in sweep.grid.items():
            for v in values:
                wl.param(param).parse(v)


def test_quick_profile_fits_ci():
    assert estimated_minutes(PROFILES["quick"]) < 10


def test_list_profile_shows_runs_and_time():
    proc = subprocess.run([sys.executable, "-m", "secfwt", "list", "--profile", "paper", "--format", "json"],
                          capture_output=True, text=True)
    info = json.loads(proc.stdout)
    assert info["profile"] == "paper" and info["estimated_minutes"] > 0
    # 8 Adam settings, 2 FoT, 2 prompt, 2 SFT, LoRA, 2 FoT beyond the paper, 3 depth-error runs, FoT and
    # its depth error with the fast inverse square root as well, and the amortisation: 3 at the paper's
    # shape, 6 at the few-shot one (fresh and amortised, three sets of variants), and SFT with RFA and
    # with the cheap nonlinearities (softmax and RFA): the 2 x 2
    assert sum(s["runs"] for s in info["sweeps"]) == 8 + 2 + 2 + 2 + 1 + 2 + 3 + 2 + 3 + 6 + 3




def test_few_shot_shapes_of_the_projection_are_the_data_s():
    """Training examples and the longest example's tokens (a pair as one sequence) of each task's
    16-shot train draws of the default seeds, recomputed from the data."""
    from secfwt import data, paper
    from secfwt.nn import encoder as enc

    tokenizer = enc.minilm_tokenizer()
    for task, (train, longest) in paper.FEW_SHOT_SHAPES.items():
        lengths, sizes = [], set()
        for seed in data.DEFAULT_SEEDS:
            texts = data.texts(data.load(task, "train", seed))
            sizes.add(len(texts))
            for t in texts:
                parts = t if isinstance(t, tuple) else (t,)
                lengths.append(sum(len(tokenizer(s)["input_ids"]) for s in parts) - (len(parts) - 1))
        assert (sizes, max(lengths)) == ({train}, longest), task
