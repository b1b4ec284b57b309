"""MPC computes what the plaintext twin computes, and opens nothing but what it must.

* FoT in 2PC with the data owner as its own process: every candidate's loss within tolerance
  of the twin's, CMA-ES's ranking identical each generation (so the trajectory is the same),
  the tuned prompt's test predictions identical;
* the reveal audit: every value opened between the servers is masked, the label logits reach
  only the data owner, and the audit itself flags a plaintext opening;
* the owner-channel audit: every frame the data owner sends reaches each server as a uniform
  share, uncorrelated with the owner's values, never completed by another frame it received;
* the trig protocol's opened delta is fresh and independent of x.
"""

import os

import pytest

from secfwt.links import PROFILES
from secfwt.mpc.parties import PROTOCOL_SEED_ENV, Task, run_parties
from secfwt.runner import run_one

pytestmark = pytest.mark.parties

LINKS = [PROFILES["lan"]]
#: 16-bit fixed point and CrypTen's approximations: losses within 5e-3 of the twin's
LOSS_TOL = 5e-3
MASKED_PROTOCOLS = {"Beaver (x - a, y - b)", "Beaver square (x - r)", "binary AND (x ^ a)", "bit conversion (x ^ r)",
                    "trig (m x + T)", "Beaver, fixed operand (x - a)", "fixed-operand mask (W - B), once per run"}


@pytest.fixture(scope="module", autouse=True)
def reproducible_masks():
    """A public protocol seed: the parties', the dealer's and the data owner's masks repeat, so these
    checks give the same verdict on every run (CrypTen's local truncation fails an element with a
    small probability that depends on the masks; unseeded, a run fails now and then)."""
    saved = os.environ.get(PROTOCOL_SEED_ENV)
    os.environ[PROTOCOL_SEED_ENV] = "20261130"
    yield
    if saved is None:
        os.environ.pop(PROTOCOL_SEED_ENV)
    else:
        os.environ[PROTOCOL_SEED_ENV] = saved


#: the runs' shape: two generations (the second follows the first's ranking), four candidates of four
#: sentences, 16 positions, two blocks of pretrained MiniLM
LAYERS, GENERATIONS, POPULATION, TRAIN_ROWS, TEST_ROWS, SEQ = 2, 2, 4, 4, 8, 16


@pytest.fixture(scope="module", params=[
    {"attention": "softmax-stable"}, {"attention": "rfa-onepass"},
    # beyond the paper: GeLU from one trig opening and fused QKV, on pretrained MiniLM
    {"attention": "rfa-onepass", "gelu": "fourier", "qkv": "fused"},
    # beyond the paper: LayerNorm's fast inverse square root, the frozen weights' masks opened once per
    # run, the training rows' token embeddings looked up once (secfwt.mpc.persistent)
    {"attention": "rfa-onepass", "gelu": "fourier", "qkv": "fused", "inv_sqrt": "fast", "weight_masks": "persistent",
     "fixed_inputs": "cached"},
    # the third GeLU (secfwt.nn.gelus.piecewise): its segment chosen by secure comparisons
    {"attention": "rfa-onepass", "gelu": "piecewise"},
    # a sentence-pair task (MRPC): two rows per example, the pair head's cosine in MPC; half the
    # examples, so that its rows are as many as the sentence runs'
    {"task": "mrpc", "attention": "softmax-stable", "train_rows": TRAIN_ROWS // 2, "test_rows": TEST_ROWS // 2},
], ids=["softmax", "rfa", "rfa-fourier-fused", "rfa-all-beyond-persistent", "rfa-piecewise", "mrpc-pairs"])
def fot(request):
    return run_one("fot-mpc", {"layers": LAYERS, "generations": GENERATIONS, "population": POPULATION,
                               "train_rows": TRAIN_ROWS, "test_rows": TEST_ROWS, "seq": SEQ, "prompt_tokens": 4,
                               **request.param}, LINKS)


def test_pair_runs_send_two_rows_per_example(fot):
    """A pair task's data owner shares both sentences of every example (rows = 2 x examples); the
    logits it receives are one pair of label scores per example."""
    if fot["params"]["task"] != "mrpc":
        pytest.skip("single-sentence task")
    shapes = {name: shape for direction, name, shape in fot["owner_traffic"]["frames"] if direction == "to servers"}
    train, test = fot["params"]["train_rows"], fot["params"]["test_rows"]
    assert shapes["train.ids"][0] == POPULATION * train * 2 and shapes["test.ids"][0] == test * 2
    assert fot["test_rows"] == test


def test_fot_in_mpc_follows_the_plaintext_trajectory(fot):
    assert fot["status"] == "ok", fot.get("error")
    assert len(fot["generations"]) == GENERATIONS
    for g in fot["generations"]:
        assert len(g["mpc_losses"]) == POPULATION
        assert max(abs(a - b) for a, b in zip(g["mpc_losses"], g["plain_losses"])) < LOSS_TOL
        assert g["mpc_ranking"] == g["plain_ranking"]
    assert fot["rankings_equal"] is True
    assert fot["test_agreement"] == 1.0 and fot["test_rows"] == fot["params"]["test_rows"]


def test_only_the_logits_leave_and_only_to_the_data_owner(fot):
    frames = fot["owner_traffic"]["frames"]
    to_owner = [(name, shape) for direction, name, shape in frames if direction == "to owner"]
    train, test = fot["params"]["train_rows"], fot["params"]["test_rows"]
    assert to_owner == [("logits", [POPULATION * train, 2])] * GENERATIONS + [("test_logits", [test, 2])]
    to_servers = {name for direction, name, _ in frames if direction == "to servers"}
    assert to_servers == {"train.ids", "train.keys", "train.pooling", "prompts", "test.ids", "test.keys",
                          "test.pooling", "tuned_prompt"}
    assert fot["owner_refused_connections"] == 0


def test_every_frame_from_the_data_owner_reaches_each_server_as_a_uniform_share(fot):
    """The owner-channel audit (secfwt.mpc.owner.audit_channel) over every frame of the run, as each
    server received it: no plaintext, no biased bit, no correlation with the owner's values, no two
    frames at one server that sum (or difference) to something small; the two servers' frames add
    up to exactly what the owner shared."""
    from secfwt.mpc.owner import SECRET

    rows = fot["owner_audit"]
    sent = [name for direction, name, _ in fot["owner_traffic"]["frames"] if direction == "to servers"]
    for server in ("0", "1"):
        mine = [r for r in rows if r["server"] == server]
        assert sum(r["frames"] for r in mine) == len(sent), server  # every frame audited
        assert {r["name"] for r in mine} == set(sent), server
    assert [(r["server"], r["name"], r["verdict"]) for r in rows if r["verdict"] != SECRET] == []
    assert all(r["adds_up"] for r in rows)
    assert sum(r["frames"] for r in rows if r["name"] == "prompts") == 2 * GENERATIONS  # one per generation and server
    assert "audit" not in fot["owner_traffic"] and "audit" not in fot["server_traffic"]  # samples stay out


def test_every_opening_between_the_servers_is_masked(fot):
    audit = fot["reveal_audit"]
    assert set(audit) == {"0", "1"}
    for rank, rows in audit.items():
        assert rows, "the audit saw no openings"
        assert {r["protocol"] for r in rows} <= MASKED_PROTOCOLS, rank
        assert not [r for r in rows if r["verdict"] in ("plaintext", "not received")], rank
        assert sum(r["openings"] for r in rows) > 100


def test_persistent_masks_open_every_weight_once_per_run_and_nothing_fixed_per_candidate(fot):
    from secfwt.nn.encoder import model_config

    persistent = fot["params"]["weight_masks"] == "persistent"
    cfg = model_config("minilm")
    h, inner, layers = cfg.hidden_size, cfg.intermediate_size, LAYERS
    # the word table, per block the fused QKV, output, and both FFN weights, and the label matrix
    weights = cfg.vocab_size * h + layers * (3 * h * h + h * h + 2 * h * inner) + h * 2
    for rank, rows in fot["reveal_audit"].items():
        once = [r for r in rows if r["protocol"].startswith("fixed-operand mask")]
        products = [r for r in rows if r["protocol"] == "Beaver, fixed operand (x - a)"]
        if not persistent:
            assert not once and not products, rank
            continue
        assert [(r["scope"], r["openings"], r["elements"]) for r in once] == [("one_time", 1, weights)], rank
        per_generation = sum(r["openings"] for r in products if r["scope"].startswith("generation"))
        assert per_generation == GENERATIONS * (4 * layers + 1), rank  # the lookup is cached
        # per generation only the activations entering those products are opened (x - A), no weight:
        # 16 rows (4 sentences x 4 candidates) x 16 positions into QKV, output, FFN in (384 wide) and
        # FFN out (1,536 wide) per block, and the 16 pooled rows into the head
        rows = POPULATION * fot["params"]["train_rows"]
        activations = layers * rows * SEQ * (3 * h + inner) + rows * h
        assert sum(r["elements"] for r in products if r["scope"].startswith("generation")) == GENERATIONS * activations, rank


def test_the_audit_flags_a_plaintext_opening():
    rows = run_parties(Task("party_tasks:audit_cases", {}), timeout=300)
    by = {(r["scope"], r["protocol"]): r for r in rows[0]}
    assert by[("mul", "Beaver (x - a, y - b)")]["verdict"] == "masked"
    assert by[("open", "reveal")]["verdict"] == "plaintext"
    assert by[("trig", "trig (m x + T)")]["verdict"] == "masked"
    assert by[("lookup", "table lookup (x - a)")]["verdict"] == "masked"  # one opening per tree level
    assert by[("lookup", "table lookup (x - a)")]["elements"] == 4 * 15  # a tree over 16 entries: 15 comparisons
    assert by[("to0", "reveal")]["verdict"] == "plaintext" and by[("to0", "reveal")]["receiver"] == "party 0"
    assert {(r["scope"], r["verdict"]) for r in rows[1] if r["scope"] == "to0"} == {("to0", "not received")}


def test_trig_delta_is_fresh_and_independent_of_x():
    out = run_parties(Task("party_tasks:trig_delta_independence", {}), timeout=300)[0]
    assert out["equal_fraction"] < 1e-3  # a fresh mask every call
    # for 4096 uniform angles these means are ~N(0, 1/(2*4096)): |.| < 0.06 is > 5 sigma
    assert abs(out["mean_cos_d_minus_wx"]) < 0.06
    assert abs(out["mean_cos_d1_minus_d2"]) < 0.06
    assert abs(out["uniform_first_moment"]) < 0.06


@pytest.mark.parametrize("method", ["sft", "prompt", "lora", "prompt-deep"])
def test_one_step_on_minilm_with_real_sentences_updates_like_plaintext(method):
    method, _, depth = method.partition("-")
    # a deep prompt needs a second block to put its second prompt before
    rec = run_one("step", {"model": "minilm", "layers": 2 if depth else 1, "head": "sentence", "task": "sst2", "batch": 2,
                           "seq": 40, "method": method, "optimizer": "sgd", "prompt_tokens": 4,
                           "prompt_depth": depth or "shallow"}, LINKS)
    assert rec["status"] == "ok", rec.get("error")
    assert rec["max_abs_err"] < 5e-2
    assert rec["grad_max_rel_err"] < 2e-2  # magnitudes, not only directions
    assert rec["grad_tensors"] >= (2 if depth else 1)
    # the whole SGD update of every trained tensor against plaintext autograd + SGD.  LoRA's A
    # moves by lr x grad ~ 1e-6 per element, below 16-bit fixed point's 1.5e-5: MPC loses most of
    # that part of the update (measured: lora 0.19, sft 0.13 for the same reason), a property of MPC training, reported, not hidden
    # A deep prompt's block-1 gradient is small: its SGD update is a few fixed-point units, so
    # rounding alone is ~9% of it (measured 0.088; every element within one unit, 2^-16, of
    # plaintext SGD given the MPC gradient)
    limit = {"sft": 0.2, "prompt": 0.15 if depth else 0.05, "lora": 0.3}[method]
    assert rec["update_all_rel_err"] < limit, rec["update_all_rel_err"]
    if depth:
        assert rec["optimizer_err"] <= 2**-16 * 1.01
