"""The emulated link (secfwt.mpc.emulate): its schedule exactly, and, where this machine can create
network namespaces (root), real runs over it: time at least the link's latencies, nothing left behind."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from secfwt import cli
from secfwt.links import ROUND_TRIPS_PER_ROUND, parse_link
from secfwt.mpc import emulate
from secfwt.mpc.emulate import Wire
from secfwt.results import Store, key_of, record_key

# -- the schedule (no root needed) ------------------------------------------------------------------


def test_wire_full_duplex_paces_each_direction_on_its_own_clock():
    wire = Wire(8e6, 0.010, "full")  # 1 byte per microsecond
    # two 1000-byte packets at t=0 in direction 0: back to back, each 1 ms on the wire, then 10 ms
    assert wire.admit(0, 0.0, 1000) == pytest.approx(0.011)
    assert wire.admit(0, 0.0, 1000) == pytest.approx(0.012)
    # the other direction is not behind them
    assert wire.admit(1, 0.0, 1000) == pytest.approx(0.011)
    # an idle wire starts at the arrival
    assert wire.admit(0, 1.0, 500) == pytest.approx(1.0105)


def test_wire_half_duplex_shares_one_clock():
    wire = Wire(8e6, 0.010, "half")
    assert wire.admit(0, 0.0, 1000) == pytest.approx(0.011)
    assert wire.admit(1, 0.0, 1000) == pytest.approx(0.012)  # waits for the other direction's packet


def test_wire_rejects_an_unknown_duplex():
    with pytest.raises(ValueError, match="duplex"):
        Wire(1e6, 0.01, "simplex")


def test_relay_delivers_every_packet_in_order_on_the_schedule():
    """The relay itself over datagram socket pairs (packet boundaries kept, as on TUN devices)."""
    import socket
    import threading

    a_out, a_in = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # party A's device
    b_out, b_in = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # party B's device
    for s in (a_in, b_in):
        s.setblocking(False)
    stop = threading.Event()
    wire = Wire(8e6, 0.005, "full")  # 1 byte per microsecond, 5 ms one way
    t = threading.Thread(target=emulate.relay, args=((a_in.fileno(), b_in.fileno()), wire, stop.is_set))
    t.start()
    try:
        sent = [bytes([i]) * (1000 + i) for i in range(50)]
        t0 = time.monotonic()
        for p in sent:
            a_out.send(p)
        b_out.settimeout(5)
        got = [b_out.recv(65536) for _ in sent]
        elapsed = time.monotonic() - t0
        b_out.send(b"reply")  # and the other way
        a_out.settimeout(5)
        assert a_out.recv(100) == b"reply"
    finally:
        stop.set()
        t.join(timeout=5)
    assert got == sent
    # never earlier than the schedule: every byte serialised at 1 byte/us, plus the one-way delay
    assert elapsed >= sum(len(p) for p in sent) * 1e-6 + 0.005


def test_a_links_latency_is_a_round_trip_half_of_it_each_way():
    wire = Wire.for_link(50e6, 0.080, "full")
    assert (wire.one_way_s, wire.duplex, wire.per_byte) == (0.040, "full", 8 / 50e6)
    assert emulate.describe(parse_link("50mbit:80ms"))["one_way_delay_s"] == 0.040


def test_the_stall_watch_counts_link_traffic_as_progress():
    """Parties waiting on a slow link use almost no CPU; the relay's bytes show they progress."""
    from secfwt.mpc.parties import PartyError, StallWatch

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        moved = iter(range(0, 10**9, 1000))
        moving = StallWatch(0.3, traffic=lambda: next(moved))
        idle = StallWatch(0.3, traffic=lambda: 5)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:  # three windows of no CPU: the link moves, so no stall
            moving.check({0: sleeper}, 2)
            time.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="stalled"):
            while time.monotonic() - t0 < 5:
                idle.check({0: sleeper}, 2)
                time.sleep(0.05)
        assert time.monotonic() - t0 < 5
    finally:
        sleeper.kill()
        sleeper.wait()


def test_plaintext_or_extrapolated_workloads_cannot_be_emulated(monkeypatch, capsys):
    monkeypatch.setattr(emulate, "available", lambda: None)
    monkeypatch.setattr(emulate.subprocess, "Popen", lambda *a, **k: pytest.fail("started a process"))
    assert cli.main(["run", "tune", "--param", "budget=1", "--emulate", "50mbit:20ms"]) == 2
    assert "plaintext twin" in capsys.readouterr().err
    assert cli.main(["run", "step", "--param", "extrapolate=true", "--emulate", "50mbit:20ms"]) == 2
    assert "extrapolate=false" in capsys.readouterr().err


def test_links_above_the_relay_ceiling_or_below_its_resolution_are_refused():
    with pytest.raises(emulate.InputError, match="ceiling"):
        emulate.check_link(parse_link("10gbit:20ms"))
    with pytest.raises(emulate.InputError, match="resolution"):
        emulate.check_link(parse_link("100mbit:0.1ms"))
    emulate.check_link(parse_link("200mbit:20ms:full"))


def test_emulated_records_are_measurements_of_their_own():
    plain = {"workload": "op", "params": {"op": "mul"}, "provider": "ttp", "world_size": 2}
    over = {**plain, "emulated_link": {"name": "50mbit:20ms:full"}}
    assert key_of(plain) == record_key("op", {"op": "mul"}, "ttp", 2)
    assert key_of(over) == record_key("op", {"op": "mul"}, "ttp", 2, "50mbit:20ms:full")
    assert key_of(over) != key_of(plain)


def test_without_root_emulate_exits_2_with_one_line_and_starts_nothing(monkeypatch, capsys):
    monkeypatch.setattr(emulate.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(emulate.subprocess, "Popen", lambda *a, **k: pytest.fail("started a process"))
    assert cli.main(["run", "op", "--param", "op=mul", "--emulate", "50mbit:20ms"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs root" in err[0]


# -- real runs over an emulated link (root) ---------------------------------------------------------


def _cannot_emulate() -> str | None:
    reason = emulate.available()
    if reason:
        return reason
    probe = f"secfwt-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


needs_namespaces = pytest.mark.skipif(_cannot_emulate() is not None, reason=f"{_cannot_emulate()}")


def _processes_of(launcher: int) -> list[int]:
    """Live processes started by the launcher with this pid (parties, dealer, owner carry its pid)."""
    from secfwt.mpc.parties import LAUNCHER_ENV

    mark = f"{LAUNCHER_ENV}={launcher}".encode()
    found = []
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                with open(f"/proc/{proc}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(int(proc))
            except OSError:
                pass
    return found


def _left_behind() -> dict:
    """What emulation creates, as the kernel lists it: namespaces, TUN devices, relay processes."""
    ns = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
          if n.startswith(emulate.NS_PREFIX)]
    links = [ln for ln in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
             if ": sfw" in ln]
    relays = subprocess.run(["pgrep", "-f", "secfwt.mpc.emulate --relay"], capture_output=True, text=True).stdout.split()
    return {"namespaces": ns, "devices": links, "relays": relays}


NOTHING = {"namespaces": [], "devices": [], "relays": []}


@pytest.mark.parties
@needs_namespaces
@pytest.mark.slow
def test_a_run_over_50mbit_20ms_pays_the_links_latency_and_matches_the_corrected_model(tmp_path):
    from secfwt.links import estimate_seconds
    from secfwt.runner import run_one

    assert _left_behind() == NOTHING
    before = set(_processes_of(os.getpid()))  # the session's warm pool, if it has started
    link = parse_link("50mbit:20ms")
    record = run_one("gelu", {"impl": "tanh", "size": 1024}, [parse_link("lan")], emulate=link)
    assert record["status"] in ("ok", "inaccurate"), record.get("error")
    assert record["emulated_link"]["name"] == "50mbit:20ms"
    assert record["emulated_link"]["one_way_delay_s"] == pytest.approx(0.010)
    assert "unshaped" in record["emulated_link"]["offline_path"]
    rounds = record["rounds"]
    assert rounds == 26
    # every round crosses the link at least once each way: at least one round trip per round
    # every round is a two-party gloo all-reduce: four one-way delays of 10 ms, in sequence
    assert record["wall_s"] >= ROUND_TRIPS_PER_ROUND * rounds * link.latency_s
    # the model for the same link (half duplex: both directions' bytes at 50 Mbit/s)
    assert record["est_s"]["50mbit:20ms"] == pytest.approx(
        record["compute_s"] + 26 * 2 * 0.020 + record["bytes"] * 8 / 50e6)
    corrected = estimate_seconds(record["compute_s"] + record["offline_s"], rounds, record["bytes"], link,
                                 duplex_bytes=record["duplex_bytes"])
    assert 0.85 * corrected <= record["wall_s"] <= 1.5 * corrected
    assert _left_behind() == NOTHING and set(_processes_of(os.getpid())) <= before


@pytest.mark.cold
@needs_namespaces
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_emulated_run_leaves_nothing_behind(tmp_path, sig):
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "secfwt", "run", "trig", "--param", "impl=builtin",
                             "--param", "size=4096", "--emulate", "50mbit:80ms", "--links", "lan",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            # a shell's background jobs start with SIGINT ignored and Python keeps it so:
                            # restore the default, as a terminal's Ctrl-C finds it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not _left_behind()["relays"] and time.monotonic() < deadline:  # the link is up
        time.sleep(0.1)
    assert _left_behind()["relays"], "the emulated link never came up"
    time.sleep(3)  # the parties are computing over it
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (128 + sig, 1, -sig), err.decode()
    time.sleep(0.5)
    assert _left_behind() == NOTHING and _processes_of(proc.pid) == []
    # the run was cut short: nothing, or only finished records, in the output
    assert not out.exists() or {r["status"] for r in Store(out).load()} <= {"ok", "inaccurate"}


@needs_namespaces
def test_a_sigkilled_launchers_namespaces_are_removed_by_the_next_run():
    """SIGKILL leaves the namespaces (nothing can clean up); the next emulated run removes them."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = emulate.namespaces(dead.pid)
    for name in stale.values():
        subprocess.run(["ip", "netns", "add", name], check=True)
    emulate.remove_stale()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in stale.values())


# -- the report's model-vs-measurement table (synthetic records: exact arithmetic) --------------------


def _emulated_record(workload="attention", link="50mbit:80ms:full", wall=10.0, **params):
    spec = parse_link(link)
    return {"workload": workload, "params": params or {"impl": "rfa-onepass", "seq": 32}, "provider": "ttp",
            "world_size": 2, "status": "ok", "rounds": 50, "bytes": 2_000_000, "duplex_bytes": 1_000_000,
            "offline_rounds": 1, "offline_bytes": 1, "compute_s": 0.5, "offline_s": 0.25, "wall_s": wall,
            "max_abs_err": 1e-3, "approx_err": 0.1, "tolerance": 0.05,
            "links": {spec.name: spec.as_dict()}, "est_s": {spec.name: 1.0}, "scopes": {}, "env": {},
            "emulated_link": emulate.describe(spec)}


def test_time_model_table_predicts_from_the_counts_before_and_after_the_correction():
    from secfwt.report import timing

    table = timing.model_table([_emulated_record(), _emulated_record("op", "200mbit:20ms:full", 3.0, op="mul"),
                                {**_emulated_record(), "status": "error"}])
    assert len(table) == 2  # the failed run is not a measurement
    row = table.set_index("workload").loc["attention"]
    # full duplex: the busier direction's 1 MB at 50 Mbit/s = 0.16 s; 50 rounds of an 80 ms round trip
    assert row["uncorrected_s"] == pytest.approx(0.5 + 50 * 0.080 + 0.16)
    assert row["corrected_s"] == pytest.approx(0.5 + 0.25 + 50 * 2 * 0.080 + 0.16)
    assert row["corrected_err"] == pytest.approx((0.75 + 8.0 + 0.16) / 10.0 - 1)
    assert row["round_trips_per_round"] == pytest.approx((10.0 - 0.75 - 0.16) / (50 * 0.080))
    assert bool(row["held_out"]) and not bool(table.set_index("workload").loc["op", "held_out"])
    lines = timing.model_lines(table)
    assert any("Uncorrected" in line for line in lines) and any("1 of 1 within" in line for line in lines)
    assert any("latency probe" in line for line in lines)
    # the bandwidth term's share: 0.16 s of 10 s here, 200 Mbit/s for the probe's 1 MB (0.04 s) of 3 s
    assert row["bandwidth_share"] == pytest.approx(0.16 / 10.0)
    assert table.set_index("workload").loc["op", "bandwidth_share"] == pytest.approx(1e6 * 8 / 200e6 / 3.0)
    [share] = [line for line in lines if "bandwidth term" in line]
    assert "median 1.5% of the measured time, at most 2% (2 MB over 50mbit:80ms:full" in share


def test_emulated_runs_stay_out_of_the_loopback_tables(tmp_path):
    from secfwt import report
    from secfwt.links import PROFILES

    params = {"impl": "rfa-onepass", "seq": 32, "heads": 4, "head_dim": 32, "features": 32}
    loopback = {**_emulated_record(**params), "links": {k: v.as_dict() for k, v in PROFILES.items()}}
    loopback.pop("emulated_link")
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (loopback, _emulated_record(wall=123.0, **params))))
    report.write_report(path, tmp_path / "out")
    attention = (tmp_path / "out" / "tables" / "attention.csv").read_text().splitlines()
    assert len(attention) == 2  # header and the loopback run only
    model = (tmp_path / "out" / "tables" / "time_model.csv").read_text()
    assert "123.0" in model and "time model against emulated links" in (tmp_path / "out" / "README.md").read_text()
