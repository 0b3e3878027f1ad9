"""smax: JaxMARL's SMAX behind the VecEnv interface, and the SMAC-family DG on it.

Skipped when jaxmarl is not installed. All tests share one compiled 5-unit program for 4 copies
(compiled once per process, ~10-20 s cold, ~1 s from jax's persistent cache).
"""
import subprocess
import sys

import numpy as np
import pytest

from baselines.core.env_api import EnvError
from benchmark.envs import FAMILIES, make_env

pytestmark = pytest.mark.skipif(not FAMILIES["smax"].available()[0], reason="jaxmarl/jax not installed (pip install 'leed-bench[smax]')")

KEY, N, E = "smax:smacv2_5_units", 5, 4
NOOP, STOP, NORTH, SOUTH, EAST, WEST = range(6)


@pytest.fixture(scope="module")
def env():
    env = make_env(KEY, N, E, seed=3)
    yield env
    env.close()


def random_actions(rng, avail):
    return np.where(avail, rng.random(avail.shape), -1.0).argmax(-1)


def run_until_done(env, rng, max_steps=500):
    """Step with random valid actions until some copy's episode ends; returns (result, avail before)."""
    _, _, avail = env.reset(seed=11)
    for _ in range(max_steps):
        before = avail
        res = env.step(random_actions(rng, avail))
        avail = res.avail
        if (res.terminated | res.truncated).any():
            return res, before
    raise AssertionError("no episode ended")


def test_shapes_dtypes_and_smacv2_action_layout(env):
    info = env.info
    assert (info.n_agents, info.n_actions, info.episode_limit, info.num_envs) == (5, 6 + 5, 100, E)
    assert info.obs_dim == 13 * 4 + 13 * 5 + 10 and info.state_dim == 12 * 10  # JaxMARL unit_list sizes
    obs, state, avail = env.reset(seed=0)
    assert obs.shape == (E, N, info.obs_dim) and obs.dtype == np.float32
    assert state.shape == (E, info.state_dim) and state.dtype == np.float32
    assert avail.shape == (E, N, info.n_actions) and avail.dtype == bool
    # at the start every unit lives: no NO_OP, STOP and the four moves available
    assert not avail[..., NOOP].any() and avail[..., STOP:WEST + 1].all()
    desc = env.describe(0)
    assert desc["actions"][:6] == ["NO_OP", "STOP", "NORTH", "SOUTH", "EAST", "WEST"]
    assert desc["actions"][6:] == [f"ATTACK_Enemy_{j}" for j in range(1, 6)]


def test_moves_go_the_way_their_names_say(env):
    env.reset(seed=5)
    start = {a["id"]: np.array(a["pos"]) for a in env.describe(0)["agents"]}
    for action, (dx, dy) in [(NORTH, (0, 1)), (SOUTH, (0, -1)), (EAST, (1, 0)), (WEST, (-1, 0))]:
        env.reset(seed=5)
        env.step(np.full((E, N), action))
        moved = [np.array(a["pos"]) - start[a["id"]] for a in env.describe(0)["agents"] if a["alive"]]
        mean = np.mean(moved, axis=0)
        assert np.sign(np.round(mean, 1)).tolist() == [np.sign(dx), np.sign(dy)], (action, mean)


def test_attack_actions_follow_range_and_dead_units_only_noop(env):
    rng = np.random.default_rng(0)
    _, _, avail = env.reset(seed=2)
    checked_dead = checked_attack = 0
    for _ in range(150):
        res = env.step(random_actions(rng, avail))
        avail = res.avail
        if res.terminated[0] or res.truncated[0]:
            continue  # copy 0 was reset: its row is a fresh episode, describe() agrees with it
        desc = env.describe(0)
        enemies = {t["id"]: t for t in desc["targets"]}
        for i, a in enumerate(desc["agents"]):
            if not a["alive"]:
                assert avail[0, i].tolist() == [True] + [False] * 10
                checked_dead += 1
                continue
            assert not avail[0, i, NOOP] and avail[0, i, STOP]
            for j in range(5):
                enemy = enemies.get(f"Enemy_{j + 1}")
                if enemy is None:
                    assert not avail[0, i, 6 + j]
                    continue
                dist = float(np.linalg.norm(np.subtract(enemy["pos"], a["pos"])))
                if abs(dist - a["attack_range"]) > 0.01:  # describe() rounds positions to 1e-3
                    assert avail[0, i, 6 + j] == (dist < a["attack_range"])
                    checked_attack += avail[0, i, 6 + j]
    assert checked_dead > 0 and checked_attack > 0


def test_auto_reset_keeps_final_rows_and_reports_won_and_return(env):
    res, _ = run_until_done(env, np.random.default_rng(1))
    done = res.terminated | res.truncated
    e = int(np.flatnonzero(done)[0])
    # the new episode starts with every unit alive; the final observation is the old one's
    assert not res.avail[e, :, NOOP].any()
    assert not np.array_equal(res.info["final_obs"][e], res.obs[e])
    assert res.info["final_state"].shape == res.state.shape and res.info["final_avail"].shape == res.avail.shape
    assert res.info["episode_return"][e] != 0 or res.reward[e] == 0
    assert env.describe(e)["step"] == 0
    assert not (res.terminated & res.truncated).any()
    assert not res.info["won"][~done].any()
    for k in np.flatnonzero(~done):  # copies still running: final_* are their current rows
        np.testing.assert_array_equal(res.info["final_obs"][k], res.obs[k])
    assert (res.agent_reward == res.reward[:, None]).all()


def test_time_limit_truncates_after_max_steps_and_stop_never_wins():
    env = make_env(KEY, N, E, seed=0, max_steps=7)  # max_steps is an input: same compiled program
    env.reset(seed=0)
    for t in range(7):
        res = env.step(np.full((E, N), STOP))
    # STOP everywhere: the heuristic enemy may attack, so an episode can also end earlier by a wipe-out
    done = res.terminated | res.truncated
    assert done.all() and res.truncated.any()
    assert (res.info["episode_length"][res.truncated] == 7).all() and not res.info["won"].any()


def test_same_seed_same_trajectory_and_copies_are_independent_of_batch_size(env):
    def rollout(e_env, seed, steps=30):
        rng = np.random.default_rng(7)
        obs, _, avail = e_env.reset(seed=seed)
        out = [obs[0].copy()]
        for _ in range(steps):
            acts = random_actions(rng, avail)
            acts[1:] = STOP
            res = e_env.step(acts)
            avail = res.avail
            out.append(res.obs[0].copy())
        return np.stack(out)

    a, b = rollout(env, 21), rollout(env, 21)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(rollout(env, 21)[0], rollout(env, 22)[0])
    # copy e is seeded with seed + e, wherever it sits in the batch
    np.testing.assert_array_equal(env.reset(seed=20)[0][1], env.reset(seed=21)[0][0])


def test_describe_lists_units_map_and_living_enemies(env):
    env.reset(seed=4)
    d = env.describe(1)
    assert d["family"] == "smax" and d["scenario"] == "smacv2_5_units" and d["map_size"] == [32.0, 32.0]
    assert [a["id"] for a in d["agents"]] == [f"Agent_{i}" for i in range(1, 6)]
    assert [t["id"] for t in d["targets"]] == [f"Enemy_{j}" for j in range(1, 6)]
    unit = d["agents"][0]
    assert {"pos", "health", "max_health", "type", "attack_range", "alive"} <= set(unit)
    assert unit["type"] in {"marine", "marauder", "stalker", "zealot", "zergling", "hydralisk"}
    assert 0 < unit["health"] <= unit["max_health"] and unit["attack_range"] >= 2
    import json

    json.dumps(d)


def test_bad_actions_and_options_are_refused(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shaped"):
        env.step(np.zeros((E, N + 1), int))
    with pytest.raises(ValueError, match="in \\[0, 11\\)"):
        env.step(np.full((E, N), 11))
    with pytest.raises(EnvError, match="unknown smax option 'gravity'"):
        make_env(KEY, N, 1, gravity=1)
    with pytest.raises(EnvError, match="attack_mode"):
        make_env(KEY, N, 1, attack_mode="nearest")


def test_the_learners_collector_runs_on_smax(env):
    import torch

    from baselines.core.rollout import Collector

    def act(obs, avail, hidden, explore, t_env):
        return torch.where(avail, torch.rand(avail.shape), torch.tensor(-1.0)).argmax(-1), hidden

    seg, _ = Collector(env, seed=0).collect(act, 12, 0)
    assert seg.obs.shape == (12, E, N, env.info.obs_dim) and seg.avail.dtype == torch.bool
    chosen = torch.gather(seg.avail, -1, seg.actions.unsqueeze(-1))
    assert chosen.all()


def test_scripted_plan_parses_and_executor_wins_some_battles(env, smac_dg):
    from leed.dg.generate import generate_episodes
    from leed.dg.language import Vocabulary, parse_plan
    from leed.dg.scripted import scripted_plan_text

    env.reset(seed=0)
    desc = env.describe(0)
    plan = parse_plan(scripted_plan_text(desc), Vocabulary.from_describe(desc))
    assert {i.command for i in plan} == {"Attack"} and {i.agent for i in plan} == {a["id"] for a in desc["agents"]}
    episodes = generate_episodes(env, 8, seed=100, generator="scripted")
    assert len(episodes) == 8 and all(ep.won is not None for ep in episodes)
    assert sum(ep.won for ep in episodes) >= 2  # ~0.69 over 256 episodes; random play wins ~0.001
    for ep in episodes:
        assert ep.avail[np.arange(ep.length)[:, None], np.arange(N)[None], ep.action].all()


def test_importing_the_adapter_does_not_import_jax():
    code = "import sys, benchmark.envs.smax, leed.dg.smac; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
