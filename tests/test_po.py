"""LEED's learner: PPO plus an expert loss, weighed by a schedule; refuses demos that do not fit."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import leed  # noqa: F401  (registers "leed")
from baselines.core.errors import UserError
from baselines.core.rollout import Collector
from baselines.registry import make_learner
from baselines.train import TrainConfig, train
from leed.po import LambdaSchedule, LEEDConfig
from toy_env import EchoEnv, make_echo_env


def echo_demos(env: EchoEnv, episodes: int = 6, seed: int = 0, wrong: bool = False):
    """Expert demonstrations of the echo task: every agent plays its cue."""
    obs, avail, action, reward, episode, step = [], [], [], [], [], []
    rng = np.random.default_rng(seed)
    for k in range(episodes):
        for t in range(env.info.episode_limit):
            cue = rng.integers(0, env.info.n_actions - 1, env.info.n_agents)
            o = np.eye(env.info.n_actions, dtype=np.float32)[cue]
            obs.append(o)
            a = np.ones((env.info.n_agents, env.info.n_actions), bool)
            a[:, -1] = False
            avail.append(a)
            action.append(cue)
            reward.append(np.full(env.info.n_agents, 1.0 / env.info.n_agents, np.float32))
            episode.append(k)
            step.append(t)
    obs = np.stack(obs)
    if wrong:
        obs = np.concatenate([obs, obs], axis=-1)
    return SimpleNamespace(obs=obs, avail=np.stack(avail), action=np.stack(action), reward=np.stack(reward),
                           episode=np.array(episode), step=np.array(step),
                           episode_returns=np.full(episodes, float(env.info.episode_limit)), path="echo-demos")


def test_lambda_zero_updates_equal_ippo_updates():
    env_a, env_b = EchoEnv(num_envs=4, seed=5), EchoEnv(num_envs=4, seed=5)
    ippo = make_learner("ippo", env_a.info, {}, seed=7)
    leed_ = make_learner("leed", env_b.info, {"expert_coef": 0.0, "schedule": "constant"}, seed=7, demos=echo_demos(env_b))
    col_a, col_b = Collector(env_a, seed=1), Collector(env_b, seed=1)
    for _ in range(3):
        leed_.iterate(col_b, col_b.env_steps)
        ippo.iterate(col_a, col_a.env_steps)
    for p, q in zip(ippo.policy.parameters(), leed_.policy.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(ippo.critic.parameters(), leed_.critic.parameters()):
        assert torch.equal(p, q)


def test_expert_loss_moves_the_policy_towards_the_demonstrations():
    env = EchoEnv(num_envs=4, seed=0)
    learner = make_learner("leed", env.info, {"expert_coef": 5.0, "schedule": "constant", "entropy_coef": 0.0}, seed=0,
                           demos=echo_demos(env, episodes=20))
    collector = Collector(env, seed=0)
    first = learner.auxiliary_loss()[1]["expert_loss"]
    for _ in range(20):
        learner.iterate(collector, collector.env_steps)
    assert learner.auxiliary_loss()[1]["expert_loss"] < 0.5 * first


def test_leed_with_demonstrations_learns_faster_than_ippo_on_the_echo_task():
    budget = dict(env_steps=1200, eval_interval=1200, eval_episodes=8)
    ippo = train(TrainConfig("ippo", "toy:echo", 2, seed=0, **budget), make_echo_env)
    env = EchoEnv()
    leed_ = train(TrainConfig("leed", "toy:echo", 2, seed=0, overrides={"schedule": "constant", "expert_coef": 2.0}, **budget),
                  make_echo_env, demos=echo_demos(env, episodes=20))
    assert leed_["eval_return"] > ippo["eval_return"]


def test_schedules_follow_their_formulas():
    cfg = LEEDConfig(expert_coef=2.0, schedule="linear", decay_steps=100)
    assert LambdaSchedule(cfg, 1.0).at(25) == pytest.approx(1.5)
    assert LambdaSchedule(cfg, 1.0).at(500) == 0.0
    cfg = LEEDConfig(expert_coef=2.0, schedule="exponential", decay_steps=100)
    assert LambdaSchedule(cfg, 1.0).at(200) == pytest.approx(0.5)
    adaptive = LambdaSchedule(LEEDConfig(expert_coef=1.0, schedule="adaptive", adaptive_rate=0.1), demo_return=1.0)
    adaptive.observe([0.2, 0.3])  # agent behind the demos: weight grows
    assert adaptive.value == pytest.approx(1.1)
    adaptive.observe([5.0] * 60)  # agent ahead: weight shrinks
    assert adaptive.value == pytest.approx(0.99)
    with pytest.raises(UserError, match="schedule must be one of"):
        LambdaSchedule(LEEDConfig(schedule="cosine"), 1.0)


def test_demonstrations_that_do_not_fit_the_env_are_refused_in_one_line():
    env = EchoEnv()
    with pytest.raises(UserError, match=r"obs_dim 8 \(demos\) != 4 \(env\)"):
        make_learner("leed", env.info, {}, seed=0, demos=echo_demos(env, wrong=True))
    other = EchoEnv(n_agents=3)
    with pytest.raises(UserError, match=r"n_agents 3 \(demos\) != 2 \(env\)"):
        make_learner("leed", env.info, {}, seed=0, demos=echo_demos(other))
    with pytest.raises(UserError, match="leed needs demonstrations"):
        make_learner("leed", env.info, {}, seed=0, demos=None)


def test_noise_ablation_replaces_the_given_fraction_with_valid_actions():
    from leed.po import DemoEpisodes
    env = EchoEnv()
    demos = echo_demos(env, episodes=20)
    clean = DemoEpisodes.from_demo_set(demos, env.info, LEEDConfig(), seed=0)
    noisy = DemoEpisodes.from_demo_set(demos, env.info, LEEDConfig(demo_noise=0.5), seed=0)
    changed = (clean.actions != noisy.actions).float().mean().item()
    assert 0.2 < changed < 0.5  # half resampled, a third of those land on the same action
    assert bool(noisy.avail.gather(-1, noisy.actions.unsqueeze(-1)).all())
    few = DemoEpisodes.from_demo_set(demos, env.info, LEEDConfig(demo_episodes=3), seed=0)
    assert few.obs.shape[0] == 3
