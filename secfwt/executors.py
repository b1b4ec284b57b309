"""Where a sweep's points run: here (``--executor local``, the default) or as Dask tasks on many
workers (``--executor dask``), one command from a laptop to a cluster.

``local`` is :func:`secfwt.runner.run_grid`'s own loop: MPC points one after another in this
process's warm party pool, plaintext tuning runs ``--jobs`` at a time.  ``dask`` makes every grid
point (or tuning run) one Dask task:

* **The cluster.** ``--scheduler tcp://host:8786`` reaches a running one (``dask scheduler``, then
  ``dask worker tcp://host:8786 --nthreads 1`` on each host).  Without it, a
  ``distributed.LocalCluster`` of ``--workers N`` processes of one thread each starts here and stops
  with the command.
* **On the worker.** A task hands its point to the worker's point server (``python -m
  secfwt.executors``), a child process the worker starts for its first point and keeps: it runs
  :func:`secfwt.runner.run_one` in its main thread, in a warm party pool (:mod:`secfwt.mpc.pool`)
  that it reuses point after point, as a local run does.  The parties, dealer and data owner are
  its children, supervised exactly as in a local run (stall watch, time-outs, clean-up).
* **One writer.** Records travel back to this client; :func:`secfwt.runner.run_grid` appends them
  to ``--out`` in grid order (finished records held back for an earlier point are written when the
  command is interrupted).  Resume, the lock, ``code_version`` and re-estimation under other links
  are run_grid's, unchanged.
* **Faults.** A worker that dies mid-point: the point is submitted once more (a LocalCluster's
  scheduler is told not to retry by itself; a remote scheduler's ``allowed-failures`` retries
  come first); if that attempt dies too, the point's record is an error naming the failure.  Ctrl-C
  or SIGTERM: the client sets the sweep's cancel event, every busy point server is stopped (SIGTERM:
  its parties go as in a local run), queued tasks are cancelled and a LocalCluster is closed.  A
  point server whose worker goes away stops itself within a second.
* **Timing integrity.** A worker runs one point at a time (one thread), so parties never share
  cores with another point's; each record's ``env`` names its host and worker.  Times from
  different hosts are not comparable; counts always are.

Where the cost is paid: per point, the client pickles the parameters and receives one record
(kilobytes); the scheduler makes one assignment.  Each worker pays its point server's start-up
(an interpreter with torch and CrypTen, a warm pool) once.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass

from .mpc.process import PROTOCOL_SEED_ENV, STALL_ENV

#: the executors ``--executor`` offers
EXECUTORS = LOCAL, DASK = ("local", "dask")
#: environment variables a point's processes read, carried from the client to remote workers
CARRIED_ENV = (PROTOCOL_SEED_ENV, STALL_ENV, "HF_HUB_DISABLE_PROGRESS_BARS")
#: how often a busy task checks its process and the sweep's cancel event
POLL_S = 0.5


class Cancelled(RuntimeError):
    """The sweep was interrupted (its cancel event set) before or while this task ran its point."""


class PointServerDied(RuntimeError):
    """The worker's point server ended while it ran a point (not the worker: a Dask retry would not help)."""


# -- the worker side -----------------------------------------------------------------------------------
#: this worker process's point server (one thread per worker: one at a time), and whether a task uses it
_SERVER = None
_BUSY = threading.Event()


def busy() -> bool:
    """Whether this worker is running a point (asked through ``Client.run``)."""
    return _BUSY.is_set()


def _server(cold: bool):
    """The worker's point server, started if there is none (or it is gone)."""
    global _SERVER
    if _SERVER is not None and _SERVER.poll() is None and _SERVER.secfwt_cold == cold:
        return _SERVER
    _stop(_SERVER)
    command = [sys.executable, "-m", "secfwt.executors", "--parent", str(os.getpid())] + (["--cold"] if cold else [])
    _SERVER = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_point_environment())
    _SERVER.secfwt_cold = cold
    return _SERVER


def _point_environment() -> dict:
    """The worker's environment without what Dask's nanny set for its own worker process
    (``distributed.nanny.pre-spawn-environ``: MALLOC_TRIM_THRESHOLD_=65536 made glibc hand memory back
    on every large free, and a FoT run 45% slower, 25 s against 17 s; thread counts of 1): a point
    runs as in a local run, which sets its own threads (one per party; one for a tuning run)."""
    import dask
    import distributed  # noqa: F401 - loads distributed's configuration defaults

    env = dict(os.environ)
    for name, value in (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items():
        if env.get(name) == str(value):
            env.pop(name)
    return env


def _send(point: dict):
    """Hand ``point`` to this worker's point server (started if need be); returns the server."""
    server = _server(point["cold"])
    pickle.dump(point, server.stdin)
    server.stdin.flush()
    return server


def _stop(server, grace_s: float = 30.0) -> None:
    """SIGTERM a point server (it kills its parties and exits), SIGKILL it after ``grace_s``."""
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(grace_s)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def point_task(point: dict, cancel: str) -> dict:
    """A Dask task: run one point in this worker's point server and return its record; stop the
    server and raise if the sweep's cancel event ``cancel`` is set meanwhile."""
    from distributed import Event, get_worker

    worker = get_worker()
    event = Event(cancel)
    if event.is_set():  # queued when the sweep was interrupted
        raise Cancelled(cancel)
    _BUSY.set()
    try:
        try:
            server = _send(point)
        except BrokenPipeError:  # it ended since its last point: a fresh one
            server = _send(point)
        while not select.select([server.stdout], [], [], POLL_S)[0]:
            if server.poll() is not None:
                raise PointServerDied(f"the point server of worker {worker.address} ended (exit {server.returncode})")
            if event.is_set():
                _stop(server)
                raise Cancelled(cancel)
        try:
            record = pickle.load(server.stdout)
        except EOFError:
            raise PointServerDied(f"the point server of worker {worker.address} ended (exit {server.wait()})") from None
    finally:
        _BUSY.clear()
    record.setdefault("env", {})["executor"] = {"kind": "dask", "worker": worker.address, "host": os.uname().nodename}
    return record


def serve(parent: int, cold: bool) -> int:
    """The point server's main: read pickled points on stdin, run each, write its pickled record on
    stdout; everything else printed goes to stderr.  Ends at end of input, on SIGTERM (its parties
    killed first) or within a second of its worker."""
    from .mpc import pool
    from .mpc.parties import TerminateOnSignals
    from .runner import run_one

    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints, from Python or C, cannot corrupt the replies
    points = sys.stdin.buffer

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)  # the worker is gone: stop as on Ctrl-C
        time.sleep(30)
        os._exit(1)

    threading.Thread(target=watch, name="secfwt-worker-watch", daemon=True).start()
    with TerminateOnSignals(), (pool.cold() if cold else pool.warm()):
        while True:
            try:
                point = pickle.load(points)
            except EOFError:
                return 0
            for name in CARRIED_ENV:
                if name in point["env"]:
                    os.environ[name] = point["env"][name]
                else:
                    os.environ.pop(name, None)
            if point["plaintext"]:
                import torch

                torch.set_num_threads(1)  # one core per worker
            record = run_one(point["workload"], point["params"], point["links"], provider=point["provider"],
                             world_size=point["world_size"], emulate=point["emulate"],
                             checkpoint=point["checkpoint"])
            pickle.dump(record, replies)
            replies.flush()


# -- the client side -----------------------------------------------------------------------------------
@dataclass
class Dask:
    """``--executor dask``: the points of one grid as Dask tasks (see the module doc).  Use as a
    context manager around the sweep (it holds the client and, without ``scheduler``, the cluster)."""

    scheduler: str | None = None
    workers: int = 2
    cold: bool = False

    def __enter__(self):
        import dask
        from distributed import Client, LocalCluster

        self.cluster, self.scratch = None, None
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="30s")
        else:
            self.scratch = tempfile.mkdtemp(prefix="secfwt-dask-")  # the workers' folders and locks, removed on exit
            # the client retries a point once; Dask's scratch space (else /tmp/dask-scratch-space, left behind) is ours
            self._config = dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                            "temporary-directory": self.scratch})
            try:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, memory_limit=0, silence_logs=40,
                                            local_directory=self.scratch)
                self.client = Client(self.cluster)
            except BaseException:
                self._remove_scratch()
                raise
        busy = {a: w["nthreads"] for a, w in self.client.scheduler_info()["workers"].items() if w["nthreads"] > 1}
        if busy:
            print(f"secfwt: warning: Dask workers with more than one thread run points side by side, sharing cores "
                  f"(start them with --nthreads 1): {busy}", file=sys.stderr)
        return self

    def __exit__(self, *exc):
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self._remove_scratch()

    def _remove_scratch(self) -> None:
        if self.scratch is not None:
            self._config.__exit__(None, None, None)
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def __call__(self, workload: str, todo: list[dict], links: list, provider: str, world_size: int, emulate,
                 checkpoint):
        """Yield (index into ``todo``, record) as points finish, on any worker."""
        from distributed import Event, as_completed
        from distributed.scheduler import KilledWorker

        from . import workloads
        from .runner import error_record

        plaintext = workloads.get(workload).plaintext
        sweep = uuid.uuid4().hex[:12]
        cancel = Event(f"secfwt-cancel-{sweep}", client=self.client)
        env = {k: os.environ[k] for k in CARRIED_ENV if k in os.environ}
        points = [{"workload": workload, "params": p, "links": links, "provider": provider, "world_size": world_size,
                   "emulate": emulate, "checkpoint": checkpoint(p), "cold": self.cold, "plaintext": plaintext,
                   "env": env} for p in todo]

        def submit(i: int, attempt: int):
            return self.client.submit(point_task, points[i], cancel.name, key=f"secfwt-{sweep}-{i}-{attempt}",
                                      pure=False)

        running = {submit(i, 1): (i, 1) for i in range(len(points))}
        finished = as_completed(list(running))
        try:
            for future in finished:
                i, attempt = running.pop(future)
                try:
                    record = future.result()
                except KilledWorker as exc:
                    if attempt == 1:
                        retry = submit(i, 2)
                        running[retry] = (i, 2)
                        finished.add(retry)
                        continue
                    record = error_record(workload, todo[i], provider, world_size, links,
                                          f"the Dask worker running this point died, twice (retried once): {exc}")
                except Exception as exc:  # noqa: BLE001 - a point server that died: the point's own error
                    record = error_record(workload, todo[i], provider, world_size, links,
                                          f"{type(exc).__name__}: {exc}")
                else:
                    record["env"]["executor"]["attempts"] = attempt
                yield i, record
        finally:
            if running:  # interrupted: stop the busy point servers (their parties go with them), drop the queue
                cancel.set()
                deadline = time.monotonic() + 45
                while time.monotonic() < deadline and any(self.client.run(busy).values()):
                    time.sleep(POLL_S)
                self.client.cancel(list(running))


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m secfwt.executors",
                                 description="a Dask worker's point server (started by secfwt.executors.point_task)")
    ap.add_argument("--parent", type=int, required=True, help="the worker's pid: stop when it is gone")
    ap.add_argument("--cold", action="store_true", help="fresh parties per point, no warm pool")
    args = ap.parse_args(argv)
    return serve(args.parent, args.cold)


if __name__ == "__main__":
    sys.exit(main())
