"""Spec -> the list of runs it asks for, each with a stable content-hash id.

The id is the first 12 hex digits of sha256 over the canonical JSON of the run's `TrainConfig`
(plus, for LEED, how many demonstration episodes it gets), so the same cell of any spec, filtered
or not, maps to the same folder, and changing anything that changes the result changes the id.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

from baselines.core.env_api import AgentCountError
from baselines.core.errors import UserError
from baselines.train import TrainConfig
from benchmark.spec import Spec, SpecError

@dataclass(frozen=True)
class Run:
    """One cell of the matrix: what to train, and the folder name it is stored under."""

    config: TrainConfig
    demo_episodes: int | None = None  # LEED only; not a TrainConfig field

    def identity(self) -> dict[str, Any]:
        """The content the run id hashes (and run.json records as `config`)."""
        payload = dataclasses.asdict(self.config)
        if self.demo_episodes is not None:
            payload["demo_episodes"] = self.demo_episodes
        return payload

    @property
    def run_id(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def label(self) -> str:
        c = self.config
        return f"{c.algo} {c.env} n={c.n_agents} seed={c.seed}"


@dataclass(frozen=True)
class Filters:
    """Narrow a spec without editing it (`--algo`, `--agents`, `--env`, `--seeds`); empty = all."""

    algos: tuple[str, ...] = ()
    agents: tuple[int, ...] = ()
    envs: tuple[str, ...] = ()  # a full key ("lbf:Foraging-8x8-2f-v3") or a family ("lbf")
    seeds: tuple[int, ...] = ()


def check_env(key: str, n_agents: int) -> None:
    """Raise `EnvError` when `key` cannot take `n_agents` or its family is not installed."""
    from benchmark.envs import check_env as _check_env

    _check_env(key, n_agents)


def _env_matches(key: str, wanted: str) -> bool:
    return key == wanted or key.split(":", 1)[0] == wanted


def _check_filter(flag: str, wanted: Iterable[Any], have: list[Any], match) -> None:
    for value in wanted:
        if not any(match(h, value) for h in have):
            shown = ", ".join(str(h) for h in dict.fromkeys(have))
            raise UserError(f"{flag} {value}: matches nothing in the spec (have: {shown})")


def expand(spec: Spec, filters: Filters = Filters()) -> list[Run]:
    """The runs of `spec` that pass `filters`, env by env, agent count, algorithm, seed.

    Each selected (env, agent count) is checked against the environment registry here, before
    anything is written, so a spec the envs cannot take fails with the field that is wrong.
    """
    eq = lambda h, v: h == v  # noqa: E731
    _check_filter("--algo", filters.algos, [a.name for a in spec.algos], eq)
    _check_filter("--agents", filters.agents, [n for e in spec.envs for n in e.agents], eq)
    _check_filter("--env", filters.envs, [e.env for e in spec.envs], _env_matches)
    _check_filter("--seeds", filters.seeds, list(spec.seeds), eq)

    runs: list[Run] = []
    for i, entry in enumerate(spec.envs):
        if filters.envs and not any(_env_matches(entry.env, w) for w in filters.envs):
            continue
        for j, n_agents in enumerate(entry.agents):
            if filters.agents and n_agents not in filters.agents:
                continue
            cell_runs = [
                _make_run(spec, entry, n_agents, algo, seed)
                for algo in spec.algos if not filters.algos or algo.name in filters.algos
                for seed in spec.seeds if not filters.seeds or seed in filters.seeds
            ]
            if cell_runs:
                try:
                    check_env(entry.env, n_agents)
                except UserError as err:  # name the field that is wrong: the count, or the env itself
                    where = f"agents[{j}]" if isinstance(err, AgentCountError) else "env"
                    raise SpecError(f"spec.envs[{i}].{where}", str(err), spec.source) from None
            runs.extend(cell_runs)
    if not runs:
        raise UserError("the filters select no runs of the spec (check --algo/--agents/--env/--seeds)")
    return runs


def _make_run(spec: Spec, entry, n_agents: int, algo, seed: int) -> Run:
    gets_demos = algo.needs_demos
    config = TrainConfig(
        algo=algo.name,
        env=entry.env,
        n_agents=n_agents,
        seed=seed,
        env_steps=spec.env_steps,
        eval_interval=spec.eval.interval,
        eval_episodes=spec.eval.episodes,
        eval_mode=spec.eval.mode,
        num_envs=spec.num_envs,
        overrides=dict(algo.overrides),
        env_options=dict(entry.options),
        demos=spec.demos.source if gets_demos else None,
    )
    return Run(config=config, demo_episodes=spec.demos.episodes if gets_demos else None)
