"""The data owner's channel: token-checked admission, shares that add up and reveal nothing alone,
and the owner-channel audit that sees a leak of each kind."""

import json
import socket
import threading

import pytest
import torch
from scipy import stats

from secfwt.mpc import owner as O
from secfwt.mpc.parties import PROTOCOL_SEED_ENV


def _server(address, rank, token):
    """A minimal server end (no CrypTen): connect, say hello, return the socket."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall((json.dumps({"rank": rank, "token": token}) + "\n").encode())
    return sock


def test_wrong_token_is_refused_and_shares_add_up_to_the_value_only_together():
    owner = O.DataOwner(world_size=2, token="right-token", timeout=10)
    accepted = threading.Thread(target=owner.accept)
    accepted.start()
    intruder = _server(owner.address, 0, "wrong-token")
    servers = [_server(owner.address, r, "right-token") for r in (0, 1)]
    accepted.join(timeout=10)
    assert owner.refused == 1 and set(owner.servers) == {0, 1}
    assert intruder.recv(1) == b""  # the intruder's connection was closed unread

    x = torch.linspace(-3, 3, 1000, dtype=torch.float64)
    owner.share("x", x)
    shares = [O._recv_frame(s)[1] for s in servers]
    assert O.decode(shares[0] + shares[1]).sub(x).abs().max() < 2**-16  # mod 2^64 in int64
    for share in shares:  # each alone is uniform over the ring: (almost) nothing is small
        small = ((share >= -2**44) & (share <= 2**44)).double().mean().item()
        assert small < 1e-2
    assert owner.traffic.to_servers_messages == 2 and owner.traffic.to_servers_bytes > 2 * 8000

    # outputs: each server sends its share, only the owner adds them up
    y = O.encode(torch.tensor([[1.5, -2.25]]))
    r = torch.randint(-2**63, 2**63 - 1, y.shape, dtype=torch.int64)
    for s, part in zip(servers, (y - r, r)):
        header, payload = O._ring_frame("logits", part)
        O._send_frame(s, header, payload)
    got = owner.receive("logits")
    torch.testing.assert_close(got, torch.tensor([[1.5, -2.25]], dtype=torch.float64))
    for s in servers + [intruder]:
        s.close()
    owner.close()


@pytest.fixture
def channel():
    """A data owner with two admitted raw server ends (no CrypTen): (owner, [socket 0, socket 1])."""
    owner = O.DataOwner(world_size=2, token="t", timeout=10)
    accepted = threading.Thread(target=owner.accept)
    accepted.start()
    servers = [_server(owner.address, r, "t") for r in (0, 1)]
    accepted.join(timeout=10)
    yield owner, servers
    for s in servers:
        s.close()
    owner.close()


def _as_unit(ring: torch.Tensor):
    """Ring elements mapped to [0, 1) (uniform shares are uniform there)."""
    return ((ring.reshape(-1).double() + 2.0**63) / 2.0**64).numpy()


def _ids(n=4096, vocab=512):
    """One-hot token ids, as the owner shares them: mostly 0, one 1 per row."""
    g = torch.Generator().manual_seed(1)
    return torch.nn.functional.one_hot(torch.randint(0, vocab, (n // vocab,), generator=g), vocab).double()


def test_frames_of_different_inputs_are_indistinguishable_while_their_sums_differ(channel):
    """Two very different inputs (one-hot ids, mostly zeros; Gaussian prompts): what server 0
    receives for either passes the same two-sample test and every uniformity check, and is
    uncorrelated with the input; only the two servers' frames together give the values."""
    owner, servers = channel
    ids = _ids()
    prompts = torch.randn(ids.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = {}
    for name, x in (("ids", ids), ("prompts", prompts)):
        owner.share(name, x)
        got[name] = [O._recv_frame(s)[1] for s in servers]
    ks = stats.ks_2samp(_as_unit(got["ids"][0]), _as_unit(got["prompts"][0]))
    assert ks.pvalue > 1e-4, ks  # indistinguishable ...
    assert stats.kstest(_as_unit(got["ids"][1]), "uniform").pvalue > 1e-4
    sums = {name: O.decode(a + b) for name, (a, b) in got.items()}
    torch.testing.assert_close(sums["ids"], ids, atol=2**-16, rtol=0)  # ... while their sums differ
    torch.testing.assert_close(sums["prompts"], prompts, atol=2**-16, rtol=0)
    for name, frames in got.items():
        for share in frames:
            f = O.frame_stats(share)
            assert f["small_fraction"] < O.MAX_SMALL_FRACTION and f["bit_sigmas"] < O.MAX_BIT_SIGMAS, (name, f)
    audit = O.audit_channel(owner.traffic.audit, {r: [{"name": n, **O.frame_stats(got[n][r])} for n in got]
                                                           for r in (0, 1)})
    assert {(row["server"], row["name"], row["verdict"], row["frames"]) for row in audit} == {
        (str(r), n, O.SECRET, 1) for r in (0, 1) for n in got}
    assert all(row["adds_up"] for row in audit)
    assert max(row["max_abs_correlation"] for row in audit) < O.MAX_CORRELATION


def test_masks_are_not_reproducible_without_a_protocol_seed(monkeypatch):
    """Two owners sharing the same value: without ``--protocol-seed`` their masks differ (secret
    randomness); with the same public seed they repeat (reproducible runs, not secure)."""
    x = torch.linspace(-1, 1, 2048, dtype=torch.float64)

    def frames():
        got = []
        for _ in range(2):
            owner = O.DataOwner(world_size=2, token="t", timeout=10)
            accepted = threading.Thread(target=owner.accept)
            accepted.start()
            servers = [_server(owner.address, r, "t") for r in (0, 1)]
            accepted.join(timeout=10)
            owner.share("x", x)
            got.append(O._recv_frame(servers[1])[1])  # server 1's share is the mask itself
            for s in servers:
                s.close()
            owner.close()
        return got

    monkeypatch.delenv(PROTOCOL_SEED_ENV, raising=False)
    first, second = frames()
    assert (first == second).double().mean().item() < 1e-3
    assert O.small_fraction(first - second) < 1e-3  # not even close: independent masks
    monkeypatch.setenv(PROTOCOL_SEED_ENV, "7")
    first, second = frames()
    assert torch.equal(first, second)


def _frames(owner_values, server_frames):
    """The audit's two sides from plain tensors: the owner's encoded values, each server's frames."""
    names = [f"f{i}" for i in range(len(owner_values))]
    owned = [{"name": n, "sample": O.sample(v)} for n, v in zip(names, owner_values)]
    servers = {r: [{"name": n, **O.frame_stats(f)} for n, f in zip(names, frames)]
               for r, frames in server_frames.items()}
    return O.audit_channel(owned, servers)


def _uniform(shape, seed):
    return torch.randint(-2**63, 2**63 - 1, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.int64)


@pytest.mark.parametrize("leak", ["none", "plaintext", "biased mask", "reused mask", "both shares", "correlated"])
def test_the_audit_names_each_kind_of_leak(leak):
    """Each way a share can leak gets its own verdict on the server that sees it; the correct
    sharing is a uniform share at both servers."""
    x = [O.encode(torch.randn(4096, generator=torch.Generator().manual_seed(s), dtype=torch.float64))
         for s in (3, 4)]
    m = [_uniform((4096,), s) for s in (5, 6)]
    frames = {0: [x[0] - m[0], x[1] - m[1]], 1: [m[0], m[1]]}
    expect = {0: [O.SECRET, O.SECRET], 1: [O.SECRET, O.SECRET]}
    if leak == "plaintext":  # no mask at all: server 0 gets the value, server 1 zeros
        frames = {0: [x[0], x[1]], 1: [torch.zeros_like(x[0])] * 2}
        expect = {0: [O.PLAINTEXT] * 2, 1: [O.PLAINTEXT] * 2}
    elif leak == "biased mask":  # a mask drawn from [0, 2^62): its top bits are fixed
        m = [t.abs() >> 1 for t in m]
        frames = {0: [x[0] - m[0], x[1] - m[1]], 1: [m[0], m[1]]}
        expect = {0: [O.NOT_UNIFORM] * 2, 1: [O.NOT_UNIFORM] * 2}
    elif leak == "reused mask":  # the second frame reuses the first mask: x1 - x2 leaks, m repeats
        frames = {0: [x[0] - m[0], x[1] - m[0]], 1: [m[0], m[0]]}
        expect = {0: [O.SECRET, O.TWO_SHARES], 1: [O.SECRET, O.TWO_SHARES]}
    elif leak == "both shares":  # server 0 also receives the other share of the first value
        frames = {0: [x[0] - m[0], m[0]], 1: [m[0], m[1]]}
        x = [x[0], m[0] + m[1]]  # what the second frame's two halves add up to
        expect = {0: [O.SECRET, O.TWO_SHARES], 1: [O.SECRET, O.SECRET]}
    elif leak == "correlated":  # uniform values, but handed out in the order of the owner's values
        ranks = x[0].argsort().argsort()
        sorted_mask = m[0].sort().values[ranks]
        frames = {0: [x[0] - sorted_mask, x[1] - m[1]], 1: [sorted_mask, m[1]]}
        expect = {0: [O.CORRELATED, O.SECRET], 1: [O.CORRELATED, O.SECRET]}  # x - m is -m, nearly
    rows = _frames(x, frames)
    got = {r: [next(row["verdict"] for row in rows if row["server"] == str(r) and row["name"] == f"f{i}")
               for i in range(2)] for r in (0, 1)}
    assert got == expect
    assert all(row["adds_up"] for row in rows)  # every leak above still computes the right values


def test_the_audit_refuses_frames_that_do_not_match_what_the_owner_sent():
    owned = [{"name": "a", "sample": [1, 2]}]
    with pytest.raises(ValueError, match="server 1 received"):
        O.audit_channel(owned, {0: [{"name": "a", **O.frame_stats(_uniform((2,), 0))}], 1: []})


def test_the_owner_waits_as_long_as_the_launcher_lets_it_and_a_server_as_long_as_the_join(monkeypatch):
    """No fixed timeout of the owner's own: a loaded machine may take minutes to bring the servers
    up, and the launcher's run timeout and stall watch end a run that never comes.  A server's
    connect retries follow the launcher's join timeout."""
    import time

    from secfwt.mpc.parties import JOIN_TIMEOUT_ENV

    monkeypatch.setenv(JOIN_TIMEOUT_ENV, "1")
    owner = O.DataOwner(world_size=2, token="t")
    waiting = threading.Thread(target=owner.accept, daemon=True)
    waiting.start()
    waiting.join(timeout=2.5)
    assert waiting.is_alive()  # still waiting after more than the join timeout
    servers = [_server(owner.address, r, "t") for r in (0, 1)]  # and admits servers that come late
    waiting.join(timeout=10)
    assert not waiting.is_alive() and set(owner.servers) == {0, 1}
    for s in servers:
        s.close()
    address = owner.address
    owner.close()
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="not reachable within 1 s"):
        O.OwnerLink(0, address=address, token="t")  # nobody listens there any more
    assert time.monotonic() - t0 < 10
