"""Executors: turn each agent's current instruction into a primitive action, one step at a time.

One class per env family, registered by name in `EXECUTORS` (add smax with
`@register_executor("smax")`). An executor reads the env's fresh `describe()` every step, so it
sees targets vanish and agents move, and it records what went wrong (`Failure`) in words the
refinement loop can hand back to the LLM.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from baselines.core.errors import UserError
from leed.dg.language import Instruction, by_agent

UNREACHABLE, TARGET_GONE, TIMEOUT, UNFINISHED = "unreachable", "target_gone", "timeout", "unfinished"


@dataclass(frozen=True)
class Failure:
    agent: str
    instruction: tuple[str, str, str]
    kind: str  # unreachable | target_gone | timeout | unfinished
    step: int
    detail: str = ""

    def text(self) -> str:
        cmd = list(self.instruction)
        return f"step {self.step}: {cmd} {self.kind.replace('_', ' ')}" + (f" ({self.detail})" if self.detail else "")


EXECUTORS: dict[str, type["QueueExecutor"]] = {}


def register_executor(family: str) -> Callable[[type["QueueExecutor"]], type["QueueExecutor"]]:
    def deco(cls: type[QueueExecutor]) -> type[QueueExecutor]:
        EXECUTORS[family] = cls
        return cls

    return deco


def make_executor(plan: list[Instruction], desc: dict[str, Any], seed: int = 0) -> "QueueExecutor":
    family = desc["family"]
    if family not in EXECUTORS:
        raise UserError(f"no executor for env family '{family}' (have {', '.join(sorted(EXECUTORS))})")
    return EXECUTORS[family](plan, desc, seed)


class QueueExecutor:
    """Each agent works through its own instruction queue; subclasses say how one instruction acts.

    `_act_one` returns an action index, or None when the instruction is finished (the next one
    is then tried in the same step); it calls `self._fail` for failures, which also finishes it.
    """

    patience_steps = 10**9  # steps one instruction may take before it is abandoned as `timeout`

    def __init__(self, plan: list[Instruction], desc: dict[str, Any], seed: int = 0):
        self.agents = [a["id"] for a in desc["agents"]]
        self.queues = by_agent(plan, self.agents)
        self.cursor = {a: 0 for a in self.agents}
        self.started = {a: int(desc.get("step", 0)) for a in self.agents}
        self.actions = list(desc["actions"])
        self.failures: list[Failure] = []
        self.completed: list[tuple[str, str, str]] = []
        self.rng = np.random.default_rng(seed)
        self._failed_now = False

    def current(self, agent: str) -> Instruction | None:
        q = self.queues[agent]
        return q[self.cursor[agent]] if self.cursor[agent] < len(q) else None

    def _advance(self, agent: str, step: int, ok: bool = True) -> None:
        ins = self.current(agent)
        if ok and ins is not None:
            self.completed.append(tuple(ins.as_list()))  # type: ignore[arg-type]
        self.cursor[agent] += 1
        self.started[agent] = step

    def _fail(self, agent: str, ins: Instruction, kind: str, step: int, detail: str = "") -> None:
        self.failures.append(Failure(agent, tuple(ins.as_list()), kind, step, detail))  # type: ignore[arg-type]
        self._failed_now = True

    def act(self, desc: dict[str, Any], avail: np.ndarray) -> np.ndarray:
        """Actions [N] for the current step of the episode `desc` describes."""
        step = int(desc.get("step", 0))
        self._begin_step(desc)
        actions = np.zeros(len(self.agents), dtype=np.int64)
        for i, agent in enumerate(self.agents):
            action = None
            for _ in range(len(self.queues[agent]) + 1):
                ins = self.current(agent)
                if ins is None:
                    action = self._idle(i, desc)
                    break
                if step - self.started[agent] > self.patience_steps:
                    self._fail(agent, ins, TIMEOUT, step, f"still not done after {self.patience_steps} steps")
                    self._advance(agent, step, ok=False)
                    continue
                self._failed_now = False
                action = self._act_one(i, ins, desc)
                if action is not None:
                    break
                self._advance(agent, step, ok=not self._failed_now)
            action = self._idle(i, desc) if action is None else action
            if not avail[i, action]:
                action = self._noop()
            actions[i] = action
            self._commit(i, action, desc)
        return actions

    def finish(self, desc: dict[str, Any], step: int, solved: bool = False) -> None:
        """At episode end (`desc`: the last state seen): what was still queued did not get done.

        `solved` (the task ended by success, not the time limit) forgives leftovers.
        """
        if solved:
            return
        for agent in self.agents:
            ins = self.current(agent)
            if ins is not None and ins.command != "Hold":
                self._fail(agent, ins, UNFINISHED, step, "episode ended first")

    # hooks
    def _begin_step(self, desc: dict[str, Any]) -> None: ...

    def _commit(self, i: int, action: int, desc: dict[str, Any]) -> None: ...

    def _noop(self) -> int:
        return 0

    def _idle(self, i: int, desc: dict[str, Any]) -> int:
        return self._noop()

    def _act_one(self, i: int, ins: Instruction, desc: dict[str, Any]) -> int | None:
        raise NotImplementedError


_MOVES = {"NORTH": (-1, 0), "SOUTH": (1, 0), "WEST": (0, -1), "EAST": (0, 1)}


@register_executor("lbf")
class LbfExecutor(QueueExecutor):
    """Grid foraging: BFS shortest paths around food and agents; LOAD once next to the food.

    Moves are reserved per step so two agents never aim at the same cell (lbforaging cancels
    both moves when they do, which would deadlock two deterministic agents).
    """

    def __init__(self, plan: list[Instruction], desc: dict[str, Any], seed: int = 0):
        super().__init__(plan, desc, seed)
        self.rows, self.cols = desc["grid"]
        self.patience_steps = 2 * (self.rows + self.cols) + 10
        self.index = {name: k for k, name in enumerate(self.actions)}
        self.loading: dict[str, str] = {}  # agent -> food it has been loading (success if it vanishes)
        self.waited = {a: 0 for a in self.agents}

    def _noop(self) -> int:
        return self.index["NONE"]

    def _begin_step(self, desc: dict[str, Any]) -> None:
        self.food = {t["id"]: tuple(t["pos"]) for t in desc["targets"]}
        self.food_cells = set(self.food.values())
        self.pos = {a["id"]: tuple(a["pos"]) for a in desc["agents"]}
        self.reserved: set[tuple[int, int]] = set()
        self.step = int(desc.get("step", 0))

    def _commit(self, i: int, action: int, desc: dict[str, Any]) -> None:
        agent = self.agents[i]
        dr, dc = _MOVES.get(self.actions[action], (0, 0))
        r, c = self.pos[agent]
        self.reserved.add((r + dr, c + dc))

    def _neighbours(self, cell: tuple[int, int]) -> list[tuple[int, int]]:
        r, c = cell
        return [(r + dr, c + dc) for dr, dc in _MOVES.values() if 0 <= r + dr < self.rows and 0 <= c + dc < self.cols]

    def _bfs_first_move(self, start, goals: set, blocked: set) -> tuple[int, int] | None | bool:
        """First cell on a shortest path to any goal; True if already there; None if no path."""
        if start in goals:
            return True
        prev = {start: start}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            for nxt in self._neighbours(cell):
                if nxt in prev or nxt in blocked:
                    continue
                prev[nxt] = cell
                if nxt in goals:
                    while prev[nxt] != start:
                        nxt = prev[nxt]
                    return nxt
                queue.append(nxt)
        return None

    def _go(self, i: int, ins: Instruction, goals: set) -> int | None:
        """Action toward the nearest goal cell; None when there or when it cannot be reached."""
        agent = self.agents[i]
        here = self.pos[agent]
        goals = {g for g in goals if g not in self.food_cells}
        others = {p for a, p in self.pos.items() if a != agent}
        step = self._bfs_first_move(here, goals, self.food_cells | others | self.reserved)
        if step is True:
            return None
        if step is None:
            step = self._bfs_first_move(here, goals, self.food_cells)  # agents move; path may open
            if step is None:
                self._fail(agent, ins, UNREACHABLE, self.step, "no path around food and walls")
                return None
            if step is True:
                return None
        if step in others or step in self.reserved:
            self.waited[agent] += 1
            if self.waited[agent] > 2:  # break a standoff with a random free move
                free = [n for n in self._neighbours(here) if n not in self.food_cells | others | self.reserved]
                if free:
                    step = free[self.rng.integers(len(free))]
                    return self._move_to(here, step)
            return self._noop()
        self.waited[agent] = 0
        return self._move_to(here, step)

    def _move_to(self, here, nxt) -> int:
        delta = (nxt[0] - here[0], nxt[1] - here[1])
        name = next(n for n, d in _MOVES.items() if d == delta)
        return self.index[name]

    def _act_one(self, i: int, ins: Instruction, desc: dict[str, Any]) -> int | None:
        agent = self.agents[i]
        if ins.command == "Hold":
            return self._noop()
        point = ins.point()
        if point is not None:
            cell = (int(point[0]), int(point[1]))
            if cell in self.food_cells:
                self._fail(agent, ins, UNREACHABLE, self.step, "a food occupies that cell")
                return None
            return self._go(i, ins, {cell})
        food = self.food.get(ins.target)
        if food is None:
            if ins.command == "Load" and self.loading.get(agent) == ins.target:
                self.loading.pop(agent)
                return None  # collected: success
            self._fail(agent, ins, TARGET_GONE, self.step, "already collected")
            return None
        adjacent = set(self._neighbours(food))
        if ins.command == "MoveTo":
            return self._go(i, ins, adjacent)
        if self.pos[agent] in adjacent:  # Load: wait here, loading, until the helpers arrive
            self.loading[agent] = ins.target
            return self.index["LOAD"]
        return self._go(i, ins, adjacent)


# Direction names an adapter may use for its discrete actions (x right, y up).
_DIRS = {"LEFT": (-1, 0), "WEST": (-1, 0), "RIGHT": (1, 0), "EAST": (1, 0),
         "UP": (0, 1), "NORTH": (0, 1), "DOWN": (0, -1), "SOUTH": (0, -1)}


def action_vectors(desc: dict[str, Any]) -> np.ndarray:
    """[A, 2] unit force directions of a continuous-world env's discrete actions.

    Taken from `describe()["action_vectors"]` when the adapter gives it, else from names like
    "NONE", "LEFT", "UP_RIGHT" / "NORTH_EAST".
    """
    if "action_vectors" in desc:
        return np.asarray(desc["action_vectors"], dtype=np.float64)
    vecs = []
    for name in desc["actions"]:
        v = np.zeros(2)
        for part in str(name).upper().replace("-", "_").split("_"):
            v += _DIRS.get(part, (0, 0))
        vecs.append(v)
    return np.asarray(vecs)


@register_executor("vmas")
class VmasExecutor(QueueExecutor):
    """Continuous navigation: a PD controller toward the target, rounded to the nearest action.

    After its last MoveTo an agent keeps station on that target (VMAS navigation ends only when
    every agent is on its goal at once).
    """

    kp, kd = 10.0, 5.0  # tuned on vmas navigation (drag 0.25, dt 0.1): settles without overshoot
    safe_distance, k_avoid, settle_distance = 0.45, 10.0, 0.7

    def __init__(self, plan: list[Instruction], desc: dict[str, Any], seed: int = 0):
        super().__init__(plan, desc, seed)
        self.vectors = action_vectors(desc)
        self.noop_index = int(np.argmin(np.linalg.norm(self.vectors, axis=1)))
        self.dt = float(desc.get("dt", 0.1))
        self.tolerance = float(desc.get("goal_tolerance", 0.05))
        self.prev: dict[str, np.ndarray] = {}
        self.anchor: dict[str, np.ndarray] = {}  # where an agent with nothing left keeps station
        self.patience_steps = int(desc.get("episode_limit", 10**9))

    def _noop(self) -> int:
        return self.noop_index

    def _begin_step(self, desc: dict[str, Any]) -> None:
        self.pos = {a["id"]: np.asarray(a["pos"], dtype=np.float64) for a in desc["agents"]}
        self.vel = {}
        for a in desc["agents"]:
            if "vel" in a:
                self.vel[a["id"]] = np.asarray(a["vel"], dtype=np.float64)
            else:  # finite difference of positions between calls
                prev = self.prev.get(a["id"], self.pos[a["id"]])
                self.vel[a["id"]] = (self.pos[a["id"]] - prev) / self.dt
        self.prev = dict(self.pos)
        self.goals = {t["id"]: np.asarray(t["pos"], dtype=np.float64) for t in desc["targets"]}
        self.step = int(desc.get("step", 0))

    def _steer(self, agent: str, target: np.ndarray) -> int:
        """The action whose direction is nearest the PD force (no-op when the force is small)."""
        here = self.pos[agent]
        desired = self.kp * (target - here) - self.kd * self.vel[agent]
        # keep clear of the others (collisions cost reward), less so on arrival: goals may be close
        near_goal = min(1.0, float(np.linalg.norm(target - here)) / self.settle_distance)
        for other, there in self.pos.items():
            away = here - there
            dist = float(np.linalg.norm(away))
            if other != agent and 1e-9 < dist < self.safe_distance:
                push = near_goal * self.k_avoid * (self.safe_distance - dist) / self.safe_distance
                side = np.array([away[1], -away[0]])  # a sidestep breaks head-on standoffs
                desired = desired + push * (away + 0.5 * side) / dist
        norm = np.linalg.norm(desired)
        if norm > 1.0:
            desired = desired / norm
        unit = self.vectors / np.maximum(np.linalg.norm(self.vectors, axis=1, keepdims=True), 1e-9)
        return int(np.argmin(np.linalg.norm(unit - desired, axis=1)))

    def _target(self, ins: Instruction) -> np.ndarray | None:
        point = ins.point()
        return np.asarray(point) if point is not None else self.goals.get(ins.target)

    def _act_one(self, i: int, ins: Instruction, desc: dict[str, Any]) -> int | None:
        agent = self.agents[i]
        if ins.command == "Hold":
            self.anchor.setdefault(agent, self.pos[agent].copy())
            return self._steer(agent, self.anchor[agent])
        target = self._target(ins)
        if target is None:
            self._fail(agent, ins, TARGET_GONE, self.step, "no such goal any more")
            return None
        self.anchor[agent] = target
        if np.linalg.norm(target - self.pos[agent]) < self.tolerance and self.cursor[agent] + 1 < len(self.queues[agent]):
            return None  # reached; go on with the next instruction
        return self._steer(agent, target)

    def _idle(self, i: int, desc: dict[str, Any]) -> int:
        agent = self.agents[i]
        return self._steer(agent, self.anchor[agent]) if agent in self.anchor else self._noop()

    def finish(self, desc: dict[str, Any], step: int, solved: bool = False) -> None:
        if solved:
            return
        for agent in self.agents:
            ins = self.current(agent)
            if ins is None or ins.command == "Hold":
                continue
            target = self._target(ins)
            pos = np.asarray(next(a["pos"] for a in desc["agents"] if a["id"] == agent))
            dist = float(np.linalg.norm(target - pos)) if target is not None else float("nan")
            if target is None or dist >= max(self.tolerance, float(desc.get("goal_radius", 0.1))):
                self._fail(agent, ins, UNFINISHED, step, f"episode ended {dist:.2f} away")
