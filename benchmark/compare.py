"""Regression check: is the candidate worse than the reference, per cell, beyond a tolerance?

Per cell (env, scenario, n_agents, algo) present in both, with margin
`delta = tolerance * |mean(reference)|`, a one-sided test of

    H0: mean(candidate) >= mean(reference) - delta   (no regression beyond the tolerance)
    H1: mean(candidate) <  mean(reference) - delta   (regression)

and a regression is declared when p < alpha. The burden of proof is on "regression", so run
noise alone rarely fails CI; the tolerance absorbs small expected drifts.

Why t-tests: CI compares a handful of seeds (2-5). Mann-Whitney's smallest attainable
one-sided p with 3 vs 3 runs is 0.05, so it can never reject at alpha = 0.05. Runs are
deterministic per seed, so when both sides share seeds the test is a paired t-test on
seed-matched differences (the between-seed spread cancels, e.g. a 30% drop in every seed is
detected from 3 seeds); otherwise Welch's t-test; with one run on a side, no test is possible
and the point difference decides (marked `point`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from baselines.core.errors import UserError
from benchmark.metrics import CELL_KEYS, METRICS, run_metrics, task_label

COMPARABLE = ["final", "auc", "env_steps_per_s", "s_per_update", "s_per_step"]
COLUMNS = CELL_KEYS + ["n_ref", "n_cand", "ref_mean", "cand_mean", "change", "test", "p_value",
                       "verdict"]


def one_sided_test(ref: pd.Series, cand: pd.Series, margin: float) -> tuple[str, float]:
    """(test name, p) for H1: cand < ref - margin; Series are indexed by seed."""
    shifted = cand + margin
    common = ref.index.intersection(cand.index)
    scale = float(np.abs(ref).mean()) + float(np.abs(cand).mean())
    if len(common) >= 2:
        d = (shifted.loc[common] - ref.loc[common]).to_numpy()
        return "paired t", _t_p(d.mean(), d.std(ddof=1), scale, lambda: sps.ttest_1samp(
            d, 0.0, alternative="less").pvalue)
    if len(ref) >= 2 and len(cand) >= 2:
        diff = shifted.mean() - ref.mean()
        spread = np.hypot(shifted.std(ddof=1), ref.std(ddof=1))
        return "Welch t", _t_p(diff, spread, scale, lambda: sps.ttest_ind(
            shifted, ref, equal_var=False, alternative="less").pvalue)
    return "point", 0.0 if shifted.mean() < ref.mean() else 1.0


def _t_p(diff: float, spread: float, scale: float, p) -> float:
    # Identical runs on both sides (deterministic CPU training) have zero spread, up to float
    # rounding: the t statistic is undefined there, and the sign of the difference decides.
    if not spread > 1e-9 * max(scale, 1e-300):
        return 0.0 if diff < 0 else 1.0
    return float(p())


def compare_tables(ref: pd.DataFrame, cand: pd.DataFrame, metric: str = "final",
                   alpha: float = 0.05, tolerance: float = 0.05, k: int = 3) -> pd.DataFrame:
    """One row per cell in both tables with the test and a verdict (ok / regression / skipped)."""
    if metric not in COMPARABLE:
        raise UserError(f"--metric {metric!r}: choose one of {', '.join(COMPARABLE)}")
    r, c = run_metrics(ref, k=k), run_metrics(cand, k=k)
    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    ref_cells = {key: df for key, df in r.groupby(CELL_KEYS)}
    cand_cells = {key: df for key, df in c.groupby(CELL_KEYS)}
    common = sorted(set(ref_cells) & set(cand_cells), key=str)
    if not common:
        raise UserError("no cell (env, scenario, n_agents, algo) is in both the reference and "
                        "the candidate")
    rows = []
    for key in common:
        rv = _by_seed(ref_cells[key], metric) * sign
        cv = _by_seed(cand_cells[key], metric) * sign
        ref_mean, cand_mean = rv.mean() * sign, cv.mean() * sign
        change = (cand_mean - ref_mean) / abs(ref_mean) if ref_mean else np.nan
        if rv.empty:
            rows.append([*key, 0, len(cv), np.nan, cand_mean, np.nan, "-", np.nan,
                         "skipped: reference has no values"])
            continue
        if cv.empty:
            rows.append([*key, len(rv), 0, ref_mean, np.nan, np.nan, "-", 0.0,
                         "regression: candidate has no values"])
            continue
        test, p = one_sided_test(rv, cv, tolerance * abs(rv.mean()))
        verdict = "regression" if p < alpha else "ok"
        rows.append([*key, len(rv), len(cv), ref_mean, cand_mean, change, test, p, verdict])
    out = pd.DataFrame(rows, columns=COLUMNS)
    if out["verdict"].str.startswith("skipped").all():
        raise UserError(f"no common cell has {metric} values in the reference to compare with")
    out.attrs["only_ref"] = sorted(set(ref_cells) - set(cand_cells), key=str)
    out.attrs["only_cand"] = sorted(set(cand_cells) - set(ref_cells), key=str)
    return out


def _by_seed(df: pd.DataFrame, metric: str) -> pd.Series:
    s = df.set_index("seed")[metric].astype(float).dropna()
    return s[~s.index.duplicated()]


def cell_name(row) -> str:
    return f"{task_label(row['env'], row['n_agents'])}, {row['algo']}"


def format_table(result: pd.DataFrame, metric: str) -> str:
    """Fixed-width text table for the terminal."""
    header = ["cell", "seeds ref/cand", f"ref {metric}", f"cand {metric}", "change", "test",
              "p", "verdict"]
    body = []
    for _, r in result.iterrows():
        body.append([cell_name(r), f"{r['n_ref']}/{r['n_cand']}", _num(r["ref_mean"]),
                     _num(r["cand_mean"]), "n/a" if pd.isna(r["change"]) else
                     f"{r['change']:+.1%}", r["test"],
                     "n/a" if pd.isna(r["p_value"]) else f"{r['p_value']:.3g}", r["verdict"]])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()
             for row in [header, ["-" * w for w in widths], *body]]
    return "\n".join(lines)


def _num(x) -> str:
    return "n/a" if pd.isna(x) else f"{x:.4g}"
