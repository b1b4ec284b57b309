"""The SecFwT paper (arXiv 2506.15307): the shape its efficiency table measures at and the figures it
publishes.  One home: the ``paper`` profile measures at this shape, the report sets this suite's
figures beside these."""

from __future__ import annotations

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
