"""LEED's policy optimization: decentralized PPO plus an expert loss on demonstrations.

Per agent i:  L_i = L_PPO_i + lambda(t) * L_E_i,  L_E_i = -mean log pi_i(a_demo | o_demo),
the negative log-likelihood of the agent's demonstrated actions under its current policy
(unavailable actions masked). The learner *is* the PPO family (`baselines.ppo.PPOLearner`),
with each agent's critic on its own observation (IPPO's, hence decentralized) and one extra
loss term supplied through `auxiliary_loss`. The paper does not publish its lambda formula;
the schedule is a knob (`schedule`), documented below and logged every update.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from baselines.core.env_api import EnvInfo
from baselines.core.errors import UserError
from baselines.core.networks import with_agent_ids
from baselines.ppo import PPOConfig, PPOLearner, masked_logits
from baselines.registry import AlgoEntry, register

SCHEDULES = ("constant", "linear", "exponential", "adaptive")


@dataclass
class LEEDConfig(PPOConfig):
    critic: str = "obs"  # decentralized: every agent's critic sees only its own observation
    expert_coef: float = 1.0  # lambda_0
    schedule: str = "linear"  # constant | linear | exponential | adaptive
    decay_steps: int = 50_000  # linear: lambda reaches 0 here; exponential: half-life (env steps)
    adaptive_rate: float = 0.05  # adaptive: multiplicative step per update
    adaptive_window: int = 50  # adaptive: the agent's recent episodes compared with the demos
    expert_batch_episodes: int = 16  # demonstration episodes per expert-loss estimate
    demo_episodes: int = 0  # ablation: use only the first K demonstration episodes (0 = all)
    demo_noise: float = 0.0  # ablation: fraction of demonstrated actions replaced by random valid ones


class LambdaSchedule:
    """lambda(t): how much the expert loss weighs against the agent's own PPO objective.

    constant: lambda_0. linear: lambda_0 (1 - t / decay_steps), floored at 0. exponential:
    lambda_0 2^(-t / decay_steps). adaptive: starts at lambda_0; after each update it is
    multiplied by (1 + rate) while the demonstrations' mean return exceeds the mean of the
    agent's last `adaptive_window` training episodes, and by (1 - rate) once the agent matches
    or overtakes them, clipped to [0, 10 lambda_0].
    """

    def __init__(self, cfg: LEEDConfig, demo_return: float):
        if cfg.schedule not in SCHEDULES:
            raise UserError(f"leed schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
        self.cfg, self.demo_return = cfg, demo_return
        self.value = cfg.expert_coef
        self.recent: list[float] = []

    def at(self, t_env: int) -> float:
        cfg = self.cfg
        if cfg.schedule == "linear":
            self.value = cfg.expert_coef * max(0.0, 1.0 - t_env / cfg.decay_steps)
        elif cfg.schedule == "exponential":
            self.value = cfg.expert_coef * 2.0 ** (-t_env / cfg.decay_steps)
        elif cfg.schedule == "constant":
            self.value = cfg.expert_coef
        return self.value

    def observe(self, episode_returns: list[float]) -> None:
        """Adaptive only: move lambda by how the agent's recent returns compare with the demos'."""
        if self.cfg.schedule != "adaptive" or not episode_returns:
            return
        self.recent = (self.recent + list(episode_returns))[-self.cfg.adaptive_window:]
        behind = float(np.mean(self.recent)) < self.demo_return
        step = (1 + self.cfg.adaptive_rate) if behind else (1 - self.cfg.adaptive_rate)
        self.value = min(max(self.value * step, 0.0), 10 * self.cfg.expert_coef)


@dataclass
class DemoEpisodes:
    """Demonstrations as padded episodes, the shape the recurrent policy replays."""

    obs: torch.Tensor  # [D, L, N, O]
    avail: torch.Tensor  # [D, L, N, A] bool
    actions: torch.Tensor  # [D, L, N]
    mask: torch.Tensor  # [D, L] 1 on real steps
    returns: np.ndarray  # [D] team returns

    @classmethod
    def from_demo_set(cls, demos: Any, info: EnvInfo, cfg: LEEDConfig, seed: int) -> "DemoEpisodes":
        """Check the set fits the env, apply the count/quality ablations, pad episodes."""
        obs, avail, action = np.asarray(demos.obs), np.asarray(demos.avail), np.asarray(demos.action)
        found = {"n_agents": obs.shape[1], "obs_dim": obs.shape[2], "n_actions": avail.shape[2]}
        wanted = {"n_agents": info.n_agents, "obs_dim": info.obs_dim, "n_actions": info.n_actions}
        diffs = [f"{k} {found[k]} (demos) != {wanted[k]} (env)" for k in found if found[k] != wanted[k]]
        if diffs:
            raise UserError(f"demonstrations {getattr(demos, 'path', '')} do not fit this env: {'; '.join(diffs)}")
        episode_ids = np.unique(demos.episode)
        if cfg.demo_episodes:
            episode_ids = episode_ids[: cfg.demo_episodes]
        if len(episode_ids) == 0:
            raise UserError("demonstrations: no episodes to learn from")
        rng = np.random.default_rng(seed)
        action = action.copy()
        if cfg.demo_noise > 0:  # replace a fraction of actions by random *valid* ones
            noisy = rng.random(action.shape) < cfg.demo_noise
            for m, i in zip(*np.nonzero(noisy)):
                action[m, i] = rng.choice(np.flatnonzero(avail[m, i]))
        length = int(max((demos.episode == k).sum() for k in episode_ids))
        d, n = len(episode_ids), info.n_agents
        out = cls(torch.zeros(d, length, n, info.obs_dim), torch.ones(d, length, n, info.n_actions, dtype=torch.bool),
                  torch.zeros(d, length, n, dtype=torch.long), torch.zeros(d, length), np.zeros(d))
        all_returns = np.asarray(getattr(demos, "episode_returns", []), dtype=float)
        for j, k in enumerate(episode_ids):
            rows = np.flatnonzero(demos.episode == k)
            rows = rows[np.argsort(demos.step[rows], kind="stable")]
            t = len(rows)
            out.obs[j, :t] = torch.from_numpy(obs[rows].astype(np.float32))
            out.avail[j, :t] = torch.from_numpy(avail[rows])
            out.actions[j, :t] = torch.from_numpy(action[rows].astype(np.int64))
            out.mask[j, :t] = 1.0
            team_return = float(np.asarray(demos.reward)[rows].sum())  # agent rewards summed = team reward
            out.returns[j] = all_returns[k] if k < len(all_returns) else team_return
        return out


def expert_loss(logits: torch.Tensor, avail: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L_E = -mean over real demonstration steps and agents of log pi(a_demo | o_demo)."""
    logp = torch.log_softmax(masked_logits(logits, avail), -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    mask = mask.unsqueeze(-1).expand_as(logp)
    return -(logp * mask).sum() / mask.sum()


class LEEDLearner(PPOLearner):
    """PPO (decentralized critics) + lambda(t) x expert loss on the agents' demonstrations."""

    def __init__(self, info: EnvInfo, cfg: LEEDConfig, seed: int = 0, demos: Any = None):
        if demos is None:
            raise UserError("leed needs demonstrations (spec `demos:` or --demos); none were given")
        super().__init__(info, cfg, seed=seed)
        self.demos = demos if isinstance(demos, DemoEpisodes) else DemoEpisodes.from_demo_set(demos, info, cfg, seed)
        self.schedule = LambdaSchedule(cfg, float(np.mean(self.demos.returns)))
        self.demo_generator = torch.Generator().manual_seed(seed + 1)  # keeps acting RNG identical to IPPO's
        self.t_env = 0

    def iterate(self, collector, t_env: int):
        self.t_env = t_env
        self.schedule.at(t_env)
        episodes, stats = super().iterate(collector, t_env)
        self.schedule.observe(episodes.returns)
        return episodes, stats

    def auxiliary_loss(self) -> tuple[torch.Tensor, dict[str, float]]:
        lam = self.schedule.value
        if lam == 0.0:  # the term adds exactly nothing: skip replaying the demonstrations
            return torch.zeros(()), {"lambda": 0.0}
        d = self.demos.obs.shape[0]
        idx = torch.randperm(d, generator=self.demo_generator)[: self.cfg.expert_batch_episodes]
        obs, avail, actions, mask = (x[idx] for x in (self.demos.obs, self.demos.avail, self.demos.actions, self.demos.mask))
        b, length, n = actions.shape
        x = with_agent_ids(obs).transpose(0, 1).reshape(length, b * n, -1)
        first = torch.zeros(length, b * n)
        first[0] = 1.0
        logits = self.policy.unroll(x, self.policy.init_hidden(b * n), first).view(length, b, n, -1).transpose(0, 1)
        l_e = expert_loss(logits, avail, actions, mask)
        return lam * l_e, {"expert_loss": l_e.item(), "lambda": lam}


register("leed", AlgoEntry("leed", LEEDConfig, LEEDLearner, {}, needs_demos=True))
