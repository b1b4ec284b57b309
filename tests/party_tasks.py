"""Targets that tests run inside real party processes (found through PYTHONPATH)."""

import os
import signal
import time


def _comm():
    from secfwt.mpc.compat import crypten

    return crypten, crypten.communicator.get()


def raise_on_rank1(marker: str):
    crypten, comm = _comm()
    x = crypten.cryptensor([1.0, 2.0], src=0)
    (x * x).reveal()
    if comm.get_rank() == 1:
        raise ValueError(f"boom from the test ({marker})")
    (x * x).reveal()  # party 0 blocks here waiting for party 1
    return "unreachable"


def die_mid_run(marker: str):
    crypten, comm = _comm()
    x = crypten.cryptensor([1.0, 2.0], src=0)
    for step in range(10_000):
        x = (x * x).div(x.reveal().double().abs().max().item() + 1.0)
        if comm.get_rank() == 1 and step == 5:
            os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


def hang(marker: str):
    time.sleep(3600)


def echo_rank(marker: str):
    _, comm = _comm()
    return {"rank": comm.get_rank(), "marker": marker}


def process_id():
    """Which process ran the point (a warm pool's points share theirs)."""
    _, comm = _comm()
    return {"rank": comm.get_rank(), "pid": os.getpid()}


def fail_in_teardown_rank1(marker: str):
    """Rank 1 finishes its work, then its process exits 7 while shutting down."""
    import atexit

    _, comm = _comm()
    if comm.get_rank() == 1:
        atexit.register(lambda: (time.sleep(0.5), os._exit(7)))
    return {"rank": comm.get_rank(), "marker": marker}


def raise_on_rank1_after_leaving(marker: str):
    """Rank 1 shuts its connections (the dealer and party 0 see their peer go and fail first), then
    raises 1.5 s later: the peers' "went away" reaches the launcher before the root cause."""
    import socket

    crypten, comm = _comm()
    x = crypten.cryptensor([1.0, 2.0], src=0)
    (x * x).reveal()
    if comm.get_rank() == 1:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    sock = socket.socket(fileno=os.dup(int(fd)))
                    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):  # connections, not listeners
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            except OSError:
                continue
        time.sleep(1.5)
        raise ValueError(f"the root cause, from the test ({marker})")
    (x * x).reveal()  # party 0 waits here for party 1
    return "unreachable"


def stop_in_teardown_rank1(marker: str):
    """Rank 1 finishes its work; while its process shuts down, once rank 0 has written the run's
    result, it stops itself (SIGSTOP): a party stuck in teardown."""
    import atexit
    import tempfile
    from pathlib import Path

    from secfwt.mpc.parties import LAUNCHER_ENV, RUN_PREFIX

    _, comm = _comm()
    if comm.get_rank() == 1:
        def stop_once_the_result_exists():
            launcher = os.environ[LAUNCHER_ENV]
            for _ in range(6000):
                for folder in Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"):
                    pid = folder / "launcher.pid"
                    if pid.exists() and pid.read_text() == launcher and (folder / "result.json").exists():
                        os.kill(os.getpid(), signal.SIGSTOP)
                        return
                time.sleep(0.01)

        atexit.register(stop_once_the_result_exists)
    return {"rank": comm.get_rank(), "marker": marker}


def trig_cases(cases):
    """Each case {values, w}: max abs error of the one-round cos/sin against torch (float64)."""
    import torch

    from secfwt.mpc import cosine
    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float

    errors = []
    for case in cases:
        x = torch.tensor(case["values"], dtype=torch.float64)
        enc = crypten.cryptensor(x.float(), src=0)
        held = reveal_float(enc)  # the value the parties actually hold (fixed point)
        cos, sin = cosine.cossin(enc, case["w"])
        w = case["w"]
        err = max((reveal_float(cos) - torch.cos(w * x)).abs().max().item(),
                  (reveal_float(sin) - torch.sin(w * x)).abs().max().item())
        err_held = max((reveal_float(cos) - torch.cos(w * held)).abs().max().item(),
                       (reveal_float(sin) - torch.sin(w * held)).abs().max().item())
        errors.append({"err": err, "err_held": err_held})
    return errors


def rfa_cases(cases):
    """Each case {batch, heads, seq, head_dim, features, seed}: MPC rfa-onepass against its twin,
    on the rows whose normaliser den/L (a random-feature estimate) is at least 0.05."""

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float
    from secfwt.nn import attention as attn

    out = []
    for c in cases:
        q, k, v = attn.attention_inputs(c["batch"], c["heads"], c["seq"], c["head_dim"], seed=c["seed"])
        w = attn.random_features(c["head_dim"], c["features"], seed=c["seed"] + 1)
        enc = [crypten.cryptensor(t.float(), src=0) for t in (q, k, v)]
        with crypten.no_grad():
            got = reveal_float(attn.mpc_attention("rfa-onepass", *enc, w=w))
        twin = attn.plain_rfa_attention(q, k, v, w)
        den = attn.plain_rfa_normaliser(q, k, w) / c["seq"]
        ok_rows = (den >= 0.05).squeeze(-1)
        err = (got - twin).abs().amax(-1)[ok_rows]
        out.append({"err": err.max().item() if err.numel() else 0.0, "rows": int(ok_rows.sum())})
    return out


def crypten_pitfalls():
    """Pins CrypTen 0.4.1 behaviours the suite works around (see DESIGN's pitfall list)."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float
    from secfwt.nn import layers

    out = {}
    x = crypten.cryptensor(torch.randn(4, 6), src=0, requires_grad=True)
    out["slice_keeps_grad"] = x[:, :3].requires_grad
    out["narrow_keeps_grad"] = x.narrow(1, 0, 3).requires_grad
    # a mean over ~100k outputs: each gradient 1e-5 is below 2^-16 and rounds to 0
    y = crypten.cryptensor(torch.randn(100_000), src=0, requires_grad=True)
    y.mean().backward()
    out["mean_grad_max"] = reveal_float(y.grad).abs().max().item()
    # ... the suite instead back-propagates the mean's gradient times the public loss scale
    # (1024 / N per output, divided out in plaintext): it survives
    y2 = crypten.cryptensor(torch.randn(100_000), src=0, requires_grad=True)
    y2.sum().backward(crypten.cryptensor(torch.tensor(1024.0 / 100_000), src=0))
    out["scaled_mean_grad"] = (reveal_float(y2.grad) / 1024).mean().item()
    # erf is wrong; the suite's GeLU does not use it
    out["erf_2"] = reveal_float(crypten.cryptensor(torch.tensor([2.0]), src=0).erf()).item()
    # get_plain_text() against the exact decoding of reveal()
    v = torch.linspace(-3, 3, 4097)
    enc = crypten.cryptensor(v, src=0) * crypten.cryptensor(torch.ones_like(v), src=0)
    out["plain_text_max_err"] = (enc.get_plain_text().double() - v.double()).abs().max().item()
    out["reveal_max_err"] = (reveal_float(enc) - v.double()).abs().max().item()
    # GeLU on a wide range, LayerNorm with and without the public pre-scale
    g = torch.linspace(-20, 20, 801, dtype=torch.float64)
    with crypten.no_grad():
        got = reveal_float(layers.gelu(crypten.cryptensor(g.float(), src=0)))
    exact = torch.nn.functional.gelu(g)
    out["gelu_err"] = (got - exact).abs().max().item()
    h = torch.randn(3, 64, dtype=torch.float64) * 0.03  # variance ~1e-3: below inv_sqrt's range
    w, b = torch.ones(64), torch.zeros(64)
    ref = torch.nn.functional.layer_norm(h, (64,), eps=1e-5)
    for name, scale in (("ln_unscaled_err", 1.0), ("ln_scaled_err", 32.0)):
        with crypten.no_grad():
            ln = layers.layer_norm(crypten.cryptensor(h.float(), src=0), crypten.cryptensor(w, src=0),
                                   crypten.cryptensor(b, src=0), 1e-5, scale=scale)
        out[name] = (reveal_float(ln) - ref).abs().max().item()
    # inv_sqrt has an autograd function now: d/dx x^-1/2 = -x^-3/2 / 2
    z = crypten.cryptensor(torch.tensor([0.5, 1.0, 4.0]), src=0, requires_grad=True)
    z.inv_sqrt().sum().backward()
    out["inv_sqrt_grad_err"] = (reveal_float(z.grad) - (-0.5 * torch.tensor([0.5, 1.0, 4.0]) ** -1.5)).abs().max().item()
    # two-party truncation is local (SecureML): each party divides its own share by 2^16 after a
    # product, which fails when the shares wrap around the ring: with probability |v| / 2^32 for
    # a product v, and then by +-2^32 (2^64 / 2^16 / 2^16).  Products of 2^16 and 2^20, 2^22 each
    with crypten.no_grad():
        for bits in (16, 20):
            a = torch.full((1 << 22,), 2.0 ** (bits / 2))
            got = reveal_float(crypten.cryptensor(a, src=0) * crypten.cryptensor(a, src=1))
            wrong = (got - 2.0**bits).abs() > 1.0
            out[f"wraps_at_2^{bits}"] = int(wrong.sum())
            out[f"wrap_size_at_2^{bits}"] = sorted({round(e / 2**32) for e in (got - 2.0**bits)[wrong].tolist()})
    # the diagnostic that adds up |x| / 2^64 over truncated values (secfwt.mpc.truncation): for
    # 2^22 products of 2^16 (ring value 2^48 before truncation) it must say exactly 64
    from secfwt.mpc.truncation import truncation_budget

    with crypten.no_grad(), truncation_budget() as (budget, elements):
        a = torch.full((1 << 22,), 2.0**8)
        crypten.cryptensor(a, src=0) * crypten.cryptensor(a, src=1)
    out["budget_of_2^22_products_of_2^16"] = dict(budget)
    out["elements_truncated"] = dict(elements)
    return out


def encoder_parity(model: str, sentences: list, seq: int = 0, attention: str = "softmax-stable"):
    """MPC forward against the Hugging Face model on the same weights and inputs."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float
    from secfwt.nn import encoder as E

    m = E.hf_model(model, seed=0)
    mpc = E.MPCEncoder(m, E.EncoderSpec(attention=attention))
    if sentences:
        tok = E.minilm_tokenizer()
        batches = [E.sentence_batch(tok, s["text"], s["label"]) for s in sentences]
    else:
        batches = [E.synthetic_batch(m.config, 2, seq, 0, seed=1)]
    out = []
    for b in batches:
        with crypten.no_grad():
            inputs = mpc.share_inputs(b)
            h = mpc.embeddings(b, onehot=inputs["ids"])
            for i in range(m.config.num_hidden_layers):
                h = mpc.block(i, h)
            logits = mpc.head(h, b, inputs)
        got_h, got = reveal_float(h), reveal_float(logits)
        with torch.no_grad():
            ref = m(input_ids=b.input_ids, output_hidden_states=True)
        want_h = ref.hidden_states[-1]
        want = ref.logits[torch.arange(b.input_ids.size(0)), b.mask_pos][:, b.label_token_ids]
        out.append({"tokens": int(b.input_ids.size(1)), "logits_err": (got - want).abs().max().item(),
                    "hidden_err": (got_h - want_h).abs().max().item(), "hidden_scale": want_h.abs().max().item(),
                    "hidden_rel_err": ((got_h - want_h).norm() / want_h.norm()).item()})
    return out


def audit_cases():
    """The reveal audit on known openings: Beaver (masked), a plain reveal (plaintext), the trig
    protocol (masked), the table lookup's relu and tree max (masked), and a reveal to one party (seen
    only by that party)."""
    import torch

    from secfwt.mpc import cosine
    from secfwt.mpc import lookup as lut
    from secfwt.mpc.compat import crypten
    from secfwt.mpc.meter import Meter, scope

    x = crypten.cryptensor(torch.linspace(-3, 3, 64), src=0)
    y = crypten.cryptensor(torch.linspace(1, 2, 64), src=0)
    with Meter(audit=True) as meter:
        with scope("mul"):
            x * y
        with scope("open"):
            x.reveal()
        with scope("trig"):
            cosine.cossin(x)
        with scope("lookup"):
            lut.tree_max(x.reshape(4, 16), -1, lut.window_for(8.0, 1))
        with scope("to0"):
            x.reveal(dst=0)
    return meter.audit_summary()


def duplex_cases():
    """Per-scope meter totals of a symmetric opening (Beaver mul: all_reduce) and a one-way one
    (a reveal to party 0: reduce), each over 64 elements."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.meter import Meter, scope

    x = crypten.cryptensor(torch.linspace(-3, 3, 64), src=0)
    y = crypten.cryptensor(torch.linspace(1, 2, 64), src=0)
    with Meter() as meter:
        with scope("mul"):
            x * y
        with scope("to0"):
            x.reveal(dst=0)
    return meter.summary()


def trig_delta_independence():
    """Open the trig protocol's delta twice for the same x: with a fresh mask each time the two
    openings differ and carry no trace of w*x."""
    import torch

    from secfwt.mpc import cosine
    from secfwt.mpc.compat import crypten

    seen = []
    original = cosine.ring_to_angle

    def spy(ring):
        seen.append(ring.clone())
        return original(ring)

    w = 1.0
    values = torch.linspace(-10, 10, 4096, dtype=torch.float64)
    x = crypten.cryptensor(values.float(), src=0)
    cosine.ring_to_angle = spy
    try:
        cosine.cossin(x, w)
        cosine.cossin(x, w)
    finally:
        cosine.ring_to_angle = original
    d1, d2 = (original(t) for t in seen[:2])
    return {"equal_fraction": (seen[0] == seen[1]).double().mean().item(),
            "mean_cos_d_minus_wx": torch.cos(d1 - w * values).mean().item(),
            "mean_cos_d1_minus_d2": torch.cos(d1 - d2).mean().item(),
            "uniform_first_moment": torch.cos(d1).mean().item()}


def stop_rank1(marker: str):
    """Party 1 stops itself (SIGSTOP) mid-run; party 0 waits for it in an opening."""
    crypten, comm = _comm()
    x = crypten.cryptensor([1.0, 2.0], src=0)
    (x * x).reveal()
    if comm.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGSTOP)
    (x * x).reveal()
    return "unreachable"


def persistent_products():
    """Three products with one fixed operand W (16 x 8) whose mask is opened once: x1 W, x2 W with
    x2 = x1 + 1/4 (close inputs: a reused mask would show their difference), and x3 W^T.  Returns
    each product's error against plaintext, the audit, and what was opened, for the test to judge."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.meter import Meter, scope
    from secfwt.mpc.persistent import FixedOperands
    from secfwt.mpc.ring import small_fraction
    from secfwt.mpc.util import reveal_float

    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 8, generator=g, dtype=torch.float64)
    x1 = torch.randn(3, 5, 16, generator=g, dtype=torch.float64)
    x2 = x1 + 0.25
    x3 = torch.randn(5, 8, generator=g, dtype=torch.float64)
    enc = [crypten.cryptensor(t.float(), src=0) for t in (w, x1, x2, x3)]
    ops = FixedOperands()
    ops.register("w", enc[0])
    comm = crypten.communicator.get()
    opened = []
    original = comm.all_reduce

    def spy(input, *args, **kwargs):  # noqa: A002 - the meter binds the communicator's own argument names
        out = original(input, *args, **kwargs)
        opened.append([t.clone() for t in out] if isinstance(out, list) else out.clone())
        return out

    comm.all_reduce = spy  # the meter wraps this spy and removes both on exit
    with Meter(audit=True) as meter:
        with scope("once"):
            ops.open_all()
        with scope("first"):
            y1 = ops.matmul(enc[1], "w")
        with scope("second"):
            y2 = ops.matmul(enc[2], "w")
        with scope("transposed"):
            y3 = ops.product(enc[3], "w", transpose=True)
    eps1, eps2 = opened[1], opened[2]
    diff = eps1 - eps2  # ring arithmetic: x1 - x2 exactly if the mask A were reused
    return {
        "errors": [(reveal_float(y) - want).abs().max().item()
                   for y, want in ((y1, x1 @ w), (y2, x2 @ w), (y3, x3 @ w.t()))],
        "summary": {k: {c: v[c] for c in ("rounds", "bytes")} for k, v in meter.summary().items()},
        "audit": meter.audit_summary(),
        "small_difference_fraction": small_fraction(diff),
        "opened_shapes": [[list(t.shape) for t in o] if isinstance(o, list) else list(o.shape) for o in opened],
    }


def optimizer_trajectories(steps: int, n: int = 4096, loss_scale: float = 1024.0):
    """Adam and SGD in MPC for ``steps`` steps on one shared parameter vector, fed a fixed
    sequence of (loss-scaled) gradients, beside torch.optim's Adam and SGD fed the same gradients
    in float64.  Returns, per optimiser, each step's update (MPC and plaintext) relative L2 error
    and the plaintext update's norm; the gradients share a direction, so Adam's moments and bias
    correction shape every step after the first."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float
    from secfwt.tuning.optim import ADAM_DOWNSCALE, ADAM_EPS, make_optimizer
    from secfwt.tuning.steps import LR

    g = torch.Generator().manual_seed(0)
    start = torch.randn(n, generator=g, dtype=torch.float64)
    drift = torch.randn(n, generator=g, dtype=torch.float64)
    # gradients as MPC sees them: times the public loss scale; per step a shared drift plus noise
    grads = [loss_scale * (drift + torch.randn(n, generator=g, dtype=torch.float64)) / 4 for _ in range(steps)]
    out = {}
    for name, domain in (("adam", ADAM_DOWNSCALE), ("sgd", loss_scale)):
        param = crypten.cryptensor(start.float(), src=0)
        opt = make_optimizer(name, [("layer.0.w", param)], lr=LR[name], loss_scale=loss_scale)
        plain = torch.nn.Parameter(start.clone())
        ref = (torch.optim.Adam([plain], lr=LR[name], eps=ADAM_EPS) if name == "adam"
               else torch.optim.SGD([plain], lr=LR[name]))
        rows = []
        for grad in grads:
            before_mpc, before_plain = reveal_float(param), plain.detach().clone()
            param.grad = crypten.cryptensor(grad.float(), src=0)
            opt.step()
            plain.grad = grad / domain  # what the MPC optimiser's arithmetic stands for
            ref.step()
            mpc_update, plain_update = before_mpc - reveal_float(param), before_plain - plain.detach()
            rows.append({"rel_err": ((mpc_update - plain_update).norm() / plain_update.norm()).item(),
                         "plain_update_norm": plain_update.norm().item()})
        out[name] = rows
    return out


def opened_beaver_masks():
    """One Beaver product of fixed inputs; returns what this party saw opened (x - a, y - b, ring
    integers: the dealer's masks) and its own share of x (the split CrypTen's pseudo-random
    zero-sharing makes), to compare across points: fresh randomness makes both differ."""
    import torch

    from secfwt.mpc.compat import crypten

    comm = crypten.communicator.get()
    opened = []
    real = comm.all_reduce

    def spy(input, *args, **kwargs):  # noqa: A002 - CrypTen's own argument name
        out = real(input, *args, **kwargs)
        opened.append([t.tolist() for t in out] if isinstance(out, list) else out.tolist())
        return out

    comm.all_reduce = spy
    try:
        x = crypten.cryptensor(torch.linspace(-1, 1, 64), src=0)
        (x * x).reveal()
    finally:
        del comm.all_reduce
    return {"opened": opened[0], "share": x.share.tolist()}


def owner_square(marker: str):
    """A server's side of a point with a data owner: square the owner's input, return the result to
    it alone; what this server received (its share of x, ring integers) is returned for comparison."""
    from secfwt.mpc.owner import OwnerLink

    _, comm = _comm()
    link = OwnerLink(comm.get_rank())
    x = link.input("x")
    link.output("y", x * x)
    link.close()
    return {"marker": marker, "received": x.share.tolist()}


def owner_square_data(owner, marker: str):
    """The data owner's side of :func:`owner_square`: share x, add up the servers' shares of x * x."""
    import torch

    if marker == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    owner.share("x", torch.linspace(-1, 1, 32))
    return {"marker": marker, "y": owner.receive("y").tolist(), "pid": os.getpid()}


def rfa_features_backward():
    """What the RFA features' backward alone costs, and its openings' protocols (products only, no
    trig opening)."""
    import torch

    from secfwt.mpc import cosine
    from secfwt.mpc.compat import crypten
    from secfwt.mpc.meter import Meter

    g = torch.Generator().manual_seed(0)
    x = crypten.cryptensor(torch.randn(4, 64, generator=g).float(), src=0, requires_grad=True)
    feats = cosine.sin_cos(x, onepass=True)
    upstream = crypten.cryptensor(torch.randn(4, 128, generator=g).float(), src=0)
    with Meter(audit=True) as meter:
        feats.backward(upstream)
    total = meter.summary()[""]
    return {"rounds": total["rounds"], "bytes": total["bytes"], "elements": x.numel(),
            "protocols": sorted({o["protocol"] for o in meter.openings})}


def lookup_cases(values: list, reach: float, resolution_bits: int, rows: list, bound: float,
                 chunk_entries: int | None = None):
    """The lookup protocol in 2PC: relu of ``values`` in a window of ``reach``, the tree max of each
    of ``rows`` (and its rounds and online bytes, from CrypTen's counters), and softmax-lookup of
    ``rows`` with the public score bound ``bound``; every result revealed as float64 lists.
    ``chunk_entries`` makes the dealer's tables travel in smaller chunks."""
    import torch

    from secfwt.mpc import lookup as lut

    if chunk_entries:
        lut.CHUNK_ENTRIES = chunk_entries
    from secfwt.mpc.compat import crypten
    from secfwt.mpc.util import reveal_float
    from secfwt.nn.attention import lookup_softmax, stable_softmax

    comm = crypten.communicator.get()
    window = lut.window_for(reach, resolution_bits)
    x = crypten.cryptensor(torch.tensor(values, dtype=torch.float64).float(), src=0)
    held = reveal_float(x)
    relu = reveal_float(lut.relu(x, window))
    r = crypten.cryptensor(torch.tensor(rows, dtype=torch.float64).float(), src=0)
    with crypten.cfg.temp_override({"communicator.verbose": True}):  # CrypTen counts only when verbose
        rounds, nbytes = comm.comm_rounds, comm.comm_bytes
        top = lut.tree_max(r, -1, window)
        max_cost = (comm.comm_rounds - rounds, comm.comm_bytes - nbytes)
    probs = reveal_float(lookup_softmax(r, -1, bound))
    return {"held": held.tolist(), "relu": relu.tolist(), "max": reveal_float(top).tolist(),
            "rows_held": reveal_float(r).tolist(), "max_cost": max_cost, "softmax": probs.tolist(),
            "stable": reveal_float(stable_softmax(r, -1)).tolist(),
            "window": [window.bits, window.resolution_bits]}


def truncation_cases(n: int, scale: float, divisors: list):
    """Products X Y of ``n`` entries of magnitude ~``scale``^2 (at the product's scale 2^32, big enough
    that CrypTen's local truncation fails a few times) and divisions by public integers, under the
    local and the exact truncation: the held inputs, each result, party's counters for one product,
    and the exact truncation's reveal audit."""
    import torch

    from secfwt.mpc.compat import crypten
    from secfwt.mpc.meter import Meter
    from secfwt.mpc.truncation import exact_truncation
    from secfwt.mpc.util import reveal_float

    comm = crypten.communicator.get()
    g = torch.Generator().manual_seed(11)
    x = crypten.cryptensor(torch.randn(n, generator=g) * scale, src=0)
    y = crypten.cryptensor(torch.randn(n, generator=g) * scale, src=0)
    out = {"x": reveal_float(x).tolist(), "y": reveal_float(y).tolist()}
    for mode in ("local", "exact"):
        with exact_truncation(mode == "exact"):
            with crypten.cfg.temp_override({"communicator.verbose": True}):
                rounds, nbytes = comm.comm_rounds, comm.comm_bytes
                product = x * y
                out[f"{mode}_cost"] = (comm.comm_rounds - rounds, comm.comm_bytes - nbytes)
            with Meter(audit=True) as meter:  # values of a model's size: an unmasked opening would show
                x.div(scale) * y.div(scale)
            out[f"{mode}_audit"] = meter.audit_summary()
            out[f"{mode}_product"] = reveal_float(product).tolist()
            out[f"{mode}_divided"] = [reveal_float(x.div(d)).tolist() for d in divisors]
            per_column = torch.arange(1, 5, dtype=torch.float32).repeat(n // 4)  # an integral float tensor
            out[f"{mode}_by_column"] = reveal_float(x.div(per_column)).tolist()
    return out


def measure_with_extra(field: str, value, where: str):
    """runner.measure of a small ``op``, its workload made to return an undeclared check field
    (``where="check"``) or to open an undeclared top-level scope (``where="scope"``)."""
    from secfwt import runner, workloads
    from secfwt.mpc.meter import scope

    wl = workloads.get("op")
    check, run = wl.check, wl.run
    if where == "check":
        object.__setattr__(wl, "check", lambda s, out: {**check(s, out), field: value})
    else:
        def run_in_extra_scope(s):
            with scope(field):
                return run(s)
        object.__setattr__(wl, "run", run_in_extra_scope)
    return runner.measure("op", wl.resolve({"size": 4}))
