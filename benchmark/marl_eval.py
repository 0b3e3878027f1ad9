"""The marl-eval JSON layout (what BenchMARL's `create_json=True` writes), both ways.

    {env: {task: {algo: {"seed_N": {"step_K": {"step_count": int, "return": [floats], ...},
                                     "absolute_metrics": {"return": [floats], ...}}}}}}

Export: one `step_K` per evaluation, `"return": [eval_return]`. The tidy table keeps each
evaluation's mean (and std and count), not the per-episode returns, so each list holds that
mean; marl-eval only ever averages these lists, so its numbers are unchanged. `win_rate` is
added where a run has one at every evaluation. `absolute_metrics` is the imported file's own
(for the metrics exported) when the run came from one, otherwise the run's last evaluation (we
do not re-evaluate the best policy with 10x episodes as marl-eval's protocol suggests). The
output passes marl-eval's `DiagnoseData` checks and `data_process_pipeline`.

Import: per step the mean, population std and count of `return` (and mean `win_rate`) become
a table row; metrics the table has no column for (e.g. BenchMARL's `agents_return`) are
listed in run.json, not kept. The file does not say how many agents a task had: a task
exported by us as `navigation@n3` carries it; otherwise pass `n_agents`.

Tasks are exported as the scenario name, with `@nN` appended only where one scenario ran at
several agent counts (marl-eval would otherwise merge them).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from baselines.core.errors import UserError
from benchmark.metrics import normalize_table

STEP_KEY = re.compile(r"^step_(\d+)$")
TASK_AGENTS = re.compile(r"^(?P<task>.+)@n(?P<n>\d+)$")
TABLE_COLUMNS = ["experiment", "run_id", "algo", "env", "family", "scenario", "n_agents", "seed",
                 "backend", "demo_s", "env_steps", "wall_s", "episodes", "updates", "update_s",
                 "eval_return", "eval_return_std", "eval_win_rate", "eval_episodes",
                 "train_return"]


# ------------------------------------------------------------------------------------- export

def to_marl_eval(table: pd.DataFrame, absolute: dict[str, dict] | None = None) -> dict:
    """Nested marl-eval dict from a tidy table; `absolute`: run_id -> absolute_metrics."""
    t = normalize_table(table).dropna(subset=["eval_return", "env_steps"])
    absolute = absolute or {}
    counts = t[t["n_agents"] > 0].groupby(["family", "scenario"])["n_agents"].nunique()
    out: dict[str, Any] = {}
    for run_id, df in t.sort_values(["run_id", "env_steps"]).groupby("run_id", sort=False):
        r = df.iloc[0]
        task = str(r["scenario"])
        if counts.get((r["family"], r["scenario"]), 1) > 1 and r["n_agents"] > 0:
            task = f"{task}@n{int(r['n_agents'])}"
        runs = out.setdefault(str(r["family"]), {}).setdefault(task, {}) \
            .setdefault(str(r["algo"]), {})
        key = f"seed_{int(r['seed'])}" if not pd.isna(r["seed"]) else f"run_{run_id}"
        if key in runs:  # two runs with one seed in a cell: keep both, distinguishable
            key = f"{key}_{run_id}"
        win = df["eval_win_rate"].to_numpy(float)
        has_win = bool(np.isfinite(win).all())
        steps: dict[str, Any] = {}
        for i, row in enumerate(df.itertuples(index=False)):
            step = {"step_count": int(row.env_steps), "return": [float(row.eval_return)]}
            if has_win:
                step["win_rate"] = [float(row.eval_win_rate)]
            steps[f"step_{i}"] = step
        last = {k: v for k, v in steps[f"step_{len(df) - 1}"].items() if k != "step_count"}
        # marl-eval wants the same metric names in every step and in absolute_metrics.
        kept = {k: v for k, v in (absolute.get(str(run_id)) or {}).items() if k in last}
        steps["absolute_metrics"] = kept or last
        runs[key] = steps
    return out


# ------------------------------------------------------------------------------------- import

def from_marl_eval(data: Any, experiment: str, n_agents: int | None = None,
                   source: str = "") -> tuple[pd.DataFrame, dict[str, dict]]:
    """Tidy table rows and one run.json per run from a marl-eval dict (backend "imported").

    `source` (e.g. the file's sha256) goes into the run ids, so importing the same file twice
    gives the same ids and an importer can skip runs it already has.
    """
    if not isinstance(data, dict) or not data:
        raise UserError("marl-eval file: expected {env: {task: {algo: {run: {step_K: ...}}}}}")
    rows, runs = [], {}
    for env, tasks in data.items():
        for task, algos in _dict(tasks, env).items():
            scenario, n = _task_agents(task, n_agents)
            for algo, seeds in _dict(algos, f"{env}/{task}").items():
                for i, (run_key, steps) in enumerate(_dict(seeds, f"{env}/{task}/{algo}").items()):
                    where = f"{env}/{task}/{algo}/{run_key}"
                    run_id = hashlib.sha256(json.dumps([source, env, task, algo, run_key])
                                            .encode()).hexdigest()[:12]
                    seed = _seed(run_key, i)
                    evals, absolute, dropped = _steps(_dict(steps, where), where)
                    for e in evals:
                        rows.append({"experiment": experiment, "run_id": run_id, "algo": algo,
                                     "env": f"{env}:{scenario}", "family": env,
                                     "scenario": scenario, "n_agents": n, "seed": seed,
                                     "backend": "imported", **e})
                    runs[run_id] = _run_json(run_id, env, scenario, task, algo, run_key, n,
                                             seed, evals, absolute, dropped, source)
    table = pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)
    return table, runs


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise UserError(f"marl-eval file: {where} should map names to objects, "
                        f"found {type(value).__name__}")
    return value


def _task_agents(task: str, n_agents: int | None) -> tuple[str, int | None]:
    m = TASK_AGENTS.match(task)
    if m:
        return m["task"], int(m["n"])
    return task, n_agents


def _seed(run_key: str, index: int) -> int:
    m = re.search(r"(\d+)$", run_key)
    return int(m.group(1)) if m else index


def _steps(steps: dict, where: str) -> tuple[list[dict], dict, list[str]]:
    evals, absolute, dropped = [], {}, set()
    for key, step in steps.items():
        if "absolute" in key.lower():
            absolute = _dict(step, f"{where}/{key}")
            continue
        if not STEP_KEY.match(key):
            dropped.add(key)
            continue
        step = _dict(step, f"{where}/{key}")
        if "step_count" not in step or "return" not in step:
            raise UserError(f"marl-eval file: {where}/{key} needs 'step_count' and 'return'")
        ret = _floats(step["return"], f"{where}/{key}/return")
        win = _floats(step["win_rate"], f"{where}/{key}/win_rate") if "win_rate" in step else []
        dropped.update(k for k in step if k not in ("step_count", "return", "win_rate"))
        try:
            count = int(step["step_count"])
        except (TypeError, ValueError):
            raise UserError(f"marl-eval file: {where}/{key}/step_count is not an integer")
        evals.append({"env_steps": count,
                      "eval_return": float(np.mean(ret)) if ret else np.nan,
                      "eval_return_std": float(np.std(ret)) if ret else np.nan,
                      "eval_win_rate": float(np.mean(win)) if win else np.nan,
                      "eval_episodes": len(ret)})
    if not evals:
        raise UserError(f"marl-eval file: {where} has no step_K entries")
    evals.sort(key=lambda e: e["env_steps"])
    return evals, absolute, sorted(dropped)


def _floats(value: Any, where: str) -> list[float]:
    values = value if isinstance(value, list) else [value]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise UserError(f"marl-eval file: {where} should be a list of numbers")


def _run_json(run_id, env, scenario, task, algo, run_key, n, seed, evals, absolute, dropped,
              source) -> dict:
    steps = [e["env_steps"] for e in evals]
    interval = int(np.median(np.diff(steps))) if len(steps) > 1 else None
    return {
        "run_id": run_id,
        "backend": "imported",
        "config": {"algo": algo, "env": f"{env}:{scenario}", "n_agents": n, "seed": seed,
                   "env_steps": max(steps), "eval_interval": interval,
                   "eval_episodes": evals[-1]["eval_episodes"], "num_envs": None,
                   "overrides": {}, "env_options": {}, "demos": None},
        # Nothing about the machine or code that produced the file is known: say so.
        "provenance": {"git_commit": None, "git_dirty": None, "package_version": None,
                       "python": None, "libraries": {}, "hardware": None, "hostname": None,
                       "started_at": None, "demos": None,
                       "imported": {"format": "marl-eval", "source_sha256": source,
                                    "path": [env, task, algo, run_key]}},
        "marl_eval": {"absolute_metrics": absolute, "dropped_metrics": dropped},
    }
