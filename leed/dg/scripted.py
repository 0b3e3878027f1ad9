"""The scripted planner: rules that write the same instruction language as the LLM, from `describe()`.

It is the offline generator (tests, the quick preset, machines with no LLM). Its demonstrations
are labelled `scripted` everywhere; they are never presented as LLM output.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Callable

from baselines.core.errors import UserError
from leed.dg.language import Instruction, plan_to_json
from leed.dg.prompts import sha256_text

# Bump when a rule changes: it is part of the cache/Hub key, so old scripted sets are not reused.
PLANNER_VERSION = 1

PLANNERS: dict[str, Callable[[dict[str, Any]], list[Instruction]]] = {}


def register_planner(family: str):
    def deco(fn):
        PLANNERS[family] = fn
        return fn

    return deco


def planner_sha256(family: str) -> str:
    """Stands in for the prompt hash in a scripted set's key: the planner's version and the
    source of `leed/dg`, so a changed rule or executor never reuses scripted sets made before
    it (a forgotten version bump once could)."""
    return sha256_text(f"leed-scripted-planner v{PLANNER_VERSION} {family} {dg_source_sha256()}")


@functools.cache
def dg_source_sha256() -> str:
    """sha256 over the planner, executor and generator modules (`leed/dg/*.py`), in name order."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def scripted_plan(desc: dict[str, Any]) -> list[Instruction]:
    family = desc["family"]
    if family not in PLANNERS:
        raise UserError(f"no scripted planner for env family '{family}' (have {', '.join(sorted(PLANNERS))})")
    return PLANNERS[family](desc)


def scripted_plan_text(desc: dict[str, Any]) -> str:
    return plan_to_json(scripted_plan(desc))


def _dist_to_adjacent(a: tuple[int, int], food: tuple[int, int]) -> int:
    return abs(a[0] - food[0]) + abs(a[1] - food[1]) - 1


def _nearest_adjacent(a: tuple[int, int], food: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    r, c = food
    cells = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
             if 0 <= r + dr < grid[0] and 0 <= c + dc < grid[1]]
    return min(cells, key=lambda x: abs(x[0] - a[0]) + abs(x[1] - a[1]))


@register_planner("lbf")
def plan_lbf(desc: dict[str, Any]) -> list[Instruction]:
    """Greedy schedule: repeatedly take the food the team can finish soonest.

    For each food, agents are ranked by when they could be next to it (after their earlier
    jobs); the first ones whose levels add up to the food's level form its team, so a food
    one agent can load alone gets one agent (the nearest loadable food) and a heavier food gets
    helpers. Every member gets `Load Food_k`; the first to arrive waits, loading, for the rest.
    """
    grid = tuple(desc["grid"])
    level = {a["id"]: int(a["level"]) for a in desc["agents"]}
    at = {a["id"]: tuple(a["pos"]) for a in desc["agents"]}
    free = {a: 0 for a in level}
    foods = {t["id"]: (tuple(t["pos"]), int(t["level"])) for t in desc["targets"]}
    plan: list[Instruction] = []
    while foods:
        best = None
        for fid, (fpos, flevel) in sorted(foods.items()):
            arrivals = sorted((free[a] + _dist_to_adjacent(at[a], fpos), a) for a in level)
            team, total = [], 0
            for t, a in arrivals:
                team.append((t, a))
                total += level[a]
                if total >= flevel:
                    break
            if total < flevel:
                continue  # the whole team cannot lift it
            done_at = max(t for t, _ in team) + 1
            if best is None or (done_at, len(team)) < best[0]:
                best = ((done_at, len(team)), fid, team)
        if best is None:
            break
        (done_at, _), fid, team = best
        fpos = foods.pop(fid)[0]
        for _, a in team:
            plan.append(Instruction("Load", fid, a))
            at[a] = _nearest_adjacent(at[a], fpos, grid)  # type: ignore[arg-type]
            free[a] = done_at
    return plan


@register_planner("vmas")
def plan_vmas(desc: dict[str, Any]) -> list[Instruction]:
    """Navigation: every agent to its own assigned goal."""
    return [Instruction("MoveTo", a["goal"], a["id"]) for a in desc["agents"] if a.get("goal")]
