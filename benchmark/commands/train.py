"""`leed-bench train`: one training run, in this process, with a progress bar.

The flags become a one-run spec validated by the same schema as `leed-bench run`, and the run is
stored like any other (`results/train/runs/<run_id>/`). Unlike `run`, it always trains afresh:
someone calling `train` wants the learner run now (after a code change, to time it).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from baselines.core.errors import UserError
from benchmark import store
from benchmark.matrix import expand
from benchmark.runner import format_summary, run_one
from benchmark.spec import SpecError, parse_spec, yaml_value

EXPERIMENT = "train"

# Spec fields as the flags that set them, so errors name what the user typed.
_FLAGS = [
    ("spec.algos[0].overrides", "--set"), ("spec.envs[0].options", "--set"),
    ("spec.algos[0]", "--algo"), ("spec.envs[0].env", "--env"), ("spec.envs[0].agents", "--agents"),
    ("spec.envs[0]", "--env"), ("spec.seeds", "--seed"), ("spec.budget.env_steps", "--steps"),
    ("spec.eval.interval", "--eval-interval"), ("spec.eval.episodes", "--eval-episodes"),
    ("spec.eval.mode", "--eval-mode"),
    ("spec.num_envs", "--num-envs"), ("spec.demos.source", "--demos"),
    ("spec.demos.episodes", "--demo-episodes"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train one algorithm on one environment (always trains afresh)",
        description="Train one run with periodic evaluation; print the final evaluation.",
    )
    p.add_argument("--algo", required=True, metavar="NAME", help="e.g. mappo, qmix, leed")
    p.add_argument("--env", required=True, metavar="FAMILY:SCENARIO",
                   help="e.g. lbf:Foraging-8x8-2p-2f-v3, vmas:navigation")
    p.add_argument("--agents", required=True, type=int, metavar="N")
    p.add_argument("--steps", required=True, type=int, metavar="T", help="env steps budget")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--eval-interval", type=int, metavar="T", help="env steps between evaluations")
    p.add_argument("--eval-episodes", type=int, metavar="K")
    p.add_argument("--eval-mode", metavar="MODE",
                   help="auto (default: policy learners sample, as EPyMARL's test mode; value learners act greedily), greedy or sample")
    p.add_argument("--num-envs", type=int, metavar="E", help="parallel envs (default: the algo's)")
    p.add_argument("--demos", metavar="SOURCE", help="LEED: scripted | FOLDER | hf://owner/repo@rev")
    p.add_argument("--demo-episodes", type=int, metavar="K")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="learner hyperparameter (e.g. lr=5e-4); env.KEY=VALUE sets an env option")
    p.add_argument("--results-dir", default="results", metavar="DIR",
                   help="the run goes to DIR/train/runs/<run_id>/ (default: results)")
    p.set_defaults(func=main)


def parse_overrides(items: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`--set` items -> (learner overrides, env options); values read as YAML (5e-4, true, [1,2])."""
    learner: dict[str, Any] = {}
    env: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set: expected KEY=VALUE, got {item!r}")
        value = yaml_value(text)
        target, key = (env, key[4:]) if key.startswith("env.") else (learner, key)
        target[key] = value
    return learner, env


def build_spec_dict(args: argparse.Namespace) -> dict[str, Any]:
    overrides, env_options = parse_overrides(args.overrides)
    spec: dict[str, Any] = {
        "name": EXPERIMENT,
        "envs": [{"env": args.env, "agents": [args.agents], "options": env_options}],
        "algos": [{"name": args.algo, "overrides": overrides}],
        "seeds": [args.seed],
        "budget": {"env_steps": args.steps},
        "eval": {k: v for k, v in (("interval", args.eval_interval), ("episodes", args.eval_episodes),
                                   ("mode", args.eval_mode)) if v is not None},
    }
    demos = {k: v for k, v in (("source", args.demos), ("episodes", args.demo_episodes))
             if v is not None}
    if demos:
        spec["demos"] = demos
    if args.num_envs is not None:
        spec["num_envs"] = args.num_envs
    return spec


def as_flag(field: str) -> str:
    return next((flag for prefix, flag in _FLAGS if field.startswith(prefix)), field)


def main(args: argparse.Namespace) -> int:
    try:
        spec = parse_spec(build_spec_dict(args))
        (run,) = expand(spec)
    except SpecError as err:
        raise UserError(f"{as_flag(err.field)}: {err.detail}") from None
    exp_dir = Path(args.results_dir) / EXPERIMENT
    store.reset_run(exp_dir, run.run_id)
    print(f"training {run.label()} -> {store.run_dir(exp_dir, run.run_id)}")
    summary = run_one(run, exp_dir, progress=True)
    store.write_table(exp_dir)
    print(f"final {format_summary(summary)}")
    return 0
