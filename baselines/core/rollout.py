"""Collect fixed-length segments from a `VecEnv`, for every learner.

Envs auto-reset, so a segment of T steps x E envs may span several episodes per env; `first`
marks the steps where an episode starts (recurrent state is zeroed there) and `next_*` hold the
observation that follows each step *in the same episode* (the final observation where an
episode ended), which is what bootstrapped targets need.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from baselines.core.env_api import VecEnv

# act(obs [E,N,O], avail [E,N,A], hidden, explore, t_env) -> (actions [E,N] int64 tensor, hidden)
ActFn = Callable[[torch.Tensor, torch.Tensor, Any, bool, int], tuple[torch.Tensor, Any]]


@dataclass
class Segment:
    """T steps of E envs; every array is a torch tensor with leading dims [T, E]."""

    obs: torch.Tensor  # [T, E, N, O]
    state: torch.Tensor  # [T, E, S]
    avail: torch.Tensor  # [T, E, N, A] bool
    actions: torch.Tensor  # [T, E, N] int64
    reward: torch.Tensor  # [T, E]
    terminated: torch.Tensor  # [T, E] float (1 = true end, no bootstrap)
    done: torch.Tensor  # [T, E] float (terminated or truncated)
    first: torch.Tensor  # [T, E] float (1 = first step of an episode)
    next_obs: torch.Tensor  # [T, E, N, O]
    next_state: torch.Tensor  # [T, E, S]
    next_avail: torch.Tensor  # [T, E, N, A]
    h0: Any  # recurrent state at the segment's start
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class EpisodeStats:
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    wins: list[float] = field(default_factory=list)


class Collector:
    """Steps `env` with a learner's `act` and hands out `Segment`s; counts env steps."""

    def __init__(self, env: VecEnv, seed: int):
        self.env = env
        obs, state, avail = env.reset(seed=seed)
        self._set(obs, state, avail)
        self.first = torch.ones(env.info.num_envs)
        self.hidden: Any = None
        self.env_steps = 0
        self.collect_s = 0.0  # seconds spent acting and stepping envs (the rest of a learner's time is updates)
        self.episodes = 0
        self._ep_return = np.zeros(env.info.num_envs)
        self._ep_len = np.zeros(env.info.num_envs, dtype=np.int64)
        self._finished = EpisodeStats()  # episodes completed since the last segment was handed out

    def _set(self, obs: np.ndarray, state: np.ndarray, avail: np.ndarray) -> None:
        self.obs, self.state, self.avail = as_tensor(obs, np.float32), as_tensor(state, np.float32), as_tensor(avail, bool)

    def collect(self, act: ActFn, n_steps: int, t_env: int, explore: bool = True) -> tuple[Segment, EpisodeStats]:
        """Run `n_steps` steps of every env (n_steps * E env steps); `t_env` = env steps so far."""
        keys = ("obs", "state", "avail", "actions", "reward", "terminated", "done", "first",
                "next_obs", "next_state", "next_avail")
        buf: dict[str, list] = {k: [] for k in keys}
        h0 = self.hidden
        t0 = time.perf_counter()
        for i in range(n_steps):
            actions, self.hidden = act(self.obs, self.avail, self.hidden, explore, t_env + i * self.env.info.num_envs)
            res = self.env.step(actions.numpy())
            done = np.logical_or(res.terminated, res.truncated)
            buf["obs"].append(self.obs)
            buf["state"].append(self.state)
            buf["avail"].append(self.avail)
            buf["actions"].append(actions)
            buf["reward"].append(torch.from_numpy(np.asarray(res.reward, dtype=np.float32)))
            buf["terminated"].append(torch.from_numpy(res.terminated.astype(np.float32)))
            buf["done"].append(torch.from_numpy(done.astype(np.float32)))
            buf["first"].append(self.first)
            self._set(res.obs, res.state, res.avail)
            if done.any():
                buf["next_obs"].append(as_tensor(res.info["final_obs"], np.float32))
                buf["next_state"].append(as_tensor(res.info["final_state"], np.float32))
                buf["next_avail"].append(as_tensor(res.info["final_avail"], bool))
            else:
                buf["next_obs"].append(self.obs)
                buf["next_state"].append(self.state)
                buf["next_avail"].append(self.avail)
            self._count(res.reward, done, res.info)
            self.first = torch.from_numpy(done.astype(np.float32))
            self.hidden = _reset_hidden(self.hidden, self.first)
        self.env_steps += n_steps * self.env.info.num_envs
        seg = Segment(**{k: torch.stack(v) for k, v in buf.items()}, h0=h0)
        stats, self._finished = self._finished, EpisodeStats()
        self.collect_s += time.perf_counter() - t0
        return seg, stats

    def _count(self, reward: np.ndarray, done: np.ndarray, info: dict) -> None:
        self._ep_return += reward
        self._ep_len += 1
        if not done.any():
            return
        won = info.get("won")
        for e in np.flatnonzero(done):
            self._finished.returns.append(float(self._ep_return[e]))
            self._finished.lengths.append(int(self._ep_len[e]))
            if won is not None:
                self._finished.wins.append(float(won[e]))
        self._ep_return[done] = 0.0
        self._ep_len[done] = 0
        self.episodes += int(done.sum())


def as_tensor(x: np.ndarray, dtype: type) -> torch.Tensor:
    """A tensor that owns its data: adapters may hand out read-only or reused buffers."""
    return torch.from_numpy(np.array(x, dtype=dtype, copy=True))


def _reset_hidden(hidden: Any, first: torch.Tensor) -> Any:
    """Zero the recurrent state [E, N, H] of envs that start a new episode."""
    if hidden is None or not bool(first.any()):
        return hidden
    return hidden * (1.0 - first).view(-1, *([1] * (hidden.dim() - 1)))
