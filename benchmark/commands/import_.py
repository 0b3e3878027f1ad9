"""`leed-bench import FILE --experiment NAME`: a marl-eval / BenchMARL JSON as an experiment.

Runs land in the usual layout (`runs/<id>/{run.json, metrics.csv, done}` + `table.csv`) with
backend "imported", so `report`, `compare` and `export` treat them like any other. Importing
into an existing experiment adds the runs it lacks (run ids derive from the file's content).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

from baselines.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import", help="read a marl-eval / BenchMARL JSON file into an experiment",
        description="Import {env: {task: {algo: {seed_N: {step_K: ...}}}}} results as "
                    "results/<experiment>/ with backend 'imported'.")
    p.add_argument("file", type=Path, help="marl-eval JSON file")
    p.add_argument("--experiment", required=True, help="experiment name to create or extend")
    p.add_argument("--results-dir", type=Path, default=Path("results"),
                   help="results folder (default results)")
    p.add_argument("--n-agents", type=int, help="agent count of the file's tasks (the format "
                   "does not record it; tasks named `task@nN` carry their own)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark import store
    from benchmark.marl_eval import from_marl_eval

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.experiment):
        raise UserError(f"--experiment {args.experiment!r}: use letters, digits, '.', '_', '-'")
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    raw = args.file.read_bytes()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise UserError(f"{args.file}: not JSON ({err})")
    sha = hashlib.sha256(raw).hexdigest()
    table, runs = from_marl_eval(data, args.experiment, args.n_agents, source=sha)
    exp_dir = args.results_dir / args.experiment
    new_ids = [rid for rid in runs if not store.is_done(store.run_dir(exp_dir, rid))]
    for rid in new_ids:
        record = runs[rid]
        record["provenance"]["imported"]["file"] = args.file.name
        path = store.run_dir(exp_dir, rid)
        path.mkdir(parents=True, exist_ok=True)
        rows = table.loc[table["run_id"] == rid, store.METRIC_COLUMNS].to_dict("records")
        store.atomic_write_text(path / store.METRICS_FILE, store.rows_to_csv(rows))
        store.finish_run(path, record)  # run.json, then `done` last
    store.write_table(exp_dir)  # rebuilt from every finished run, old and new
    skipped = len(runs) - len(new_ids)
    n_note = "" if table["n_agents"].notna().all() else \
        " (agent count unknown: pass --n-agents to record it)"
    print(f"imported {len(new_ids)} run(s) into {exp_dir}" +
          (f", {skipped} already there" if skipped else "") + n_note)
    return 0
