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
    import torch

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
