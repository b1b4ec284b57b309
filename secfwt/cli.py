"""`secfwt`: list workloads and links, run sweeps as real 2PC runs, write reports.

Bad input (unknown workload, parameter, link, provider or profile; non-positive
sizes; unparsable values) prints one line on stderr, exits with code 2 and writes
nothing.  A run whose parties fail is stored with status 'error' and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from . import workloads
from .errors import InputError
from .executors import EXECUTORS, LOCAL
from .links import PROFILES as LINK_PROFILES
from .links import ROUND_TRIPS_PER_ROUND, parse_link, parse_links
from .mpc.parties import PROVIDERS, SECURITY, TOKEN_ENV

EXIT_USAGE = 2


class UsageError(InputError):
    """Bad input from the user: reported in one line, exit code 2."""


def _parse_params(items: list[str], multi: bool = True) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise UsageError(f"--param {item!r}: expected NAME=VALUE[,VALUE...]")
        vals = [v for v in values.split(",")]
        if any(not v.strip() for v in vals):
            raise UsageError(f"--param {item!r}: empty value")
        if not multi and len(vals) > 1:
            raise UsageError(f"--param {item!r}: one value only here")
        grid.setdefault(name.strip(), []).extend(vals)
    return grid


def _table(records: list[dict]) -> str:
    from .report import records_frame

    df = records_frame(records)
    keep = [c for c in df.columns if c not in ("git_sha", "cpu", "security", "world_size", "seed")]
    return df[keep].to_string(index=False)


def _emit(records: list[dict], fmt: str) -> None:
    if fmt == "json":
        json.dump(records, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    elif fmt == "csv":
        from .report import records_frame

        records_frame(records).to_csv(sys.stdout, index=False)
    else:
        print(_table(records))


def cmd_list(args) -> int:
    if args.profile:
        from .profiles import estimated_minutes, get_profile

        prof = get_profile(args.profile)
        info = {"profile": args.profile, "description": prof["description"], "links": prof["links"],
                "estimated_minutes": round(estimated_minutes(prof), 1),
                "sweeps": [{"workload": s.workload, "grid": s.grid, "runs": s.size()} for s in prof["sweeps"]]}
        if args.format == "json":
            print(json.dumps(info, indent=1))
        else:
            print(f"profile {args.profile}: {prof['description']}")
            print(f"  about {info['estimated_minutes']} min on 2 cores; links {', '.join(prof['links'])}")
            for s in info["sweeps"]:
                print(f"  {s['workload']}: {s['runs']} runs over {s['grid']}")
        return 0
    items = [{"workload": w.name, "description": w.description,
              "params": [{"name": p.name, "type": p.kind.__name__, "default": p.default, "help": p.help,
                          **({"choices": list(p.choices)} if p.choices else {})} for p in w.params]}
             for w in workloads.REGISTRY.values()]
    if args.format == "json":
        print(json.dumps(items, indent=1))
        return 0
    for w in items:
        print(f"{w['workload']}: {w['description']}")
        for p in w["params"]:
            choices = f" {{{', '.join(map(str, p['choices']))}}}" if "choices" in p else ""
            print(f"    {p['name']:<10} {p['type']:<5} default {p['default']!s:<14} {p['help']}{choices}")
    return 0


def cmd_links(args) -> int:
    links = [parse_link(s) for s in args.links.split(",")] if args.links else list(LINK_PROFILES.values())
    if args.format == "json":
        print(json.dumps([ln.as_dict() for ln in links], indent=1))
    else:
        for ln in links:
            print(f"{ln.name:<10} {ln.bandwidth_bps / 1e6:>9.1f} Mbit/s  {ln.latency_s * 1e3:>7.2f} ms  {ln.duplex} duplex")
        print(f"est_s = compute_s + rounds * {ROUND_TRIPS_PER_ROUND} * latency_s + carried_bytes * 8 / bandwidth_bps "
              "(latency: a round trip; half duplex: bytes; full duplex: duplex_bytes)")
    return 0


def _validated_grid(workload: str, raw: dict[str, list[str]]):
    wl = workloads.get(workload)
    grid = {}
    for name, values in raw.items():
        param = wl.param(name)
        grid[name] = list(dict.fromkeys(param.parse(v) for v in values))
    return grid


def _positive_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _jobs_option(p) -> None:
    p.add_argument("--jobs", type=_positive_int, default=int(os.environ.get("SECFWT_JOBS", "1") or 1), metavar="N",
                   help="plaintext tuning runs (tune) to run at a time, one torch thread each (default 1, or "
                        "SECFWT_JOBS); MPC runs always go one at a time")


def _keep_stale_option(p) -> None:
    p.add_argument("--keep-stale", action="store_true",
                   help="keep finished points measured with other code (each record keeps its code_version) instead "
                        "of measuring them again: for hours-long sweeps after a change that does not touch them")


def _cold_option(p) -> None:
    p.add_argument("--cold", action="store_true", default=bool(os.environ.get("SECFWT_COLD")),
                   help="start fresh parties for every point (default: one warm pool for the whole command, "
                        "each point as independent as a cold run; or set SECFWT_COLD=1)")


def _executor_option(p) -> None:
    p.add_argument("--executor", choices=EXECUTORS, default=os.environ.get("SECFWT_EXECUTOR") or LOCAL,
                   help="local: here (MPC points one at a time, tuning runs --jobs at a time); dask: every point a "
                        "Dask task, one at a time per worker (needs pip install -e '.[dask]'; or SECFWT_EXECUTOR)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask: a running scheduler (tcp://host:8786) whose workers run the points (start each with "
                        "--nthreads 1); without it a LocalCluster of --workers processes starts here")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="dask without --scheduler: worker processes of the LocalCluster (default 2)")


@contextlib.contextmanager
def _executor(args):
    """None for --executor local (run_grid's own loop), else the entered Dask executor."""
    if args.executor == LOCAL:
        if args.scheduler or args.workers:
            raise UsageError("--scheduler and --workers apply to --executor dask")
        yield None
        return
    if args.scheduler and args.workers:
        raise UsageError("--workers starts a LocalCluster; with --scheduler the cluster's own workers run the points")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--executor dask needs Dask: pip install -e '.[dask]'") from None
    from .executors import Dask

    with Dask(scheduler=args.scheduler, workers=args.workers or 2, cold=args.cold) as executor:
        yield executor


def _parties(args):
    """The warm pool for the command's MPC points, or cold runs (``--cold``)."""
    from .mpc import pool

    return pool.cold() if args.cold else pool.warm()


def cmd_run(args) -> int:
    from .results import Store, exclusive, key_of, record_key
    from .runner import expand_grid, run_grid, stored_identity

    grid = _validated_grid(args.workload, _parse_params(args.param))
    links = parse_links(args.links)
    if args.world_size < 2:
        raise UsageError("--world-size must be at least 2")
    emulate = _emulated_link(args.emulate, args.world_size)
    _check_emulable(args.workload, grid, emulate)
    store = Store(args.out) if args.out else None
    if store is not None:
        _check_writable(Path(args.out))
    with exclusive(args.out) if store is not None else contextlib.nullcontext(), _parties(args), \
            _executor(args) as executor:
        records = list(run_grid(args.workload, grid, links, provider=args.provider, store=store,
                                progress=_model_bars(not args.no_progress and sys.stderr.isatty() or args.progress),
                                world_size=args.world_size, emulate=emulate, jobs=args.jobs,
                                keep_stale=args.keep_stale, executor=executor))
    if store is not None:  # report the whole grid, including records an earlier sweep stored
        identity = stored_identity(args.workload, args.provider, args.world_size)
        emulated = emulate.name if emulate is not None else None
        wanted = {record_key(args.workload, p, *identity, emulated) for p in expand_grid(args.workload, grid)}
        latest = {}
        for r in store.load():
            key = key_of(r)
            if key in wanted:
                latest[key] = r
        records = list(latest.values())
    _emit(records, args.format)
    failed = [r for r in records if r["status"] == "error"]
    for r in failed:
        print(f"secfwt: {r['workload']} {r['params']}: {r['error'].splitlines()[0]}", file=sys.stderr)
    return 1 if failed else 0


def _emulated_link(spec: str | None, world_size: int = 2):
    """The link ``--emulate`` asks for, checked before anything starts: this machine can emulate it
    (root, ``ip``, TUN) and the relay can carry it faithfully."""
    if spec is None:
        return None
    from .mpc import emulate

    link = parse_link(spec)
    if world_size != 2:
        raise UsageError("--emulate joins exactly two computing parties (--world-size 2)")
    reason = emulate.available()
    if reason:
        raise UsageError(reason)
    emulate.check_link(link)
    return link


def _check_emulable(workload: str, grid: dict, emulate) -> None:
    """An emulated link times one real run: not a plaintext workload, not an extrapolated one."""
    if emulate is None:
        return
    from .runner import expand_grid

    if workloads.get(workload).plaintext:
        raise UsageError(f"--emulate: {workload} runs in the plaintext twin, without parties or a link")
    if any(p.get("extrapolate") for p in expand_grid(workload, grid)):
        raise UsageError(f"--emulate measures one run: {workload} with extrapolate=true is several runs and a "
                         "model; use --param extrapolate=false")


def _check_writable(path: Path) -> None:
    """Before any run: the records file can be appended to (a run's measurement is never lost to
    an unwritable --out), and what it holds already is secfwt records."""
    from .results import Store

    path = path.resolve()  # a symlink stays: its target is what is written
    if path.exists() and path.is_dir():
        raise UsageError(f"--out {path}: is a directory")
    if not path.parent.exists():
        raise UsageError(f"--out {path}: folder {path.parent} does not exist")
    existed = path.exists()
    try:
        with path.open("a"):
            pass
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot be written ({exc.strerror})") from None
    if not existed:
        path.unlink()  # leave nothing behind if the run then fails before its first record
    Store(path).load()  # raises a one-line ValueError on a file that is not secfwt records


def cmd_bench(args) -> int:
    """Run a profile's sweeps into a resumable work file, then publish records and the report."""
    from .profiles import get_profile
    from .results import exclusive

    prof = get_profile(args.profile)
    links = parse_links(prof["links"])
    final = Path(args.records or f"reports/records/{args.profile}.jsonl")
    work = final.with_name(final.name + ".partial")
    final.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(final):
        return _bench(args, prof, links, final, work)


def _bench(args, prof, links, final: Path, work: Path) -> int:
    from .report import write_report
    from .results import Store
    from .runner import grid_names, run_grid

    if not work.exists() and final.exists() and args.resume:  # continue a published, unfinished profile
        shutil.copyfile(final, work)
    # before any run: the links (plaintext sweeps have no parties and run as they are)
    emulated = [None if workloads.get(sweep.workload).plaintext else _emulated_link(args.emulate or sweep.emulate)
                for sweep in prof["sweeps"]]
    for sweep, emulate in zip(prof["sweeps"], emulated):
        _check_emulable(sweep.workload, sweep.grid, emulate)
    store = Store(work)
    n_err = 0
    with _parties(args), _executor(args) as executor:
        for workload, grids, emulate in _batches(prof["sweeps"], emulated):
            for r in run_grid(workload, grids, links, provider=args.provider, store=store,
                              progress=_model_bars(not args.no_progress), emulate=emulate, jobs=args.jobs,
                              keep_stale=args.keep_stale, executor=executor):
                n_err += r["status"] == "error"
                print(f"{r['workload']:<10} {_short(r['params'], grid_names(grids))} {r['status']:<10} "
                      f"rounds={r.get('rounds')} bytes={r.get('bytes')}", file=sys.stderr)
    if n_err:
        print(f"secfwt: {n_err} run(s) failed; see {work} (rerun resumes)", file=sys.stderr)
        return 1
    work.replace(final)
    for path in write_report(sorted(final.parent.glob("*.jsonl")), args.report_dir):
        print(path)
    return 0


def _batches(sweeps: list, emulated: list) -> list[tuple[str, list[dict], object]]:
    """A profile's sweeps as run_grid calls: consecutive plaintext sweeps of one workload become one
    call over their grids in turn, so ``--jobs`` workers never wait for the last point of a sweep
    while the next sweep's points are ready; every other sweep is its own call."""
    out: list[tuple[str, list[dict], object]] = []
    for sweep, emulate in zip(sweeps, emulated):
        if out and workloads.get(sweep.workload).plaintext and out[-1][0] == sweep.workload:
            out[-1][1].append(sweep.grid)
        else:
            out.append((sweep.workload, [sweep.grid], emulate))
    return out


def _short(params: dict, names: list[str]) -> str:
    return " ".join(f"{k}={params[k]}" for k in names if k in params)


def cmd_gate(args) -> int:
    """Compare (or, with --write, record) the deterministic counts of a records file."""
    from . import baseline
    from .results import Store

    path = Path(args.records)
    if not path.exists():
        raise UsageError(f"no records at {path}; run `make bench` first")
    records = Store(path, warn=True).load()
    if args.write:
        try:
            n = baseline.write(records, args.baseline)
        except OSError as exc:
            raise UsageError(f"--baseline {args.baseline}: cannot be written ({exc.strerror})") from None
        print(f"wrote {n} baseline counts to {args.baseline}")
        return 0
    if not Path(args.baseline).exists():
        raise UsageError(f"no baseline at {args.baseline}; create it with `make bench-baseline`")
    diffs = baseline.compare(baseline.counts(records), baseline.load(args.baseline))
    if diffs:
        print(f"secfwt gate: {len(diffs)} count(s) differ from {args.baseline}:", file=sys.stderr)
        for line in diffs:
            print("  " + line, file=sys.stderr)
        print("if the change is intended, run `make bench-baseline` and commit the baseline", file=sys.stderr)
        return 1
    print(f"secfwt gate: rounds and bytes of {len(baseline.counts(records))} runs match {args.baseline}")
    return 0


def cmd_report(args) -> int:
    from .report import write_report
    from .results import Store, missing_counts

    paths = [Path(p) for p in args.records] if args.records else sorted(Path("reports/records").glob("*.jsonl"))
    missing = [str(p) for p in paths if not p.exists()]
    if missing or not paths:
        raise UsageError(f"no records at {', '.join(missing) or 'reports/records/*.jsonl'}; run `make bench` first")
    for path in paths:  # every file is records (one line and exit 2 otherwise) before anything is written
        damaged = [(r, lacks) for r in Store(path).load() if (lacks := missing_counts(r))]
        if damaged:
            (first, lacks), n = damaged[0], len(damaged)
            raise UsageError(f"{path}: {n} finished MPC record(s) lack counts (the first, {first.get('workload')} "
                             f"{json.dumps(first.get('params'), sort_keys=True)[:120]}, lacks {', '.join(lacks)}): "
                             "damaged or hand-edited; rerun or remove them")
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {args.out}: {exc.strerror or exc}") from None
    for out in write_report(paths, args.out):
        print(out)
    return 0


def cmd_party(args) -> int:
    """One party of a multi-host run: the same code path the local launcher uses."""
    from .mpc.parties import RunMismatch, Task, party_main, peer_gone, who
    from .runner import fold_parties, measure

    wl = workloads.get(args.workload)
    raw = _parse_params(args.param, multi=False)
    params = wl.resolve({k: v[0] for k, v in raw.items()})
    if args.world_size < 2:
        raise UsageError("--world-size must be at least 2")
    if not 0 <= args.rank <= args.world_size:
        raise UsageError(f"--rank {args.rank} is outside 0..{args.world_size} (rank {args.world_size} is the dealer)")
    if args.join_timeout is not None and not 0 < args.join_timeout < float("inf"):
        raise UsageError("--join-timeout must be a positive number of seconds")
    if args.provider == "tfp" and args.rank == args.world_size:
        raise UsageError(f"--rank {args.rank}: --provider tfp has no dealer; its ranks are 0..{args.world_size - 1}")
    host, sep, port = args.master.rpartition(":")
    if not (args.master.startswith("file://") or (sep and host and port.isdigit() and 0 < int(port) < 65536)):
        raise UsageError(f"--master {args.master!r}: expected HOST:PORT with a port in 1..65535")
    if args.bind is not None:
        if not Path("/sys/class/net", args.bind).exists():
            raise UsageError(f"--bind {args.bind}: no such network interface on this host")
        os.environ["GLOO_SOCKET_IFNAME"] = args.bind  # gloo listens on this interface's address only
    if not os.environ.get(TOKEN_ENV):
        if not args.insecure_no_token:
            raise UsageError(f"party mode needs {TOKEN_ENV}, the same secret on every host (a party without it is "
                             "refused); --insecure-no-token runs without one")
        print(f"secfwt: warning: no {TOKEN_ENV}: any host that reaches --master can join this run",
              file=sys.stderr)
    try:
        gathered = party_main(args.rank, args.world_size, args.master, args.provider,
                              Task(measure, {"workload": args.workload, "params": params}),
                              join_timeout=args.join_timeout)
    except RunMismatch as exc:
        print(f"secfwt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:  # gloo: a peer went away mid-run (its own log says why)
        detail = peer_gone(str(exc))
        if detail is None and _rendezvous_error(exc):
            print(f"secfwt: error: {who(args.rank, args.world_size)}: the rendezvous at {args.master} failed "
                  f"({str(exc).splitlines()[0][:200]}): start every party with the same --master and --world-size",
                  file=sys.stderr)
            return EXIT_USAGE
        if detail is None:
            raise
        print(f"secfwt: error: rank {args.rank}: a peer went away mid-run ({detail}); see that party's output",
              file=sys.stderr)
        return 1
    if args.rank == 0:
        scopes = fold_parties(gathered)
        print(json.dumps({"workload": args.workload, "params": params, "provider": args.provider,
                          "world_size": args.world_size, "checks": gathered[0]["checks"],
                          "scopes": scopes}, indent=1))
    return 0


def _rendezvous_error(exc: BaseException) -> bool:
    """torch.distributed's own errors at the rendezvous (a mismatched world size, a store that went
    away), as opposed to a bug."""
    import torch.distributed as dist

    return isinstance(exc, dist.DistError)


def _measuring_options(p, emulated: str) -> None:
    """The options of every command that measures points (run, bench): the link to emulate, where and how
    many at a time, warm or cold parties, reuse of finished points, and a protocol seed."""
    p.add_argument("--emulate", metavar="LINK",
                   help=f"run {emulated} over this link, emulated (network namespaces and a userspace relay; "
                        "root only; e.g. 50mbit:20ms:full): records carry the measured wall_s beside est_s")
    _jobs_option(p)
    _executor_option(p)
    _keep_stale_option(p)
    _cold_option(p)
    _protocol_seed_option(p)


def _protocol_seed_option(p) -> None:
    p.add_argument("--protocol-seed", type=int, metavar="N",
                   help="derive the protocol's masks and dealer material from N: errors repeat exactly; "
                        "NOT secure (recorded as such)")


#: a protocol seed seeds torch's generator (a signed 64-bit integer)
SEED_RANGE = (0, 2**62)


def _apply_protocol_seed(args) -> None:
    """--protocol-seed into the environment the parties inherit; the environment's numeric settings
    checked before anything starts (one line, exit 2, rather than a party failing later)."""
    from .mpc.parties import JOIN_TIMEOUT_ENV, PROTOCOL_SEED_ENV, STALL_ENV

    given = getattr(args, "protocol_seed", None)
    seed = str(given) if given is not None else os.environ.get(PROTOCOL_SEED_ENV)
    if seed is not None:
        try:
            ok = SEED_RANGE[0] <= int(seed) < SEED_RANGE[1]
        except ValueError:
            ok = False
        if not ok:
            raise UsageError(f"protocol seed {seed!r} (--protocol-seed or {PROTOCOL_SEED_ENV}): an integer in "
                             f"[0, 2^62)")
        if given is not None:
            os.environ[PROTOCOL_SEED_ENV] = seed
    for name in (STALL_ENV, JOIN_TIMEOUT_ENV):
        value = os.environ.get(name)
        if value is not None:
            try:
                ok = 0 < float(value) < float("inf")
            except ValueError:
                ok = False
            if not ok:
                raise UsageError(f"{name}={value!r}: a positive number of seconds")


class _OneLineErrors(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), without the usage block."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _OneLineErrors(prog="secfwt", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="workloads and their parameters (or what a profile runs)")
    p.add_argument("--profile")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("links", help="link profiles and the time model")
    p.add_argument("--links", help="comma-separated names or inline BANDWIDTH:LATENCY")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_links)

    p = sub.add_parser("run", help="run a workload over a parameter grid as real 2PC processes")
    p.add_argument("workload")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2",
                   help="parameter values (repeatable); the grid is their product")
    p.add_argument("--links", default="lan,wan200,wan100")
    p.add_argument("--provider", default="ttp", type=str.lower, choices=PROVIDERS,
                   help="; ".join(f"{k}: {v}" for k, v in SECURITY.items()))
    p.add_argument("--world-size", type=int, default=2)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--out", help="JSON-lines file: records appended as they finish; finished ones skipped")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--progress", action="store_true", help="progress bar even when stderr is not a terminal")
    _measuring_options(p, "the two parties")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", help="run a profile and write its records and report")
    p.add_argument("--profile", default=os.environ.get("SECFWT_PROFILE", "quick"))
    p.add_argument("--provider", default="ttp", type=str.lower, choices=PROVIDERS)
    p.add_argument("--records", help="records file (default reports/records/PROFILE.jsonl)")
    p.add_argument("--report-dir", default="reports")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--resume", action="store_true",
                   help="start from the published records file (keep its finished points) when no .partial exists")
    _measuring_options(p, "every sweep's two parties")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("gate", help="compare a profile's rounds and bytes with the committed baseline")
    p.add_argument("--records", default="reports/records/quick.jsonl")
    p.add_argument("--baseline", default="benchmarks/baselines/quick.json")
    p.add_argument("--write", action="store_true", help="rewrite the baseline from the records")
    p.set_defaults(func=cmd_gate)

    p = sub.add_parser("report", help="tables and figures from stored records (no MPC run)")
    p.add_argument("--records", action="append", help="records file (repeatable; default reports/records/*.jsonl)")
    p.add_argument("--out", default="reports")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("party", help="run one party of a multi-host run (rank world_size is the dealer)")
    p.add_argument("workload")
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--world-size", type=int, default=2)
    p.add_argument("--master", required=True, help="HOST:PORT where rank 0 listens")
    p.add_argument("--bind", metavar="INTERFACE",
                   help="network interface whose address this party listens on (e.g. eth0; default: gloo's "
                        "choice from the host name)")
    p.add_argument("--join-timeout", type=float, metavar="SECONDS",
                   help="give up when not every party has joined within this time (default SECFWT_JOIN_TIMEOUT_S "
                        "or 60); only the join is bounded, not the computation")
    p.add_argument("--provider", default="ttp", type=str.lower, choices=PROVIDERS)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--insecure-no-token", action="store_true",
                   help=f"run without {TOKEN_ENV} (any host that reaches --master can join; for trusted networks)")
    p.set_defaults(func=cmd_party)
    return ap




def _model_bars(progress: bool) -> bool:
    """Hugging Face's own progress bars (transformers' "Loading weights") follow the suite's: off when
    they are off, here and in every party, dealer or worker started later (they inherit it)."""
    if not progress:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    return progress


def main(argv=None) -> int:
    """The whole command runs with SIGTERM and SIGHUP turned into SystemExit(128 + n): start-up, a
    plaintext run and the time between two points stop as cleanly as a run does (one line, exit
    143 or 129, no --out lock left behind)."""
    from .mpc.parties import TerminateOnSignals

    with TerminateOnSignals():
        return _main(argv)


def _main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    try:
        _apply_protocol_seed(args)
        return args.func(args)
    except InputError as exc:  # bad input only (UsageError is one); anything else keeps its traceback
        print(f"secfwt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("secfwt: interrupted; finished records are kept", file=sys.stderr)
        return 130
    except SystemExit as exc:  # SIGTERM / SIGHUP during a run (secfwt.mpc.parties): parties are gone
        if isinstance(exc.code, int) and exc.code > 128:
            print(f"secfwt: stopped by {signal.Signals(exc.code - 128).name}; finished records are kept",
                  file=sys.stderr)
        raise


if __name__ == "__main__":
    sys.exit(main())
