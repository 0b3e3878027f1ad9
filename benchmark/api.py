"""The Python API: the same spec, matrix, executors and store as `leed-bench run`.

    from benchmark.api import load_spec, run_experiment
    result = run_experiment(load_spec("benchmark/presets/quick.yaml"), algo=["mappo"], agents=[2])
    result.table.groupby("algo").eval_return.max()
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd
from tqdm import tqdm

from benchmark import store
from benchmark.report import build_report
from benchmark.executors import Outcome, execute
from benchmark.matrix import Filters, Run, expand
from benchmark.runner import TrainFn
from benchmark.spec import Spec, load_spec, preset_path

__all__ = ["load_spec", "load_preset", "plan", "run_experiment", "ExperimentResult"]


def load_preset(name: str) -> Spec:
    """A preset shipped with the package (`quick`, `paper`)."""
    return load_spec(preset_path(name))


@dataclass
class ExperimentResult:
    exp_dir: Path
    runs: list[Run]  # the runs the spec and filters selected
    outcome: Outcome
    table: pd.DataFrame  # every finished run of the experiment, tidy
    report: Path | None = None


def plan(spec: Spec | str | Path | Mapping[str, Any], *, algo: Iterable[str] = (),
         agents: Iterable[int] = (), env: Iterable[str] = (), seeds: Iterable[int] = (),
         budget_scale: float = 1.0) -> tuple[Spec, list[Run]]:
    """Validate everything (spec, filters, environment cells) and list the runs; writes nothing."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    spec = spec.scaled(budget_scale)
    filters = Filters(algos=tuple(algo), agents=tuple(agents), envs=tuple(env), seeds=tuple(seeds))
    return spec, expand(spec, filters)


def run_experiment(spec: Spec | str | Path | Mapping[str, Any], *, results_dir: str | Path = "results",
                   algo: Iterable[str] = (), agents: Iterable[int] = (), env: Iterable[str] = (),
                   seeds: Iterable[int] = (), executor: str | None = None,
                   workers: int | None = None, address: str | None = None,
                   budget_scale: float = 1.0, train_fn: TrainFn | None = None,
                   echo: Callable[[str], None] = tqdm.write) -> ExperimentResult:
    """Run what is not done yet of `spec` into `results_dir/<spec.name>/` and rebuild its table."""
    spec, runs = plan(spec, algo=algo, agents=agents, env=env, seeds=seeds,
                      budget_scale=budget_scale)
    exp_dir = Path(results_dir) / spec.name
    outcome = execute(runs, exp_dir, executor=executor or spec.executor,
                      workers=workers or spec.workers, address=address, train_fn=train_fn,
                      echo=echo)
    table = store.load_table(exp_dir)
    table_path = store.write_table(exp_dir, table)
    echo(f"table: {table_path} ({table.run_id.nunique()} finished runs)")
    report = None
    if outcome.finished or not (exp_dir / "report.md").exists():
        report = build_report(exp_dir)
    return ExperimentResult(exp_dir, runs, outcome, table, report)
