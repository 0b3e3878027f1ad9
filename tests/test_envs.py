"""The environment layer: adapters honour the VecEnv contract, match their simulators, fail clearly."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from baselines.core.env_api import EnvError, StepResult, VecEnv
from benchmark import cli
from benchmark.envs import FAMILIES, check_env, lbf, make_env, parse_env_key
from benchmark.envs import vmas as vmas_adapter

LBF = "lbf:Foraging-8x8-2p-2f-v3"


def random_actions(rng: np.random.Generator, avail: np.ndarray) -> np.ndarray:
    return np.where(avail, rng.random(avail.shape), -1.0).argmax(-1)


def rollout(env, seed: int, steps: int, between=None) -> list[np.ndarray]:
    """Every array the env produced over `steps` random valid steps, for comparisons."""
    rng = np.random.default_rng(0)
    obs, state, avail = env.reset(seed=seed)
    arrays = [obs, state, avail]
    for _ in range(steps):
        if between:
            between()
        out = env.step(random_actions(rng, avail))
        avail = out.avail
        arrays += [out.obs, out.state, out.avail, out.reward, out.agent_reward, out.terminated,
                   out.truncated, out.info["final_obs"], out.info["episode_return"]]
    return arrays


def check_contract(env, n_agents: int, num_envs: int, steps: int) -> list[StepResult]:
    """Shapes and dtypes of reset and step, per the VecEnv docstrings."""
    info = env.info
    assert isinstance(env, VecEnv)
    assert (info.n_agents, info.num_envs, info.state_dim) == (n_agents, num_envs, n_agents * info.obs_dim)
    obs, state, avail = env.reset(seed=0)
    assert obs.shape == (num_envs, n_agents, info.obs_dim) and obs.dtype == np.float32
    assert state.shape == (num_envs, info.state_dim) and state.dtype == np.float32
    assert avail.shape == (num_envs, n_agents, info.n_actions) and avail.dtype == bool
    rng = np.random.default_rng(0)
    results = []
    for _ in range(steps):
        out = env.step(random_actions(rng, avail))
        avail = out.avail
        assert out.obs.shape == obs.shape and out.obs.dtype == np.float32
        assert out.state.shape == state.shape and out.state.dtype == np.float32
        assert out.avail.shape == avail.shape and out.avail.dtype == bool
        assert out.reward.shape == (num_envs,) and out.reward.dtype == np.float32
        assert out.agent_reward.shape == (num_envs, n_agents) and out.agent_reward.dtype == np.float32
        assert out.terminated.dtype == bool and out.truncated.dtype == bool
        assert not (out.terminated & out.truncated).any()
        for name, like in (("final_obs", out.obs), ("final_state", out.state), ("final_avail", out.avail)):
            assert out.info[name].shape == like.shape, name
        assert out.info["episode_return"].shape == (num_envs,)
        results.append(out)
    return results


def check_auto_reset(results: list[StepResult]) -> int:
    """Finished copies: final_obs is the old episode's, episode_return is its summed team reward."""
    returns = np.zeros_like(results[0].reward, dtype=np.float64)
    finished = 0
    for out in results:
        returns += out.reward
        done = out.terminated | out.truncated
        np.testing.assert_allclose(out.info["episode_return"], np.where(done, returns, 0), rtol=1e-5, atol=1e-5)
        for e in np.flatnonzero(done):
            assert not np.array_equal(out.info["final_obs"][e], out.obs[e])
            np.testing.assert_array_equal(out.info["final_state"][e], out.info["final_obs"][e].reshape(-1))
            finished += 1
        for e in np.flatnonzero(~done):
            np.testing.assert_array_equal(out.info["final_obs"][e], out.obs[e])
        returns[done] = 0
    return finished


# ---- lbf -------------------------------------------------------------------------------------


def test_lbf_action_names_follow_lbforaging_action_enum():
    from lbforaging.foraging.environment import Action

    assert lbf.ACTIONS == [a.name for a in sorted(Action, key=lambda a: a.value)]


@pytest.mark.parametrize("scenario,n_agents", [
    ("Foraging-8x8-2p-2f-v3", 2),
    ("Foraging-2s-8x8-3f-v3", 4),
    ("Foraging-2s-10x10-3p-4f-coop-v3", 3),
    ("Foraging-5x5-9p-1f-v3", 9),
])
def test_lbf_matches_unpatched_lbforaging_step_for_step(scenario, n_agents):
    """Fast observations, masks, rewards and episode ends equal lbforaging's own, invalid actions included."""
    from lbforaging.foraging.environment import Action

    task = lbf.parse_scenario(scenario)
    num_envs = 2
    env = make_env(f"lbf:{scenario}", n_agents, num_envs)
    refs = [lbf.make_raw(task, n_agents, 50) for _ in range(num_envs)]
    obs, _, avail = env.reset(seed=11)
    ref_obs = [r.reset(seed=11 + e)[0] for e, r in enumerate(refs)]
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(150):
        for e, ref in enumerate(refs):
            np.testing.assert_array_equal(obs[e], np.stack(ref_obs[e]))
            mask = [[Action(k) in ref._valid_actions[p] for k in range(6)] for p in ref.players]
            np.testing.assert_array_equal(avail[e], mask)
        actions = rng.integers(0, 6, size=(num_envs, n_agents))  # invalid ones too
        out = env.step(actions)
        for e, ref in enumerate(refs):
            o, rewards, done, _, _ = ref.step(actions[e].tolist())
            np.testing.assert_allclose(out.agent_reward[e], rewards, rtol=1e-6)
            assert bool(done) == bool(out.terminated[e] or out.truncated[e])
            if done:
                episodes += 1
                np.testing.assert_array_equal(out.info["final_obs"][e], np.stack(o))
                o, _ = ref.reset()
            ref_obs[e] = o
        obs, avail = out.obs, out.avail
    assert episodes >= 4


def test_lbf_contract_shapes_and_auto_reset():
    env = make_env(LBF, 2, 3, time_limit=8)
    assert env.info.n_actions == 6 and env.info.episode_limit == 8
    assert env.info.obs_dim == 3 * 2 + 3 * 2
    results = check_contract(env, 2, 3, steps=30)
    assert check_auto_reset(results) >= 3
    assert any(r.truncated.any() for r in results)
    # each step returns fresh arrays: holding on to an old observation is safe
    old = results[0].obs.copy()
    np.testing.assert_array_equal(results[0].obs, old)


def test_lbf_team_reward_is_sum_and_a_cleared_field_terminates_with_return_one():
    env = make_env("lbf:Foraging-5x5-1f-v3", 9, 4)
    results = check_contract(env, 9, 4, steps=200)
    check_auto_reset(results)
    for out in results:
        np.testing.assert_allclose(out.reward, out.agent_reward.sum(1), rtol=1e-6)
    cleared = [out.info["episode_return"][e] for out in results for e in np.flatnonzero(out.terminated)]
    assert cleared, "random play on a 5x5 field with 9 players should eat the food"
    np.testing.assert_allclose(cleared, 1.0, rtol=1e-5)


def test_lbf_without_action_masks_reports_all_ones_and_keeps_dynamics():
    masked, unmasked = make_env(LBF, 2, 2), make_env(LBF, 2, 2, action_masks=False)
    a, b = masked.reset(seed=4), unmasked.reset(seed=4)
    assert b[2].all() and not a[2].all()
    rng = np.random.default_rng(1)
    for _ in range(60):
        actions = rng.integers(0, 6, size=(2, 2))
        x, y = masked.step(actions), unmasked.step(actions)
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.reward, y.reward)
        assert y.avail.all()


def test_lbf_same_seed_same_trajectory_and_copy_e_uses_seed_plus_e():
    env = make_env(LBF, 2, 3)
    first, second = rollout(env, seed=5, steps=100), rollout(env, seed=5, steps=100)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    other = rollout(env, seed=6, steps=100)
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))
    # copy 1 seeded with 5 + 1 starts like copy 0 of an env reset with seed 6
    np.testing.assert_array_equal(first[0][1], other[0][0])
    # make's seed is used by the first reset(None)
    np.testing.assert_array_equal(make_env(LBF, 2, 3, seed=5).reset()[0], first[0])


def test_lbf_describe_lists_agents_remaining_food_and_actions():
    env = make_env("lbf:Foraging-5x5-1f-v3", 9, 1)
    obs, _, avail = env.reset(seed=0)
    facts = env.describe(0)
    for key in ("family", "scenario", "grid", "sight", "n_agents", "agents", "targets", "step", "force_coop", "actions"):
        assert key in facts, key
    assert facts["family"] == "lbf" and facts["grid"] == [5, 5] and facts["sight"] == 5 and facts["step"] == 0
    assert facts["actions"] == ["NONE", "NORTH", "SOUTH", "WEST", "EAST", "LOAD"]
    assert [a["id"] for a in facts["agents"]] == [f"Agent_{i}" for i in range(1, 10)]
    assert [t["id"] for t in facts["targets"]] == ["Food_1"]
    food = facts["targets"][0]
    np.testing.assert_array_equal(obs[0, 0, :3], food["pos"] + [food["level"]])  # full sight: absolute
    np.testing.assert_array_equal(obs[0, 0, 3:5], facts["agents"][0]["pos"])  # self comes first
    rng = np.random.default_rng(0)
    for step in range(1, 51):
        out = env.step(random_actions(rng, avail))
        avail = out.avail
        if out.terminated[0]:
            break
        assert env.describe(0)["step"] == step
    assert out.terminated[0]


def test_lbf_describe_drops_eaten_food_but_keeps_ids():
    """When Food_1 is eaten first, the one left is still called Food_2 (ids fixed per episode)."""
    env = make_env("lbf:Foraging-7x7-2f-v3", 9, 1)
    _, _, avail = env.reset(seed=3)
    start = {t["id"]: t["pos"] for t in env.describe()["targets"]}
    rng = np.random.default_rng(0)
    for _ in range(3000):
        out = env.step(random_actions(rng, avail))
        avail = out.avail
        if out.terminated[0] or out.truncated[0]:
            start = {t["id"]: t["pos"] for t in env.describe()["targets"]}
            continue
        now = env.describe()["targets"]
        for target in now:
            assert start[target["id"]] == target["pos"]
        if len(start) == 2 and [t["id"] for t in now] == ["Food_2"]:
            return
    pytest.fail("never saw Food_1 eaten before Food_2")


def test_lbf_scenario_without_player_count_takes_n_agents():
    env = make_env("lbf:Foraging-8x8-2f-v3", 5, 1)
    with pytest.raises(RuntimeError, match="reset"):
        env.describe()
    env.reset()
    assert env.info.n_agents == 5 and len(env.describe()["agents"]) == 5
    assert FAMILIES["lbf"].agent_range("Foraging-8x8-2f-v3") == (2, 9)
    assert FAMILIES["lbf"].agent_range("Foraging-8x8-3p-2f-v3") == (3, 3)


def test_lbf_builds_the_registered_gymnasium_env():
    """Same kwargs as lbforaging's own `Foraging-2s-8x8-2p-2f-coop-v3` registration."""
    import gymnasium
    import lbforaging  # noqa: F401  (registers the ids)

    spec = gymnasium.spec("Foraging-2s-8x8-2p-2f-coop-v3")
    raw = lbf.make_raw(lbf.parse_scenario("Foraging-2s-8x8-2p-2f-coop-v3"), 2, spec.kwargs["max_episode_steps"])
    ref = gymnasium.make("Foraging-2s-8x8-2p-2f-coop-v3").unwrapped
    for key, value in spec.kwargs.items():
        mine = {"players": len(raw.players), "field_size": raw.field_size, "max_num_food": raw.max_num_food,
                "sight": raw.sight, "force_coop": raw.force_coop, "max_episode_steps": raw._max_episode_steps,
                "penalty": raw.penalty, "grid_observation": raw._grid_observation}.get(key)
        if mine is not None:
            assert mine == value, key
    np.testing.assert_array_equal(np.stack(raw.reset(seed=2)[0]), np.stack(ref.reset(seed=2)[0]))


# ---- vmas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario,n_agents", [("navigation", 3), ("transport", 4), ("balance", 3)])
def test_vmas_contract_shapes_and_auto_reset(scenario, n_agents):
    env = make_env(f"vmas:{scenario}", n_agents, 2, max_steps=6)
    assert env.info.n_actions == 9 and env.info.episode_limit == 6
    results = check_contract(env, n_agents, 2, steps=13)
    assert check_auto_reset(results) >= 2  # every copy ends by step 6 (balance may drop earlier)
    assert all(r.avail.all() for r in results)
    for out in results:
        np.testing.assert_allclose(out.reward, out.agent_reward.mean(1), rtol=1e-5)


def test_vmas_same_seed_same_trajectory_and_copy_e_uses_seed_plus_e():
    env = make_env("vmas:navigation", 3, 2, max_steps=30)
    first, second = rollout(env, seed=5, steps=70), rollout(env, seed=5, steps=70)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    other = rollout(env, seed=6, steps=70)
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))
    np.testing.assert_array_equal(first[0][1], other[0][0])
    # another VMAS instance resetting, or the learner drawing from torch, between steps does
    # not shift this env's later episodes (they use the copies' own streams)
    import torch

    neighbour = make_env("vmas:navigation", 3, 2)

    def disturb():
        neighbour.reset()
        torch.rand(100)

    for x, y in zip(first, rollout(env, seed=5, steps=70, between=disturb)):
        np.testing.assert_array_equal(x, y)


def test_vmas_action_names_and_vectors_match_the_simulated_motion():
    env = make_env("vmas:navigation", 2, 1, collisions=False)
    step = {"NORTH": (0, 1), "SOUTH": (0, -1), "EAST": (1, 0), "WEST": (-1, 0)}
    for index, name in enumerate(vmas_adapter.ACTIONS):
        env.reset(seed=0)
        before = np.array(env.describe()["agents"][0]["pos"])
        for _ in range(3):
            env.step(np.array([[index, 0]]))
        moved = np.sign(np.round(np.array(env.describe()["agents"][0]["pos"]) - before, 3))
        expected = np.sum([step[part] for part in name.split("_") if part in step], axis=0) if name != "NONE" else (0, 0)
        np.testing.assert_array_equal(moved, expected, err_msg=name)
        np.testing.assert_array_equal(env.describe()["action_vectors"][index], expected, err_msg=name)


def test_vmas_describe_gives_positions_goals_and_bounds():
    env = make_env("vmas:navigation", 3, 2)
    env.reset(seed=0)
    facts = env.describe(1)
    for key in ("family", "scenario", "n_agents", "agents", "targets", "step", "actions", "world_bounds", "world_size",
                "episode_limit", "dt", "goal_radius"):
        assert key in facts, key
    assert [a["goal"] for a in facts["agents"]] == ["Goal_1", "Goal_2", "Goal_3"]
    assert [t["id"] for t in facts["targets"]] == ["Goal_1", "Goal_2", "Goal_3"]
    assert facts["world_size"] == [2.0, 2.0] and len(facts["agents"][0]["pos"]) == 2
    transport = make_env("vmas:transport", 4, 1)
    transport.reset(seed=0)
    facts = transport.describe()
    assert facts["targets"][0]["id"] == "Goal_1" and facts["packages"][0]["goal"] == "Goal_1"


def test_vmas_navigation_spawn_square_grows_so_128_agents_reset():
    assert vmas_adapter.navigation_half_width(4) == 1.0
    assert vmas_adapter.navigation_half_width(12) == 1.0
    assert vmas_adapter.navigation_half_width(128) == pytest.approx(3.266, abs=1e-3)
    env = make_env("vmas:navigation", 128, 1, max_steps=2)
    obs, state, _ = env.reset(seed=1)
    assert obs.shape == (1, 128, env.info.obs_dim) and state.shape == (1, 128 * env.info.obs_dim)
    assert env.describe()["world_bounds"]["x"] == [pytest.approx(-3.266, abs=1e-3), pytest.approx(3.266, abs=1e-3)]


@pytest.mark.parametrize("shortcut", ["batched_lidar", "batched_pairs"])
def test_vmas_batched_shortcuts_give_vmas_own_observations_and_rewards(shortcut):
    """Each shortcut against VMAS's own path: all agents' lidar scans in one call (vmas_lidar),
    and one closeness test for all agent pairs instead of World.collides pair by pair
    (vmas_pairs, which decides collision forces and penalties)."""
    opts = vmas_adapter.check_options("navigation", 12, {"max_steps": 40})
    fast, slow = (vmas_adapter.VMASVecEnv("navigation", 12, 3, 3, opts["max_steps"], opts["kwargs"],
                                          **{shortcut: b}) for b in (True, False))
    assert getattr(fast, shortcut) and not getattr(slow, shortcut)
    np.testing.assert_allclose(fast.reset(seed=5)[0], slow.reset(seed=5)[0], atol=1e-5)
    rng, rays_that_hit, penalised = np.random.default_rng(0), 0, 0
    for _ in range(60):  # crosses a time-limit reset
        actions = rng.integers(0, 9, (3, 12))
        a, b = fast.step(actions), slow.step(actions)
        np.testing.assert_allclose(a.obs, b.obs, atol=1e-5)
        np.testing.assert_allclose(a.agent_reward, b.agent_reward, atol=1e-5)
        assert np.array_equal(a.terminated | a.truncated, b.terminated | b.truncated)
        rays_that_hit += int((b.obs[..., -12:] > 0).sum())  # lidar part: range - distance
        penalised += int((b.agent_reward < b.reward[:, None] - 1e-6).sum())  # paid a collision penalty
    assert rays_that_hit > 500 and penalised > 20  # scans saw agents, and agents collided
    assert "collides" not in vars(fast.env.world)  # VMAS's own method again between steps


def test_vmas_batched_lidar_and_pairs_stay_off_where_they_would_not_be_exact():
    transport = make_env("vmas:transport", 4, 1)
    assert not transport.batched_lidar and not transport.batched_pairs


# ---- registry, errors, CLI -------------------------------------------------------------------


def test_registry_lists_every_family_with_scenarios_ranges_and_availability():
    assert set(FAMILIES) == {"lbf", "vmas", "smax", "smacv2"}
    for family in FAMILIES.values():
        ok, hint = family.available()
        assert isinstance(ok, bool) and (ok or "\n" not in hint and hint)
        for scenario in family.scenarios():
            low, high = family.agent_range(scenario)
            assert 1 <= low <= high
    assert FAMILIES["vmas"].agent_range("navigation") == (2, 128)
    assert FAMILIES["smax"].agent_range("smacv2_10_units") == (10, 10)
    assert parse_env_key(LBF) == ("lbf", "Foraging-8x8-2p-2f-v3")


def test_importing_the_registry_does_not_import_simulators():
    code = "import sys, benchmark.envs; print(sorted(m for m in ('torch', 'vmas', 'lbforaging', 'jax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("call,match", [
    (lambda: make_env("Foraging-8x8-2p-2f-v3", 2, 1), "must be 'family:scenario'"),
    (lambda: make_env("atari:pong", 2, 1), "unknown env family 'atari'"),
    (lambda: make_env("lbf:Foraging-8x8-v3", 2, 1), "unknown lbf scenario 'Foraging-8x8-v3'"),
    (lambda: make_env("lbf:Foraging-8x9-2p-2f-v3", 2, 1), "square"),
    (lambda: make_env("lbf:Foraging-8x8-12p-2f-v3", 12, 1), "players must be 2 to 9"),
    (lambda: make_env("lbf:Foraging-8x8-2p-2f-v3", 3, 1), "supports 2 agents, got n_agents=3"),
    (lambda: make_env("lbf:Foraging-8x8-2f-v3", 10, 1), "supports 2 to 9 agents, got n_agents=10"),
    (lambda: make_env(LBF, 2, 1, horizon=5), "unknown lbf option 'horizon'"),
    (lambda: make_env(LBF, 2, 1, time_limit="50"), "time_limit must be a positive integer"),
    (lambda: make_env(LBF, 2, 0), "num_envs must be a positive integer"),
    (lambda: make_env("vmas:wheel", 4, 1), "unknown vmas scenario 'wheel'"),
    (lambda: make_env("vmas:balance", 20, 1), "supports 2 to 13 agents"),
    (lambda: make_env("vmas:transport", 128, 1), "supports 2 to 64 agents"),
    (lambda: make_env("vmas:navigation", 200, 1), "supports 2 to 128 agents"),
    (lambda: make_env("vmas:navigation", 4, 1, gravity=1.0), "unknown vmas navigation option 'gravity'"),
    (lambda: make_env("vmas:navigation", 4, 1, max_steps=0), "max_steps must be a positive int"),
    (lambda: make_env("vmas:navigation", 4, 1, collisions="no"), "collisions must be true or false"),
    (lambda: make_env("smax:smacv2_5_units", 6, 1), "supports 5 agents"),
    (lambda: make_env("smacv2:zerg_3_vs_3", 3, 1), "unknown smacv2 scenario"),
])
def test_bad_requests_raise_one_line_env_errors(call, match):
    with pytest.raises(EnvError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


def test_missing_optional_families_say_how_to_install(monkeypatch):
    monkeypatch.delenv("SC2PATH", raising=False)
    if not FAMILIES["smax"].available()[0]:
        with pytest.raises(EnvError, match=r"pip install 'leed-bench\[smax\]'"):
            make_env("smax:smacv2_5_units", 5, 1)
    with pytest.raises(EnvError, match="SC2PATH"):
        check_env("smacv2:protoss_5_vs_5", 5)
    check_env("smacv2:protoss_5_vs_5", 5, require_available=False)


def test_envs_command_lists_families_scenarios_ranges_and_hints(capsys):
    assert cli.main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "lbf: available" in out and "vmas: available" in out
    assert "lbf:Foraging-8x8-2p-2f-v3" in out
    assert "vmas:navigation" in out and "agents 2-128" in out
    assert "smax:smacv2_20_units" in out and "smacv2:zerg_10_vs_10" in out
    if not FAMILIES["smax"].available()[0]:
        assert "smax: not available (pip install 'leed-bench[smax]')" in out


def test_cli_turns_env_errors_into_one_line_and_exit_code_2(capsys, monkeypatch):
    from benchmark.commands import envs as envs_command

    def broken(args):
        make_env("vmas:balance", 20, 1)

    monkeypatch.setattr(envs_command, "run", broken)
    assert cli.main(["envs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("leed-bench: error: vmas:balance supports 2 to 13 agents") and err.count("\n") == 1
