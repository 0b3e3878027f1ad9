"""Run a list of runs, skipping finished ones: a local process pool (default) or Ray.

Both leave the same layout. Pool workers write their run folder directly; Ray workers write to a
scratch folder and send the files back, so a cluster needs no shared filesystem. A failed run is
reported and left partial (restarted next time); the others go on.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from benchmark import store
from benchmark.matrix import Run
from benchmark.runner import TrainFn, default_train_fn, format_summary, one_torch_thread, run_one

EXECUTORS = ("local", "ray")


@dataclass
class Outcome:
    finished: list[dict[str, Any]] = field(default_factory=list)  # summaries of runs done now
    skipped: list[str] = field(default_factory=list)  # run ids that were already done
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run id, one-line reason)


def execute(runs: list[Run], exp_dir: Path, executor: str = "local", workers: int = 1,
            address: str | None = None, train_fn: TrainFn | None = None,
            echo: Callable[[str], None] = tqdm.write) -> Outcome:
    """Train every run of `runs` that is not done in `exp_dir`; print one line per finished run."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    exp_dir = Path(exp_dir)
    done = {r.run_id for r in runs if store.is_done(store.run_dir(exp_dir, r.run_id))}
    outcome = Outcome(skipped=[r.run_id for r in runs if r.run_id in done])
    # Seed-major: every (env, agents, algo) cell's first seed before any cell's second, so a
    # matrix stopped part way already holds a complete comparison with fewer seeds.
    pending = sorted((r for r in runs if r.run_id not in done), key=lambda r: r.config.seed)
    partial = sum(store.run_dir(exp_dir, r.run_id).exists() for r in pending)
    asked, workers = workers, local_parallelism(workers, executor, address)
    capped = f" ({asked} asked; this machine has {workers} cores)" if workers < asked else ""
    echo(f"{exp_dir.name}: {len(runs)} run{'s' * (len(runs) != 1)}, {len(outcome.skipped)} already done, "
         f"{len(pending)} to run ({partial} partial, restarted) on {executor} x{workers}{capped}")
    if not pending:
        return outcome
    # Resolved here, in the parent, and shipped by reference to the workers.
    train_fn = train_fn or default_train_fn()
    store.runs_dir(exp_dir).mkdir(parents=True, exist_ok=True)

    results = (_local(pending, exp_dir, workers, train_fn) if executor == "local"
               else _ray(pending, exp_dir, workers, address, train_fn))
    with tqdm(total=len(pending), desc=exp_dir.name, unit="run", file=sys.stderr,
              disable=None, dynamic_ncols=True) as bar:
        for run, summary, error in results:
            if error is None:
                outcome.finished.append(summary)
                echo(f"done   {run.label()}  {format_summary(summary)}  [{run.run_id}]")
            else:
                reason = _record_failure(exp_dir, run, error)
                outcome.failed.append((run.run_id, reason))
                echo(f"FAILED {run.label()}  {reason}  [{run.run_id}]")
            bar.update()
    return outcome


def _record_failure(exp_dir: Path, run: Run, error: BaseException) -> str:
    """Keep the traceback beside the partial run (it is deleted when the run restarts)."""
    path = store.run_dir(exp_dir, run.run_id)
    path.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(error))
    store.atomic_write_text(path / "error.txt", text)
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first} (traceback: {path / 'error.txt'})"


# --- local process pool -----------------------------------------------------------------------

def local_parallelism(workers: int, executor: str, address: str | None) -> int:
    """Runs at once on this machine: at most one per core (each run is one torch thread).

    More processes than cores only time-slice the same cores and slow every run's wall clock,
    which the results record. A Ray cluster (`address` given) schedules by its own CPU count.
    """
    if executor == "ray" and address:
        return workers
    return max(1, min(workers, os.cpu_count() or 1))


class WorkerDied(RuntimeError):
    """The process training a run ended without a result (killed by the OS, or crashed)."""


def _local(runs: list[Run], exp_dir: Path, workers: int,
           train_fn: TrainFn) -> Iterator[tuple[Run, dict | None, BaseException | None]]:
    """Each run in a fresh worker process of its own, at most `workers` at once.

    Why not one shared pool: when the OS kills one worker (out of memory), a shared pool breaks
    and fails every run still queued; here only that run fails and the matrix goes on. A fresh
    process per run also keeps one run's caches and allocator out of the next.
    """
    ctx = mp.get_context("spawn")  # no forked copies of the parent's threads or torch state
    queue, running = list(runs), {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                run = queue.pop(0)
                pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker,
                                           initargs=(os.getpid(),))
                future = pool.submit(run_one, run, exp_dir, train_fn)
                processes = list((getattr(pool, "_processes", None) or {}).values())
                running[future] = (run, pool, processes)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run, pool, processes = running.pop(future)
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    error = WorkerDied(_death_reason(processes))
                pool.shutdown(wait=False)
                yield run, (None if error else future.result()), error
    except BaseException:
        for _, pool, _ in running.values():
            pool.shutdown(wait=False, cancel_futures=True)
        raise


def _death_reason(processes: list) -> str:
    """'its worker process was killed by signal 9 (SIGKILL: out of memory?)', as far as known."""
    import signal

    for process in processes:
        process.join(timeout=5)
        code = process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "?"
            hint = ": out of memory? (see dmesg)" if -code == signal.SIGKILL else ""
            return f"its worker process was killed by signal {-code} ({name}{hint})"
        if code:
            return f"its worker process exited with code {code} before returning a result"
    return "its worker process died before returning a result"


def _init_worker(parent_pid: int) -> None:
    """One torch thread; and die with the parent, so a killed matrix leaves no orphan writing."""
    one_torch_thread()
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before we got here

    def watch() -> None:  # for systems without PDEATHSIG
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


# --- Ray --------------------------------------------------------------------------------------

def _ray_run(run: Run, exp_name: str, train_fn: TrainFn) -> tuple[dict, dict[str, bytes]]:
    """On a Ray worker: train into a scratch folder and send back the run folder's files."""
    with tempfile.TemporaryDirectory(prefix="leed-bench-") as scratch:
        exp_dir = Path(scratch) / exp_name
        summary = run_one(run, exp_dir, train_fn)
        path = store.run_dir(exp_dir, run.run_id)
        files = {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}
    return summary, files


def _ray(runs: list[Run], exp_dir: Path, workers: int, address: str | None,
         train_fn: TrainFn) -> Iterator[tuple[Run, dict | None, BaseException | None]]:
    try:
        import ray
    except ImportError:
        from baselines.core.errors import UserError

        raise UserError("--executor ray: ray is not installed (pip install 'leed-bench[ray]')") \
            from None
    started_here = not ray.is_initialized()
    if started_here:
        # address None: a local Ray with `workers` CPUs; otherwise join that cluster.
        ray.init(address=address, num_cpus=None if address else workers,
                 include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_run)
        refs = {task.remote(run, exp_dir.name, train_fn): run for run in runs}
        while refs:
            (ready,), _ = ray.wait(list(refs), num_returns=1)
            run = refs.pop(ready)
            try:
                summary, files = ray.get(ready)
            except Exception as error:  # noqa: BLE001 - reported per run, the rest go on
                yield run, None, getattr(error, "cause", None) or error
                continue
            store.write_run_files(exp_dir, run.run_id, files)
            yield run, summary, None
    finally:
        if started_here:
            ray.shutdown()
