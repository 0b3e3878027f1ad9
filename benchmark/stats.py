"""Statistics across seeds: interval estimates (rliable), tests (scipy), scalability, curves.

Functions take the per-run table of `benchmark.metrics.run_metrics` (or the tidy table for
curves) and return DataFrames; none reads or writes files. Where a number cannot be estimated
(no values, one seed, one agent count) it is NaN and a `note` column says why, so a report can
print the reason instead of failing.

Interval estimates are rliable's percentile stratified bootstrap. Per-cell estimates are
batched: every cell with the same seed count becomes one column (one stratum) of a single
`runs x cells` matrix, so one rliable call gives each cell exactly the bootstrap it would get
alone (runs resampled within the cell) at a fraction of the cost.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats as sps

from benchmark.metrics import CELL_KEYS, METRICS, TASK_KEYS, task_label

DEFAULT_REPS = 2000  # rliable's default for profiles; raise for camera-ready numbers


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """rliable resamples with numpy's global RNG: seed it for reproducible CIs, then restore."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def interval_estimates(scores: dict, func: Callable, reps: int = DEFAULT_REPS, seed: int = 0,
                       confidence: float = 0.95) -> tuple[dict, dict]:
    """rliable's `get_interval_estimates`, seeded; imported lazily (it pulls in arch, ~1 s)."""
    from rliable import library as rly

    with _seeded(seed):
        return rly.get_interval_estimates(scores, func, reps=reps,
                                          confidence_interval_size=confidence)


def iqm(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Interquartile mean: the 25% trimmed mean, equal to rliable's `aggregate_iqm` (axis=None).

    Same cut as `scipy.stats.trim_mean` (int(0.25 n) values off each end) without its per-call
    overhead, which dominated the bootstrap (2,000 calls per estimate).
    """
    x = np.asarray(x, dtype=float)
    if axis is None:
        x, axis = x.reshape(-1), 0
    n = x.shape[axis]
    cut = int(0.25 * n)
    return np.take(np.sort(x, axis=axis), np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _values(per_run: pd.DataFrame, metric: str) -> pd.Series:
    """Metric values with lower-is-better metrics negated, so 'greater' always means better."""
    v = per_run[metric].astype(float)
    return v if METRICS.get(metric, METRICS["final"]).higher_is_better else -v


def _group(df: pd.DataFrame, keys: list[str]):
    return df.groupby(keys, dropna=False, sort=True)


# --------------------------------------------------------------------------- per-cell aggregates

def cell_aggregates(per_run: pd.DataFrame, metric: str = "final", reps: int = DEFAULT_REPS,
                    seed: int = 0, keys: list[str] = CELL_KEYS) -> pd.DataFrame:
    """Mean, median and IQM of `metric` across seeds per cell, with 95% bootstrap CIs."""
    return cell_aggregates_many(per_run, [metric], reps, seed, keys)[metric]


def cell_aggregates_many(per_run: pd.DataFrame, metrics: Sequence[str],
                         reps: int = DEFAULT_REPS, seed: int = 0,
                         keys: list[str] = CELL_KEYS) -> dict[str, pd.DataFrame]:
    """`cell_aggregates` for several metrics at once: one bootstrap for all of them.

    Every (metric, cell) is its own column of the stratified bootstrap, resampled on its own,
    so each gets exactly its separate bootstrap; batching only saves rliable's per-call cost.
    """
    cols = ["n", "n_missing", "mean", "mean_lo", "mean_hi", "median", "median_lo",
            "median_hi", "iqm", "iqm_lo", "iqm_hi", "note"]
    columns = []  # (metric, key, finite values, missing count)
    for key, df in _group(per_run, keys):
        df = df.sort_values("seed")
        for metric in metrics:
            v = df[metric].astype(float).to_numpy()
            finite = v[np.isfinite(v)]
            columns.append((metric, key, finite, len(v) - len(finite)))
    stats9: dict[tuple, list[float]] = {}
    for n in sorted({len(f) for _, _, f, _ in columns} - {0}):
        group = [(metric, key, f) for metric, key, f, _ in columns if len(f) == n]
        m = np.column_stack([f for _, _, f in group])
        point = np.concatenate([m.mean(0), np.median(m, 0), iqm(m, axis=0)])
        lo = hi = np.full_like(point, np.nan)
        if n >= 2:
            def func(x: np.ndarray) -> np.ndarray:
                return np.concatenate([x.mean(0), np.median(x, 0), iqm(x, axis=0)])
            _, ci = interval_estimates({"cells": m}, func, reps=reps, seed=seed)
            lo, hi = ci["cells"]
        c = len(group)
        for j, (metric, key, _) in enumerate(group):
            stats9[(metric, key)] = [x for i in range(3) for x in
                                     (point[i * c + j], lo[i * c + j], hi[i * c + j])]
    rows: dict[str, list] = {m: [] for m in metrics}
    for metric, key, finite, missing in columns:
        rows[metric].append([*key, len(finite), missing,
                             *stats9.get((metric, key), [np.nan] * 9),
                             _ci_note(len(finite), missing)])
    return {m: pd.DataFrame(rows[m], columns=keys + cols) for m in metrics}


def _ci_note(n: int, missing: int) -> str:
    notes = []
    if n == 0:
        notes.append("CI unavailable: no finite values")
    elif n == 1:
        notes.append("CI unavailable: 1 seed")
    if missing:
        notes.append(f"{missing} run(s) without a value left out")
    return "; ".join(notes)


# --------------------------------------------------------------------- LEED against each baseline

def _prob_greater(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per column P(X > Y) + P(X = Y)/2 = U/(n_x n_y), rliable's per-task improvement."""
    gt = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    eq = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return gt + 0.5 * eq


def improvement_tests(per_run: pd.DataFrame, metric: str = "final", reference: str = "leed",
                      reps: int = DEFAULT_REPS, seed: int = 0) -> pd.DataFrame:
    """Per task and baseline: P(reference better) with a bootstrap CI, Mann-Whitney U, Holm p.

    Two-sided Mann-Whitney U per comparison; Holm's correction over all comparisons in the
    table (every task x baseline), which controls the family-wise error without assuming
    independence. Lower-is-better metrics are negated first, so P > 0.5 always favours
    `reference`.
    """
    cols = TASK_KEYS + ["baseline", "n_ref", "n_base", "poi", "poi_lo", "poi_hi", "u_stat",
                        "p_value", "p_holm", "note"]
    v = per_run.assign(_v=_values(per_run, metric))
    pairs = []  # (task key, baseline, x, y)
    for task, df in _group(v, TASK_KEYS):
        if reference not in set(df["algo"]):
            continue
        x = df.loc[df["algo"] == reference].sort_values("seed")["_v"].to_numpy()
        x = x[np.isfinite(x)]
        for base, db in _group(df[df["algo"] != reference], ["algo"]):
            y = db.sort_values("seed")["_v"].to_numpy()
            pairs.append((task, base[0], x, y[np.isfinite(y)]))
    if not pairs:
        return pd.DataFrame(columns=cols)
    poi = np.full(len(pairs), np.nan)
    lo, hi = poi.copy(), poi.copy()
    shapes = {(len(x), len(y)) for _, _, x, y in pairs}
    for nx, ny in shapes:
        idx = [i for i, (_, _, x, y) in enumerate(pairs) if (len(x), len(y)) == (nx, ny)]
        if nx == 0 or ny == 0:
            continue
        X = np.column_stack([pairs[i][2] for i in idx])
        Y = np.column_stack([pairs[i][3] for i in idx])
        poi[idx] = _prob_greater(X, Y)
        if nx >= 2 and ny >= 2:
            _, ci = interval_estimates({"pairs": (X, Y)}, _prob_greater, reps=reps, seed=seed)
            lo[idx], hi[idx] = ci["pairs"]
    rows = []
    for i, (task, base, x, y) in enumerate(pairs):
        u, p, note = np.nan, np.nan, ""
        if len(x) and len(y):
            res = sps.mannwhitneyu(x, y, alternative="two-sided")
            u, p = float(res.statistic), float(res.pvalue)
            if len(x) < 2 or len(y) < 2:
                note = "CI unavailable: fewer than 2 seeds on one side"
        else:
            note = "no finite values for " + (reference if not len(x) else base)
        rows.append([*task, base, len(x), len(y), poi[i], lo[i], hi[i], u, p, np.nan, note])
    out = pd.DataFrame(rows, columns=cols)
    out["p_holm"] = holm(out["p_value"].to_numpy())
    return out


# ------------------------------------------------------------------ aggregates across all tasks

def normalized_scores(per_run: pd.DataFrame,
                      metric: str = "final") -> tuple[pd.DataFrame, list[str]]:
    """Min-max normalise `metric` per task over all runs (as marl-eval does): 0 worst, 1 best.

    Scores are relative to this experiment only. Tasks where every run scored the same are left
    out (nothing to normalise by) and named in the returned notes.
    """
    v = per_run.assign(score=_values(per_run, metric)).dropna(subset=["score"])
    notes = []
    g = v.groupby([v[c].astype("string").fillna("?") for c in TASK_KEYS], dropna=False)["score"]
    lo, hi = g.transform("min"), g.transform("max")
    flat = hi <= lo
    if flat.any():
        for task, _ in v[flat].groupby(TASK_KEYS, dropna=False):
            notes.append(f"{task_label(task[0], task[2])} left out: all its runs scored the "
                         "same (one run, or no spread to normalise by)")
    v = v[~flat].copy()
    v["score"] = (v["score"] - lo[~flat]) / (hi[~flat] - lo[~flat])
    return v, notes


def score_matrices(scores: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[str]]:
    """`runs x tasks` matrices per algorithm over the tasks every algorithm ran, for rliable.

    rliable needs rectangular matrices: where seed counts differ, each task keeps its first
    `min` seeds (by seed number), and a note says so.
    """
    notes: list[str] = []
    if scores.empty:
        return {}, ["no task has scores to compare"]
    task_id = scores[TASK_KEYS].astype("string").fillna("?").agg("|".join, axis=1)
    s = scores.assign(_task=task_id)
    algos = sorted(s["algo"].unique())
    per_algo_tasks = [set(s.loc[s["algo"] == a, "_task"]) for a in algos]
    common = sorted(set.intersection(*per_algo_tasks))
    dropped = set.union(*per_algo_tasks) - set(common)
    if dropped:
        notes.append(f"{len(dropped)} task(s) not run by every algorithm left out of aggregates")
    if not common:
        return {}, notes + ["no task was run by every algorithm"]
    mats = {}
    for a in algos:
        sa = s[(s["algo"] == a) & s["_task"].isin(common)].sort_values("seed")
        cols = [sa.loc[sa["_task"] == t, "score"].to_numpy() for t in common]
        n = min(len(c) for c in cols)
        if any(len(c) != n for c in cols):
            notes.append(f"{a}: uneven seed counts across tasks, {n} per task used")
        mats[a] = np.column_stack([c[:n] for c in cols])
    return mats, notes


def aggregate_across_tasks(per_run: pd.DataFrame, metric: str = "final",
                           reps: int = DEFAULT_REPS,
                           seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """rliable's median, IQM and mean of normalised scores per algorithm, with 95% CIs."""
    from rliable import metrics as rm

    scores, notes = normalized_scores(per_run, metric)
    mats, more = score_matrices(scores)
    notes += more
    names = ["median", "iqm", "mean"]
    cols = ["algo", "n_tasks", "n_runs"] + [f"{n}{s}" for n in names for s in ("", "_lo", "_hi")]
    rows = []
    for algo, m in mats.items():
        func = lambda x: np.array([rm.aggregate_median(x), iqm(x),
                                   rm.aggregate_mean(x)])
        point = func(m)
        lo = hi = np.full(3, np.nan)
        if m.shape[0] >= 2:
            _, ci = interval_estimates({algo: m}, func, reps=reps, seed=seed)
            lo, hi = ci[algo]
        else:
            notes.append(f"{algo}: 1 seed per task, CIs unavailable")
        rows.append([algo, m.shape[1], m.size] + [x for i in range(3)
                                                  for x in (point[i], lo[i], hi[i])])
    return pd.DataFrame(rows, columns=cols), notes


def probability_of_improvement(per_run: pd.DataFrame, metric: str = "final",
                               reference: str = "leed", reps: int = DEFAULT_REPS,
                               seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """P(reference > baseline) averaged over common tasks (rliable's definition), with CIs."""
    scores, notes = normalized_scores(per_run, metric)
    mats, more = score_matrices(scores)
    notes += more
    cols = ["baseline", "n_tasks", "poi", "poi_lo", "poi_hi"]
    if reference not in mats:
        return pd.DataFrame(columns=cols), notes + [f"no {reference} runs on the common tasks"]
    X = mats[reference]
    rows = []
    for base, Y in mats.items():
        if base == reference:
            continue
        func = lambda x, y: _prob_greater(x, y).mean()
        lo = hi = np.nan
        if X.shape[0] >= 2 and Y.shape[0] >= 2:
            _, ci = interval_estimates({base: (X, Y)}, func, reps=reps, seed=seed)
            lo, hi = np.ravel(ci[base])
        rows.append([base, X.shape[1], func(X, Y), lo, hi])
    return pd.DataFrame(rows, columns=cols), notes


def performance_profiles(per_run: pd.DataFrame, metric: str = "final",
                         taus: np.ndarray | None = None, reps: int = DEFAULT_REPS,
                         seed: int = 0) -> pd.DataFrame:
    """Fraction of runs with normalised score > tau (rliable's score distribution), with CIs."""
    taus = np.linspace(0.0, 1.0, 51) if taus is None else np.asarray(taus, dtype=float)
    scores, _ = normalized_scores(per_run, metric)
    mats, _ = score_matrices(scores)

    def profile(x: np.ndarray) -> np.ndarray:
        return (x.reshape(-1)[:, None] > taus[None, :]).mean(axis=0)

    frames = []
    for algo, m in mats.items():
        point = profile(m)
        lo = hi = np.full_like(point, np.nan)
        if m.shape[0] >= 2:
            _, ci = interval_estimates({algo: m}, profile, reps=reps, seed=seed)
            lo, hi = ci[algo]
        frames.append(pd.DataFrame({"algo": algo, "tau": taus, "fraction": point,
                                    "lo": lo, "hi": hi}))
    if not frames:
        return pd.DataFrame(columns=["algo", "tau", "fraction", "lo", "hi"])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------- scalability

def scalability(per_run: pd.DataFrame, metrics: Sequence[str] = ("final", "s_per_step"),
                reps: int = DEFAULT_REPS, seed: int = 0) -> pd.DataFrame:
    """Each metric per (scale group, algo, n_agents): mean etc. with 95% CIs, long format."""
    keys = ["scale_group", "n_agents", "algo"]
    aggs = cell_aggregates_many(per_run, metrics, reps=reps, seed=seed, keys=keys)
    frames = [aggs[m].assign(metric=m) for m in metrics]
    return pd.concat(frames, ignore_index=True)


def scaling_slopes(per_run: pd.DataFrame, metric: str = "s_per_step") -> pd.DataFrame:
    """Log-log slope of `metric` against n_agents per (scale group, algo), with a 95% CI.

    Least squares on every run's (log n_agents, log metric); the slope is the exponent b in
    metric ~ n_agents^b (b = 1: cost grows linearly with the number of agents).
    """
    cols = ["scale_group", "algo", "n_points", "agent_counts", "slope", "slope_lo", "slope_hi",
            "note"]
    rows = []
    for key, df in _group(per_run, ["scale_group", "algo"]):
        d = df[["n_agents", metric]].astype(float).dropna()
        d = d[(d["n_agents"] > 0) & (d[metric] > 0)]
        counts = sorted(int(n) for n in d["n_agents"].unique())
        slope = lo = hi = np.nan
        note = ""
        if len(counts) < 2:
            note = "slope unavailable: fewer than 2 agent counts"
        else:
            fit = sps.linregress(np.log(d["n_agents"]), np.log(d[metric]))
            slope = fit.slope
            if len(d) > 2 and np.isfinite(fit.stderr):
                half = sps.t.ppf(0.975, len(d) - 2) * fit.stderr
                lo, hi = slope - half, slope + half
            else:
                note = "CI unavailable: 2 points"
        rows.append([*key, len(d), ",".join(map(str, counts)), slope, lo, hi, note])
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------------------ learning curves

def learning_curves(table: pd.DataFrame, x: str = "env_steps", points: int = 100,
                    charge_demos: bool = True, reps: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Mean return across seeds with a 95% percentile-bootstrap band, per cell.

    Runs are aligned on env steps: each is linearly interpolated onto the task's step grid (no
    extrapolation; outside a run's range it counts as missing), and a curve stops where fewer
    than half of its runs reach. Against wall time (`x="wall_s"`) each point sits at the mean
    wall-clock time at which the seeds reached that step, so seeds that run at different
    speeds do not make the mean jump as one after another finishes. With `charge_demos`,
    LEED's clock starts after its demonstration generation (`demo_s`). The bootstrap band, like
    every interval in the report, stays inside the range of the runs (a t-interval on 3 seeds
    is +-4.3 standard errors and pokes below a return of 0).
    """
    cols = CELL_KEYS + ["x", "mean", "lo", "hi", "n", "n_runs"]
    t = table.dropna(subset=["eval_return", "env_steps"]).copy()
    if x == "wall_s":
        t = t.dropna(subset=["wall_s"])
        if charge_demos:
            t["wall_s"] = t["wall_s"] + t["demo_s"].fillna(0.0)
    t = t.sort_values(["run_id", "env_steps"], kind="stable")
    rng = np.random.default_rng(seed)
    frames = []
    for task, dt in _group(t, TASK_KEYS):
        xs = np.unique(dt["env_steps"].to_numpy(dtype=float))
        grid = xs if len(xs) <= points else np.linspace(xs.min(), xs.max(), points)
        for algo, da in _group(dt, ["algo"]):
            curves, clocks = [], []
            for _, dr in da.groupby("run_id", sort=False):
                rx = dr["env_steps"].to_numpy(float)
                outside = (grid < rx[0]) | (grid > rx[-1])
                for col, out in (("eval_return", curves), ("wall_s", clocks)):
                    y = np.interp(grid, rx, dr[col].to_numpy(float)) if col in dr else \
                        np.full_like(grid, np.nan)
                    y[outside] = np.nan
                    out.append(y)
            c = np.vstack(curves)
            n = np.isfinite(c).sum(0)
            keep = n >= max(1, math.ceil(len(curves) / 2))
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are dropped
                mean = np.nanmean(c, axis=0)
                xv = np.nanmean(np.vstack(clocks), axis=0) if x == "wall_s" else grid
                lo = hi = np.full_like(mean, np.nan)
                if len(curves) >= 2:
                    resampled = c[rng.integers(0, len(curves), (reps, len(curves)))]
                    if np.isnan(c).any():  # the nan-aware versions cost ~10x; only when needed
                        lo, hi = np.nanpercentile(np.nanmean(resampled, axis=1), [2.5, 97.5],
                                                  axis=0)
                    else:
                        lo, hi = np.percentile(resampled.mean(axis=1), [2.5, 97.5], axis=0)
            lo, hi = np.where(n >= 2, lo, np.nan), np.where(n >= 2, hi, np.nan)
            frames.append(pd.DataFrame({
                "env": task[0], "scenario": task[1], "n_agents": task[2], "algo": algo[0],
                "x": xv, "mean": mean, "lo": lo, "hi": hi, "n": n,
                "n_runs": len(curves)})[keep & np.isfinite(xv)])
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)
