"""The instruction language LEED's planners write: a JSON list of `[Command, Parameter, AgentID]`.

One language for the LLM and the scripted planner, so their demonstrations differ only in who
wrote the plan. The parser is strict: anything it cannot execute exactly is refused with a typed
error whose message names the offending element, because that message is fed back to the LLM.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from baselines.core.errors import UserError

NO_PARAMETER = "-"
# A literal position parameter: "(3, 4)" (grid cell row, col) or "(0.5, -0.2)" (vmas x, y).
_POINT = re.compile(r"^\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)$")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)

# family -> command -> which parameters it takes: a target prefix ("Food"), "point" or "-".
VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "lbf": {"MoveTo": ("Food", "point"), "Load": ("Food",), "Hold": ("-",)},
    "vmas": {"MoveTo": ("Goal", "point"), "Hold": ("-",)},
    "smax": {"MoveTo": ("Enemy", "point"), "Attack": ("Enemy",), "Hold": ("-",)},
}
VOCABULARY["smacv2"] = VOCABULARY["smax"]


class PlanError(UserError):
    """A plan the executor cannot run. `reason` is the one line shown to the user and the LLM."""

    kind = "plan_error"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MalformedPlan(PlanError):
    kind = "malformed"


class UnknownCommand(PlanError):
    kind = "unknown_command"


class UnknownTarget(PlanError):
    kind = "unknown_target"


class UnknownAgent(PlanError):
    kind = "unknown_agent"


class EmptyPlan(PlanError):
    kind = "empty"


@dataclass(frozen=True)
class Instruction:
    command: str
    target: str  # "Food_2", "Goal_1", "(3, 4)" or "-"
    agent: str  # "Agent_1"

    def as_list(self) -> list[str]:
        return [self.command, self.target, self.agent]

    def point(self) -> tuple[float, float] | None:
        """The literal position of a point target, else None."""
        m = _POINT.match(self.target)
        return (float(m.group(1)), float(m.group(2))) if m else None


@dataclass(frozen=True)
class Vocabulary:
    """What a plan may mention in one episode: built from the env's `describe()`."""

    family: str
    commands: dict[str, tuple[str, ...]]
    agents: tuple[str, ...]
    targets: tuple[str, ...]
    grid: tuple[int, int] | None = None  # lbf: points must be cells inside the grid

    @classmethod
    def from_describe(cls, desc: dict[str, Any]) -> "Vocabulary":
        family = desc["family"]
        if family not in VOCABULARY:
            raise UserError(f"no instruction vocabulary for env family '{family}' (have {', '.join(sorted(VOCABULARY))})")
        grid = tuple(desc["grid"]) if desc.get("grid") is not None else None
        return cls(
            family=family,
            commands=VOCABULARY[family],
            agents=tuple(a["id"] for a in desc["agents"]),
            targets=tuple(t["id"] for t in desc["targets"]),
            grid=grid,  # type: ignore[arg-type]
        )


def plan_to_json(plan: list[Instruction]) -> str:
    """The canonical text of a plan (what the scripted planner 'writes')."""
    return json.dumps([i.as_list() for i in plan])


def _strip_fence(text: str) -> str:
    text = text.strip()
    m = _FENCE.match(text)
    return m.group(1).strip() if m else text


def parse_plan(text: str, vocab: Vocabulary) -> list[Instruction]:
    """Parse and validate a plan; raise a `PlanError` subclass naming the first bad element.

    Only a Markdown code fence around the JSON is tolerated (chat models add one by habit);
    prose around the JSON is refused, so what was executed is exactly what was written.
    """
    body = _strip_fence(text)
    try:
        raw = json.loads(body)
    except json.JSONDecodeError as err:
        raise MalformedPlan(
            f"malformed plan: invalid JSON at line {err.lineno} column {err.colno} (char {err.pos}): {err.msg}"
        ) from None
    if not isinstance(raw, list):
        raise MalformedPlan(f"malformed plan: expected a JSON list of [Command, Parameter, AgentID], got {type(raw).__name__}")
    if not raw:
        raise EmptyPlan("empty plan: the list has no instructions")
    plan = [_validate(k, item, vocab) for k, item in enumerate(raw)]
    return plan


def _validate(k: int, item: Any, vocab: Vocabulary) -> Instruction:
    where = f"instruction {k} {json.dumps(item)}"
    if not (isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)):
        raise MalformedPlan(f"malformed plan: {where} is not a list of three strings [Command, Parameter, AgentID]")
    command, target, agent = (x.strip() for x in item)
    if command not in vocab.commands:
        raise UnknownCommand(
            f"unknown command: {where}: '{command}' is not one of {', '.join(vocab.commands)} for {vocab.family}"
        )
    if agent not in vocab.agents:
        raise UnknownAgent(f"unknown agent: {where}: '{agent}' is not one of {', '.join(vocab.agents)}")
    kinds = vocab.commands[command]
    if target == NO_PARAMETER:
        if "-" not in kinds:
            raise UnknownTarget(f"unknown target: {where}: {command} needs a target, got '-'")
        return Instruction(command, target, agent)
    if "-" in kinds and len(kinds) == 1:
        raise UnknownTarget(f"unknown target: {where}: {command} takes no target, write '-'")
    point = _POINT.match(target)
    if point:
        if "point" not in kinds:
            raise UnknownTarget(f"unknown target: {where}: {command} takes one of {_target_list(vocab, kinds)}, not a position")
        if vocab.grid is not None:
            r, c = float(point.group(1)), float(point.group(2))
            if not (r.is_integer() and c.is_integer() and 0 <= r < vocab.grid[0] and 0 <= c < vocab.grid[1]):
                raise UnknownTarget(f"unknown target: {where}: cell {target} is outside the {vocab.grid[0]}x{vocab.grid[1]} grid")
            target = f"({int(r)}, {int(c)})"
        return Instruction(command, target, agent)
    prefixes = [p for p in kinds if p not in ("-", "point")]
    if not any(target.startswith(p + "_") for p in prefixes) or target not in vocab.targets:
        raise UnknownTarget(f"unknown target: {where}: '{target}' is not one of {_target_list(vocab, kinds)}")
    return Instruction(command, target, agent)


def _target_list(vocab: Vocabulary, kinds: tuple[str, ...]) -> str:
    names = [t for t in vocab.targets if any(t.startswith(p + "_") for p in kinds)]
    if "point" in kinds:
        names.append("a position '(a, b)'")
    return ", ".join(names) or "(no targets left)"


def by_agent(plan: list[Instruction], agents: tuple[str, ...] | list[str]) -> dict[str, list[Instruction]]:
    """Each agent's instruction queue, in plan order (agents without one get an empty queue)."""
    queues: dict[str, list[Instruction]] = {a: [] for a in agents}
    for ins in plan:
        queues[ins.agent].append(ins)
    return queues
