"""Per-run metrics from the tidy table: one row per run, the numbers a reader compares.

Everything is vectorised over runs (a table of 1,000 runs x 100 evaluations takes well under a
second) and tolerant of NaN: a metric that cannot be computed for a run is NaN, never an error.
Statistics across seeds live in `benchmark.stats`; nothing here reads or writes files.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from baselines.core.errors import UserError

# What identifies a run, a task (what algorithms are compared on) and a cell (one algorithm on
# one task, aggregated across seeds).
RUN_KEYS = ["run_id", "experiment", "algo", "env", "family", "scenario", "n_agents", "seed",
            "backend"]
TASK_KEYS = ["env", "scenario", "n_agents"]
CELL_KEYS = TASK_KEYS + ["algo"]

KNOWN_ALGOS = ["leed", "mappo", "ippo", "qmix", "vdn", "iql"]

REQUIRED_COLUMNS = ["run_id", "algo", "env", "n_agents", "seed", "env_steps", "eval_return"]
NUMERIC_COLUMNS = ["n_agents", "seed", "demo_s", "env_steps", "wall_s", "episodes", "updates",
                   "update_s", "eval_return", "eval_return_std", "eval_win_rate",
                   "eval_episodes", "train_return"]
TEXT_COLUMNS = ["experiment", "run_id", "algo", "env", "family", "scenario", "backend"]


@dataclass(frozen=True)
class Metric:
    label: str  # axis / table label, with unit
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "final": Metric("final return (mean of last k evaluations)", True),
    "auc": Metric("normalized AUC (mean return over training)", True),
    "steps_to_threshold": Metric("env steps to threshold", False),
    "wall_to_threshold_s": Metric("wall seconds to threshold (s)", False),
    "wall_to_threshold_incl_demo_s": Metric(
        "wall seconds to threshold incl. demonstration generation (s)", False),
    "env_steps_per_s": Metric("throughput (env steps/s)", True),
    "s_per_update": Metric("seconds per update (s)", False),
    "s_per_step": Metric("wall seconds per env step (s)", False),
    "wall_s": Metric("wall seconds (s)", False),
    "wall_incl_demo_s": Metric("wall seconds incl. demonstration generation (s)", False),
}


def normalize_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check the columns a report needs and give every column one dtype, so NaN never surprises.

    Missing optional columns become NaN; `family`/`scenario` are derived from `env`
    ("family:scenario") when absent; numbers that do not parse become NaN.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"run table lacks column(s) {', '.join(missing)}")
    t = table.copy()
    for col in NUMERIC_COLUMNS:
        t[col] = pd.to_numeric(t[col], errors="coerce") if col in t else np.nan
    for col in TEXT_COLUMNS:
        if col not in t:
            t[col] = pd.NA
    env = t["env"].astype("string")
    split = env.str.split(":", n=1, expand=True).reindex(columns=[0, 1])
    t["family"] = t["family"].astype("string").fillna(split[0])
    t["scenario"] = t["scenario"].astype("string").fillna(split[1].fillna(env))
    t["backend"] = t["backend"].astype("string").fillna("native")
    for col in ["experiment", "run_id", "algo", "env"]:
        t[col] = t[col].astype("string")
    # 0 means "agent count unknown" (e.g. an imported file): a real value keeps every group-by
    # and lookup simple, where a missing key would silently drop or fail to match.
    t["n_agents"] = t["n_agents"].fillna(0).round().astype("int64")
    t["seed"] = t["seed"].round().astype("Int64")
    t = t[t["run_id"].notna() & t["algo"].notna() & t["env"].notna()]
    return label_algos(t).reset_index(drop=True)


SCORES = ("auto", "return", "win_rate")
SCORE_LABELS = {"return": "return", "win_rate": "win rate"}


def select_score(table: pd.DataFrame, score: str = "auto") -> pd.DataFrame:
    """The table with `eval_return` holding each task's score, named in a `score` column.

    Everything downstream (final, AUC, thresholds, curves, tests) reads `eval_return`, so the
    choice is made once, here. "auto": the win rate on tasks whose every evaluation records
    one (SMAX/SMACv2, where papers quote it), the return elsewhere; "return" / "win_rate"
    force one (a task without win rates then has no scores under "win_rate"). The evaluation
    return itself stays in `episode_return`.
    """
    if score not in SCORES:
        raise UserError(f"--metric must be one of {', '.join(SCORES)}, got {score!r}")
    t = table.copy()
    t["episode_return"] = t["eval_return"]
    if score == "return":
        t["score"] = "return"
        return t
    evals = t[t["eval_return"].notna()]
    has_win = evals["eval_win_rate"].notna().groupby([evals[c].astype("string") for c in TASK_KEYS],
                                                     dropna=False).all()
    keys = pd.MultiIndex.from_arrays([t[c].astype("string") for c in TASK_KEYS])
    use_win = has_win.reindex(keys).fillna(False).to_numpy(bool) if score == "auto" else \
        np.ones(len(t), bool)
    t["eval_return"] = np.where(use_win, t["eval_win_rate"], t["eval_return"])
    t["score"] = np.where(use_win, "win_rate", "return")
    return t


def score_label(table: pd.DataFrame) -> str:
    """"return", "win rate", or "score" where the table's rows mix the two."""
    names = set(table["score"].dropna()) if "score" in table else {"return"}
    return SCORE_LABELS[names.pop()] if len(names) == 1 else "score"


def score_labels(table: pd.DataFrame, by) -> dict:
    """Group key (a task, a family, a scale group: anything `groupby` takes) -> its score label."""
    return {key: score_label(rows) for key, rows in table.groupby(by, dropna=False)}


def label_algos(table: pd.DataFrame) -> pd.DataFrame:
    """Name an algorithm `mappo[epymarl]` where the same algorithm ran on several backends.

    Without this, native and EPyMARL (or imported) runs of one algorithm would be pooled as seeds.
    """
    backends = table.groupby("algo", dropna=False)["backend"].nunique()
    mixed = backends[backends > 1].index
    t = table.copy()
    rows = t["algo"].isin(mixed)
    t.loc[rows, "algo"] = t.loc[rows, "algo"] + "[" + t.loc[rows, "backend"] + "]"
    return t


def run_metrics(
    table: pd.DataFrame,
    k: int = 3,
    threshold: float | Mapping[str, float] | None = None,
    threshold_frac: float = 0.9,
) -> pd.DataFrame:
    """One row per run: final, auc, steps/wall seconds to threshold, throughput, update cost.

    `final` is the mean of the last `k` evaluations (less noisy than the last one alone).
    `auc` is the trapezoid area under return vs env steps divided by the step span, i.e. the
    mean return over training: it rewards learning early and stays in return units.
    The threshold is `threshold` (one number, or per env key or scenario, as in a spec); tasks
    without one use `start + threshold_frac * (best - start)`, where `best` is the best
    algorithm's mean final return on the task and `start` the mean first evaluation, so it
    works for negative returns too (it equals `threshold_frac * best` when returns start at 0).
    Steps/seconds to threshold are those of the first evaluation at or above it (resolution:
    the evaluation interval); NaN when never reached.
    """
    t = normalize_table(table)
    if t.empty:
        return pd.DataFrame(columns=RUN_KEYS + ["n_evals", "threshold", *METRICS])
    t = t.sort_values(["run_id", "env_steps"], kind="stable")
    last = t.groupby("run_id", sort=False).tail(1).set_index("run_id")
    out = t.groupby("run_id", sort=False)[RUN_KEYS[1:]].first()
    out["demo_s"] = t.groupby("run_id", sort=False)["demo_s"].max()

    evals = t.dropna(subset=["eval_return", "env_steps"])
    g = evals.groupby("run_id", sort=False)
    out["n_evals"] = g.size().reindex(out.index).fillna(0).astype(int)
    out["first_return"] = g["eval_return"].first()
    out["final"] = evals.groupby("run_id", sort=False).tail(max(k, 1)) \
        .groupby("run_id", sort=False)["eval_return"].mean()
    out["auc"] = _normalized_auc(evals)

    thr = _thresholds(out, threshold, threshold_frac)
    out["threshold"] = thr
    above = evals[evals["eval_return"] >= evals["run_id"].map(thr)]
    first_hit = above.groupby("run_id", sort=False).head(1).set_index("run_id")
    out["steps_to_threshold"] = first_hit["env_steps"]
    out["wall_to_threshold_s"] = first_hit["wall_s"]
    demo = out["demo_s"].fillna(0.0)
    out["wall_to_threshold_incl_demo_s"] = out["wall_to_threshold_s"] + demo

    steps, wall = last["env_steps"], last["wall_s"]
    out["env_steps"] = steps
    out["wall_s"] = wall
    out["wall_incl_demo_s"] = wall + demo
    out["env_steps_per_s"] = _safe_div(steps, wall)
    out["s_per_step"] = _safe_div(wall, steps)
    out["s_per_update"] = _safe_div(last["update_s"], last["updates"])
    out["scale_group"] = [scale_group(e, n) for e, n in zip(out["env"], out["n_agents"])]
    return out.drop(columns="first_return").reset_index()


def scale_group(env: str, n_agents) -> str:
    """The env key with its agent count token replaced by N: LBF's `-2p-`, SMAX's `_5_units`,
    SMACv2's `_5_vs_5`.

    These families encode the agent count in the scenario name, so `Foraging-8x8-2p-2f-v3` and
    `Foraging-8x8-4p-2f-v3` (or `smacv2_5_units` and `smacv2_10_units`, the SMACv2 ladder) are one
    task family at several scales; scalability groups by this key.
    """
    if pd.isna(n_agents) or int(n_agents) <= 0:
        return str(env)
    n = int(n_agents)
    key = re.sub(rf"(?<![0-9]){n}p(?=-|$)", "Np", str(env))
    key = re.sub(rf"_{n}_units$", "_N_units", key)
    return re.sub(rf"_{n}_vs_{n}$", "_N_vs_N", key)


def _safe_div(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.where(den > 0)
    return num / den


def _normalized_auc(evals: pd.DataFrame) -> pd.Series:
    """Trapezoid area of return over env steps divided by the span; NaN for a single point."""
    same_run = evals["run_id"].eq(evals["run_id"].shift())
    dx = evals["env_steps"].diff().where(same_run)
    mid = ((evals["eval_return"] + evals["eval_return"].shift()) / 2).where(same_run)
    area = (dx * mid).groupby(evals["run_id"], sort=False).sum(min_count=1)
    g = evals.groupby("run_id", sort=False)["env_steps"]
    span = (g.max() - g.min())
    return area / span.where(span > 0)


def _thresholds(per_run: pd.DataFrame, threshold, frac: float) -> pd.Series:
    """Threshold per run: given (scalar or per env/scenario) or relative to the task's range."""
    thr = pd.Series(np.nan, index=per_run.index, dtype=float)
    if isinstance(threshold, (int, float)):
        thr[:] = float(threshold)
    elif isinstance(threshold, Mapping):
        for col in ("env", "scenario"):
            thr = thr.fillna(per_run[col].map(lambda v: threshold.get(v, np.nan)).astype(float))
    task = [per_run[c].astype("string").fillna("?") for c in TASK_KEYS]
    best = per_run.groupby(task + [per_run["algo"]], dropna=False)["final"].mean() \
        .groupby(level=[0, 1, 2], dropna=False).max()
    start = per_run.groupby(task, dropna=False)["first_return"].mean()
    rel = start + frac * (best - start)
    keys = pd.MultiIndex.from_arrays(task)
    relative = pd.Series(rel.reindex(keys).to_numpy(), index=per_run.index)
    return thr.fillna(relative)


def algo_order(algo: str) -> tuple:
    """Sort key: LEED first, then the baselines in a fixed order, then the rest alphabetically."""
    base = str(algo).split("[")[0]
    return (KNOWN_ALGOS.index(base) if base in KNOWN_ALGOS else len(KNOWN_ALGOS), str(algo))


def natural_key(text) -> tuple:
    """`Foraging-8x8` before `Foraging-10x10`: numbers compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


def task_label(env: str, n_agents) -> str:
    """Short human label for a task: `lbf:Foraging-8x8-2p-2f-v3, 2 agents`."""
    if pd.isna(n_agents) or int(n_agents) <= 0:
        return f"{env}, ? agents"
    n = f"{int(n_agents)} agent{'s' if n_agents != 1 else ''}"
    return f"{env}, {n}"
