"""The PPO family: MAPPO (critic on the global state) and IPPO (critic on each agent's observation).

One learner, two critics, as EPyMARL's `ppo_learner` with `cv_critic` / `ac_critic`. Defaults
are EPyMARL's `mappo.yaml` / `ippo.yaml` (commit cbc38c0). Differences, on purpose:
experience arrives as fixed-length segments of auto-resetting vectorized envs (T = the task's
episode limit) rather than whole padded episodes, so no env sits idle waiting for the slowest
episode; n-step targets cut at episode ends and bootstrap from the final observation on time
limits, as EPyMARL does with `add_value_last_step`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.core.env_api import EnvInfo
from baselines.core.networks import AgentNet, PerAgentNets, RunningMeanStd, mlp, with_agent_ids
from baselines.core.rollout import Collector, Segment


@dataclass
class PPOConfig:
    critic: str = "state"  # "state" (MAPPO, centralised V) or "obs" (IPPO, V on own observation)
    lr: float = 3e-4
    hidden_dim: int = 128
    critic_hidden_dim: int = 128
    use_rnn: bool = True
    share_params: bool = True  # one actor for all agents, told apart by an id (EPyMARL's default)
    epochs: int = 4
    eps_clip: float = 0.2
    entropy_coef: float = 0.001
    gamma: float = 0.99
    q_nstep: int = 5
    target_tau: float = 0.01  # soft update of the target critic after every update
    grad_norm_clip: float = 10.0
    standardise_rewards: bool = True
    num_envs: int = 10  # EPyMARL's batch_size_run
    rollout_len: int = 0  # steps per env per update; 0 = the task's episode limit


def masked_logits(logits: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Unavailable actions get -inf so they have probability 0 (EPyMARL's mask_before_softmax)."""
    return logits.masked_fill(~avail, float("-inf"))


def nstep_returns(reward: torch.Tensor, next_value: torch.Tensor, terminated: torch.Tensor,
                  done: torch.Tensor, n: int, gamma: float) -> torch.Tensor:
    """n-step targets G_t = sum_k<n gamma^k r_{t+k} + gamma^n V(s_{t+n}), cut at episode ends.

    All inputs are [T, E, N] (reward already broadcast to agents); `next_value[t]` is V of the
    observation that follows step t in the same episode (0 is applied where terminated).
    """
    cut = done.clone()
    cut[-1] = 1.0  # the segment's last step bootstraps from its next value
    bootstrap = reward + gamma * (1.0 - terminated) * next_value
    g = bootstrap
    for _ in range(n - 1):
        later = torch.cat([g[1:], torch.zeros_like(g[:1])])
        g = torch.where(cut.bool(), bootstrap, reward + gamma * later)
    return g


def ppo_policy_loss(logits: torch.Tensor, avail: torch.Tensor, actions: torch.Tensor,
                    old_logp: torch.Tensor, advantages: torch.Tensor, eps_clip: float,
                    entropy_coef: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate with an entropy bonus, averaged over agent-steps."""
    logp_all = torch.log_softmax(masked_logits(logits, avail), dim=-1)
    logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(logp - old_logp)
    pg_loss1 = ratio * advantages
    pg_loss2 = torch.clamp(ratio, 1 - eps_clip, 1 + eps_clip) * advantages
    probs = logp_all.exp()
    entropy = -(probs * logp_all.nan_to_num(neginf=0.0)).sum(-1)
    loss = -(torch.min(pg_loss1, pg_loss2) + entropy_coef * entropy).mean()
    return loss, {"pg_loss": loss.item(), "entropy": entropy.mean().item(),
                  "clip_frac": ((ratio - 1).abs() > eps_clip).float().mean().item()}


class PPOLearner:
    """Shared-parameter GRU actor, MLP critic on the state (MAPPO) or observation (IPPO)."""

    def __init__(self, info: EnvInfo, cfg: PPOConfig, seed: int = 0):
        torch.manual_seed(seed)
        self.info, self.cfg = info, cfg
        n, obs_in = info.n_agents, info.obs_dim + info.n_agents
        self.policy = (AgentNet(obs_in, cfg.hidden_dim, info.n_actions, cfg.use_rnn) if cfg.share_params
                       else PerAgentNets(n, obs_in, cfg.hidden_dim, info.n_actions, cfg.use_rnn))
        critic_in = (info.state_dim if cfg.critic == "state" else info.obs_dim) + n
        self.critic = mlp(critic_in, cfg.critic_hidden_dim, 1)
        self.target_critic = copy.deepcopy(self.critic)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.reward_stats = RunningMeanStd()
        self.generator = torch.Generator().manual_seed(seed)
        self.updates = 0

    # ---- acting -------------------------------------------------------------------------
    def act(self, obs: torch.Tensor, avail: torch.Tensor, hidden: Any, explore: bool,
            t_env: int) -> tuple[torch.Tensor, torch.Tensor]:
        e, n = obs.shape[:2]
        if hidden is None:
            hidden = self.policy.init_hidden(e, n)
        with torch.no_grad():
            logits, h = self.policy(with_agent_ids(obs).reshape(e * n, -1), hidden.reshape(e * n, -1))
            logits = masked_logits(logits, avail.reshape(e * n, -1))
            if explore:
                actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator)
            else:
                actions = logits.argmax(-1, keepdim=True)
        return actions.view(e, n), h.view(e, n, -1)

    def iterate(self, collector: Collector, t_env: int) -> tuple[Any, dict[str, float]]:
        """Collect one segment and update on it."""
        seg, episodes = collector.collect(self.act, self.cfg.rollout_len or self.info.episode_limit, t_env)
        return episodes, self.update(seg)

    # ---- learning -----------------------------------------------------------------------
    def values(self, critic: nn.Sequential, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """V [T, E, N] of each agent: the critic on the state (MAPPO) or its own observation
        (IPPO), plus its one-hot id.

        MAPPO feeds every agent the same state, so the first layer's state part is computed
        once per state and each agent adds its id's column: W [s; e_i] + b = (W_s s + b) + W_i.
        The same function as the critic on the expanded [state, id] input (EPyMARL's
        cv_critic), N times cheaper in that layer and without an [T, E, N, S] copy of the state.
        """
        if self.cfg.critic != "state":
            return critic(with_agent_ids(obs)).squeeze(-1)
        first, s_dim = critic[0], state.shape[-1]
        h = F.linear(state, first.weight[:, :s_dim], first.bias).unsqueeze(-2) + first.weight[:, s_dim:].T
        return critic[1:](h).squeeze(-1)

    def policy_logits(self, obs: torch.Tensor, first: torch.Tensor, h0: Any) -> torch.Tensor:
        """Recompute logits [T, E, N, A] over a segment, replaying the recurrent state."""
        t, e, n = obs.shape[:3]
        h0 = self.policy.init_hidden(e * n) if h0 is None else h0.reshape(e * n, -1)
        x = with_agent_ids(obs).reshape(t, e * n, -1)
        logits = self.policy.unroll(x, h0, first.repeat_interleave(n, dim=1))
        return logits.view(t, e, n, -1)

    def auxiliary_loss(self) -> tuple[torch.Tensor, dict[str, float]]:
        """Extra policy loss added to PPO's; zero here. LEED adds its expert loss through it."""
        return torch.zeros(()), {}

    def update(self, seg: Segment) -> dict[str, float]:
        cfg, n = self.cfg, self.info.n_agents
        reward = seg.reward
        if cfg.standardise_rewards:
            self.reward_stats.update(reward)
            reward = self.reward_stats.standardise(reward)
        expand = lambda x: x.unsqueeze(-1).expand(*x.shape, n)  # noqa: E731  [T,E] -> [T,E,N]
        reward, terminated, done = expand(reward), expand(seg.terminated), expand(seg.done)
        with torch.no_grad():
            old_logits = self.policy_logits(seg.obs, seg.first, seg.h0)
            old_logp = torch.log_softmax(masked_logits(old_logits, seg.avail), -1)
            old_logp = old_logp.gather(-1, seg.actions.unsqueeze(-1)).squeeze(-1)

        for _ in range(cfg.epochs):
            with torch.no_grad():
                next_v = self.values(self.target_critic, seg.next_obs, seg.next_state)
                targets = nstep_returns(reward, next_v, terminated, done, cfg.q_nstep, cfg.gamma)
            v = self.values(self.critic, seg.obs, seg.state)
            critic_loss = ((targets - v) ** 2).mean()
            self.critic_opt.zero_grad()
            critic_loss.backward()
            nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.grad_norm_clip)
            self.critic_opt.step()
            advantages = (targets - v).detach()

            logits = self.policy_logits(seg.obs, seg.first, seg.h0)
            pg_loss, stats = ppo_policy_loss(logits, seg.avail, seg.actions, old_logp, advantages,
                                             cfg.eps_clip, cfg.entropy_coef)
            aux_loss, aux_stats = self.auxiliary_loss()
            self.policy_opt.zero_grad()
            (pg_loss + aux_loss).backward()
            grad_norm = nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_norm_clip)
            self.policy_opt.step()

        with torch.no_grad():
            for tp, p in zip(self.target_critic.parameters(), self.critic.parameters()):
                tp.mul_(1 - cfg.target_tau).add_(cfg.target_tau * p)
        self.updates += 1
        return {**stats, **aux_stats, "critic_loss": critic_loss.item(),
                "grad_norm": float(grad_norm), "advantage_mean": advantages.mean().item()}
