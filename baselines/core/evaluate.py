"""Greedy evaluation: every env copy plays one episode with the learner's greedy actions."""
from __future__ import annotations

import numpy as np
import torch

from baselines.core.env_api import VecEnv


def evaluate(env: VecEnv, act, seed: int, t_env: int, sample: bool = False) -> dict[str, float]:
    """Play one episode in each of `env.info.num_envs` copies; mean and std of the team returns.

    `sample=False` takes each agent's best action (argmax); `sample=True` draws from a policy
    learner's distribution (no exploration noise is added either way).
    Copies that finish early keep stepping (auto-reset) but their new episodes are ignored.
    """
    obs, state, avail = env.reset(seed=seed)
    e = env.info.num_envs
    returns, finished = np.zeros(e), np.zeros(e, dtype=bool)
    won = np.full(e, np.nan)
    hidden = None
    for _ in range(env.info.episode_limit):
        # np.require(..., "W"): copy arrays an env shares read-only (torch warns on those)
        actions, hidden = act(torch.from_numpy(np.require(obs, np.float32, "W")),
                              torch.from_numpy(np.require(avail, bool, "W")), hidden, sample, t_env)
        res = env.step(actions.numpy())
        returns += np.where(finished, 0.0, res.reward)
        done = np.logical_or(res.terminated, res.truncated)
        if "won" in res.info:
            won = np.where(done & ~finished, res.info["won"], won)
        finished |= done
        if finished.all():
            break
        obs, avail = res.obs, res.avail
        if done.any() and hidden is not None:
            hidden = hidden * torch.from_numpy(~done).float().view(-1, 1, 1)
    return {"eval_return": float(returns.mean()), "eval_return_std": float(returns.std()),
            "eval_win_rate": float(np.nanmean(won)) if not np.isnan(won).all() else float("nan"),
            "eval_episodes": e}
