"""Environment registry: an env key `family:scenario` -> a `VecEnv` adapter.

Family modules import their simulator (lbforaging, vmas/torch, jax) only inside `make`, so
listing families or validating a spec stays cheap and never fails on a missing optional package.
"""
from __future__ import annotations

from typing import Any, Protocol

from baselines.core.env_api import AgentCountError, EnvError, VecEnv
from benchmark.envs import lbf, smacv2, smax, vmas


class Family(Protocol):
    """What every adapter module registers (its module-level `FAMILY`)."""

    name: str
    pattern: str | None  # scenario name grammar where scenarios() lists only examples

    def scenarios(self) -> list[str]: ...
    def agent_range(self, scenario: str) -> tuple[int, int]: ...
    def available(self) -> tuple[bool, str]: ...
    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options: Any) -> VecEnv: ...


FAMILIES: dict[str, Family] = {m.FAMILY.name: m.FAMILY for m in (lbf, vmas, smax, smacv2)}


def parse_env_key(key: str) -> tuple[str, str]:
    """`"lbf:Foraging-8x8-2p-2f-v3"` -> `("lbf", "Foraging-8x8-2p-2f-v3")`; unknown family -> EnvError."""
    family, sep, scenario = str(key).partition(":")
    if not sep or not family or not scenario:
        raise EnvError(f"env {key!r} must be 'family:scenario' (families: {', '.join(FAMILIES)})")
    if family not in FAMILIES:
        raise EnvError(f"unknown env family {family!r} in {key!r} (families: {', '.join(FAMILIES)})")
    return family, scenario


def check_env(key: str, n_agents: int, require_available: bool = True) -> None:
    """Raise EnvError unless `key` names a known scenario that supports `n_agents` (and is installed)."""
    name, scenario = parse_env_key(key)
    family = FAMILIES[name]
    low, high = family.agent_range(scenario)
    if isinstance(n_agents, bool) or not isinstance(n_agents, int) or not low <= n_agents <= high:
        span = f"{low}" if low == high else f"{low} to {high}"
        raise AgentCountError(f"{key} supports {span} agents, got n_agents={n_agents!r}")
    if require_available:
        ok, hint = family.available()
        if not ok:
            raise EnvError(f"env family {name!r} is not installed: {hint}")


def make_env(key: str, n_agents: int, num_envs: int, seed: int = 0, **options: Any) -> VecEnv:
    """Build `num_envs` copies of `key` with `n_agents` agents; copy e is seeded with seed + e."""
    check_env(key, n_agents)
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise EnvError(f"num_envs must be a positive integer, got {num_envs!r}")
    name, scenario = parse_env_key(key)
    return FAMILIES[name].make(scenario, n_agents, num_envs, seed, **options)


__all__ = ["FAMILIES", "EnvError", "check_env", "make_env", "parse_env_key"]
