"""VMAS navigation / transport / balance with discrete actions as a `VecEnv` (torch on CPU).

VMAS batches copies in torch; we keep that batch and only convert at the edges. Each copy gets
its own torch random stream (seed + e) used when it resets, so a copy's episodes do not depend
on how many copies run beside it, on other VMAS instances, or on the learner's torch RNG.
"""
from __future__ import annotations

import math
from importlib.util import find_spec
from typing import Any

import numpy as np

from baselines.core.env_api import EnvError, EnvInfo, StepResult, check_actions

INSTALL_HINT = "pip install 'vmas>=1.4'"
# VMAS's flat discrete action a = 3 * x_choice + y_choice, choice 0: none, 1: -u_max, 2: +u_max
# (vmas Environment._set_action); +y is NORTH. Checked against the simulator in the tests.
ACTIONS = ["NONE", "SOUTH", "NORTH", "WEST", "SOUTH_WEST", "NORTH_WEST", "EAST", "SOUTH_EAST", "NORTH_EAST"]
ACTION_VECTORS = [(x, y) for x in (0, -1, 1) for y in (0, -1, 1)]  # force direction of each
# Agent counts each scenario really supports (see `agent_range`):
#   navigation: up to 128 with the spawn rule below;
#   transport: the goal and package must spawn 0.27 away from every agent inside a fixed 2x2
#     square; at 96 agents a reset takes seconds, at 128 it never finishes, so 64;
#   balance: agents sit side by side on a 0.8 long line; above 13 they overlap at spawn.
AGENT_RANGE = {"navigation": (2, 128), "transport": (2, 64), "balance": (2, 13)}
# Options forwarded to the VMAS scenario, with their types.
SCENARIO_OPTIONS: dict[str, dict[str, type]] = {
    "navigation": {"collisions": bool, "shared_rew": bool, "lidar_range": float, "n_lidar_rays": int},
    "transport": {"n_packages": int, "package_mass": float, "package_width": float, "package_length": float},
    "balance": {"package_mass": float, "random_package_pos_on_line": bool},
}
SPAWN_AGENTS_PER_UNIT = 12  # see navigation_half_width


def navigation_half_width(n_agents: int) -> float:
    """Half-width of navigation's spawn square: VMAS's 1.0 up to 12 agents, then sqrt(n / 12).

    Agents and goals spawn by rejection sampling 0.25 apart; with 2n of them in a fixed 2x2
    square that is impossible past ~20 agents and VMAS loops forever. Growing the square's area
    with n keeps the exclusion discs' cover near 30% (12 agents in VMAS's default square), where
    sampling stays quick (128 agents: half-width 3.27, ~0.1 s per copy reset). Packing 20 agents
    per unit area already takes seconds per reset.
    """
    return max(1.0, math.sqrt(n_agents / SPAWN_AGENTS_PER_UNIT))


def check_options(scenario: str, n_agents: int, options: dict[str, Any]) -> dict[str, Any]:
    """Split options into (max_steps, spawn_half_width, scenario kwargs); EnvError names a bad one."""
    known = {"max_steps": int, **SCENARIO_OPTIONS[scenario]}
    if scenario == "navigation":
        known["spawn_half_width"] = float
    for name, value in options.items():
        if name not in known:
            raise EnvError(f"unknown vmas {scenario} option {name!r} (known: {', '.join(known)})")
        kind = known[name]
        if kind is bool and not isinstance(value, bool):
            raise EnvError(f"vmas option {name} must be true or false, got {value!r}")
        numeric = (int, float) if kind is float else int
        if kind is not bool and (isinstance(value, bool) or not isinstance(value, numeric) or value <= 0):
            raise EnvError(f"vmas option {name} must be a positive {kind.__name__}, got {value!r}")
    opts = dict(options)
    max_steps = opts.pop("max_steps", 100)
    if scenario == "navigation":
        half = float(opts.pop("spawn_half_width", navigation_half_width(n_agents)))
        opts["world_spawning_x"] = opts["world_spawning_y"] = half
    return {"max_steps": max_steps, "kwargs": opts}


class VMASVecEnv:
    """One VMAS Environment of `num_envs` copies.

    Team reward = MEAN of the agents' rewards: these scenarios already give every agent the
    shared task reward (navigation's default shared_rew=True sums all agents' progress), so the
    mean is that shared reward plus the mean collision penalty; a sum would count it N times.
    terminated = the scenario's done (all goals reached / package on goal); truncated =
    max_steps. All actions are always available.
    """

    def __init__(self, scenario: str, n_agents: int, num_envs: int, seed: int, max_steps: int,
                 kwargs: dict[str, Any], batched_lidar: bool = True, batched_pairs: bool = True):
        import torch
        import vmas

        from benchmark.envs import vmas_lidar, vmas_pairs

        self.scenario, self.n_agents, self.num_envs, self.seed = scenario, n_agents, num_envs, seed
        self.max_steps, self.kwargs = max_steps, kwargs
        self.env = vmas.make_env(
            scenario, num_envs=num_envs, device="cpu", continuous_actions=False,
            max_steps=max_steps, seed=seed, terminated_truncated=True, n_agents=n_agents, **kwargs,
        )
        # navigation's lidars see only agents: scan them all at once (2x faster steps at 64 agents)
        self.batched_lidar = batched_lidar and vmas_lidar.install(self.env)
        # ... and test which agent pairs are close enough to collide in one call (2x at 64 agents)
        self.batched_pairs = batched_pairs and vmas_pairs.install(self.env)
        obs = self._obs_now()
        n_actions = self.env.action_space[0].n
        if n_actions != len(ACTIONS):
            raise EnvError(f"vmas {scenario}: expected {len(ACTIONS)} discrete actions, VMAS gives {n_actions}")
        self.info = EnvInfo(n_agents, obs.shape[-1], obs.shape[-1] * n_agents, n_actions, max_steps, num_envs)
        self.avail = np.ones((num_envs, n_agents, n_actions), bool)
        self.avail.flags.writeable = False  # shared every step: read-only so no one edits it
        self.rng_states = [torch.Generator().manual_seed(seed + e).get_state() for e in range(num_envs)]
        self.returns = np.zeros(num_envs, np.float32)
        self.lengths = np.zeros(num_envs, np.int64)
        self._seeded = False

    def reset(self, seed: int | None = None):
        """Copy e is seeded with seed+e; seed=None continues each copy's stream (first: make's seed)."""
        import torch

        if seed is None and not self._seeded:
            seed = self.seed
        if seed is not None:
            self.rng_states = [torch.Generator().manual_seed(seed + e).get_state() for e in range(self.num_envs)]
        self._seeded = True
        for e in range(self.num_envs):
            self._reset_copy(e)
        self.returns[:] = 0
        self.lengths[:] = 0
        obs = self._obs_now()
        return obs, obs.reshape(self.num_envs, -1).copy(), self.avail

    def step(self, actions: np.ndarray) -> StepResult:
        import torch

        _require_reset(self._seeded)
        acts = check_actions(actions, self.info)
        per_agent = torch.from_numpy(np.ascontiguousarray(acts.T, dtype=np.int64))
        obs_list, rew_list, terminated, truncated, _ = self.env.step(list(per_agent))
        obs = torch.stack(obs_list, 1).numpy().astype(np.float32, copy=False)
        agent_reward = torch.stack(rew_list, 1).numpy().astype(np.float32, copy=False)
        reward = agent_reward.mean(1)
        terminated = terminated.numpy().astype(bool)
        truncated = truncated.numpy().astype(bool) & ~terminated
        done = terminated | truncated
        self.returns += reward
        self.lengths += 1
        info: dict[str, Any] = {
            "episode_return": np.where(done, self.returns, 0).astype(np.float32),
            "episode_length": np.where(done, self.lengths, 0),
            "final_avail": self.avail,
        }
        self.returns[done] = 0
        self.lengths[done] = 0
        state = obs.reshape(self.num_envs, -1).copy()
        info["final_obs"], info["final_state"] = obs, state
        if done.any():
            for e in np.flatnonzero(done):
                self._reset_copy(int(e))
            obs = self._obs_now()
            state = obs.reshape(self.num_envs, -1).copy()
        return StepResult(obs, state, self.avail, reward, agent_reward, terminated, truncated, info)

    def _reset_copy(self, e: int) -> None:
        """Reset copy e drawing from its own torch stream (VMAS draws spawns from the global one)."""
        import torch
        from vmas.simulator.environment.environment import Environment

        shared = getattr(Environment, "vmas_random_state", None)  # VMAS >= 1.4 swaps this in
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.rng_states[e])
            if shared is not None:
                shared[0] = self.rng_states[e]
            self.env.reset_at(e, return_observations=False)
            self.rng_states[e] = shared[0] if shared is not None else torch.get_rng_state()

    def _obs_now(self) -> np.ndarray:
        """Observations [E,N,O] of the current states (one pass over all copies)."""
        import torch

        (obs_list,) = self.env.get_from_scenario(
            get_observations=True, get_rewards=False, get_infos=False, get_dones=False, dict_agent_names=False)
        return torch.stack(obs_list, 1).numpy().astype(np.float32, copy=False)

    def describe(self, env_index: int = 0) -> dict[str, Any]:
        """Positions of agents, goals and packages in copy env_index, plus the world's bounds."""
        _require_reset(self._seeded)
        world = self.env.world
        agents, targets = [], []
        for i, agent in enumerate(self.env.agents):
            entry = {"id": f"Agent_{i + 1}", "pos": _xy(agent.state.pos, env_index),
                     "vel": _xy(agent.state.vel, env_index)}
            if self.scenario == "navigation":
                entry["goal"] = f"Goal_{i + 1}"
                targets.append({"id": f"Goal_{i + 1}", "pos": _xy(agent.goal.state.pos, env_index)})
            agents.append(entry)
        facts: dict[str, Any] = {
            "family": "vmas",
            "scenario": self.scenario,
            "n_agents": self.n_agents,
            "agents": agents,
            "targets": targets,
            "step": int(self.env.steps[env_index]),
            "episode_limit": self.max_steps,
            "actions": list(ACTIONS),
            "action_vectors": [list(v) for v in ACTION_VECTORS],
            "dt": float(world.dt),
            "coords": "pos is [x, y] in world units; NORTH is +y, EAST is +x",
        }
        if self.scenario == "navigation":
            # navigation is solved when every agent is closer than its own radius to its goal
            facts["goal_radius"] = float(self.env.agents[0].shape.radius)
            half = self.kwargs["world_spawning_x"]
            facts["world_bounds"] = {"x": [-half, half], "y": [-half, half], "enforced": False}
        else:
            scenario = self.env.scenario
            packages = scenario.packages if self.scenario == "transport" else [scenario.package]
            goal = packages[0].goal
            targets.append({"id": "Goal_1", "pos": _xy(goal.state.pos, env_index)})
            facts["packages"] = [
                {"id": f"Package_{k + 1}", "pos": _xy(p.state.pos, env_index), "goal": "Goal_1"}
                for k, p in enumerate(packages)
            ]
            if self.scenario == "balance":
                line = scenario.line
                facts["line"] = {"pos": _xy(line.state.pos, env_index), "rot": round(float(line.state.rot[env_index]), 4)}
            facts["world_bounds"] = {
                "x": _bounds(world.x_semidim), "y": _bounds(world.y_semidim), "enforced": True}
        xs, ys = facts["world_bounds"]["x"], facts["world_bounds"]["y"]
        facts["world_size"] = [_span(xs), _span(ys)]
        return facts

    def close(self) -> None:
        self.env = None


def _require_reset(was_reset: bool) -> None:
    if not was_reset:
        raise RuntimeError("call reset() before step() or describe()")


def _xy(tensor, env_index: int) -> list[float]:
    return [round(float(v), 4) for v in tensor[env_index]]


def _bounds(semidim) -> list[float] | None:
    return None if semidim is None else [-float(semidim), float(semidim)]


def _span(bounds) -> float | None:
    return None if bounds is None else bounds[1] - bounds[0]


class VMASFamily:
    """Registry entry for `vmas:<scenario>`."""

    name = "vmas"
    pattern = None

    def scenarios(self) -> list[str]:
        return list(AGENT_RANGE)

    def agent_range(self, scenario: str) -> tuple[int, int]:
        if scenario not in AGENT_RANGE:
            raise EnvError(f"unknown vmas scenario {scenario!r} (known: {', '.join(AGENT_RANGE)})")
        return AGENT_RANGE[scenario]

    def available(self) -> tuple[bool, str]:
        return (True, "") if find_spec("vmas") and find_spec("torch") else (False, INSTALL_HINT)

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> VMASVecEnv:
        self.agent_range(scenario)
        opts = check_options(scenario, n_agents, options)
        return VMASVecEnv(scenario, n_agents, num_envs, seed, opts["max_steps"], opts["kwargs"])


FAMILY = VMASFamily()
