"""DG for the SMAC family (`smax`, `smacv2`): an executor and a scripted planner.

Both read only `describe()` (units with `pos` [x, y], `health`, `attack_range`, `alive`; living
enemies as targets; `map_size`; SMACv2 action names), so one module serves JaxMARL's SMAX and
real SMACv2. Importing this module registers them (`EXECUTORS["smax"]`, `PLANNERS["smax"]`, and
the same for `smacv2`).

A plan is written once, at the start of an episode. Rules that depend on how the fight goes
(which enemy is in range, who is wounded) therefore live in the executor's micro: an attacker
whose health is low steps out of range while its weapon cools down (kiting), and a unit with
nothing left to do holds its ground and fires at the weakest enemy in range.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from leed.dg.executors import TARGET_GONE, UNFINISHED, QueueExecutor, register_executor
from leed.dg.language import Instruction
from leed.dg.scripted import register_planner

NO_OP, STOP = "NO_OP", "STOP"
MOVES = {"NORTH": (0.0, 1.0), "SOUTH": (0.0, -1.0), "EAST": (1.0, 0.0), "WEST": (-1.0, 0.0)}
STEP_REACH = 2.2  # map units a unit may cover in one env step (fastest SMAX unit: 4.13/s x 0.5 s)
EDGE_MARGIN = 0.8  # keep this far from the map edge after a move (touching it kills in SMAX)
ARRIVED = 1.0  # a MoveTo (x, y) is done within this distance
WOUNDED = 0.3  # health fraction under which an attacker kites while its weapon cools down


def _xy(unit: dict[str, Any]) -> np.ndarray:
    return np.asarray(unit["pos"], dtype=np.float64)


def _fraction(unit: dict[str, Any]) -> float:
    return float(unit["health"]) / max(float(unit.get("max_health", unit["health"]) or 1.0), 1e-9)


class SmacExecutor(QueueExecutor):
    """Attack: fire when the target is in range, else walk toward it; MoveTo: walk to the point
    (or into attack range of an enemy); Hold: stay, firing at the weakest enemy in range.

    Walking picks the compass move best aligned with the goal direction among those that keep
    the unit off the map edge. Primitive actions are SMACv2's: NO_OP (dead units), STOP,
    NORTH/SOUTH/EAST/WEST, ATTACK_Enemy_k.
    """

    def __init__(self, plan: list[Instruction], desc: dict[str, Any], seed: int = 0):
        super().__init__(plan, desc, seed)
        self.index = {name: k for k, name in enumerate(self.actions)}
        self.size = np.asarray(desc.get("map_size", [32.0, 32.0]), dtype=np.float64)
        self.patience_steps = int(desc.get("episode_limit", 10**9))
        self.engaged: dict[str, str] = {}  # agent -> enemy it has been attacking (its death = success)

    # -- per-step state ---------------------------------------------------------------------
    def _begin_step(self, desc: dict[str, Any]) -> None:
        self.units = {a["id"]: a for a in desc["agents"]}
        self.enemies = {t["id"]: t for t in desc["targets"]}
        self.step = int(desc.get("step", 0))

    def act(self, desc: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        self._avail = avail
        self._begin_step(desc)
        for agent in self.agents:  # a dead unit's remaining orders fail once, then it idles
            if not self.units[agent].get("alive", True) and self.current(agent) is not None:
                self._fail(agent, self.current(agent), UNFINISHED, self.step, "the unit died")
                self.cursor[agent] = len(self.queues[agent])
        actions = super().act(desc, avail)
        for i, a in enumerate(actions):  # NO_OP is the only legal action of the dead, STOP of the living
            if not avail[i, a]:
                actions[i] = self.index[NO_OP] if avail[i, self.index[NO_OP]] else self.index[STOP]
        return actions

    def _noop(self) -> int:
        return self.index[STOP]

    # -- primitives ---------------------------------------------------------------------------
    def _attack_index(self, enemy: str) -> int | None:
        return self.index.get(f"ATTACK_{enemy}")

    def _can_fire(self, i: int, enemy: str) -> bool:
        k = self._attack_index(enemy)
        return k is not None and bool(self._avail[i, k])

    def _walk(self, agent: str, goal: np.ndarray) -> int:
        """The available compass move most aligned with goal - pos that stays off the edge; STOP if none."""
        i = self.agents.index(agent)
        here = _xy(self.units[agent])
        delta = goal - here
        if np.linalg.norm(delta) < 1e-6:
            return self.index[STOP]
        best, best_score = self.index[STOP], 0.0
        for name, vec in MOVES.items():
            if not self._avail[i, self.index[name]]:
                continue
            nxt = here + STEP_REACH * np.asarray(vec)
            if (nxt < EDGE_MARGIN).any() or (nxt > self.size - EDGE_MARGIN).any():
                continue
            score = float(np.dot(delta, vec))
            if score > best_score:
                best, best_score = self.index[name], score
        return best

    def _away(self, agent: str, threat: np.ndarray) -> int:
        here = _xy(self.units[agent])
        return self._walk(agent, here + (here - threat))

    def _weakest_in_range(self, i: int) -> str | None:
        shootable = [e for e in self.enemies if self._can_fire(i, e)]
        return min(shootable, key=lambda e: (float(self.enemies[e]["health"]), e), default=None)

    def _nearest_enemy(self, agent: str) -> dict[str, Any] | None:
        here = _xy(self.units[agent])
        return min(self.enemies.values(), key=lambda t: float(np.linalg.norm(_xy(t) - here)), default=None)

    def _hold(self, i: int) -> int:
        target = self._weakest_in_range(i)
        return self._attack_index(target) if target is not None else self.index[STOP]

    # -- instructions -------------------------------------------------------------------------
    def _idle(self, i: int, desc: dict[str, Any]) -> int:
        return self._hold(i) if self.units[self.agents[i]].get("alive", True) else self.index[NO_OP]

    def _act_one(self, i: int, ins: Instruction, desc: dict[str, Any]) -> int | None:
        agent = self.agents[i]
        if ins.command == "Hold":
            return self._hold(i)
        point = ins.point()
        if point is not None:  # MoveTo (x, y)
            goal = np.asarray(point, dtype=np.float64)
            if np.linalg.norm(goal - _xy(self.units[agent])) < ARRIVED:
                return None
            move = self._walk(agent, goal)
            if move == self.index[STOP]:  # the edge blocks every useful move: as close as it gets
                return None
            return move
        enemy = self.enemies.get(ins.target)
        if enemy is None:
            if ins.command == "Attack" and self.engaged.get(agent) == ins.target:
                self.engaged.pop(agent)
                return None  # killed: success
            self._fail(agent, ins, TARGET_GONE, self.step, "that enemy is already dead")
            return None
        if ins.command == "MoveTo":
            reach = float(self.units[agent].get("attack_range", 0.0))
            if np.linalg.norm(_xy(enemy) - _xy(self.units[agent])) < reach:
                return None
            return self._walk(agent, _xy(enemy))
        return self._attack(i, agent, ins.target, enemy)

    def _attack(self, i: int, agent: str, target: str, enemy: dict[str, Any]) -> int:
        """Fire when ready and in range; a wounded unit kites while reloading; else approach."""
        self.engaged[agent] = target
        unit = self.units[agent]
        in_range = self._can_fire(i, target)
        reloading = float(unit.get("cooldown", 0.0)) > 0.0
        if in_range and reloading and _fraction(unit) < WOUNDED:
            threat = self._nearest_enemy(agent)
            if threat is not None:
                return self._away(agent, _xy(threat))
        if in_range:
            return self._attack_index(target)  # type: ignore[return-value]
        return self._walk(agent, _xy(enemy))


register_executor("smax")(SmacExecutor)
register_executor("smacv2")(SmacExecutor)


def _centroid(units: list[dict[str, Any]]) -> np.ndarray:
    return np.mean([_xy(u) for u in units], axis=0)


def focus_order(desc: dict[str, Any]) -> list[str]:
    """Enemies in the order the team kills them: starting from the team's centroid, repeatedly
    the enemy with the lowest distance + health / 5 (a weak enemy is worth a detour of 1 map
    unit per 5 hit points), moving on from where the last one fell."""
    allies = [a for a in desc["agents"] if a.get("alive", True)]
    here = _centroid(allies) if allies else np.zeros(2)
    left = {t["id"]: t for t in desc["targets"]}
    order: list[str] = []
    while left:
        best = min(left, key=lambda e: (float(np.linalg.norm(_xy(left[e]) - here)) + float(left[e]["health"]) / 5.0, e))
        order.append(best)
        here = _xy(left.pop(best))
    return order


@register_planner("smax")
@register_planner("smacv2")
def plan_smac(desc: dict[str, Any]) -> list[Instruction]:
    """Focus fire: every living unit attacks the enemies one at a time in `focus_order`, all on
    the same target, approaching it from wherever it stands (toward the enemy side). Wounded
    units retreat while reloading (the executor's micro). A first MoveTo to a rally point
    toward the enemy centroid was tried and lost more battles (docs/smax.md), so there is none."""
    allies = [a for a in desc["agents"] if a.get("alive", True)]
    if not allies or not desc["targets"]:
        return [Instruction("Hold", "-", a["id"]) for a in desc["agents"]]
    order = focus_order(desc)
    return [Instruction("Attack", e, a["id"]) for a in allies for e in order]
