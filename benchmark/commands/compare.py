"""`leed-bench compare REF CAND`: exit 1 if any cell of CAND regressed against REF.

Exit codes: 0 no regression, 1 regression (each regressed cell named on stderr), 2 unusable
input (missing folder or table, no common cell). The test is documented in benchmark/compare.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from baselines.core.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="regression check of a candidate experiment against a reference",
        description="Per cell in both experiments, a one-sided test that the candidate is "
                    "not worse than the reference beyond --tolerance (paired t on matching "
                    "seeds, else Welch t). Exit 1 on a regression, 2 on unusable input.")
    p.add_argument("reference", type=Path, help="reference experiment folder")
    p.add_argument("candidate", type=Path, help="candidate experiment folder")
    p.add_argument("--metric", default="final",
                   choices=["final", "auc", "env_steps_per_s", "s_per_update", "s_per_step"],
                   help="per-run metric to compare (default final)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed relative drop, "
                   "as a fraction of the reference mean (default 0.05)")
    p.add_argument("--k", type=int, default=3, help="final = mean of the last k evaluations")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmark.compare import cell_name, compare_tables, format_table
    from benchmark.report import read_table

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.tolerance < 0:
        raise UserError(f"--tolerance must be >= 0, got {args.tolerance}")
    ref, cand = read_table(args.reference), read_table(args.candidate)
    result = compare_tables(ref, cand, args.metric, args.alpha, args.tolerance, args.k)
    print(format_table(result, args.metric))
    for label, cells in (("only in reference", result.attrs["only_ref"]),
                         ("only in candidate", result.attrs["only_cand"])):
        if cells:
            print(f"{len(cells)} cell(s) {label}: " + "; ".join(
                cell_name(dict(zip(["env", "scenario", "n_agents", "algo"], c))) for c in cells))
    bad = result[result["verdict"].str.startswith("regression")]
    for _, r in bad.iterrows():
        change = "" if r["change"] != r["change"] else f" ({r['change']:+.1%})"
        print(f"leed-bench: regression in {cell_name(r)}: {args.metric} {r['cand_mean']:.4g} vs "
              f"{r['ref_mean']:.4g}{change}, {r['test']} p={r['p_value']:.3g} < "
              f"alpha {args.alpha}, tolerance {args.tolerance:.0%}", file=sys.stderr)
    if bad.empty:
        print(f"no regression in {len(result)} cell(s) (alpha {args.alpha}, "
              f"tolerance {args.tolerance:.0%})")
        return 0
    return 1
