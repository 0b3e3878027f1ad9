"""`leed-bench report results/<exp>`: report.md with tables, CIs and p-values, plus figures."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from baselines.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="write results/<exp>/report.md and figures/ (PNG + PDF)",
        description="Statistics (rliable CIs, Mann-Whitney + Holm) and publication figures "
                    "for one experiment; reads table.csv (first rebuilt from the finished runs, so it "
                    "works while an experiment runs) and runs/*/run.json.")
    p.add_argument("experiment", type=Path, help="experiment folder, e.g. results/quick")
    p.add_argument("--k", type=int, default=3, help="final return = mean of the last k "
                   "evaluations (default 3)")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--threshold", type=float, help="return threshold for steps/seconds to "
                   "threshold (default: relative to each task's best, see --threshold-frac)")
    p.add_argument("--threshold-frac", type=float, default=0.9, help="fraction of the way "
                   "from first to best final return (default 0.9)")
    p.add_argument("--reference", default="leed", help="algorithm compared against the "
                   "others (default leed)")
    p.add_argument("--metric", choices=["auto", "return", "win_rate"], default="auto",
                   help="the score compared: auto (default) = win rate on tasks that record one "
                   "(SMAX/SMACv2), return elsewhere")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.report import build_report

    if args.k < 1:
        raise UserError(f"--k must be at least 1, got {args.k}")
    if args.reps < 100:
        raise UserError(f"--reps must be at least 100, got {args.reps}")
    if not 0 < args.threshold_frac <= 1:
        raise UserError(f"--threshold-frac must be in (0, 1], got {args.threshold_frac}")
    start = time.perf_counter()
    from benchmark import store

    if store.table_is_stale(args.experiment):
        # table.csv is derived from the finished runs: bring it up to date, so an experiment
        # still running (or killed) reports on every run finished so far
        store.write_table(args.experiment)
    path = build_report(args.experiment, k=args.k, reps=args.reps, seed=args.seed,
                        threshold=args.threshold, threshold_frac=args.threshold_frac,
                        reference=args.reference, figures=not args.no_figures,
                        score=args.metric)
    figs = sorted((path.parent / "figures").glob("*.png")) if not args.no_figures else []
    print(f"wrote {path}" + (f" and {len(figs)} figures in {path.parent / 'figures'} "
                             "(PNG + PDF)" if figs else "")
          + f" in {time.perf_counter() - start:.1f} s")
    return 0
