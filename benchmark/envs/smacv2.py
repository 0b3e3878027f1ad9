"""Real SMACv2 (StarCraft II, `StarCraftCapabilityEnvWrapper`) as a `VecEnv`.

Scenarios `{protoss,terran,zerg}_{5_vs_5,10_vs_10,20_vs_20}` use the `10gen_<race>` maps with
the env arguments and capability configs of SMACv2's `smacv2/examples/configs/sc2_gen_<race>.yaml`
(team generation weighted 45/45/10 over the race's three unit types, surround-and-reflect
starts on a 32x32 area), with `n_units = n_enemies = N`. Needs the `smacv2` package and
`SC2PATH` pointing at a StarCraft II install; both are checked before anything is imported.

Copies are separate game processes stepped one after another (SC2 is the bottleneck, not
Python). Win = SMACv2's `info["battle_won"]`. The parts that need no game (configs, action
layout, obs/avail shaping, auto-reset) are tested with a fake env in tests/test_smacv2.py.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

import numpy as np

from baselines.core.env_api import EnvError, EnvInfo, StepResult, check_actions

INSTALL_HINT = "pip install git+https://github.com/oxwhirl/smacv2 and set SC2PATH to a StarCraft II install"
RACES = ("protoss", "terran", "zerg")
SIZES = (5, 10, 20)
UNITS = {f"{race}_{n}_vs_{n}": n for race in RACES for n in SIZES}
MOVE_NAMES = ["NO_OP", "STOP", "NORTH", "SOUTH", "EAST", "WEST"]  # SMAC's actions 0-5; 6+j attacks enemy j
EPISODE_LIMIT = 200  # the 10gen_* maps' limit
MAP_SIZE = 32

# Per race: (unit types, their weights, types that may not make up a whole team) as in SMACv2's
# sc2_gen_<race>.yaml.
TEAMS: dict[str, tuple[list[str], list[float], list[str]]] = {
    "protoss": (["stalker", "zealot", "colossus"], [0.45, 0.45, 0.1], []),
    "terran": (["marine", "marauder", "medivac"], [0.45, 0.45, 0.1], ["medivac"]),
    "zerg": (["zergling", "baneling", "hydralisk"], [0.45, 0.1, 0.45], ["baneling"]),
}
# StarCraft2Env arguments shared by the three sc2_gen_<race>.yaml files (map and seed added per copy).
ENV_ARGS: dict[str, Any] = {
    "continuing_episode": False, "difficulty": "7", "game_version": None, "move_amount": 2,
    "obs_all_health": True, "obs_instead_of_state": False, "obs_last_action": False, "obs_own_health": True,
    "obs_pathing_grid": False, "obs_terrain_height": False, "obs_timestep_number": False,
    "reward_death_value": 10, "reward_defeat": 0, "reward_negative_scale": 0.5, "reward_only_positive": True,
    "reward_scale": True, "reward_scale_rate": 20, "reward_sparse": False, "reward_win": 200,
    "replay_dir": "", "replay_prefix": "", "conic_fov": False, "use_unit_ranges": True, "min_attack_range": 2,
    "obs_own_pos": True, "num_fov_actions": 12, "state_last_action": True, "state_timestep_number": False,
    "step_mul": 8, "heuristic_ai": False, "debug": False, "prob_obs_enemy": 0,
}
# Attack ranges SMACv2 uses with use_unit_ranges (never below min_attack_range 2), for describe().
ATTACK_RANGE = {"stalker": 6.0, "zealot": 2.0, "colossus": 7.0, "zergling": 2.0, "baneling": 2.0,
                "hydralisk": 5.0, "marine": 5.0, "marauder": 6.0, "medivac": 4.0}
SIGHT_RANGE = 9.0


def parse_scenario(scenario: str) -> tuple[str, int]:
    """`"zerg_10_vs_10"` -> `("zerg", 10)`; unknown -> EnvError."""
    if scenario not in UNITS:
        raise EnvError(f"unknown smacv2 scenario {scenario!r} (known: {', '.join(UNITS)})")
    return scenario.split("_")[0], UNITS[scenario]


def capability_config(scenario: str) -> dict[str, Any]:
    """The `capability_config` SMACv2 builds `scenario` with (a fresh dict: the wrapper edits it)."""
    race, n = parse_scenario(scenario)
    unit_types, weights, exceptions = TEAMS[race]
    team_gen: dict[str, Any] = {"dist_type": "weighted_teams", "unit_types": list(unit_types),
                                "weights": list(weights), "observe": True}
    if exceptions:
        team_gen["exception_unit_types"] = list(exceptions)
    return {
        "n_units": n,
        "n_enemies": n,
        "team_gen": team_gen,
        "start_positions": {"dist_type": "surrounded_and_reflect", "p": 0.5, "map_x": MAP_SIZE, "map_y": MAP_SIZE},
    }


def env_kwargs(scenario: str, seed: int | None = None) -> dict[str, Any]:
    """Everything `StarCraftCapabilityEnvWrapper(**kwargs)` gets for one copy of `scenario`."""
    race, _ = parse_scenario(scenario)
    return {**copy.deepcopy(ENV_ARGS), "map_name": f"10gen_{race}", "seed": seed,
            "capability_config": capability_config(scenario)}


def make_wrapper(kwargs: dict[str, Any]):
    """SMACv2's `StarCraftCapabilityEnvWrapper` (imported only here)."""
    from smacv2.env import StarCraftCapabilityEnvWrapper

    return StarCraftCapabilityEnvWrapper(**kwargs)


def sanitize(actions: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Unavailable actions become NO_OP (dead units) or STOP: SMACv2 asserts on them otherwise."""
    acts = np.asarray(actions, dtype=np.int64).copy()
    ok = np.take_along_axis(avail, acts[..., None], -1)[..., 0]
    fallback = np.where(avail[..., 0], 0, 1)
    return np.where(ok, acts, fallback)


def unit_type_name(env, unit) -> str:
    """A unit's type name: SMACv2's own ids for allies, pysc2's unit enums for the built-in AI's."""
    for name in ATTACK_RANGE:
        type_id = getattr(env, f"{name}_id", 0)
        if type_id and unit.unit_type == type_id:
            return name
    try:
        from pysc2.lib import units as sc2_units

        for race in (sc2_units.Protoss, sc2_units.Terran, sc2_units.Zerg):
            try:
                return race(unit.unit_type).name.lower()
            except ValueError:
                continue
    except ImportError:
        pass
    return str(int(unit.unit_type))


class SMACv2VecEnv:
    """`num_envs` SMACv2 games. Team reward: SMACv2's shaped reward (damage + kills + win bonus,
    scaled so an episode's maximum is `reward_scale_rate` = 20), the same for every agent.
    terminated = the battle ended (won or lost); truncated = the 200-step limit."""

    def __init__(self, scenario: str, n_agents: int, num_envs: int, seed: int,
                 make_raw: Callable[[dict[str, Any]], Any] = make_wrapper):
        self.scenario, self.n_agents, self.num_envs, self.seed = scenario, n_agents, num_envs, seed
        self.envs = [make_raw(env_kwargs(scenario, seed + e)) for e in range(num_envs)]
        self._seed_distributions(seed)
        spec = self.envs[0].get_env_info()
        if spec["n_agents"] != n_agents:
            raise EnvError(f"smacv2:{scenario} built {spec['n_agents']} agents, expected {n_agents}")
        self.n_enemies = int(spec["n_actions"]) - len(MOVE_NAMES)
        self.info = EnvInfo(n_agents, int(spec["obs_shape"]), int(spec["state_shape"]), int(spec["n_actions"]),
                            int(spec["episode_limit"]), num_envs)
        self.returns = np.zeros(num_envs, np.float32)
        self.lengths = np.zeros(num_envs, np.int64)
        self._avail: np.ndarray | None = None

    def _seed_distributions(self, seed: int) -> None:
        """SMACv2's team/start distributions draw from unseeded generators; give copy e seed + e.
        (Team shuffles still use Python's global `random`.)"""
        for e, env in enumerate(self.envs):
            for k, dist in enumerate(getattr(env, "env_key_to_distribution_map", {}).values()):
                if hasattr(dist, "rng"):
                    dist.rng = np.random.default_rng([seed + e, k])

    def reset(self, seed: int | None = None):
        """Reset every game; a new seed reseeds the capability distributions (the game keeps its own)."""
        if seed is not None:
            self._seed_distributions(seed)
        rows = [self._reset_copy(e) for e in range(self.num_envs)]
        obs, state, avail = (np.stack(x) for x in zip(*rows))
        self.returns[:] = 0
        self.lengths[:] = 0
        self._avail = avail
        return obs, state, avail

    def _reset_copy(self, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.envs[e].reset()  # the wrapper may return None after an internal retry: read back instead
        return self._observe(e)

    def _observe(self, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        env = self.envs[e]
        obs = np.asarray(env.get_obs(), dtype=np.float32).reshape(self.n_agents, self.info.obs_dim)
        state = np.asarray(env.get_state(), dtype=np.float32).reshape(self.info.state_dim)
        avail = np.asarray(env.get_avail_actions(), dtype=bool).reshape(self.n_agents, self.info.n_actions)
        return obs, state, avail

    def step(self, actions: np.ndarray) -> StepResult:
        if self._avail is None:
            raise RuntimeError("call reset() before step() or describe()")
        acts = check_actions(actions, self.info)
        acts = sanitize(acts, self._avail)
        reward = np.zeros(self.num_envs, np.float32)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        won = np.zeros(self.num_envs, bool)
        rows = []
        for e, env in enumerate(self.envs):
            r, done, info = env.step(acts[e].tolist())
            reward[e] = r
            self.lengths[e] += 1
            won[e] = bool(info.get("battle_won", False))
            if done:
                ended = won[e] or info.get("dead_allies", 0) >= self.n_agents or info.get("dead_enemies", 0) >= self.n_enemies
                truncated[e] = not ended and self.lengths[e] >= self.info.episode_limit
                terminated[e] = not truncated[e]
            rows.append(self._observe(e))
        self.returns += reward
        done = terminated | truncated
        obs, state, avail = (np.stack(x) for x in zip(*rows))
        info_out: dict[str, Any] = {
            "final_obs": obs.copy(), "final_state": state.copy(), "final_avail": avail.copy(), "won": won & done,
            "episode_return": np.where(done, self.returns, 0).astype(np.float32),
            "episode_length": np.where(done, self.lengths, 0),
        }
        for e in np.flatnonzero(done):
            obs[e], state[e], avail[e] = self._reset_copy(int(e))
        self.returns[done] = 0
        self.lengths[done] = 0
        self._avail = avail
        agent_reward = np.repeat(reward[:, None], self.n_agents, axis=1)
        return StepResult(obs, state, avail, reward, agent_reward, terminated, truncated, info_out)

    def describe(self, env_index: int = 0) -> dict[str, Any]:
        """Same schema as smax's: all allies (dead ones with health 0), living enemies, the map."""
        if self._avail is None:
            raise RuntimeError("call reset() before step() or describe()")
        env = self.envs[env_index]
        raw = getattr(env, "env", env)

        def unit(u, uid: str, shoot_range: float | None = None) -> dict[str, Any]:
            kind = unit_type_name(raw, u)
            return {"id": uid, "pos": [round(float(u.pos.x), 3), round(float(u.pos.y), 3)],
                    "health": round(float(u.health), 2), "max_health": round(float(u.health_max), 2),
                    "shield": round(float(getattr(u, "shield", 0.0)), 2), "type": kind,
                    "alive": float(u.health) > 0,
                    "attack_range": float(shoot_range if shoot_range is not None else ATTACK_RANGE.get(kind, 2.0)),
                    "sight_range": SIGHT_RANGE, "cooldown": round(float(getattr(u, "weapon_cooldown", 0.0)), 3)}

        agents = []
        for i in range(self.n_agents):
            u = raw.agents[i]
            shoot = float(raw.unit_shoot_range(i)) if hasattr(raw, "unit_shoot_range") else None
            agents.append(unit(u, f"Agent_{i + 1}", shoot))
        targets = [unit(u, f"Enemy_{j + 1}") for j, u in sorted(raw.enemies.items()) if float(u.health) > 0]
        for t in targets:
            t.pop("alive")
        return {
            "family": "smacv2",
            "scenario": self.scenario,
            "n_agents": self.n_agents,
            "n_enemies": self.n_enemies,
            "map_size": [float(getattr(raw, "map_x", MAP_SIZE) or MAP_SIZE), float(getattr(raw, "map_y", MAP_SIZE) or MAP_SIZE)],
            "agents": agents,
            "targets": targets,
            "step": int(self.lengths[env_index]),
            "episode_limit": self.info.episode_limit,
            "actions": MOVE_NAMES + [f"ATTACK_Enemy_{j + 1}" for j in range(self.info.n_actions - len(MOVE_NAMES))],
            "coords": "pos is [x, y] in map units, x to the EAST, y to the NORTH; a unit attacks an enemy "
                      "closer than its attack_range",
        }

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


class SMACv2Family:
    """Registry entry for `smacv2:<scenario>`; agents = allied units, fixed by the scenario."""

    name = "smacv2"
    pattern = None

    def scenarios(self) -> list[str]:
        return list(UNITS)

    def agent_range(self, scenario: str) -> tuple[int, int]:
        _, n = parse_scenario(scenario)
        return n, n

    def available(self) -> tuple[bool, str]:
        if find_spec("smacv2") is None:
            return False, INSTALL_HINT
        sc2 = os.environ.get("SC2PATH", "")
        if not sc2 or not os.path.isdir(sc2):
            return False, f"SC2PATH must point at a StarCraft II install (got {sc2!r}); {INSTALL_HINT}"
        return True, ""

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> SMACv2VecEnv:
        _, n = parse_scenario(scenario)
        if n != n_agents:
            raise EnvError(f"smacv2:{scenario} has {n} allied units, but n_agents={n_agents}")
        if options:
            raise EnvError(f"unknown smacv2 option {next(iter(options))!r} (smacv2 takes no options)")
        ok, hint = self.available()
        if not ok:
            raise EnvError(f"smacv2 needs the smacv2 package and StarCraft II: {hint}")
        return SMACv2VecEnv(scenario, n_agents, num_envs, seed)


FAMILY = SMACv2Family()
