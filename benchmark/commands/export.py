"""`leed-bench export results/<exp> --format marl-eval [--out FILE]`: results for other tools."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from baselines.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="write an experiment in the marl-eval JSON layout (BenchMARL's)",
        description="Export results/<exp> as {env: {task: {algo: {seed_N: {step_K: ...}}}}} "
                    "so marl-eval and BenchMARL tooling can read it.")
    p.add_argument("experiment", type=Path, help="experiment folder, e.g. results/quick")
    p.add_argument("--format", choices=["marl-eval"], default="marl-eval",
                   help="output layout (default marl-eval)")
    p.add_argument("--out", type=Path, help="output file (default <experiment>/marl_eval.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.marl_eval import to_marl_eval
    from benchmark.report import read_runs, read_table, write_text_atomic

    table = read_table(args.experiment)
    runs, _ = read_runs(args.experiment)
    absolute = {rid: (r.get("marl_eval") or {}).get("absolute_metrics") for rid, r in runs.items()}
    data = to_marl_eval(table, {k: v for k, v in absolute.items() if v})
    if not data:
        raise UserError(f"{args.experiment}: no evaluation with a return to export")
    out = args.out or args.experiment / "marl_eval.json"
    write_text_atomic(out, json.dumps(data, indent=2) + "\n")
    n_runs = sum(len(seeds) for tasks in data.values() for algos in tasks.values()
                 for seeds in algos.values())
    print(f"wrote {out}: {n_runs} run(s) in marl-eval format")
    return 0
