"""Run one cell of the matrix into its folder: demonstrations (LEED), training, metrics, done.

`run_one` is what every executor calls, in a pool worker, a Ray worker or in-process (`leed-bench
train`). The training function is a parameter (default `baselines.train.train`) so tests can
drive the whole harness with a fast fake learner.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from baselines.core.errors import UserError
from benchmark import store
from benchmark.matrix import Run
from benchmark.spec import EPYMARL_PREFIX

TrainFn = Callable[..., Any]  # train(cfg, make_env, on_eval=, progress=, demos=) -> last row


def default_train_fn() -> TrainFn:
    """`baselines.train.train`, looked up when called (so a patched module attribute is used)."""
    import baselines.train

    return baselines.train.train


def make_env(*args: Any, **kwargs: Any) -> Any:
    """`benchmark.envs.make_env(key, n_agents, num_envs, seed=0, **options)`, imported on use."""
    from benchmark.envs import make_env as _make_env

    return _make_env(*args, **kwargs)


def one_torch_thread() -> None:
    """One intra-op thread per worker: on few cores, parallel runs beat parallel matmuls."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def run_one(run: Run, exp_dir: Path, train_fn: TrainFn | None = None,
            progress: bool = False) -> dict[str, Any]:
    """Train `run` into `exp_dir/runs/<run_id>/` (restarting a partial folder); return its summary."""
    one_torch_thread()
    cfg = run.config
    backend = "epymarl" if cfg.algo.startswith(EPYMARL_PREFIX) else "native"
    record: dict[str, Any] = {
        "run_id": run.run_id, "experiment": Path(exp_dir).name, "config": run.identity(),
        "backend": backend, "provenance": store.provenance(), "status": "running",
    }
    path = store.start_run(exp_dir, run.run_id, record)
    metrics = store.MetricsWriter(path)
    started = time.perf_counter()

    if backend == "epymarl":
        last = _run_epymarl(run, path, metrics.append)
    else:
        demos, demo_s, demo_provenance = _resolve_demos(run)
        if demos is not None:
            record["demo_s"] = demo_s
            record["provenance"]["demos"] = demo_provenance
        train = train_fn or default_train_fn()
        last = train(cfg, make_env, on_eval=metrics.append, progress=progress, demos=demos)

    if not metrics.rows and last:
        metrics.append(last)  # a learner that only returns its final row still leaves a curve
    final = metrics.rows[-1] if metrics.rows else {}
    record.update(
        status="done", finished_at=store.now_iso(), run_wall_s=time.perf_counter() - started,
        final={k: final.get(k) for k in ("env_steps", "wall_s", "eval_return", "eval_win_rate", "eval_mode")},
    )
    store.finish_run(path, record)
    return summarize(run, record)


def summarize(run: Run, record: dict[str, Any]) -> dict[str, Any]:
    """The figures printed per finished run."""
    final = record.get("final", {})
    return {
        "run_id": run.run_id, "label": run.label(), "eval_return": final.get("eval_return"),
        "eval_win_rate": final.get("eval_win_rate"), "eval_mode": final.get("eval_mode"),
        "env_steps": final.get("env_steps"), "wall_s": final.get("wall_s"),
        "run_wall_s": record.get("run_wall_s"), "demo_s": record.get("demo_s"),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """`eval_return=0.95 env_steps=200000 wall_s=181.2` (+ `win_rate=` where the task has one, `demo_s=` for LEED)."""
    def num(value: Any, fmt: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "nan"
        return format(value, fmt)

    mode = f" ({summary['eval_mode']} actions)" if summary.get("eval_mode") else ""
    win = summary.get("eval_win_rate")
    won = f" win_rate={num(win, '.3f')}" if isinstance(win, float) and not math.isnan(win) else ""
    text = (f"eval_return={num(summary['eval_return'], '.4g')}{won}{mode} "
            f"env_steps={num(summary['env_steps'], 'd')} wall_s={num(summary['wall_s'], '.1f')}")
    if summary.get("demo_s") is not None:
        text += f" demo_s={num(summary['demo_s'], '.1f')}"
    return text


def _resolve_demos(run: Run) -> tuple[Any, float | None, dict[str, Any]]:
    """LEED's demonstrations, the seconds to charge for them (`demo_s`), and their provenance."""
    cfg = run.config
    if cfg.demos is None:
        return None, None, {}
    from leed.demos import resolve_demos

    started = time.perf_counter()
    demos = resolve_demos(cfg.demos, cfg.env, cfg.n_agents, episodes=run.demo_episodes,
                          make_env=make_env)
    provenance = {"ref": cfg.demos, "resolve_s": time.perf_counter() - started,
                  **demos.provenance()}
    # Cached or downloaded demonstrations still cost their original generation time.
    return demos, float(provenance["demo_s"]), provenance


def _run_epymarl(run: Run, path: Path, on_eval: Callable[[dict], None]) -> Any:
    try:
        from baselines.epymarl import run_epymarl
    except ImportError as err:
        if err.name != "baselines.epymarl":
            raise
        raise UserError(f"{run.config.algo}: EPyMARL backend not available (baselines.epymarl)") \
            from None
    return run_epymarl(run.config, path, on_eval=on_eval)
