"""The SecFwT paper (arXiv 2506.15307): the shape its efficiency table measures at and the figures it
publishes; and the tuning budgets the method papers publish (Black-Box Tuning, LM-BFF), which the
``projection`` profile prices whole runs with.  One home: the ``paper`` profile measures at this
shape, the report sets this suite's figures beside these."""

from __future__ import annotations

from dataclasses import dataclass

from .links import PROFILES

CITATION = "SecFwT, arXiv 2506.15307"
#: the efficiency table's shape: RoBERTa-large, sequence length 512, one example, 50 prompt tokens
MODEL, SEQ, BATCH, PROMPT_TOKENS = "large", 512, 1, 50
MODEL_NAME = "RoBERTa-large"
SHAPE = f"{MODEL_NAME}, L = {SEQ}"
#: RoBERTa-large's blocks and FFN width (its FFN elements per forward: LAYERS * SEQ * FFN)
LAYERS, FFN = 24, 4096
#: the link the published times are for
LINK = PROFILES["lan"]
#: one step (FoT: one candidate's forward) at that shape on that link: row -> (seconds, online GB)
STEP = {"SFT": (651.6, 970.7), "Prompt tuning": (882.1, 1116.2), "FoT (softmax)": (174.1, 205.4),
        "FoT (RFA)": (55.2, 56.6)}
#: the published breakdown: backward plus optimizer's share of SFT's time, softmax's of the forward
BACKWARD_OPTIMIZER_SHARE_OF_SFT = 0.73
SOFTMAX_SHARE_OF_FORWARD = 0.75


def published_text() -> str:
    """The published step figures and breakdown, in one line of prose."""
    rows = ", ".join(f"{name} {s:g} s / {gb:g} GB" for name, (s, gb) in STEP.items())
    return (f"Published ({CITATION}, {SHAPE}, LAN {LINK.text()}): {rows}; backward plus optimizer "
            f"{BACKWARD_OPTIMIZER_SHARE_OF_SFT:.0%} of SFT's time; softmax {SOFTMAX_SHARE_OF_FORWARD:.0%} of the "
            "forward.")


# -- whole published tuning runs at the paper's scale (a projection, issue 24) ---------------------
@dataclass(frozen=True)
class Budget:
    """A published tuning budget: ``units`` generations of ``population`` candidates (each a forward
    over the whole 16-shot training set) or gradient steps of ``batch`` examples."""

    method: str  # a secfwt.variants method name
    name: str
    units: int
    population: int | None
    batch: int | None
    source: str


#: Black-Box Tuning's CMA-ES budget (the FoT recipe SecFwT builds on) and LM-BFF's fine-tuning one
BUDGETS = (
    Budget("fot", "Black-Box Tuning", 400, 20, None,
           "Sun et al., Black-Box Tuning for Language-Model-as-a-Service, ICML 2022: CMA-ES population 20, "
           "8,000 evaluations (400 generations), prompt length 50, d = 500, RoBERTa-large"),
    Budget("sft", "LM-BFF fine-tuning", 1000, None, 8,
           "Gao et al., Making Pre-trained Language Models Better Few-shot Learners, ACL 2021: 1,000 steps, "
           "batches of 2 to 8 (8 taken), RoBERTa-large"),
)
#: per task: (training examples of the 16-shot set, tokens of its longest example): a batched forward
#: pads to the longest.  Measured with MiniLM's WordPiece tokenizer over the train draws of the default
#: seeds (RoBERTa's BPE is not available offline), a pair as one sequence ([CLS] a [SEP] b [SEP]);
#: tests/test_profiles.py recomputes them from the data
FEW_SHOT_SHAPES = {"sst2": (32, 55), "agnews": (64, 128), "mrpc": (32, 89), "rte": (32, 191)}


def projection_seq(task: str) -> int:
    """The sequence length a whole batch of the task's 16-shot set pads to, rounded up to 8."""
    longest = FEW_SHOT_SHAPES[task][1]
    return -(-longest // 8) * 8


# -- published secure inference: one BERT-base forward at L = 128 (issue 27's table) ----------------
@dataclass(frozen=True)
class PublishedInference:
    """One published system's cost of one secure forward (BERT-base, L = 128, batch 1), with what its
    figures count: they differ between sources, so the report prints the convention beside them."""

    system: str
    family: str
    online_gb: float | None  # between the computing parties, per forward
    dealer_gb: float | None  # keys / correlated randomness from the dealer
    total_gib: float | None  # where a source gives only online and dealer together
    rounds: int
    convention: str
    source: str


INFERENCE_MODEL, INFERENCE_SEQ = "bert-base", 128
PUBLISHED_INFERENCE = (
    PublishedInference("SIGMA", "2PC, function secret sharing, dealer, GPU", 0.989, 16.8, None, 1128,
                       "online bytes; dealer = FSS keys", "PoPETs 2024 (ePrint 2023/1269); the FuseFSS artifact's re-run "
                       "(ponyyuhan/SUF_new)"),
    PublishedInference("FuseFSS", "2PC, function secret sharing (a compiler over SIGMA), dealer", 0.830, 12.7, None,
                       1116, "online bytes; dealer = FSS keys", "arXiv 2606.09551 and its artifact (ponyyuhan/SUF_new)"),
    PublishedInference("SHAFT", "2PC on CrypTen with a dealer, GPU", None, None, 10.46, 1496,
                       "one total: online and dealer together, GiB", "NDSS 2025 (andeskyl/SHAFT); the same re-run"),
)
