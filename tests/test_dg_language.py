"""The instruction language: what parses, and the typed, named errors for what does not."""
import json

import pytest

from leed.dg.language import (
    EmptyPlan, Instruction, MalformedPlan, UnknownAgent, UnknownCommand, UnknownTarget, Vocabulary,
    by_agent, parse_plan, plan_to_json,
)
from leed.dg.prompts import build_prompt, template_sha256

LBF = {
    "family": "lbf", "scenario": "Foraging-8x8-2p-2f-v3", "n_agents": 2, "step": 0, "grid": [8, 8], "sight": 8,
    "force_coop": False, "actions": ["NONE", "NORTH", "SOUTH", "WEST", "EAST", "LOAD"],
    "agents": [{"id": "Agent_1", "pos": [0, 0], "level": 1}, {"id": "Agent_2", "pos": [7, 7], "level": 2}],
    "targets": [{"id": "Food_1", "pos": [3, 3], "level": 3}, {"id": "Food_2", "pos": [5, 1], "level": 1}],
}
VMAS = {
    "family": "vmas", "scenario": "navigation", "n_agents": 2, "step": 0, "world_size": [2.0, 2.0],
    "actions": ["NONE", "LEFT", "RIGHT", "DOWN", "UP"],
    "agents": [{"id": "Agent_1", "pos": [0.1, 0.2], "goal": "Goal_1"}, {"id": "Agent_2", "pos": [-0.5, 0.3], "goal": "Goal_2"}],
    "targets": [{"id": "Goal_1", "pos": [0.5, 0.5]}, {"id": "Goal_2", "pos": [-0.5, -0.5]}],
}


def parse(text, desc=LBF):
    return parse_plan(text, Vocabulary.from_describe(desc))


def test_valid_lbf_plan_parses_in_order_and_round_trips():
    text = '[["MoveTo", "Food_2", "Agent_1"], ["Load", "Food_2", "Agent_1"], ["Load", "Food_1", "Agent_2"], ["Hold", "-", "Agent_2"], ["MoveTo", "(3, 4)", "Agent_1"]]'
    plan = parse(text)
    assert plan[0] == Instruction("MoveTo", "Food_2", "Agent_1")
    assert plan[4].point() == (3.0, 4.0)
    assert parse(plan_to_json(plan)) == plan
    queues = by_agent(plan, ["Agent_1", "Agent_2"])
    assert [i.command for i in queues["Agent_1"]] == ["MoveTo", "Load", "MoveTo"]
    assert [i.command for i in queues["Agent_2"]] == ["Load", "Hold"]


def test_code_fence_is_tolerated_but_prose_is_not():
    assert len(parse('```json\n[["Load", "Food_1", "Agent_1"]]\n```')) == 1
    with pytest.raises(MalformedPlan, match="invalid JSON at line 1 column 1"):
        parse('Sure! Here is the plan: [["Load", "Food_1", "Agent_1"]]')


def test_malformed_json_names_the_position():
    with pytest.raises(MalformedPlan) as err:
        parse('[["Load", "Food_1", "Agent_1"],\n ["Load" "Food_2", "Agent_2"]]')
    assert "line 2 column" in err.value.reason and err.value.kind == "malformed"


@pytest.mark.parametrize("text, error, named", [
    ('[["Fly", "Food_1", "Agent_1"]]', UnknownCommand, "'Fly'"),
    ('[["Attack", "Food_1", "Agent_1"]]', UnknownCommand, "'Attack'"),  # not an lbf command
    ('[["Load", "Food_9", "Agent_1"]]', UnknownTarget, "'Food_9'"),
    ('[["Load", "(3, 3)", "Agent_1"]]', UnknownTarget, "not a position"),
    ('[["MoveTo", "(8, 0)", "Agent_1"]]', UnknownTarget, "outside the 8x8 grid"),
    ('[["MoveTo", "Goal_1", "Agent_1"]]', UnknownTarget, "'Goal_1'"),
    ('[["Hold", "Food_1", "Agent_1"]]', UnknownTarget, "write '-'"),
    ('[["Load", "-", "Agent_1"]]', UnknownTarget, "needs a target"),
    ('[["Load", "Food_1", "Agent_3"]]', UnknownAgent, "'Agent_3'"),
    ('[["Load", "Food_1"]]', MalformedPlan, "not a list of three strings"),
    ('{"plan": []}', MalformedPlan, "expected a JSON list"),
    ("[]", EmptyPlan, "no instructions"),
])
def test_each_error_is_typed_and_names_the_offender(text, error, named):
    with pytest.raises(error) as err:
        parse(text)
    assert named in str(err.value)
    assert "\n" not in str(err.value)


def test_error_names_the_instruction_index():
    with pytest.raises(UnknownAgent, match=r"instruction 1 \[\"Load\", \"Food_1\", \"Agent_0\"\]"):
        parse('[["Load", "Food_2", "Agent_1"], ["Load", "Food_1", "Agent_0"]]')


def test_vmas_vocabulary_accepts_goals_and_points_not_load():
    plan = parse('[["MoveTo", "Goal_2", "Agent_2"], ["MoveTo", "(0.25, -0.5)", "Agent_1"]]', VMAS)
    assert plan[1].point() == (0.25, -0.5)
    with pytest.raises(UnknownCommand):
        parse('[["Load", "Goal_1", "Agent_1"]]', VMAS)


def test_prompt_has_state_vocabulary_format_and_stable_hashes():
    p = build_prompt(LBF)
    assert "Agent_2: at (7, 7), level 2" in p.user and "Food_1: at (3, 3), level 3" in p.user
    assert "Load" in p.system and "JSON list" in p.system
    assert p.sha256 == build_prompt(json.loads(json.dumps(LBF))).sha256
    assert build_prompt(LBF, feedback="It failed.").sha256 != p.sha256
    assert template_sha256("lbf") != template_sha256("vmas")
    # the map shows where things are: row 3 has F1 at column 3
    row3 = p.user.splitlines()[p.user.splitlines().index(next(l for l in p.user.splitlines() if l.startswith("Map"))) + 4]
    assert row3.split()[3] == "F1"
