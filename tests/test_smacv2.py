"""smacv2: the parts of the real-SMACv2 adapter that need no StarCraft II.

Scenario -> capability config and env arguments (as SMACv2's sc2_gen_<race>.yaml), the SMACv2
action layout, and obs/avail shaping, sanitising and auto-reset against a fake env object that
speaks SMACv2's API (`reset`, `step -> (reward, terminated, info)`, `get_obs`, `get_state`,
`get_avail_actions`, `get_env_info`, `agents`/`enemies` units).
"""
from types import SimpleNamespace

import numpy as np
import pytest

from baselines.core.env_api import EnvError
from benchmark.envs import FAMILIES, check_env, make_env
from benchmark.envs import smacv2 as sm


def unit(x, y, health, type_id=1, health_max=100.0):
    return SimpleNamespace(pos=SimpleNamespace(x=x, y=y), health=health, health_max=health_max, shield=0.0,
                           unit_type=type_id, weapon_cooldown=0.0)


class FakeSMACv2:
    """SMACv2's env API with a scripted battle: agent 0 dies at step 2; the battle is won at step
    `win_at` (None: never, so the 200-step limit ends it); enemy j is in range when t % n == j."""

    def __init__(self, kwargs, win_at=None):
        self.kwargs = kwargs
        cap = kwargs["capability_config"]
        self.n, self.m = cap["n_units"], cap["n_enemies"]
        self.seed = kwargs["seed"]
        self.win_at = win_at
        self.env_key_to_distribution_map = {"team_gen": SimpleNamespace(rng=None), "start_positions": SimpleNamespace(rng=None)}
        self.stalker_id = 1
        self.map_x = self.map_y = 32
        self.resets, self.t, self.closed = 0, 0, False
        self.asserted_actions = []

    def get_env_info(self):
        return {"n_agents": self.n, "n_actions": 6 + self.m, "obs_shape": 7, "state_shape": 9, "episode_limit": 200}

    def reset(self):
        self.resets += 1
        self.t = 0
        self.agents = {i: unit(10.0 + i, 10.0, 100.0) for i in range(self.n)}
        self.enemies = {j: unit(20.0 + j, 12.0, 80.0) for j in range(self.m)}
        # no return value: SMACv2's wrapper returns None after an internal retry, so the adapter reads back

    def get_obs(self):
        return [np.full(7, self.seed * 1000 + self.resets * 100 + self.t + i / 10, np.float64) for i in range(self.n)]

    def get_state(self):
        return np.full(9, self.t, np.float64)

    def get_avail_agent_actions(self, i):
        if self.agents[i].health == 0:
            return [1] + [0] * (5 + self.m)
        attack = [1 if j == self.t % self.m else 0 for j in range(self.m)]
        return [0, 1, 1, 1, 1, 1] + attack

    def get_avail_actions(self):
        return [self.get_avail_agent_actions(i) for i in range(self.n)]

    def unit_shoot_range(self, i):
        return 6

    def step(self, actions):
        for i, a in enumerate(actions):  # SMACv2 asserts that every action is available
            assert self.get_avail_agent_actions(i)[a] == 1, f"agent {i} cannot perform action {a}"
        self.t += 1
        if self.t == 2:
            self.agents[0].health = 0
        info = {"battle_won": False, "dead_allies": int(self.t >= 2), "dead_enemies": 0}
        if self.win_at is not None and self.t >= self.win_at:
            for e in self.enemies.values():
                e.health = 0
            info.update(battle_won=True, dead_enemies=self.m)
            return 20.0, True, info
        return 0.5, self.t >= 200, info

    def close(self):
        self.closed = True


def fake_env(scenario="protoss_5_vs_5", num_envs=2, seed=0, win_at=(3, None)):
    made = []

    def factory(kwargs):
        env = FakeSMACv2(kwargs, win_at=win_at[len(made) % len(win_at)])
        made.append(env)
        return env

    n = sm.UNITS[scenario]
    return sm.SMACv2VecEnv(scenario, n, num_envs, seed, make_raw=factory), made


# ---- scenario -> configuration ------------------------------------------------------------


@pytest.mark.parametrize("race, types, weights, exceptions", [
    ("protoss", ["stalker", "zealot", "colossus"], [0.45, 0.45, 0.1], None),
    ("terran", ["marine", "marauder", "medivac"], [0.45, 0.45, 0.1], ["medivac"]),
    ("zerg", ["zergling", "baneling", "hydralisk"], [0.45, 0.1, 0.45], ["baneling"]),
])
@pytest.mark.parametrize("n", [5, 10, 20])
def test_scenario_maps_to_smacv2_capability_config(race, types, weights, exceptions, n):
    cap = sm.capability_config(f"{race}_{n}_vs_{n}")
    assert cap["n_units"] == cap["n_enemies"] == n
    team = cap["team_gen"]
    assert team["dist_type"] == "weighted_teams" and team["unit_types"] == types and team["weights"] == weights
    assert team["observe"] is True and team.get("exception_unit_types") == exceptions
    assert cap["start_positions"] == {"dist_type": "surrounded_and_reflect", "p": 0.5, "map_x": 32, "map_y": 32}
    kwargs = sm.env_kwargs(f"{race}_{n}_vs_{n}", seed=7)
    assert kwargs["map_name"] == f"10gen_{race}" and kwargs["seed"] == 7
    assert kwargs["use_unit_ranges"] is True and kwargs["min_attack_range"] == 2 and kwargs["obs_own_pos"] is True
    assert kwargs["reward_win"] == 200 and kwargs["reward_scale_rate"] == 20 and kwargs["step_mul"] == 8
    assert kwargs["conic_fov"] is False and kwargs["difficulty"] == "7"


def test_each_copy_gets_its_own_config_because_the_wrapper_edits_it():
    a, b = sm.env_kwargs("zerg_5_vs_5"), sm.env_kwargs("zerg_5_vs_5")
    a["capability_config"]["team_gen"]["env_key"] = "team_gen"
    assert "env_key" not in b["capability_config"]["team_gen"]


def test_unknown_scenarios_options_and_missing_install_are_one_line_errors(monkeypatch):
    with pytest.raises(EnvError, match="unknown smacv2 scenario 'protoss_6_vs_6'"):
        sm.parse_scenario("protoss_6_vs_6")
    assert FAMILIES["smacv2"].agent_range("terran_20_vs_20") == (20, 20)
    monkeypatch.delenv("SC2PATH", raising=False)
    ok, hint = FAMILIES["smacv2"].available()
    assert not ok and "SC2PATH" in hint and "\n" not in hint
    with pytest.raises(EnvError, match="smacv2") as err:
        make_env("smacv2:protoss_5_vs_5", 5, 1)
    assert "\n" not in str(err.value)
    monkeypatch.setattr(sm, "find_spec", lambda name: object())
    monkeypatch.setenv("SC2PATH", "/nonexistent/StarCraftII")
    assert "SC2PATH must point at a StarCraft II install" in FAMILIES["smacv2"].available()[1]
    with pytest.raises(EnvError, match="takes no options"):
        FAMILIES["smacv2"].make("protoss_5_vs_5", 5, 1, difficulty="9")
    check_env("smacv2:zerg_20_vs_20", 20, require_available=False)


# ---- the adapter on a fake env ----------------------------------------------------------------


def test_action_layout_shapes_and_seeds():
    env, made = fake_env("terran_10_vs_10", num_envs=3, seed=40)
    assert (env.info.n_agents, env.info.n_actions, env.info.obs_dim, env.info.state_dim) == (10, 16, 7, 9)
    assert env.info.episode_limit == 200
    assert [m.seed for m in made] == [40, 41, 42]  # copy e's game seed is seed + e
    assert all(d.rng is not None for m in made for d in m.env_key_to_distribution_map.values())
    obs, state, avail = env.reset()
    assert obs.shape == (3, 10, 7) and obs.dtype == np.float32 and state.shape == (3, 9) and state.dtype == np.float32
    assert avail.shape == (3, 10, 16) and avail.dtype == bool
    assert obs[1, 0, 0] == pytest.approx(41 * 1000 + 100)
    desc = env.describe(0)
    assert desc["actions"] == sm.MOVE_NAMES + [f"ATTACK_Enemy_{j}" for j in range(1, 11)]
    assert desc["actions"][:6] == ["NO_OP", "STOP", "NORTH", "SOUTH", "EAST", "WEST"]


def test_unavailable_actions_are_sanitised_before_reaching_smacv2():
    env, made = fake_env(num_envs=1, win_at=(None,))
    env.reset()
    env.step(np.full((1, 5), 1))
    env.step(np.full((1, 5), 1))  # agent 0 dies here
    # NO_OP for living units, STOP for the dead one, attacks on enemies out of range: all replaced
    res = env.step(np.array([[1, 0, 6, 7, 8]]))
    assert res.avail[0, 0].tolist() == [True] + [False] * 10
    acts = sm.sanitize(np.array([[1, 0, 6, 7, 8]]), np.asarray([made[0].get_avail_agent_actions(i) for i in range(5)], bool)[None])
    assert acts[0, 0] == 0 and acts[0, 1] == 1
    with pytest.raises(ValueError, match="in \\[0, 11\\)"):
        env.step(np.full((1, 5), 11))


def test_auto_reset_reports_won_terminated_truncated_and_final_rows():
    env, made = fake_env(num_envs=2, win_at=(3, None))  # copy 0 wins at step 3, copy 1 runs to the limit
    env.reset()
    for t in range(1, 201):
        res = env.step(np.ones((2, 5), int))
        if t == 3:
            assert res.terminated.tolist() == [True, False] and not res.truncated.any()
            assert res.info["won"].tolist() == [True, False]
            assert res.info["episode_return"][0] == pytest.approx(0.5 + 0.5 + 20.0)
            assert res.info["final_obs"][0, 0, 0] == pytest.approx(0 * 1000 + 100 + 3)  # last obs of episode 1
            assert res.obs[0, 0, 0] == pytest.approx(200)  # first obs of episode 2 (2nd reset, t=0)
            assert res.info["episode_length"][0] == 3 and made[0].resets == 2
    # copy 1 hit the 200-step limit: truncated, not won, reset
    assert res.truncated[1] and not res.terminated[1] and not res.info["won"][1]
    assert res.info["episode_length"][1] == 200 and made[1].resets == 2
    assert (res.agent_reward == res.reward[:, None]).all()


def test_describe_matches_the_smax_schema_and_feeds_the_smac_executor(smac_dg):
    from leed.dg.executors import make_executor
    from leed.dg.language import Vocabulary, parse_plan
    from leed.dg.scripted import scripted_plan_text

    env, made = fake_env(num_envs=1, win_at=(None,))
    _, _, avail = env.reset()
    desc = env.describe(0)
    assert desc["family"] == "smacv2" and desc["map_size"] == [32.0, 32.0] and desc["episode_limit"] == 200
    assert desc["agents"][0] == {"id": "Agent_1", "pos": [10.0, 10.0], "health": 100.0, "max_health": 100.0,
                                 "shield": 0.0, "type": "stalker", "alive": True, "attack_range": 6.0,
                                 "sight_range": 9.0, "cooldown": 0.0}
    assert [t["id"] for t in desc["targets"]] == [f"Enemy_{j}" for j in range(1, 6)]
    plan = parse_plan(scripted_plan_text(desc), Vocabulary.from_describe(desc))
    ex = make_executor(plan, desc)
    for _ in range(5):
        actions = ex.act(env.describe(0), avail[0])
        assert avail[0, np.arange(5), actions].all()
        avail = env.step(actions[None]).avail
    env.close()
    assert made[0].closed


# ---- the SMAC-family executor, on hand-written describe() dicts ---------------------------------


def smac_desc(agents, targets, step=0):
    """A describe() in the SMAC schema: agents (x, y, health, cooldown, alive), targets (x, y, health)."""
    return {
        "family": "smacv2", "map_size": [32.0, 32.0], "step": step, "episode_limit": 200,
        "actions": sm.MOVE_NAMES + ["ATTACK_Enemy_1", "ATTACK_Enemy_2"],
        "agents": [{"id": f"Agent_{i + 1}", "pos": [x, y], "health": h, "max_health": 100.0, "alive": alive,
                    "attack_range": 5.0, "cooldown": cd} for i, (x, y, h, cd, alive) in enumerate(agents)],
        "targets": [{"id": tid, "pos": [x, y], "health": h, "max_health": 100.0} for tid, x, y, h in targets],
    }


def smac_avail(desc):
    """SMACv2-style masks: dead -> NO_OP only; alive -> STOP, moves, attacks on enemies in range."""
    rows = []
    for a in desc["agents"]:
        if not a["alive"]:
            rows.append([True] + [False] * 7)
            continue
        alive_ids = {t["id"]: t for t in desc["targets"]}
        attacks = [k in alive_ids and np.linalg.norm(np.subtract(alive_ids[k]["pos"], a["pos"])) < a["attack_range"]
                   for k in ("Enemy_1", "Enemy_2")]
        rows.append([False, True, True, True, True, True] + attacks)
    return np.asarray(rows)


def test_smac_executor_approaches_fires_kites_and_finishes_on_a_kill(smac_dg):
    from leed.dg.executors import make_executor
    from leed.dg.language import Instruction

    NORTH_, EAST_, WEST_, ATTACK_1 = 2, 4, 5, 6
    plan = [Instruction("Attack", "Enemy_1", "Agent_1"), Instruction("Hold", "-", "Agent_1"),
            Instruction("MoveTo", "(10, 20)", "Agent_2")]
    desc = smac_desc([(10, 10, 100, 0, True), (10, 10.5, 100, 0, True)], [("Enemy_1", 20, 11, 50), ("Enemy_2", 20, 30, 50)])
    ex = make_executor(plan, desc)
    assert ex.act(desc, smac_avail(desc)).tolist() == [EAST_, NORTH_]  # approach the enemy; walk to (10, 20)
    desc = smac_desc([(16, 11, 100, 0, True), (10, 19.5, 100, 0, True)], [("Enemy_1", 20, 11, 50), ("Enemy_2", 20, 30, 50)], 3)
    assert ex.act(desc, smac_avail(desc)).tolist()[0] == ATTACK_1  # in range: fire
    desc = smac_desc([(16, 11, 20, 5, True), (10, 19.5, 100, 0, True)], [("Enemy_1", 20, 11, 50), ("Enemy_2", 20, 30, 50)], 4)
    assert ex.act(desc, smac_avail(desc)).tolist()[0] == WEST_  # wounded and reloading: step away
    desc = smac_desc([(16, 11, 20, 0, True), (10, 19.5, 100, 0, True)], [("Enemy_2", 20, 30, 50)], 5)
    ex.act(desc, smac_avail(desc))  # Enemy_1 died while Agent_1 was attacking it: success, then Hold
    assert ("Attack", "Enemy_1", "Agent_1") in ex.completed and ex.current("Agent_1").command == "Hold"
    assert ("MoveTo", "(10, 20)", "Agent_2") in ex.completed and not ex.failures


def test_smac_executor_reports_dead_units_and_gone_targets_once(smac_dg):
    from leed.dg.executors import TARGET_GONE, UNFINISHED, make_executor
    from leed.dg.language import Instruction

    plan = [Instruction("Attack", "Enemy_1", "Agent_1"), Instruction("Attack", "Enemy_2", "Agent_1"),
            Instruction("Attack", "Enemy_1", "Agent_2")]
    desc = smac_desc([(10, 10, 0, 0, False), (12, 10, 100, 0, True)], [("Enemy_2", 20, 11, 50)])
    ex = make_executor(plan, desc)
    for step in range(3):
        actions = ex.act({**desc, "step": step}, smac_avail(desc))
        assert actions[0] == 0  # the dead unit can only NO_OP
    kinds = sorted((f.agent, f.kind) for f in ex.failures)
    assert kinds == [("Agent_1", UNFINISHED), ("Agent_2", TARGET_GONE)]
