"""Learners: updates are finite and move parameters; same seed, same numbers; targets are right."""
from __future__ import annotations

import copy

import pytest
import torch

from baselines.core.rollout import Collector
from baselines.ppo import nstep_returns
from baselines.registry import build_config, get_algo, make_learner
from baselines.train import TrainConfig, train
from baselines.core.errors import UserError
from baselines.value import QMixer
from toy_env import EchoEnv, make_echo_env

ALGOS = ["mappo", "ippo", "qmix", "vdn", "iql"]


def params_of(learner) -> list[torch.Tensor]:
    nets = [getattr(learner, name) for name in ("policy", "critic", "agent", "mixer") if getattr(learner, name, None) is not None]
    return [p.detach().clone() for net in nets for p in net.parameters()]


@pytest.mark.parametrize("algo", ALGOS)
def test_update_on_fixed_batch_is_finite_and_changes_parameters(algo):
    torch.manual_seed(0)
    env = EchoEnv(n_agents=3, num_envs=4)
    learner = make_learner(algo, env.info, {"batch_size": 4} if get_algo(algo).family == "value" else {}, seed=0)
    collector = Collector(env, seed=0)
    before = params_of(learner)
    if get_algo(algo).family == "ppo":
        seg, _ = collector.collect(learner.act, 10, 0)
        stats = learner.update(seg)
    else:
        from baselines.value import EpisodeAssembler
        seg, _ = collector.collect(learner.act, 20, 0)
        for ep in EpisodeAssembler(4).add(seg):
            learner.buffer.add(ep)
        stats = learner.update(learner.buffer.sample(4, learner.generator))
    assert stats and all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    after = params_of(learner)
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("algo", ["mappo", "qmix"])
def test_same_seed_gives_identical_results(algo):
    cfg = TrainConfig(algo, "toy:echo", 2, seed=3, env_steps=2000, eval_interval=1000, eval_episodes=4)
    rows_a, rows_b = [], []
    train(cfg, make_echo_env, on_eval=rows_a.append)
    train(copy.deepcopy(cfg), make_echo_env, on_eval=rows_b.append)
    def strip(rows):  # timings differ run to run; NaN (no win condition) never equals itself
        return [{k: (None if v != v else v) for k, v in r.items() if k not in ("wall_s", "update_s")} for r in rows]
    assert strip(rows_a) == strip(rows_b)
    assert len(rows_a) == 3  # step 0, 1000, 2000


def test_ppo_learns_the_echo_task():
    last = train(TrainConfig("mappo", "toy:echo", 2, seed=0, env_steps=8000, eval_interval=8000, eval_episodes=8), make_echo_env)
    assert last["eval_return"] > 8.0  # max 10; a uniform policy over 3 valid actions gets ~3.3


def test_mappo_critic_on_the_state_equals_the_critic_on_the_expanded_state_and_id():
    """values() adds each agent's id column to one state projection: same V as EPyMARL's input."""
    from baselines.core.networks import with_agent_ids

    env = EchoEnv(n_agents=5, num_envs=3)
    learner = make_learner("mappo", env.info, {}, seed=0)
    t, e, n, s = 7, 3, 5, env.info.state_dim
    obs, state = torch.randn(t, e, n, env.info.obs_dim), torch.randn(t, e, s)
    naive = learner.critic(with_agent_ids(state.unsqueeze(-2).expand(t, e, n, s))).squeeze(-1)
    fast = learner.values(learner.critic, obs, state)
    assert fast.shape == (t, e, n)
    torch.testing.assert_close(fast, naive, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(fast[..., 0], fast[..., 1])  # agents' ids do change their values


def test_nstep_returns_cut_at_episode_end_and_bootstrap_on_truncation():
    # one env, one agent, 4 steps; episode ends (terminated) after step 1; step 3 is the segment end
    reward = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(4, 1, 1)
    next_v = torch.tensor([10.0, 99.0, 20.0, 30.0]).view(4, 1, 1)
    terminated = torch.tensor([0.0, 1.0, 0.0, 0.0]).view(4, 1, 1)
    done = terminated.clone()
    g = nstep_returns(reward, next_v, terminated, done, n=3, gamma=0.5).flatten()
    assert g.tolist() == pytest.approx([1 + 0.5 * 2, 2.0, 3 + 0.5 * 4 + 0.25 * 30, 4 + 0.5 * 30])


def test_qmix_mixer_is_monotonic_in_each_agent_q():
    mixer = QMixer(n_agents=3, state_dim=5, embed=8, hyper_embed=16)
    q = torch.randn(7, 3, requires_grad=True)
    mixer(q, torch.randn(7, 5)).sum().backward()
    assert (q.grad >= 0).all()


def test_unknown_algorithm_and_hyperparameter_are_named():
    with pytest.raises(UserError, match="unknown algorithm 'mapo'"):
        get_algo("mapo")
    with pytest.raises(UserError, match="unknown hyperparameter 'lrr'"):
        build_config("mappo", {"lrr": 1})
    with pytest.raises(UserError, match="'lr' for mappo must be a number"):
        build_config("mappo", {"lr": "fast"})


@pytest.mark.parametrize("shared", [True, False])
def test_fused_unroll_matches_stepping_the_cell_with_resets(shared):
    from baselines.core.networks import AgentNet, PerAgentNets
    torch.manual_seed(0)
    net = AgentNet(5, 8, 3) if shared else PerAgentNets(2, 5, 8, 3)
    t_len, batch = 12, 4
    x, h0 = torch.randn(t_len, batch, 5), torch.randn(batch, 8)
    first = (torch.rand(t_len, batch) < 0.25).float()
    first[0, 1] = 1.0
    outs, h = [], h0.clone()
    for t in range(t_len):
        out, h = net(x[t], h * (1 - first[t]).unsqueeze(-1))
        outs.append(out)
    assert torch.allclose(net.unroll(x, h0, first), torch.stack(outs), atol=1e-5)


def test_collector_passes_the_env_step_count_to_act():
    seen = []

    def act(obs, avail, hidden, explore, t_env):
        seen.append(t_env)
        return torch.zeros(obs.shape[:2], dtype=torch.long), hidden

    collector = Collector(EchoEnv(num_envs=4), seed=0)
    collector.collect(act, 3, collector.env_steps)
    collector.collect(act, 2, collector.env_steps)
    assert seen == [0, 4, 8, 12, 16]  # epsilon schedules anneal over real env steps


def test_episode_buffer_keeps_the_last_episodes_at_their_own_length_and_pads_batches():
    from baselines.core.env_api import EnvInfo
    from baselines.value import EpisodeBuffer

    info = EnvInfo(2, 3, 6, 4, 50, 1)
    buf = EpisodeBuffer(info, capacity=3)  # nothing preallocated: memory follows what is kept

    def episode(steps: int, value: float) -> dict[str, torch.Tensor]:
        return {"obs": torch.full((steps + 1, 2, 3), value), "state": torch.full((steps + 1, 6), value),
                "avail": torch.zeros(steps + 1, 2, 4, dtype=torch.bool), "actions": torch.ones(steps, 2, dtype=torch.long),
                "reward": torch.full((steps,), value), "terminated": torch.zeros(steps)}

    for k, steps in enumerate([5, 7, 2, 9]):
        buf.add(episode(steps, float(k + 1)))
    assert buf.size == 3 and sorted(int(ep["actions"].shape[0]) for ep in buf.episodes) == [2, 7, 9]
    batch = buf.sample(3, torch.Generator().manual_seed(0))
    assert batch["obs"].shape == (3, 10, 2, 3) and batch["actions"].shape == (3, 9, 2)
    assert batch["filled"].sum() == 18 and set(batch["reward"].sum(1).tolist()) == {7 * 2.0, 2 * 3.0, 9 * 4.0}
    short = int(batch["filled"].sum(1).argmin())  # the 2-step episode: padded past its end
    assert batch["avail"][short, 3:].all() and not batch["avail"][short, :3].any()
    assert (batch["obs"][short, 3:] == 0).all()
