"""Time `leed-bench report` on a synthetic experiment of 1,000 runs x 100 evaluations.

`python -m benchmark.perf.report_speed [--runs-per-cell 10] [--keep DIR]` prints the seconds
the report took (target: under 30 s on 2 cores). The synthetic layout is also what the tests
build their results folders from, so it follows docs/ARCHITECTURE.md exactly.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ALGOS = ["leed", "mappo", "ippo", "qmix", "vdn"]
# 4 scenarios x 5 agent counts = 20 tasks; x 5 algos x 10 seeds = 1,000 runs.
TASKS = [(f"lbf:Foraging-8x8-{n}p-2f-v3", n) for n in (2, 3, 4, 5, 6)] + \
        [(f"lbf:Foraging-10x10-{n}p-3f-v3", n) for n in (2, 3, 4, 5, 6)] + \
        [("vmas:navigation", n) for n in (2, 3, 4, 5, 6)] + \
        [("vmas:balance", n) for n in (2, 3, 4, 5, 6)]


def synthetic_table(algos: Sequence[str] = ALGOS, tasks: Sequence[tuple[str, int]] = TASKS,
                    seeds: Sequence[int] = range(10), n_evals: int = 100,
                    env_steps: int = 1_000_000, experiment: str = "synthetic",
                    skill: dict[str, float] | None = None, rng_seed: int = 0) -> pd.DataFrame:
    """A tidy table whose learning curves saturate at an algorithm-specific level, plus noise."""
    rng = np.random.default_rng(rng_seed)
    skill = skill or {a: 1.0 - 0.1 * i for i, a in enumerate(algos)}
    steps = np.linspace(0, env_steps, n_evals).round().astype(int)
    frames = []
    for env, n in tasks:
        family, scenario = env.split(":", 1)
        for algo in algos:
            for seed in seeds:
                run_id = hashlib.sha1(f"{experiment}|{env}|{n}|{algo}|{seed}".encode()) \
                    .hexdigest()[:12]
                level = skill.get(algo, 0.5) * (1 + 0.1 * rng.standard_normal())
                rate = 4.0 / env_steps * (1 + 0.2 * rng.standard_normal())
                ret = level * (1 - np.exp(-rate * steps)) + 0.02 * rng.standard_normal(n_evals)
                s_per_step = 2e-5 * n ** 1.0 * (1 + 0.05 * rng.standard_normal())
                wall = steps * s_per_step
                updates = steps // 1000
                demo_s = 30.0 if algo == "leed" else np.nan
                frames.append(pd.DataFrame({
                    "experiment": experiment, "run_id": run_id, "algo": algo, "env": env,
                    "family": family, "scenario": scenario, "n_agents": n, "seed": seed,
                    "backend": "native", "demo_s": demo_s, "env_steps": steps, "wall_s": wall,
                    "episodes": steps // 50, "updates": updates, "update_s": wall * 0.4,
                    "eval_return": ret, "eval_return_std": 0.1, "eval_win_rate": np.nan,
                    "eval_episodes": 32, "train_return": ret * 0.9}))
    return pd.concat(frames, ignore_index=True)


def run_json(row: pd.Series, env_steps: int, eval_interval: int) -> dict:
    """A run.json as the store writes it (docs/ARCHITECTURE.md), with scripted demos for LEED."""
    demos = None
    if row["algo"] == "leed":
        demos = {"generator": {"kind": "scripted", "model": None, "name": "rule-based planner",
                               "prompt_sha256": None},
                 "path": "demos/lbf", "revision": "abc1234", "seconds": 30.0, "tokens": 0}
    return {
        "run_id": row["run_id"],
        "config": {"algo": row["algo"], "env": row["env"], "n_agents": int(row["n_agents"]),
                   "seed": int(row["seed"]), "env_steps": env_steps,
                   "eval_interval": eval_interval, "eval_episodes": 32, "num_envs": 8,
                   "overrides": {}, "env_options": {}, "demos": "demos/lbf" if demos else None},
        "provenance": {"git_commit": "0123456789abcdef0123456789abcdef01234567",
                       "git_dirty": False, "package_version": "0.1.0", "python": "3.11.7",
                       "libraries": {"torch": "2.5.1", "numpy": "1.26.4"},
                       "hardware": {"cpu": "Synthetic CPU", "cores": 2, "memory_gb": 8.0,
                                    "gpu": None},
                       "hostname": "synthetic", "started_at": "2026-01-01T00:00:00+00:00",
                       "demos": demos},
    }


def write_experiment(exp_dir: Path, table: pd.DataFrame, write_runs: bool = True) -> Path:
    """Lay `table` out as results/<exp>/{table.csv, runs/<id>/{run.json, metrics.csv, done}}."""
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    if write_runs:
        for run_id, df in table.groupby("run_id", sort=False):
            d = exp_dir / "runs" / str(run_id)
            d.mkdir(parents=True, exist_ok=True)
            steps = df["env_steps"].to_numpy()
            interval = int(np.median(np.diff(steps))) if len(steps) > 1 else 0
            (d / "run.json").write_text(json.dumps(run_json(df.iloc[0], int(steps.max()),
                                                            interval), indent=1))
            df.iloc[:, 10:].to_csv(d / "metrics.csv", index=False)
            (d / "done").write_text("")
    table.to_csv(exp_dir / "table.csv", index=False)  # last, as the harness writes it
    return exp_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-per-cell", type=int, default=10, help="seeds (default 10)")
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="write the experiment here and keep it")
    args = parser.parse_args(argv)
    from benchmark.report import build_report

    table = synthetic_table(seeds=range(args.runs_per_cell), n_evals=args.evals)
    with tempfile.TemporaryDirectory() as tmp:
        exp = write_experiment(args.keep or Path(tmp) / "synthetic", table)
        start, cpu = time.perf_counter(), time.process_time()
        report = build_report(exp)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    n_runs = table["run_id"].nunique()
    # CPU seconds too: on a shared machine wall time also measures the neighbours.
    print(f"report over {n_runs} runs x {args.evals} evaluations ({len(table)} rows): "
          f"{seconds:.1f} s wall, {cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f} on "
          f"{len(os.sched_getaffinity(0))} cores" + (f" -> {report}" if args.keep else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
