"""Run workloads over parameter grids as real two-party CrypTen runs; build records.

``measure`` is what every party process executes; ``run_one`` launches the
parties and folds their per-party meters into one record; ``run_grid`` sweeps a
parameter grid with a progress bar, appending each record as it finishes and
skipping those a previous (possibly interrupted) sweep already stored.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path

from . import workloads
from .errors import InputError
from .links import Link, estimates
from .mpc.parties import PROTOCOL_SEED_ENV, SECURITY, PartyError, Task, run_parties
from .results import (
    ONE_TIME,
    PLAINTEXT,
    Costs,
    Record,
    Store,
    aggregate_layers,
    code_version,
    compute_from_noise,
    environment,
    record_key,
)
from .variants import TRUNCATION


def measure(workload: str, params: dict) -> dict:
    """Party-side: set up, run under the meter, check against plaintext.  Returns this party's view."""
    import torch

    from .mpc.meter import Meter
    from .mpc.truncation import exact_truncation

    wl = workloads.get(workload)
    torch.manual_seed(params.get("seed", 0))
    with exact_truncation(params.get(TRUNCATION.param, TRUNCATION.default) != TRUNCATION.default):
        state = wl.setup(params)
        with Meter(audit=wl.audit) as meter:
            out = wl.run(state)
        checks = wl.declared_checks(wl.check(state, out))
    return {
        "rank": meter.rank,
        "scopes": wl.declared_scopes(meter.summary()),
        "checks": checks,
        "audit": meter.audit_summary() if wl.audit else None,
        "crypten_counters": meter.crypten_counters,
    }


def fold_parties(parties: list[dict]) -> dict:
    """Per-scope totals over the parties' meters (:meth:`Costs.fold`), in the stored form."""
    return {path: Costs.fold([p["scopes"].get(path, {}) for p in parties]).as_dict() for path in parties[0]["scopes"]}


def scope_costs(scopes: dict) -> dict[str, Costs]:
    """Stored scopes as :class:`Costs`, per-block scopes folded (``forward.layers.attn``)."""
    return {path: Costs.of(tally) for path, tally in aggregate_layers(scopes).items()}


def _difference(two: dict[str, Costs], one: dict[str, Costs]) -> dict[str, Costs]:
    """two - one per scope (scopes only in ``two`` count fully); ``one``'s scopes must be in ``two``."""
    missing = set(one) - set(two)
    if missing:
        raise ValueError(f"extrapolation: scopes lost with more layers or rows: {sorted(missing)}")
    return {path: costs - one.get(path, Costs()) for path, costs in two.items()}


def affine_scopes(terms: list[tuple[float, dict[str, Costs]]]) -> dict:
    """sum of weight * scopes over (weight, scopes) terms, per scope (:meth:`Costs.affine`), in
    the stored form."""
    paths = list(dict.fromkeys(path for _, scopes in terms for path in scopes))
    return {path: Costs.affine([(w, scopes[path]) for w, scopes in terms if path in scopes]).as_dict()
            for path in paths}


def run_one(workload: str, params: dict, links: list[Link], provider: str = "ttp",
            world_size: int = 2, timeout: float | None = None, emulate: Link | None = None,
            checkpoint: str | None = None) -> dict:
    """One real multi-process run of one parameter set; returns its record (status 'error' on failure).

    A workload with an ``extrapolate`` parameter set to true is measured at 1 and 2 layers and
    extrapolated to its full depth (see :func:`_run_extrapolated`).  With ``emulate``, the parties
    talk over that link, emulated (:mod:`secfwt.mpc.emulate`): the record's ``wall_s`` is then the
    time measured over it, ``emulated_link`` describes it, and ``est_s`` includes the model's
    estimate for the same link."""
    wl = workloads.get(workload)
    params = wl.resolve(params)
    if wl.plaintext:
        return _run_plaintext(wl, params, links, checkpoint)
    if emulate is not None:
        if params.get("extrapolate"):
            raise InputError(f"--emulate measures one run: {workload} with extrapolate=true is two runs and a "
                             "model; use extrapolate=false")
        links = _with_link(links, emulate)
    if params.get("extrapolate"):
        return _run_extrapolated(wl, params, links, provider, world_size, timeout)
    record = _error_record(wl, params, provider, world_size, links)
    if emulate is not None:
        from .mpc.emulate import describe

        record.emulated_link = describe(emulate)
    seed = os.environ.get(PROTOCOL_SEED_ENV)
    if seed is not None:
        record.protocol_seed = int(seed)
        record.security += "; masks from a public protocol seed: reproducible, NOT secure"
    t0 = time.perf_counter()
    owner = Task(wl.owner, {"params": params}) if wl.owner else None
    try:
        out = run_parties(Task(measure, {"workload": workload, "params": params}),
                          world_size=world_size, provider=provider,
                          timeout=timeout if timeout is not None else wl.timeout_s, owner=owner, emulate=emulate)
    except PartyError as exc:
        record.error, record.run_s = str(exc), time.perf_counter() - t0
        return record.to_json()
    parties, owner_out = out if owner else (out, None)
    scopes = fold_parties(parties)
    checks = parties[0]["checks"]
    if owner_out is not None:  # the data owner's own checks and its traffic with the servers
        from .mpc.owner import audit_channel

        traffic = dict(owner_out["traffic"])
        # the owner-channel audit: what each server received against what the owner shared (the
        # servers' frame statistics come back as their "server_traffic" check; kept out of the record)
        servers = {str(p["rank"]): p["checks"]["server_traffic"].pop("audit") for p in parties}
        checks = {**checks, **owner_out["result"], "owner_traffic": traffic,
                  "owner_audit": audit_channel(traffic.pop("audit"), servers),
                  "owner_refused_connections": owner_out["refused"]}
    try:
        checks = wl.declared_checks(checks)  # the parties' are; the owner's result joined them here
    except ValueError as exc:
        record.error, record.run_s = str(exc), time.perf_counter() - t0
        return record.to_json()
    if wl.audit:
        record.reveal_audit = {str(p["rank"]): p["audit"] for p in parties}
    record.teardown_error = parties[0].get("teardown_error")  # complete result; a process failed shutting down
    record.run_s = time.perf_counter() - t0
    record.per_party = {str(p["rank"]): {"crypten_counters": p["crypten_counters"], "total": p["scopes"][""]}
                        for p in parties}
    return _finish(record, scopes, checks, links)


#: what a plaintext-twin record says of its security
PLAINTEXT_SECURITY = "plaintext twin, no MPC: the MPC price of each unit is the matching `step` record's"


def _error_record(wl, params: dict, provider: str, world_size: int, links: list[Link]) -> Record:
    """A point's record before it has run (status 'error' until it finishes)."""
    plaintext = provider == PLAINTEXT
    # the checks it will hold (an error record keeps the list: its table still has their columns)
    return Record(workload=wl.name, params=params, provider=provider, world_size=world_size, status="error",
                  security=PLAINTEXT_SECURITY if plaintext else SECURITY[provider], links=_link_specs(links),
                  env=environment(), code_version=code_version(wl.code), tolerance=None if plaintext else wl.tolerance,
                  check_fields=list(wl.checks) or None)


def error_record(workload: str, params: dict, provider: str, world_size: int, links: list[Link], error: str) -> dict:
    """The record of a point that failed outside its parties (an executor's fault): its error named."""
    wl = workloads.get(workload)
    record = _error_record(wl, wl.resolve(params), *stored_identity(workload, provider, world_size), links)
    record.error = error
    return record.to_json()


def _run_plaintext(wl, params: dict, links: list[Link], checkpoint: str | None = None) -> dict:
    """A plaintext-twin workload (a tuning trajectory), in this process: no parties, no counts.
    A resumable workload saves its state in ``checkpoint`` and continues from it."""
    record = _error_record(wl, params, PLAINTEXT, 0, links)
    t0 = time.perf_counter()
    try:
        state = wl.setup(params)
        if wl.resumable and checkpoint is not None:
            state.checkpoint = checkpoint
        record.results = wl.check(state, wl.run(state))
    except (RuntimeError, ValueError, OSError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    else:
        record.status = "ok"
    record.run_s = time.perf_counter() - t0
    return record.to_json()


def split_one_time(scopes: dict) -> tuple[Costs, Costs | None]:
    """(the run's costs without its one-time part, the one-time part or None): work in the
    ``ONE_TIME`` scope is paid once per run, the rest once per unit (a generation, a step)."""
    total = Costs.of(scopes[""])
    if ONE_TIME not in scopes:
        return total, None
    once = Costs.of(scopes[ONE_TIME])
    return (total - once).clamped(), once


def _finish(record: Record, scopes: dict, checks: dict, links: list[Link]) -> dict:
    """The record of a complete run: its per-unit costs, estimates, checks and status, stored form."""
    total, once = split_one_time(scopes)
    if once is not None:
        record.one_time = {**{k: v for k, v in once.as_dict().items() if k not in ("offline_s", "wall_s")},
                           "est_s": estimates(once.as_dict(), links)}
    record.set_costs(total)
    record.est_s = estimates(total.as_dict(), links)
    record.check_fields = sorted(checks)  # which fields are the workload's checks (extrapolation copies them)
    record.results = dict(checks)
    err = checks.get("max_abs_err")
    record.status = "ok" if err is not None and err <= record.tolerance else "inaccurate"
    record.scopes = scopes
    return record.to_json()


def _run_extrapolated(wl, params, links, provider, world_size, timeout) -> dict:
    """Measure every combination of the workload's axes' values (two depths; two batches or the batch
    itself; for a batched FoT generation, two populations: :class:`~secfwt.workloads.Axis`) and
    extrapolate multilinearly: counts are affine along each axis at the others fixed (identical blocks;
    per-row and per-candidate costs, with weight openings, the optimiser and rounds independent of
    the rows), so the multilinear form through the measured corners is exact for them."""
    axes = wl.extrapolation.axes(params)
    runs = {}
    for corner in itertools.product(*(axis.measured for axis in axes)):
        rec = run_one(wl.name, wl.extrapolation.at(params, dict(zip((a.param for a in axes), corner))), links,
                      provider, world_size, timeout)
        if rec["status"] == "error":
            return {**rec, "params": params}
        runs[corner] = rec
    largest = tuple(axis.measured[-1] for axis in axes)
    deepest = Record.from_json(runs[largest])
    record = Record(workload=deepest.workload, params=params,  # as asked (the record key); the depth is in
                    provider=deepest.provider, world_size=deepest.world_size,  # "extrapolation"
                    status="error", security=deepest.security, links=deepest.links, env=deepest.env,
                    code_version=deepest.code_version, tolerance=deepest.tolerance,
                    protocol_seed=deepest.protocol_seed)
    costs = {corner: scope_costs(r["scopes"]) for corner, r in runs.items()}
    plural = {"batch": "batches", "population": "populations"}  # the record's field names
    record.extrapolation = {
        **{f"measured_{plural.get(a.param, a.param)}": list(a.measured) for a in axes},
        **{f"target_{a.param}": a.target for a in axes},
        "checks_measured_at": {a.param: a.measured[-1] for a in axes},
        "rule": "cost multilinear through " + ", ".join(f"{a.param} {', '.join(map(str, a.measured))}" for a in axes)
                + "; exact for rounds and bytes, approximate for times; checks are those of the largest measured run",
        # every measured run's counts and its error against plaintext (the record's checks are the
        # largest run's: the error of the others shows how it grows with depth, batch and population)
        "measured": [{**{a.param: v for a, v in zip(axes, corner)},
                      **{k: r[k] for k in ("rounds", "bytes", "duplex_bytes", "offline_bytes", "compute_s", "wall_s")},
                      "max_abs_err": r.get("max_abs_err")} for corner, r in runs.items()],
    }
    record.run_s = sum(r["run_s"] for r in runs.values())
    out = _finish(record, affine_scopes(multilinear_terms(axes, costs)), deepest.checks(), links)
    if compute_from_noise(out):
        print(f"secfwt: {wl.name}: a larger measured run took less compute than a smaller one (a busy machine?): "
              "its counts are exact, but reports give it no time with compute", file=sys.stderr)
    return out


def multilinear_terms(axes, costs: dict) -> list[tuple[float, dict[str, Costs]]]:
    """(weight, scopes) terms whose sum is the multilinear extrapolation to the axes' targets: for every
    set S of two-valued axes, the product of their fractions (target - first) / (second - first) times
    S's finite difference at the first values of the others (the base run for the empty set)."""
    moving = [i for i, a in enumerate(axes) if len(a.measured) == 2]
    base = tuple(a.measured[0] for a in axes)

    def difference(subset: tuple[int, ...], corner: tuple) -> dict[str, Costs]:
        if not subset:
            return costs[corner]
        i, rest = subset[0], subset[1:]
        high = corner[:i] + (axes[i].measured[1],) + corner[i + 1:]
        return _difference(difference(rest, high), difference(rest, corner))

    terms = []
    for size in range(len(moving) + 1):
        for subset in itertools.combinations(moving, size):
            weight = 1.0
            for i in subset:
                first, second = axes[i].measured
                weight *= (axes[i].target - first) / (second - first)
            terms.append((weight, difference(subset, base)))
    return terms


def _with_link(links: list[Link], link: Link) -> list[Link]:
    """``links`` and ``link`` (an emulated link is also estimated for), each once."""
    return links if link.name in {ln.name for ln in links} else links + [link]


def _link_specs(links: list[Link]) -> dict:
    """The links as a record stores them: name -> bandwidth, latency, duplex."""
    return {link.name: link.as_dict() for link in links}


def reestimate(record: dict, links: list[Link]) -> dict:
    """A finished record under other links, without running anything: the counts and the measured
    compute are kept, ``est_s`` (and ``one_time.est_s``) are recomputed for ``links``, and
    ``reestimated_from`` names the links it was measured under."""
    out = Record.from_json(record)
    out.links, out.reestimated_from, out.est_s = _link_specs(links), record.get("links"), estimates(record, links)
    if out.one_time:
        out.one_time = {**out.one_time, "est_s": estimates(out.one_time, links)}
    return out.to_json()


def stored_identity(workload: str, provider: str, world_size: int) -> tuple[str, int]:
    """(provider, world size) a workload's records are stored under: plaintext-twin workloads
    have neither."""
    return (PLAINTEXT, 0) if workloads.get(workload).plaintext else (provider, world_size)


def expand_grid(workload: str, grid: dict[str, list] | list[dict[str, list]]) -> list[dict]:
    """Validated parameter sets, one per combination of the given values (defaults elsewhere); a
    list of grids gives each grid's sets in turn (a profile's consecutive sweeps as one)."""
    wl = workloads.get(workload)
    out = []
    for one in _grids(grid):
        names = list(one)
        out += [wl.resolve(dict(zip(names, values))) for values in itertools.product(*(one[n] for n in names))]
    return out


def grid_names(grid: dict[str, list] | list[dict[str, list]]) -> list[str]:
    """The parameter names a grid (or a list of grids) varies, in order, each once."""
    return list(dict.fromkeys(n for one in _grids(grid) for n in one))


def _grids(grid: dict[str, list] | list[dict[str, list]]) -> list[dict[str, list]]:
    return grid if isinstance(grid, list) else [grid]


def state_dir(store: Store):
    """The folder where the resumable points of a sweep into ``store`` keep their states."""
    return store.path.with_name(store.path.name + ".state")


def checkpoint_path(store: Store, key: str) -> str:
    """Where a resumable point of a sweep into ``store`` keeps its state: ``<store>.state/<digest>``."""
    import hashlib

    return str(state_dir(store) / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".pkl"))


def run_grid(workload: str, grid: dict[str, list] | list[dict[str, list]], links: list[Link], provider: str = "ttp",
             store: Store | None = None, progress: bool = True, world_size: int = 2, emulate: Link | None = None,
             jobs: int = 1, keep_stale: bool = False, executor=None):
    """Run every combination (of each grid in turn, for a list of grids: their points share the ``jobs``
    workers, so no core waits for the last point of one grid); yield records in grid order as they finish.  With a store, records are
    appended likewise and combinations already stored (ok or inaccurate) are skipped (measured with other
    code: run again, unless ``keep_stale``, which keeps them as they are, each with its own
    ``code_version``); one stored under
    other links is re-estimated for these (:func:`reestimate`: no run, the counts stand).  With
    ``emulate``, every run goes over that emulated link (:func:`run_one`).  A plaintext workload
    runs ``jobs`` points at a time (one torch thread each); MPC points run one at a time (their
    parties would share the cores).  An ``executor`` (:class:`secfwt.executors.Dask`) runs the points
    elsewhere instead: called with the points, it yields (index, record) as they finish; records
    are stored and yielded in grid order either way.  A resumable point of a sweep with a store continues from the
    state its interrupted run saved (:func:`checkpoint_path`)."""
    from tqdm import tqdm

    wl = workloads.get(workload)
    combos, names = expand_grid(workload, grid), grid_names(grid)
    done = store.finished() if store is not None else {}
    provider, world_size = stored_identity(workload, provider, world_size)
    emulated = emulate.name if emulate is not None else None
    if emulate is not None:
        links = _with_link(links, emulate)
    version = code_version(wl.code)
    stale = {k for k, r in done.items() if r.get("code_version") != version}
    keys = {record_key(workload, p, provider, world_size, emulated) for p in combos}
    if stale & keys and keep_stale:
        print(f"secfwt: {workload}: keeping {len(stale & keys)} finished point(s) in {store.path} measured with "
              f"other code (--keep-stale)", file=sys.stderr)
        stale = set()
    if stale & keys:  # measured with other code: never reused silently
        print(f"secfwt: {workload}: {len(stale & keys)} finished point(s) in {store.path} were measured with other "
              f"code (not code version {version}); measuring them again", file=sys.stderr)
    done = {k: r for k, r in done.items() if k not in stale}
    todo, seen = [], set()
    for p in combos:  # each point once (a list of grids may repeat one), those not finished yet
        key = record_key(workload, p, provider, world_size, emulated)
        if key not in done and key not in seen:
            seen.add(key)
            todo.append(p)
    for p in combos:  # finished under other links: the counts stand, only the estimates are redone
        old = done.get(record_key(workload, p, provider, world_size, emulated))
        if old is not None and old.get("provider") != PLAINTEXT and old.get("links") != _link_specs(links):
            record = reestimate(old, links)
            store.append(record)
            yield record

    def checkpoint(params):
        if store is None or not wl.resumable:
            return None
        return checkpoint_path(store, record_key(workload, params, provider, world_size, emulated))

    bar = tqdm(total=len(todo), desc=workload, unit="run", disable=not progress or len(todo) < 2, leave=False)
    # a run a parallel worker finished while an earlier point still ran, and whose launcher was then
    # killed before it could write it (it waits for grid order): its record is beside its state
    ready = {i: rec for i, p in enumerate(todo) if (rec := _finished_record(checkpoint(p))) is not None}
    rest = [(i, p) for i, p in enumerate(todo) if i not in ready]
    if executor is not None:
        ran = ((rest[j][0], rec) for j, rec in executor(workload, [p for _, p in rest], links, provider=provider,
                                                         world_size=world_size, emulate=emulate, checkpoint=checkpoint))
    elif wl.plaintext and jobs > 1 and len(rest) > 1:
        ran = _run_parallel(workload, rest, links, jobs, checkpoint)
    else:
        ran = ((i, run_one(workload, params, links, provider=provider, world_size=world_size, emulate=emulate,
                           checkpoint=checkpoint(params))) for i, params in rest)
    finished = itertools.chain(ready.items(), ran)
    held: dict[int, dict] = {}  # finished before an earlier point: written in grid order
    written = 0

    def write(index: int, record: dict) -> None:
        if store is not None:
            store.append(record)
            _forget_finished(checkpoint(todo[index]))

    try:
        with bar:
            for index, record in finished:
                bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in record["params"].items() if k in names))
                bar.update(1)
                held[index] = record
                while written in held:
                    record = held.pop(written)
                    write(written, record)
                    written += 1
                    yield record
    finally:  # interrupted: what finished is kept, out of order
        for index in sorted(held):
            write(index, held[index])
    if store is not None and state_dir(store).is_dir() and not any(state_dir(store).iterdir()):
        state_dir(store).rmdir()  # every resumable point finished


def _plaintext_worker(launcher: int) -> None:
    """A pool worker of :func:`_run_parallel`: one torch thread (the points share the cores), and
    gone within a second of the launcher (``launcher``: its pid; workers replaced later never see its
    environment).  A polling thread, not ``PR_SET_PDEATHSIG``: that signal follows the *thread* that
    forked, and the pool forks replacements from a helper thread that ends at ``terminate()``, which
    killed idle workers holding the task queue's lock and hung the launcher."""
    import threading

    import torch

    torch.set_num_threads(1)

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="secfwt-launcher-watch", daemon=True).start()


def _run_point(args) -> tuple[int, dict]:
    """A pool worker's point: its record, also left beside its state (:func:`_finished_record`) until
    the launcher has written it, so a launcher killed while it waits for an earlier point loses nothing."""
    index, workload, params, links, checkpoint = args
    record = run_one(workload, params, links, checkpoint=checkpoint)
    if checkpoint is not None and record.get("status") != "error":
        path = Path(checkpoint + FINISHED_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)
    return index, record


#: beside a point's state: its finished record, until the sweep's store holds it
FINISHED_SUFFIX = ".record.json"


def _finished_record(checkpoint: str | None) -> dict | None:
    """The record a worker finished for this point and the store does not hold yet (None: none, or
    unreadable: the point runs again)."""
    if checkpoint is None or not Path(checkpoint + FINISHED_SUFFIX).exists():
        return None
    try:
        return json.loads(Path(checkpoint + FINISHED_SUFFIX).read_text())
    except (OSError, ValueError):
        return None


def _forget_finished(checkpoint: str | None) -> None:
    if checkpoint is not None:
        Path(checkpoint + FINISHED_SUFFIX).unlink(missing_ok=True)


def _run_parallel(workload: str, todo: list[tuple[int, dict]], links: list[Link], jobs: int, checkpoint):
    """Plaintext points (index, parameters) ``jobs`` at a time in worker processes (a fresh one per
    point); (index, record) in the order they finish.  An exception or a signal here terminates the workers, and they die with
    the launcher however it ends (their saved states remain: a rerun continues them)."""
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(min(jobs, len(todo)), initializer=_plaintext_worker,
                                                     initargs=(os.getpid(),), maxtasksperchild=1)
    try:
        yield from pool.imap_unordered(_run_point, [(i, workload, p, links, checkpoint(p)) for i, p in todo])
        pool.close()
    finally:
        pool.terminate()
        pool.join()
