"""The data owner's channel: token-checked admission, shares that add up and reveal nothing alone."""

import json
import socket
import threading

import torch

from secfwt.mpc import owner as O


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
