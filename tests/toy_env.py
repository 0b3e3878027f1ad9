"""A tiny vectorized task for learner tests: each agent is shown a cue and is paid for echoing it."""
from __future__ import annotations

import numpy as np

from baselines.core.env_api import EnvInfo, StepResult


class EchoEnv:
    """N agents, A actions; obs = one-hot cue per agent; reward 1/N per agent that plays its cue.

    Action A-1 is never available, so masks are exercised. Episodes last `limit` steps.
    """

    def __init__(self, n_agents: int = 2, num_envs: int = 4, n_actions: int = 4, limit: int = 10, seed: int = 0):
        self.info = EnvInfo(n_agents, n_actions, n_agents * n_actions, n_actions, limit, num_envs)
        self.rng = np.random.default_rng(seed)
        self.t = np.zeros(num_envs, dtype=int)
        self.cue = np.zeros((num_envs, n_agents), dtype=int)

    def _obs(self):
        e, n, a = self.info.num_envs, self.info.n_agents, self.info.n_actions
        obs = np.eye(a, dtype=np.float32)[self.cue]
        avail = np.ones((e, n, a), dtype=bool)
        avail[..., -1] = False
        return obs, obs.reshape(e, -1), avail

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t[:] = 0
        self.cue = self.rng.integers(0, self.info.n_actions - 1, self.cue.shape)
        return self._obs()

    def step(self, actions):
        agent_reward = (actions == self.cue).astype(np.float32) / self.info.n_agents
        self.t += 1
        truncated = self.t >= self.info.episode_limit
        final = self._obs()
        self.cue = self.rng.integers(0, self.info.n_actions - 1, self.cue.shape)  # new cue every step
        self.t[truncated] = 0
        obs, state, avail = self._obs()
        info = {"final_obs": final[0], "final_state": final[1], "final_avail": final[2],
                "episode_return": np.zeros(self.info.num_envs, np.float32)}
        return StepResult(obs, state, avail, agent_reward.sum(1), agent_reward,
                          np.zeros_like(truncated), truncated, info)

    def describe(self, env_index=0):
        return {"family": "toy", "cue": self.cue[env_index].tolist()}

    def close(self):
        pass


def make_echo_env(key, n_agents, num_envs, seed=0, **options):
    return EchoEnv(n_agents=n_agents, num_envs=num_envs, seed=seed, **options)
