"""`leed-bench crosscheck --env lbf:... --algo mappo --seeds 3 --steps 200000`: native vs EPyMARL.

Reviewers trust EPyMARL's baselines, so ours must be shown to match them: the same algorithm
runs natively and through EPyMARL (`epymarl:<algo>`) as one experiment of the harness (same
layout, one table, resumable), then we report each side's final return with a bootstrap 95% CI,
a TOST equivalence test of the difference within a stated margin, and the wall-clock ratio.
EPyMARL's gymma wrapper offers every LBF action, so both sides run with `action_masks: false`.
"""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from baselines.core.errors import UserError
from benchmark import store

DEFAULT_MARGIN = 0.1  # in return units: LBF's episode return is at most 1
ALPHA = 0.05


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "crosscheck", help="run an algorithm natively and through EPyMARL; test equivalence",
        description="Run ALGO natively and as epymarl:ALGO on ENV for N seeds (one experiment), "
                    "then report final returns with bootstrap 95%% CIs, a TOST equivalence test "
                    "and the wall-clock ratio. Needs EPYMARL_PATH (see docs/epymarl.md).",
    )
    p.add_argument("--env", required=True, metavar="FAMILY:SCENARIO", help="e.g. lbf:Foraging-8x8-2p-2f-v3")
    p.add_argument("--algo", required=True, metavar="NAME", help="a native algorithm EPyMARL also has (mappo, qmix, ...)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 1..N on each side (default 3)")
    p.add_argument("--steps", type=int, default=200_000, metavar="T", help="env steps per run")
    p.add_argument("--agents", type=int, metavar="N", help="agent count (default: the scenario's '-Np-')")
    p.add_argument("--eval-interval", type=int, default=10_000, metavar="T")
    p.add_argument("--eval-episodes", type=int, default=100, metavar="K",
                   help="episodes per evaluation (default 100, EPyMARL's gymma test_nepisode)")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M",
                   help=f"equivalence margin in return units (default {DEFAULT_MARGIN})")
    p.add_argument("--last-k", type=int, default=3, metavar="K",
                   help="final return = mean of the last K evaluations (default 3)")
    p.add_argument("--experiment", default="crosscheck", metavar="NAME")
    p.add_argument("--results-dir", default="results", metavar="DIR")
    p.set_defaults(func=main)


# --- statistics -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tost:
    """Two one-sided Welch t-tests of |mean(x) - mean(y)| < margin."""

    diff: float
    lo90: float  # the (1 - 2 alpha) CI of the difference: inside (-margin, margin) <=> equivalent
    hi90: float
    p_value: float  # the larger of the two one-sided p-values
    margin: float
    equivalent: bool
    note: str = ""


def tost(x: np.ndarray, y: np.ndarray, margin: float, alpha: float = ALPHA) -> Tost:
    """Welch TOST: equivalence is shown when both one-sided tests reject at `alpha`."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        d = float(x.mean() - y.mean()) if len(x) and len(y) else math.nan
        return Tost(d, math.nan, math.nan, math.nan, margin, False, "needs 2+ seeds on each side")
    d = float(x.mean() - y.mean())
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:  # no spread at all: the difference is known exactly
        return Tost(d, d, d, 0.0 if abs(d) < margin else 1.0, margin, abs(d) < margin, "no variance")
    df = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    p_low = float(sps.t.sf((d + margin) / se, df))  # H0: d <= -margin
    p_high = float(sps.t.cdf((d - margin) / se, df))  # H0: d >= +margin
    half = float(sps.t.ppf(1 - alpha, df)) * se
    p = max(p_low, p_high)
    return Tost(d, d - half, d + half, p, margin, p < alpha)


def bootstrap_ci(values: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% CI of the mean (via benchmark.stats, rliable's bootstrap)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    from benchmark.stats import interval_estimates

    _, ci = interval_estimates({"x": v[:, None]}, lambda m: np.array([m.mean()]), reps=reps, seed=seed)
    lo, hi = ci["x"]
    return float(np.ravel(lo)[0]), float(np.ravel(hi)[0])


# --- the experiment ---------------------------------------------------------------------------

def agents_from_env(env: str, agents: int | None) -> int:
    if agents is not None:
        if agents < 1:
            raise UserError(f"--agents: must be >= 1, got {agents}")
        return agents
    match = re.search(r"-(\d+)p-", env)
    if not match:
        raise UserError(f"--env {env}: the scenario does not name its player count; pass --agents N")
    return int(match.group(1))


def build_spec(args: argparse.Namespace, n_agents: int) -> dict[str, Any]:
    """One experiment with both sides: same env (no action masks), seeds, budget and evaluation."""
    return {
        "name": args.experiment,
        "envs": [{"env": args.env, "agents": [n_agents], "options": {"action_masks": False}}],
        "algos": [args.algo, f"epymarl:{args.algo}"],
        "seeds": list(range(1, args.seeds + 1)),
        "budget": {"env_steps": args.steps},
        "eval": {"interval": args.eval_interval, "episodes": args.eval_episodes},
        "executor": "local", "workers": 1,  # one at a time: wall clocks are compared
    }


def per_run_figures(exp_dir: Path, run_ids: list[str], k: int) -> pd.DataFrame:
    """Per run: backend, seed, final return (mean of last k evaluations), and its wall clocks."""
    from benchmark.metrics import run_metrics

    table = store.load_table(exp_dir)
    table = table[table["run_id"].isin(run_ids)]
    if table.empty:
        return pd.DataFrame(columns=["run_id", "backend", "seed", "final", "wall_s", "run_wall_s"])
    per_run = run_metrics(table, k=k)
    walls = {p.name: store.read_run(p).get("run_wall_s") for p in store.finished_run_dirs(exp_dir)}
    per_run["run_wall_s"] = per_run["run_id"].map(walls).astype(float)
    return per_run[["run_id", "backend", "seed", "final", "env_steps", "wall_s", "run_wall_s"]]


def summarize(per_run: pd.DataFrame, margin: float) -> dict[str, Any]:
    """Each side's finals with CIs, the TOST result and the native / EPyMARL wall-clock ratio."""
    sides = {}
    for backend in ("native", "epymarl"):
        d = per_run[per_run["backend"] == backend].sort_values("seed")
        finals = d["final"].to_numpy(float)
        lo, hi = bootstrap_ci(finals)
        sides[backend] = {
            "n": len(d), "seeds": d["seed"].astype(int).tolist(), "finals": finals.tolist(),
            "mean": float(np.mean(finals)) if len(finals) else math.nan, "ci95": [lo, hi],
            "run_wall_s": d["run_wall_s"].astype(float).tolist(),
            "mean_run_wall_s": float(d["run_wall_s"].mean()) if len(d) else math.nan,
            "last_eval_steps": d["env_steps"].astype(float).tolist(),
        }
    test = tost(np.array(sides["native"]["finals"]), np.array(sides["epymarl"]["finals"]), margin)
    ratio = sides["native"]["mean_run_wall_s"] / sides["epymarl"]["mean_run_wall_s"] \
        if sides["epymarl"]["mean_run_wall_s"] else math.nan
    return {"sides": sides, "tost": test.__dict__, "wall_ratio_native_over_epymarl": ratio}


def format_summary(result: dict[str, Any], algo: str, env: str, k: int) -> str:
    lines = [f"crosscheck {algo} on {env}: final return = mean of the last {k} evaluations"]
    for backend, s in result["sides"].items():
        finals = ", ".join(f"{v:.3f}" for v in s["finals"])
        walls = ", ".join(f"{v:.0f}" for v in s["run_wall_s"])
        lo, hi = s["ci95"]
        lines.append(f"  {backend:8s} n={s['n']}  final {s['mean']:.3f} [95% CI {lo:.3f}, {hi:.3f}]"
                     f"  (per seed: {finals})  wall {s['mean_run_wall_s']:.0f} s (per run: {walls})")
    t = result["tost"]
    verdict = "equivalent" if t["equivalent"] else "equivalence NOT shown"
    lines.append(f"  TOST (Welch, alpha {ALPHA}) native - epymarl = {t['diff']:+.3f}, "
                 f"90% CI [{t['lo90']:+.3f}, {t['hi90']:+.3f}] vs margin +-{t['margin']}: "
                 f"p = {t['p_value']:.3g} -> {verdict}" + (f" ({t['note']})" if t["note"] else ""))
    lines.append(f"  wall-clock ratio native / epymarl = {result['wall_ratio_native_over_epymarl']:.3f}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from baselines.epymarl import epymarl_env_key, find_checkout
    from benchmark.api import run_experiment

    if args.seeds < 2:
        raise UserError(f"--seeds: need at least 2 for CIs and the equivalence test, got {args.seeds}")
    if not (math.isfinite(args.margin) and args.margin > 0):
        raise UserError(f"--margin: must be a positive number, got {args.margin}")
    if args.last_k < 1:
        raise UserError(f"--last-k: must be >= 1, got {args.last_k}")
    n_agents = agents_from_env(args.env, args.agents)
    key = epymarl_env_key(args.env, n_agents)
    find_checkout(modules=(key.split(":")[0],))  # before any native run: fail in one line now
    result = run_experiment(build_spec(args, n_agents), results_dir=args.results_dir)
    ids = [r.run_id for r in result.runs]
    per_run = per_run_figures(result.exp_dir, ids, args.last_k)
    summary = summarize(per_run, args.margin)
    text = format_summary(summary, args.algo, args.env, args.last_k)
    print(text)
    store.atomic_write_json(result.exp_dir / "crosscheck.json",
                            {"algo": args.algo, "env": args.env, "n_agents": n_agents,
                             "last_k": args.last_k, "runs": per_run.to_dict("records"), **summary})
    store.atomic_write_text(result.exp_dir / "crosscheck.txt", text + "\n")
    if result.outcome.failed:
        print(f"{len(result.outcome.failed)} run(s) failed; run the same command again to retry them")
        return 1
    return 0
