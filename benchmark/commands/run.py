"""`leed-bench run SPEC | --preset NAME`: run an experiment matrix, resuming where it stopped."""
from __future__ import annotations

import argparse

from baselines.core.errors import UserError
from benchmark.api import run_experiment
from benchmark.spec import EXECUTORS, load_spec, preset_path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run an experiment spec (skips finished runs, restarts partial ones)",
        description="Run every (env, agents, algo, seed) of a spec into RESULTS_DIR/<name>/, "
                    "skipping finished runs and restarting partial ones, then rebuild table.csv.",
    )
    p.add_argument("spec", nargs="?", metavar="SPEC", help="experiment spec (YAML)")
    p.add_argument("--preset", metavar="NAME", help="a spec shipped with the package: quick, paper")
    add_filter_args(p)
    p.add_argument("--executor", choices=EXECUTORS, help="override the spec's executor")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=int, metavar="N", help="parallel runs (override the spec)")
    p.add_argument("--results-dir", default="results", metavar="DIR",
                   help="where experiments go (default: results)")
    p.add_argument("--budget-scale", type=float, default=1.0, metavar="X",
                   help="multiply the budget (and eval interval) by X, e.g. 0.01 to try the paper "
                        "preset on a laptop")
    p.set_defaults(func=main)


def add_filter_args(p: argparse.ArgumentParser) -> None:
    """Filters narrow a spec without editing it; each takes a comma list and may repeat."""
    p.add_argument("--algo", action="append", default=[], metavar="NAMES",
                   help="only these algorithms (e.g. mappo,leed)")
    p.add_argument("--agents", action="append", default=[], metavar="COUNTS",
                   help="only these agent counts (e.g. 2,4)")
    p.add_argument("--env", action="append", default=[], metavar="KEYS",
                   help="only these envs: family:scenario or a family (e.g. lbf)")
    p.add_argument("--seeds", action="append", default=[], metavar="SEEDS",
                   help="only these seeds (e.g. 1,2)")


def split_list(flag: str, values: list[str], kind: type = str) -> list:
    out = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                out.append(kind(item))
            except ValueError:
                raise UserError(f"{flag}: expected {kind.__name__} values, got {item!r}") from None
    return out


def main(args: argparse.Namespace) -> int:
    if bool(args.spec) == bool(args.preset):
        raise UserError("run: give a SPEC file or --preset NAME (one of them)")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: must be >= 1, got {args.workers}")
    spec = load_spec(preset_path(args.preset) if args.preset else args.spec)
    result = run_experiment(
        spec, results_dir=args.results_dir,
        algo=split_list("--algo", args.algo), agents=split_list("--agents", args.agents, int),
        env=split_list("--env", args.env), seeds=split_list("--seeds", args.seeds, int),
        executor=args.executor, workers=args.workers, address=args.address,
        budget_scale=args.budget_scale,
    )
    if result.report is not None:
        print(f"report: {result.report} (figures in {result.exp_dir / 'figures'})")
    if result.outcome.failed:
        print(f"{len(result.outcome.failed)} run(s) failed; run the same command again to retry them")
        return 1
    return 0
