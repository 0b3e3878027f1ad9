"""Level-based foraging (lbforaging 2.x) as a `VecEnv`, built exactly as its gymnasium ids are.

Speed: lbforaging spends most of a step building observations and valid-action lists in
Python. We keep its game rules (`ForagingEnv.step`, `reset`) but replace those two per-copy
builders with one numpy pass over all copies; `tests/test_envs.py` checks that observations,
masks and trajectories match unpatched lbforaging exactly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

import numpy as np

from baselines.core.env_api import EnvError, EnvInfo, StepResult, check_actions

# lbforaging.foraging.environment.Action, in order (checked in the tests).
ACTIONS = ["NONE", "NORTH", "SOUTH", "WEST", "EAST", "LOAD"]
INSTALL_HINT = "pip install 'lbforaging>=2,<3'"
PLAYERS = (2, 9)  # what lbforaging/__init__.py registers
SIZES = (5, 19)
FOODS = (1, 4)
PATTERN = "Foraging[-2s]-{5..19}x{size}-[{2..9}p-]{1..4}f[-coop]-v3"
_NAME = re.compile(
    r"^Foraging(?P<po>-2s)?-(?P<rows>\d+)x(?P<cols>\d+)-(?:(?P<players>\d+)p-)?"
    r"(?P<foods>\d+)f(?P<coop>-coop)?-v3$"
)
OPTIONS = {"time_limit": 50, "action_masks": True}


@dataclass(frozen=True)
class Task:
    """One parsed scenario name: the kwargs lbforaging registers for that id."""

    size: int
    players: int | None  # None: the name leaves the player count to n_agents
    foods: int
    sight: int
    force_coop: bool


def parse_scenario(scenario: str) -> Task:
    """`Foraging-2s-8x8-2p-2f-coop-v3` -> Task; the player part may be left out."""
    match = _NAME.match(scenario)
    if not match:
        raise EnvError(f"unknown lbf scenario {scenario!r} (expected {PATTERN})")
    size, cols = int(match["rows"]), int(match["cols"])
    players = int(match["players"]) if match["players"] else None
    foods = int(match["foods"])
    if size != cols or not SIZES[0] <= size <= SIZES[1]:
        raise EnvError(f"lbf scenario {scenario!r}: grid must be square, 5x5 to 19x19")
    if players is not None and not PLAYERS[0] <= players <= PLAYERS[1]:
        raise EnvError(f"lbf scenario {scenario!r}: players must be 2 to 9, got {players}")
    if not FOODS[0] <= foods <= FOODS[1]:
        raise EnvError(f"lbf scenario {scenario!r}: food count must be 1 to 4, got {foods}")
    sight = 2 if match["po"] else size
    return Task(size, players, foods, sight, bool(match["coop"]))


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in; one-line EnvError naming an unknown or ill-typed option."""
    for name in options:
        if name not in OPTIONS:
            raise EnvError(f"unknown lbf option {name!r} (known: {', '.join(OPTIONS)})")
    merged = {**OPTIONS, **options}
    limit = merged["time_limit"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EnvError(f"lbf option time_limit must be a positive integer, got {limit!r}")
    if not isinstance(merged["action_masks"], bool):
        raise EnvError(f"lbf option action_masks must be true or false, got {merged['action_masks']!r}")
    return merged


def make_raw(task: Task, n_agents: int, time_limit: int):
    """The raw `ForagingEnv`, with the kwargs of `lbforaging/__init__.py`'s registration."""
    from lbforaging.foraging.environment import ForagingEnv

    return ForagingEnv(
        players=n_agents,
        min_player_level=1,
        max_player_level=2,
        field_size=(task.size, task.size),
        min_food_level=1,
        max_food_level=None,
        max_num_food=task.foods,
        sight=task.sight,
        max_episode_steps=time_limit,
        force_coop=task.force_coop,
        grid_observation=False,
        penalty=0.0,
    )


def observe(pos, levels, food_pos, food_level, food_on, sight, rows, cols):
    """lbforaging's vector observation for every player of every copy, in one numpy pass.

    pos [B,N,2] (row, col), levels [B,N], food_pos [B,K,2], food_level [B,K], food_on [B,K].
    Per viewer: the K food slots, then N player slots (itself first, then the others in index
    order), each (row, col, level) relative to the viewer's clipped sight window, with unseen
    slots (-1, -1, 0) packed at the end, as `ForagingEnv._make_gym_obs` writes them.
    """
    n_agents = pos.shape[1]
    origin = np.maximum(pos - sight, 0)  # top-left corner of each viewer's window
    corner = np.minimum(pos + sight, [rows - 1, cols - 1])

    rel = pos[:, None] - origin[:, :, None]  # [B, viewer, player, 2]
    seen = (rel.min(-1) >= 0) & (rel.max(-1) <= 2 * sight)
    rank = np.where(seen, 1, 2)
    rank[:, np.arange(n_agents), np.arange(n_agents)] = 0
    players = _pack(rel, np.broadcast_to(levels[:, None], seen.shape), seen, rank)

    inside = ((food_pos[:, None] >= origin[:, :, None]) & (food_pos[:, None] <= corner[:, :, None])).all(-1)
    inside &= food_on[:, None]  # [B, viewer, food]
    rel_food = food_pos[:, None] - origin[:, :, None]
    foods = _pack(rel_food, np.broadcast_to(food_level[:, None], inside.shape), inside, np.where(inside, 0, 1))
    batch = pos.shape[0]
    return np.concatenate([foods.reshape(batch, n_agents, -1), players.reshape(batch, n_agents, -1)], -1)


def _pack(rel, level, seen, rank):
    """(row, col, level) triples sorted by rank (stable), unseen ones as (-1, -1, 0)."""
    order = np.argsort(rank, axis=-1, kind="stable")
    triples = np.concatenate([rel, level[..., None]], -1).astype(np.float32)
    triples = np.take_along_axis(triples, order[..., None], axis=2)
    seen = np.take_along_axis(seen, order, axis=2)
    return np.where(seen[..., None], triples, np.float32([-1, -1, 0]))


def valid_actions(pos, padded_field):
    """lbforaging's valid-action mask [B,N,6]: moves onto free in-grid cells, LOAD next to food.

    `padded_field` [B,R+2,C+2] is the field with a zero border, so neighbours never index out.
    """
    rows, cols = padded_field.shape[1] - 2, padded_field.shape[2] - 2
    b = np.arange(pos.shape[0])[:, None]
    r, c = pos[..., 0] + 1, pos[..., 1] + 1  # padded coordinates
    north, south = padded_field[b, r - 1, c], padded_field[b, r + 1, c]
    west, east = padded_field[b, r, c - 1], padded_field[b, r, c + 1]
    mask = np.empty(pos.shape[:2] + (6,), bool)
    mask[..., 0] = True
    mask[..., 1] = (r > 1) & (north == 0)
    mask[..., 2] = (r < rows) & (south == 0)
    mask[..., 3] = (c > 1) & (west == 0)
    mask[..., 4] = (c < cols) & (east == 0)
    mask[..., 5] = (north + south + west + east) > 0
    return mask


class LBFVecEnv:
    """`num_envs` raw ForagingEnv copies stepped in a loop, observed in one vectorized pass.

    Team reward = sum of the players' rewards (EPyMARL's common_reward with sum scalarisation;
    an episode's team return is at most 1). terminated = all food eaten; truncated = time limit.
    Note: lbforaging itself reports `done` at the time limit, which EPyMARL treats as terminal.
    """

    def __init__(self, scenario: str, task: Task, n_agents: int, num_envs: int, seed: int,
                 time_limit: int, action_masks: bool):
        self.scenario, self.task, self.seed = scenario, task, seed
        self.time_limit, self.action_masks = time_limit, action_masks
        self.n_agents, self.num_envs = n_agents, num_envs
        self.envs = [make_raw(task, n_agents, time_limit) for _ in range(num_envs)]
        size = task.size
        # Each copy's field is a view into one zero-bordered buffer, so masks need no stacking.
        self.padded = np.zeros((num_envs, size + 2, size + 2), np.int32)
        self.levels = np.zeros((num_envs, n_agents), np.int64)
        self.food_pos = np.zeros((num_envs, task.foods, 2), np.int64)
        self.food_level = np.zeros((num_envs, task.foods), np.int64)
        self.food_ok = np.zeros((num_envs, task.foods), bool)  # slot holds a spawned food
        self.returns = np.zeros(num_envs, np.float32)
        self.lengths = np.zeros(num_envs, np.int64)
        for env in self.envs:
            _skip_slow_builders(env)
        obs_dim = 3 * task.foods + 3 * n_agents
        self.info = EnvInfo(n_agents, obs_dim, obs_dim * n_agents, len(ACTIONS), time_limit, num_envs)
        self._seeded = False
        self._avail_true = np.ones((num_envs, n_agents, len(ACTIONS)), bool)

    def reset(self, seed: int | None = None):
        """Copy e is seeded with seed+e; seed=None continues each copy's stream (first: make's seed)."""
        if seed is None and not self._seeded:
            seed = self.seed
        for e, env in enumerate(self.envs):
            if seed is not None:
                # lbforaging's spawn avoids the players' previous positions; forget them so a
                # seeded reset equals a fresh env's, whatever came before
                for player in env.players:
                    player.position = None
            env.reset(seed=None if seed is None else seed + e)
            self._adopt(e)
        self._seeded = True
        self.returns[:] = 0
        self.lengths[:] = 0
        obs, avail = self._observe()
        return obs, obs.reshape(self.num_envs, -1).copy(), avail

    def step(self, actions: np.ndarray) -> StepResult:
        _require_reset(self._seeded)
        acts = self._sanitize(actions)
        agent_reward = np.empty((self.num_envs, self.n_agents), np.float32)
        done = np.zeros(self.num_envs, bool)
        for e, env in enumerate(self.envs):
            _, rewards, done[e], _, _ = env.step(acts[e])
            agent_reward[e] = rewards
        reward = agent_reward.sum(1)
        self.returns += reward
        self.lengths += 1
        terminated = done & (self.padded.sum((1, 2)) == 0)
        truncated = done & ~terminated
        obs, avail = self._observe()
        info = self._finish(done, obs, avail)
        if done.any():
            idx = np.flatnonzero(done)
            for e in idx:
                self.envs[e].reset()  # continues copy e's own random stream
                self._adopt(e)
            obs[idx], avail[idx] = self._observe(idx)
        state = obs.reshape(self.num_envs, -1).copy()
        if done.any():
            info["final_state"] = info["final_obs"].reshape(self.num_envs, -1)
        else:
            info["final_state"] = state
        return StepResult(obs, state, avail, reward, agent_reward, terminated, truncated, info)

    def _sanitize(self, actions: np.ndarray) -> list[list[int]]:
        """Invalid actions become NONE here, as lbforaging would, so its own check can be skipped."""
        acts = check_actions(actions, self.info)
        ok = np.take_along_axis(self._avail_true, acts[..., None], -1)[..., 0]
        return np.where(ok, acts, 0).tolist()

    def _finish(self, done, obs, avail) -> dict[str, Any]:
        """info with final_* rows (aliases of obs/avail when nothing ended) and episode stats."""
        info: dict[str, Any] = {
            "final_obs": obs.copy() if done.any() else obs,
            "final_avail": avail.copy() if done.any() else avail,
            "episode_return": np.where(done, self.returns, 0).astype(np.float32),
            "episode_length": np.where(done, self.lengths, 0),
        }
        self.returns[done] = 0
        self.lengths[done] = 0
        return info

    def _adopt(self, e: int) -> None:
        """After copy e's reset: point its field at our buffer, cache levels and food slots."""
        env = self.envs[e]
        self.padded[e, 1:-1, 1:-1] = env.field
        env.field = self.padded[e, 1:-1, 1:-1]
        self.levels[e] = [p.level for p in env.players]
        rows, cols = np.nonzero(env.field)  # row-major, as lbforaging lists foods
        k = len(rows)
        self.food_pos[e] = 0
        self.food_pos[e, :k, 0], self.food_pos[e, :k, 1] = rows, cols
        self.food_level[e] = 0
        self.food_level[e, :k] = env.field[rows, cols]
        self.food_ok[e] = np.arange(self.task.foods) < k

    def _observe(self, idx=None):
        """(obs [B,N,O] float32, avail [B,N,6] bool) for copies idx (all when None)."""
        envs = self.envs if idx is None else [self.envs[e] for e in idx]
        sel = slice(None) if idx is None else idx
        pos = np.array([[p.position for p in env.players] for env in envs], np.int64)
        padded = self.padded[sel]
        b = np.arange(len(envs))[:, None]
        fp = self.food_pos[sel]
        food_on = self.food_ok[sel] & (padded[b, fp[..., 0] + 1, fp[..., 1] + 1] > 0)
        size = self.task.size
        obs = observe(pos, self.levels[sel], fp, self.food_level[sel], food_on, self.task.sight, size, size)
        mask = valid_actions(pos, padded)
        self._avail_true[sel] = mask
        avail = mask if self.action_masks else np.ones_like(mask)
        return obs, avail

    def describe(self, env_index: int = 0) -> dict[str, Any]:
        """Grid, players and the food still on the field of copy env_index; ids stay fixed per episode."""
        _require_reset(self._seeded)
        env = self.envs[env_index]
        field = env.field
        targets = [
            {"id": f"Food_{k + 1}", "pos": [int(r), int(c)], "level": int(field[r, c])}
            for k, (r, c) in enumerate(self.food_pos[env_index])
            if self.food_ok[env_index, k] and field[r, c] > 0
        ]
        agents = [
            {"id": f"Agent_{i + 1}", "pos": [int(p.position[0]), int(p.position[1])], "level": int(p.level)}
            for i, p in enumerate(env.players)
        ]
        return {
            "family": "lbf",
            "scenario": self.scenario,
            "n_agents": self.n_agents,
            "grid": [self.task.size, self.task.size],
            "sight": self.task.sight,
            "agents": agents,
            "targets": targets,
            "step": int(env.current_step),
            "episode_limit": self.time_limit,
            "force_coop": self.task.force_coop,
            "actions": list(ACTIONS),
            "coords": "pos is [row, col]; NORTH is row - 1, WEST is col - 1; LOAD picks up an adjacent food",
        }

    def close(self) -> None:
        self.envs = []


def _require_reset(was_reset: bool) -> None:
    if not was_reset:
        raise RuntimeError("call reset() before step() or describe()")


def _skip_slow_builders(env) -> None:
    """Stop lbforaging building per-player observations and valid-action lists on each step.

    The adapter computes both for all copies at once and turns invalid actions into NONE
    before `env.step`, so lbforaging's own validity check can accept every action.
    """
    from lbforaging.foraging.environment import Action

    every = tuple(Action)
    anything = {player: every for player in env.players}

    def allow_all() -> None:
        env._valid_actions = anything

    env._gen_valid_moves = allow_all
    env._make_gym_obs = lambda: None


class LBFFamily:
    """Registry entry for `lbf:<scenario>`."""

    name = "lbf"
    pattern = PATTERN

    def scenarios(self) -> list[str]:
        return [
            "Foraging-8x8-2p-2f-v3", "Foraging-8x8-2p-2f-coop-v3", "Foraging-2s-8x8-2p-2f-coop-v3",
            "Foraging-10x10-3p-3f-v3", "Foraging-15x15-4p-3f-v3", "Foraging-8x8-2f-v3",
            "Foraging-15x15-4f-v3",
        ]

    def agent_range(self, scenario: str) -> tuple[int, int]:
        task = parse_scenario(scenario)
        return (task.players, task.players) if task.players else PLAYERS

    def available(self) -> tuple[bool, str]:
        return (True, "") if find_spec("lbforaging") else (False, INSTALL_HINT)

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> LBFVecEnv:
        task = parse_scenario(scenario)
        if task.players is not None and task.players != n_agents:
            raise EnvError(f"lbf scenario {scenario!r} has {task.players} players, but n_agents={n_agents}")
        opts = check_options(options)
        return LBFVecEnv(scenario, task, n_agents, num_envs, seed, opts["time_limit"], opts["action_masks"])


FAMILY = LBFFamily()
