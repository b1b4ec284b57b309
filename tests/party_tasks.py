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
