"""Algorithm names -> (learner family, options), as EPyMARL's registries compose them.

MAPPO and IPPO are one PPO learner with two critics; QMIX, VDN and IQL are one Q learner with
three mixers. LEED registers itself (`import leed`) as the PPO family plus an expert loss.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from baselines.core.env_api import EnvInfo
from baselines.core.errors import UserError
from baselines.ppo import PPOConfig, PPOLearner
from baselines.value import QConfig, QLearner


@dataclass(frozen=True)
class AlgoEntry:
    family: str  # "ppo" | "value" | "leed"
    config_cls: type
    learner_cls: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)
    needs_demos: bool = False


ALGOS: dict[str, AlgoEntry] = {
    "mappo": AlgoEntry("ppo", PPOConfig, PPOLearner, {"critic": "state"}),
    "ippo": AlgoEntry("ppo", PPOConfig, PPOLearner, {"critic": "obs"}),
    "qmix": AlgoEntry("value", QConfig, QLearner, {"mixer": "qmix"}),
    "vdn": AlgoEntry("value", QConfig, QLearner, {"mixer": "vdn"}),
    "iql": AlgoEntry("value", QConfig, QLearner, {"mixer": "none"}),
}


def register(name: str, entry: AlgoEntry) -> None:
    ALGOS[name] = entry


def get_algo(name: str) -> AlgoEntry:
    if name not in ALGOS:
        raise UserError(f"unknown algorithm '{name}' (known: {', '.join(sorted(ALGOS))})")
    return ALGOS[name]


def build_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The algorithm's config dataclass with its options, then the user's overrides, checked."""
    entry = get_algo(name)
    fields = {f.name: f for f in dataclasses.fields(entry.config_cls)}
    values = dict(entry.options)
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise UserError(f"unknown hyperparameter '{key}' for {name} (known: {', '.join(sorted(fields))})")
        default = fields[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise UserError(f"hyperparameter '{key}' for {name} must be true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"hyperparameter '{key}' for {name} must be a number, got {value!r}")
            value = type(default)(value) if isinstance(default, float) or float(value).is_integer() else value
        values[key] = value
    return entry.config_cls(**values)


def make_learner(name: str, info: EnvInfo, overrides: dict[str, Any] | None = None, seed: int = 0,
                 demos: Any = None) -> Any:
    entry = get_algo(name)
    cfg = build_config(name, overrides)
    if entry.needs_demos:
        return entry.learner_cls(info, cfg, seed=seed, demos=demos)
    return entry.learner_cls(info, cfg, seed=seed)
