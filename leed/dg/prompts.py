"""Prompts built from an env's `describe()`: the task, the state, the command vocabulary, the format.

Two hashes are kept: `template_sha256` (the fixed text for a family; part of the Hub key, so a
changed prompt never reuses old demonstrations) and each prompt's own `sha256` (the reply cache
key and the line in prompts.jsonl).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from leed.dg.language import VOCABULARY

TASKS = {
    "lbf": (
        "Level-based foraging on a grid. Rows grow downward (NORTH is row-1), columns grow to the "
        "right (EAST is col+1). An agent collects food by standing on a cell next to it (up, down, "
        "left or right; not diagonal) and loading. A food is collected only when the agents loading "
        "it in the same step have levels that sum to at least the food's level; a food whose level "
        "exceeds one agent's level needs several agents to load it together. Foods and agents block "
        "movement. The team's return is the collected share of the total food level (1.0 = all food)."
    ),
    "vmas": (
        "Multi-robot navigation in a continuous 2-D world (x to the right, y up). Each agent must "
        "reach its own goal and stay there; robots collide with each other. The team's return grows "
        "as agents get closer to their goals."
    ),
    "smax": (
        "Two armies of units fight. Attack enemies in range; move to approach them; focus fire wins."
    ),
}
TASKS["smacv2"] = TASKS["smax"]

COMMAND_HELP = {
    "MoveTo": "walk to the target (for a food: to a cell next to it; for a position: onto it)",
    "Load": "walk next to the food, then load it, waiting there until it is collected",
    "Attack": "approach the enemy and attack it until it dies",
    "Hold": "stay where you are (parameter '-')",
}

FORMAT = (
    "Answer with ONLY a JSON list of instructions, each a list of three strings "
    '[Command, Parameter, AgentID], for example [["MoveTo", "Food_2", "Agent_1"], '
    '["Load", "Food_2", "Agent_1"], ["Hold", "-", "Agent_2"]]. Each agent executes its own '
    "instructions in the order written; an agent with no instruction left stays still. "
    "No prose, no comments."
)


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def text(self) -> str:
        return f"[system]\n{self.system}\n[user]\n{self.user}"

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def system_text(family: str) -> str:
    """The fixed part of every prompt for `family` (task rules, vocabulary, output format)."""
    commands = VOCABULARY[family]
    lines = [
        "You plan for a team of cooperating agents. " + TASKS.get(family, ""),
        "Commands (Command: parameters -> meaning):",
    ]
    for name, kinds in commands.items():
        params = " or ".join("a position '(a, b)'" if k == "point" else ("'-'" if k == "-" else f"{k}_k") for k in kinds)
        lines.append(f"- {name}: {params} -> {COMMAND_HELP[name]}")
    lines.append(FORMAT)
    return "\n".join(lines)


def template_sha256(family: str) -> str:
    return sha256_text(system_text(family))


def describe_state(desc: dict[str, Any]) -> str:
    """The episode's state in words (plus an ASCII map for grids), from `describe()`."""
    family = desc["family"]
    out = [f"Scenario {desc.get('scenario', '?')}, step {desc.get('step', 0)}, {desc['n_agents']} agents."]
    if family == "lbf":
        rows, cols = desc["grid"]
        out.append(f"Grid: {rows} rows x {cols} columns, positions are (row, col), 0-based.")
        if desc.get("time_limit"):
            out.append(f"The episode ends after {desc['time_limit']} steps.")
        if desc.get("force_coop"):
            out.append("Every food needs all agents' levels combined.")
        for a in desc["agents"]:
            out.append(f"{a['id']}: at ({a['pos'][0]}, {a['pos'][1]}), level {a['level']}")
        for t in desc["targets"]:
            out.append(f"{t['id']}: at ({t['pos'][0]}, {t['pos'][1]}), level {t['level']}")
        out.append("Map (A<k> agent k, F<k> food k, . empty):")
        cells = [["." for _ in range(cols)] for _ in range(rows)]
        for a in desc["agents"]:
            cells[a["pos"][0]][a["pos"][1]] = "A" + a["id"].split("_")[1]
        for t in desc["targets"]:
            cells[t["pos"][0]][t["pos"][1]] = "F" + t["id"].split("_")[1]
        out.extend(" ".join(f"{c:>3}" for c in row) for row in cells)
    else:
        if "world_size" in desc:
            out.append(f"World size: {json.dumps(desc['world_size'])}.")
        for a in desc["agents"]:
            extra = "".join(f", {k} {json.dumps(v)}" for k, v in a.items() if k not in ("id", "pos"))
            out.append(f"{a['id']}: at {_fmt_pos(a['pos'])}{extra}")
        for t in desc["targets"]:
            extra = "".join(f", {k} {json.dumps(v)}" for k, v in t.items() if k not in ("id", "pos"))
            out.append(f"{t['id']}: at {_fmt_pos(t['pos'])}{extra}")
        if "adjacency" in desc:  # graph-like maps
            out.append("Adjacency: " + json.dumps(desc["adjacency"]))
    return "\n".join(out)


def _fmt_pos(pos: list[float]) -> str:
    return "(" + ", ".join(f"{p:.2f}" if isinstance(p, float) else str(p) for p in pos) + ")"


def build_prompt(desc: dict[str, Any], feedback: str | None = None) -> Prompt:
    """The prompt for one episode; `feedback` (failures, achieved return) makes it a re-plan."""
    user = describe_state(desc)
    if feedback:
        user += "\n\n" + feedback + "\nWrite an improved plan for the same initial state."
    else:
        user += "\n\nWrite the plan."
    return Prompt(system=system_text(desc["family"]), user=user)
