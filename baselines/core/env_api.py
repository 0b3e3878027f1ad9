"""The one interface every environment adapter implements and every learner consumes.

It lives in `baselines.core` (not in the harness) so learners and LEED can type against it
without importing `benchmark`. Arrays are numpy, batched over `num_envs` (E), agents (N).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from baselines.core.errors import UserError


@dataclass(frozen=True)
class EnvInfo:
    """Static facts a learner needs to size its networks."""

    n_agents: int
    obs_dim: int
    state_dim: int
    n_actions: int
    episode_limit: int
    num_envs: int


class StepResult(NamedTuple):
    """What `VecEnv.step` returns.

    Auto-reset: when env e's episode ends (`terminated[e] or truncated[e]`), the env is reset at
    once and `obs[e]`, `state[e]`, `avail[e]` already belong to the *new* episode; the last
    observation of the finished episode is in `info["final_obs"][e]`, `info["final_state"][e]`
    and `info["final_avail"][e]` (all arrays shaped like obs/state/avail, rows of envs that did
    not finish are copies of the current ones). `info["won"]` ([E] bool) is present where the
    task has a win condition (SMAC family); `info["episode_return"]` ([E] float) holds the
    team return of envs that just finished (0 elsewhere).
    """

    obs: np.ndarray  # [E, N, O] float32
    state: np.ndarray  # [E, S] float32
    avail: np.ndarray  # [E, N, A] bool
    reward: np.ndarray  # [E] float32, team reward (sum or shared, per the task)
    agent_reward: np.ndarray  # [E, N] float32
    terminated: np.ndarray  # [E] bool, true end of the task (no bootstrap)
    truncated: np.ndarray  # [E] bool, time limit (bootstrap from final_obs)
    info: dict[str, Any]


@runtime_checkable
class VecEnv(Protocol):
    """A batch of `num_envs` copies of one multi-agent task, stepped together."""

    info: EnvInfo

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reset every copy; copy e is seeded with `seed + e`. Returns (obs, state, avail)."""

    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every copy by one step with `actions` [E, N] (ints); auto-resets."""

    def describe(self, env_index: int = 0) -> dict[str, Any]:
        """Structured facts of copy `env_index`'s current episode, for LEED's prompts."""

    def close(self) -> None: ...


class EnvError(UserError):
    """Bad environment request (unknown family or scenario, agent count out of range)."""


class AgentCountError(EnvError):
    """The scenario exists but does not take that many agents (errors then name the agent count)."""


@dataclass(frozen=True)
class EnvSpec:
    """Which task to build: `family:scenario` with `n_agents` and per-family options."""

    family: str
    scenario: str
    n_agents: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.family}:{self.scenario}"


def check_actions(actions: Any, info: EnvInfo) -> np.ndarray:
    """`actions` as an int64 array [num_envs, n_agents] of indices in [0, n_actions); else ValueError."""
    acts = np.asarray(actions)
    if acts.shape != (info.num_envs, info.n_agents):
        raise ValueError(f"actions must be shaped {(info.num_envs, info.n_agents)}, got {acts.shape}")
    acts = acts.astype(np.int64, copy=False)
    if acts.min() < 0 or acts.max() >= info.n_actions:
        raise ValueError(f"actions must be in [0, {info.n_actions}), got {acts.min()}..{acts.max()}")
    return acts
