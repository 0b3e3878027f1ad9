"""`leed-bench import-epymarl PATH --experiment NAME`: EPyMARL sacred results -> one experiment.

Researchers already hold folders of EPyMARL results; importing them puts those runs in the same
layout and tidy table as native runs (backend `epymarl`, algo `epymarl:<alg>`), so the report
and `compare` treat them alike. Every folder is read and checked before anything is written:
a damaged one stops the import with one line and leaves the results folder as it was.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from baselines import epymarl
from baselines.core.errors import UserError
from benchmark import store

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-epymarl", help="import EPyMARL sacred results into an experiment",
        description="Import every sacred run under PATH (EPyMARL's results/sacred, or any folder "
                    "below it, or one run folder) into RESULTS_DIR/NAME/ as backend 'epymarl'.",
    )
    p.add_argument("path", metavar="PATH", help="a sacred results folder (<alg>/<env key>/<id>/)")
    p.add_argument("--experiment", required=True, metavar="NAME", help="experiment to import into")
    p.add_argument("--results-dir", default="results", metavar="DIR",
                   help="where experiments go (default: results)")
    p.add_argument("--agents", type=int, metavar="N",
                   help="agent count, for env keys that do not tell it (LBF's '-2p-' does)")
    p.add_argument("--include-unfinished", action="store_true",
                   help="also import runs sacred did not mark COMPLETED (killed, failed)")
    p.set_defaults(func=main)


def imported_run_id(config: dict[str, Any], provenance: dict[str, Any]) -> str:
    """Stable per sacred run: its config, start time and host, not where the folder lies now."""
    payload = {"config": config, "start_time": provenance.get("start_time"),
               "hostname": (provenance.get("host") or {}).get("hostname")}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def store_run(exp_dir: Path, sacred_dir: Path, config: dict[str, Any], rows: list[dict],
              provenance: dict[str, Any], n_agents: int | None = None) -> tuple[str, bool]:
    """Write one sacred run as a finished run of `exp_dir`; (run id, False) if already there."""
    run_id = imported_run_id(config, provenance)
    if store.is_done(store.run_dir(exp_dir, run_id)):
        return run_id, False
    train_cfg = epymarl.train_config_dict(config, n_agents)
    record: dict[str, Any] = {
        "run_id": run_id, "experiment": exp_dir.name, "config": train_cfg, "backend": "epymarl",
        "provenance": provenance, "status": "running",
        "imported": {"from": str(sacred_dir.resolve()), "at": store.now_iso(),
                     "by": store.provenance().get("git")},
    }
    path = store.start_run(exp_dir, run_id, record)
    store.atomic_write_text(path / store.METRICS_FILE, store.rows_to_csv(rows))
    epymarl.write_run_extras(path, sacred_dir)
    final = rows[-1]
    record.update(status="done", finished_at=store.now_iso(), run_wall_s=provenance.get("run_wall_s"),
                  final={k: final.get(k) for k in ("env_steps", "wall_s", "eval_return", "eval_win_rate")})
    store.finish_run(path, record)
    return run_id, True


def main(args: argparse.Namespace) -> int:
    if not _NAME_RE.match(args.experiment):
        raise UserError(f"--experiment: must be a folder-safe name (letters, digits, _.-), "
                        f"got {args.experiment!r}")
    if args.agents is not None and args.agents < 1:
        raise UserError(f"--agents: must be >= 1, got {args.agents}")
    runs = epymarl.import_sacred_tree(Path(args.path))
    keep = []
    for sacred_dir, config, rows, prov in runs:
        if prov.get("status") != "COMPLETED" and not args.include_unfinished:
            print(f"skipped  {sacred_dir}: sacred status {prov.get('status')} "
                  "(--include-unfinished imports it)")
            continue
        epymarl.train_config_dict(config, args.agents)  # every run checked before any is written
        keep.append((sacred_dir, config, rows, prov))
    exp_dir = Path(args.results_dir) / args.experiment
    for sacred_dir, config, rows, prov in keep:
        run_id, new = store_run(exp_dir, sacred_dir, config, rows, prov, args.agents)
        final = rows[-1]
        print(f"{'imported' if new else 'present '} epymarl:{config.get('name')} "
              f"{config.get('env_args', {}).get('key')} seed={config.get('seed')} "
              f"eval_return={final['eval_return']:.4g} env_steps={final['env_steps']} [{run_id}]")
    if keep:
        table = store.write_table(exp_dir)
        print(f"table: {table} ({len(keep)} run(s) from {args.path}); "
              f"report with: leed-bench report {exp_dir}")
    else:
        print(f"nothing to import from {args.path}")
    return 0
