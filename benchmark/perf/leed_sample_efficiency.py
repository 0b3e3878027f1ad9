"""Issue 5's sample-efficiency check: LEED (scripted demonstrations) against IPPO on LBF.

Runs both through the harness (so the runs land in `results/<name>/` like any experiment and
resume if killed), then prints, with stratified bootstrap 95% CIs over seeds:
  * IPPO's final return (mean of its last 3 evaluations),
  * the env steps each algorithm needs to first reach that return (a run that never does
    counts as the full budget, so the LEED/IPPO ratio is conservative),
  * the ratio LEED steps / IPPO steps to that threshold.

    python -m benchmark.perf.leed_sample_efficiency --seeds 1 2 3 4 5 --steps 300000
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmark.api import run_experiment

LAST_K = 3


def steps_to(curve: pd.DataFrame, threshold: float, budget: int) -> float:
    """First evaluated env step at which the run's return reaches `threshold` (else the budget)."""
    hit = curve[curve.eval_return >= threshold]
    return float(hit.env_steps.min()) if len(hit) else float(budget)


def bootstrap_ci(values: np.ndarray, stat=np.mean, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    draws = [stat(rng.choice(values, len(values))) for _ in range(reps)]
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="lbf:Foraging-10x10-4p-3f-v3")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--steps", type=int, default=300_000)
    parser.add_argument("--eval-interval", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--demo-episodes", type=int, default=500)
    parser.add_argument("--name", default="leed_sample_efficiency")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="LEED hyperparameter override, e.g. --set schedule=constant")
    args = parser.parse_args()
    leed_overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        import yaml
        leed_overrides[key] = yaml.safe_load(value)
    spec = {
        "name": args.name,
        "envs": [{"env": args.env, "agents": [args.agents]}],
        "algos": ["ippo", {"name": "leed", "overrides": leed_overrides} if leed_overrides else "leed"],
        "seeds": args.seeds,
        "budget": {"env_steps": args.steps},
        "eval": {"interval": args.eval_interval, "episodes": 32},
        "demos": {"source": "scripted", "episodes": args.demo_episodes},
        "workers": args.workers,
    }
    result = run_experiment(spec, results_dir=args.results_dir)
    # only this spec's runs: the experiment folder may also hold runs of other LEED settings
    table = result.table[result.table.run_id.isin({run.run_id for run in result.runs})]
    ippo, leed = table[table.algo == "ippo"], table[table.algo == "leed"]
    final = ippo.sort_values("env_steps").groupby("seed").tail(LAST_K).groupby("seed").eval_return.mean()
    threshold = float(final.mean())
    lo, hi = bootstrap_ci(final.to_numpy())
    print(f"\n{args.env}, {args.agents} agents, seeds {args.seeds}, budget {args.steps} env steps")
    print(f"IPPO final return (mean of last {LAST_K} evals): {threshold:.3f}  95% CI [{lo:.3f}, {hi:.3f}]")
    steps = {}
    for name, runs in (("ippo", ippo), ("leed", leed)):
        steps[name] = np.array([steps_to(curve, threshold, args.steps) for _, curve in runs.groupby("run_id")])
        lo, hi = bootstrap_ci(steps[name])
        print(f"{name:>5}: env steps to reach {threshold:.3f}: mean {steps[name].mean():>9.0f}  95% CI [{lo:.0f}, {hi:.0f}]"
              f"  per seed {steps[name].astype(int).tolist()}")
    ratio = steps["leed"].mean() / steps["ippo"].mean()
    rng = np.random.default_rng(1)
    draws = [rng.choice(steps["leed"], len(steps["leed"])).mean() / rng.choice(steps["ippo"], len(steps["ippo"])).mean()
             for _ in range(2000)]
    print(f"ratio LEED/IPPO steps: {ratio:.2f}  95% CI [{np.percentile(draws, 2.5):.2f}, {np.percentile(draws, 97.5):.2f}]"
          f"  (target <= 0.5: {'met' if ratio <= 0.5 else 'not met'})")
    leed_final = leed.sort_values("env_steps").groupby("seed").tail(LAST_K).groupby("seed").eval_return.mean()
    print(f"LEED final return: {leed_final.mean():.3f}  95% CI {tuple(round(x, 3) for x in bootstrap_ci(leed_final.to_numpy()))}")


if __name__ == "__main__":
    main()
