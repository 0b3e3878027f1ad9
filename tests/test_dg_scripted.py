"""The scripted planner writes the instruction language; the executors carry it out on real games."""
import numpy as np
import pytest

from leed.dg.executors import EXECUTORS, TARGET_GONE, UNREACHABLE, action_vectors, make_executor
from leed.dg.generate import generate_episodes
from leed.dg.language import Instruction, Vocabulary, parse_plan
from leed.dg.scripted import scripted_plan, scripted_plan_text
from benchmark.envs import make_env

ACTIONS = ["NONE", "NORTH", "SOUTH", "WEST", "EAST", "LOAD"]


def lbf_desc(agents, foods, grid=(8, 8)):
    return {
        "family": "lbf", "scenario": "test", "n_agents": len(agents), "step": 0, "grid": list(grid),
        "sight": grid[0], "force_coop": False, "actions": ACTIONS,
        "agents": [{"id": f"Agent_{i + 1}", "pos": list(p), "level": lv} for i, (p, lv) in enumerate(agents)],
        "targets": [{"id": f"Food_{k + 1}", "pos": list(p), "level": lv} for k, (p, lv) in enumerate(foods)],
    }


def test_solo_agents_take_their_nearest_loadable_food():
    desc = lbf_desc([((1, 1), 2), ((6, 6), 2)], [((5, 5), 1), ((2, 2), 2)])
    plan = scripted_plan(desc)
    assert Instruction("Load", "Food_2", "Agent_1") in plan
    assert Instruction("Load", "Food_1", "Agent_2") in plan
    assert len(plan) == 2  # nobody helps where one agent suffices


def test_heavy_food_gets_a_team_whose_levels_add_up():
    desc = lbf_desc([((0, 0), 1), ((7, 7), 2), ((0, 7), 1)], [((3, 3), 3)])
    plan = scripted_plan(desc)
    team = {i.agent for i in plan if i.target == "Food_1" and i.command == "Load"}
    levels = {"Agent_1": 1, "Agent_2": 2, "Agent_3": 1}
    assert sum(levels[a] for a in team) >= 3 and "Agent_2" in team


def test_food_nobody_can_lift_is_left_out():
    plan = scripted_plan(lbf_desc([((0, 0), 1)], [((3, 3), 1), ((5, 5), 3)]))
    assert plan == [Instruction("Load", "Food_1", "Agent_1")]


def test_scripted_text_is_the_same_language_the_llm_writes():
    desc = lbf_desc([((1, 1), 1), ((6, 6), 2)], [((4, 4), 3)])
    assert parse_plan(scripted_plan_text(desc), Vocabulary.from_describe(desc)) == scripted_plan(desc)


def test_lbf_executor_moves_north_by_decreasing_row_and_loads_when_adjacent():
    desc = lbf_desc([((4, 3), 1)], [((2, 3), 1)])
    ex = make_executor([Instruction("Load", "Food_1", "Agent_1")], desc)
    avail = np.ones((1, 6), dtype=bool)
    assert ACTIONS[ex.act(desc, avail)[0]] == "NORTH"
    desc["agents"][0]["pos"] = [3, 3]
    assert ACTIONS[ex.act(desc, avail)[0]] == "LOAD"


def test_lbf_executor_reports_gone_and_unreachable_targets_then_goes_on():
    desc = lbf_desc([((0, 0), 1)], [((3, 3), 1)])
    plan = [Instruction("Load", "Food_1", "Agent_1"), Instruction("MoveTo", "(3, 3)", "Agent_1"),
            Instruction("MoveTo", "(0, 2)", "Agent_1")]
    ex = make_executor(plan, desc)
    # someone else ate Food_1 before Agent_1 arrived, and a new food sits on (3, 3)
    desc["targets"] = [{"id": "Food_2", "pos": [3, 3], "level": 1}]
    action = ex.act(desc, np.ones((1, 6), dtype=bool))
    kinds = [f.kind for f in ex.failures]
    assert kinds == [TARGET_GONE, UNREACHABLE]  # Food_1 gone; (3, 3) is now a food cell
    assert ACTIONS[action[0]] == "EAST"  # on to the third instruction at once


def test_two_agents_never_aim_at_the_same_cell():
    # both want (2, 2)'s neighbour (2, 1): lbforaging would cancel both moves forever
    desc = lbf_desc([((1, 1), 1), ((3, 1), 1)], [((2, 2), 2)])
    ex = make_executor(scripted_plan(desc), desc)
    acts = [ACTIONS[a] for a in ex.act(desc, np.ones((2, 6), dtype=bool))]
    assert acts.count("SOUTH") + acts.count("NORTH") <= 1


def test_registry_has_every_family_and_names_missing_ones():
    assert {"lbf", "vmas", "smax"} <= set(EXECUTORS)
    with pytest.raises(Exception, match="no executor for env family 'toy'"):
        make_executor([], {"family": "toy", "agents": [], "actions": []})


def test_vmas_action_names_become_directions():
    vecs = action_vectors({"actions": ["NONE", "LEFT", "RIGHT_UP", "SOUTH"]})
    assert vecs.tolist() == [[0, 0], [-1, 0], [1, 1], [0, -1]]


@pytest.mark.parametrize("scenario, num_envs", [("Foraging-8x8-2p-2f-v3", 2), ("Foraging-10x10-4p-3f-v3", 4)])
def test_scripted_lbf_demonstrations_collect_nearly_all_food(scenario, num_envs):
    env = make_env(f"lbf:{scenario}", int(scenario.split("-")[2][:-1]), num_envs=num_envs)
    episodes = generate_episodes(env, 24, seed=100)
    returns = np.array([e.team_return for e in episodes])
    assert len(episodes) == 24 and returns.mean() >= 0.95, returns
    ep = episodes[0]
    t, n = ep.action.shape
    assert ep.obs.shape == (t, n, env.info.obs_dim) and ep.avail.shape == (t, n, 6)
    assert ep.avail[np.arange(t)[:, None], np.arange(n)[None], ep.action].all()  # only available actions
    assert ep.done[-1] and not ep.done[:-1].any()


def test_scripted_vmas_navigation_reaches_the_goals():
    env = make_env("vmas:navigation", 4, num_envs=4)
    episodes = generate_episodes(env, 4, seed=0)
    assert np.mean([e.solved for e in episodes]) >= 0.75
    assert all(e.team_return > 0 for e in episodes)

