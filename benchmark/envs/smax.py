"""JaxMARL's SMAX (`smacv2_{5,10,20}_units`) as a `VecEnv`: the StarCraft-free SMACv2 stand-in.

Speed (docs/smax.md has the measurements): all copies are stepped, auto-reset and observed by ONE
compiled function whose env state stays on the device between calls; it returns one float32
buffer [E, K] that numpy slices into obs/state/avail/reward/... views, so a step costs one
dispatch and one transfer, and runs as fast as the same step inside `lax.scan`. Executables go
to jax's persistent compilation cache under the user cache dir, so only the first run of a
scenario and batch size pays the ~10-15 s XLA compile. The slow stepping measured before came
from torch's intra-op threads fighting XLA's on 2 cores: XLA's Eigen pool is switched off here
and a warning says so when torch runs more than one thread.

Actions follow SMACv2: 0 no-op (dead units only), 1 stop, 2-5 move north/south/east/west,
6+j attack enemy j. Enemies are JaxMARL's heuristic (`HeuristicEnemySMAX`, attack closest), with
the settings of JaxMARL's SMAX baselines. jax is imported only inside `make`.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from baselines.core.env_api import EnvError, EnvInfo, StepResult, check_actions

INSTALL_HINT = "pip install 'leed-bench[smax]'"
UNITS = {"smacv2_5_units": 5, "smacv2_10_units": 10, "smacv2_20_units": 20}
OPTIONS: dict[str, Any] = {  # JaxMARL's SMAX defaults and its baselines' env kwargs
    "max_steps": 100, "attack_mode": "closest", "see_enemy_actions": True, "walls_cause_death": True,
}
N_MOVES = 6  # no-op, stop, north, south, east, west; attack actions follow
MOVE_NAMES = ["NO_OP", "STOP", "NORTH", "SOUTH", "EAST", "WEST"]
# Our action -> SMAX's (0 north, 1 east, 2 south, 3 west, 4 stop, 5+j attack j); no-op -> stop.
SMAX_MOVE = [4, 4, 0, 2, 1, 3]
UNIT_FIELDS = ("x", "y", "health", "type", "alive", "cooldown")  # per-unit host copy, for describe()
XLA_CPU_FLAGS = "--xla_cpu_multi_thread_eigen=false"


@dataclass(frozen=True)
class Layout:
    """Column slices of the packed [E, K] float32 buffer one step returns."""

    n_agents: int
    n_enemies: int
    obs_dim: int
    state_dim: int
    n_actions: int

    def sizes(self) -> list[tuple[str, int]]:
        n, o, s, a = self.n_agents, self.obs_dim, self.state_dim, self.n_actions
        units = (self.n_agents + self.n_enemies) * len(UNIT_FIELDS)
        return [("obs", n * o), ("state", s), ("avail", n * a), ("final_obs", n * o), ("final_state", s),
                ("final_avail", n * a), ("reward", 1), ("terminated", 1), ("truncated", 1), ("won", 1),
                ("episode_return", 1), ("episode_length", 1), ("step", 1), ("units", units)]

    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for name, size in self.sizes():
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def width(self) -> int:
        return sum(size for _, size in self.sizes())


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in; one-line EnvError naming an unknown or ill-typed option."""
    for name in options:
        if name not in OPTIONS:
            raise EnvError(f"unknown smax option {name!r} (known: {', '.join(OPTIONS)})")
    merged = {**OPTIONS, **options}
    limit = merged["max_steps"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise EnvError(f"smax option max_steps must be a positive integer, got {limit!r}")
    if merged["attack_mode"] not in ("closest", "random"):
        raise EnvError(f"smax option attack_mode must be 'closest' or 'random', got {merged['attack_mode']!r}")
    for name in ("see_enemy_actions", "walls_cause_death"):
        if not isinstance(merged[name], bool):
            raise EnvError(f"smax option {name} must be true or false, got {merged[name]!r}")
    return merged


def cache_dir() -> Path:
    """Where jax keeps compiled SMAX executables (`LEED_BENCH_JAX_CACHE` overrides)."""
    if os.environ.get("LEED_BENCH_JAX_CACHE"):
        return Path(os.environ["LEED_BENCH_JAX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leed-bench" / "jax"


def import_jax():
    """Import jax configured for small CPU programs beside torch; EnvError if it is missing.

    Set before jax's backend starts (they are read then, not at import): CPU only, so a CUDA
    jax never grabs GPU memory torch needs, and no Eigen thread pool competing with torch's.
    Settings the user already made are kept.
    """
    if "jax" not in sys.modules:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_CPU_FLAGS}".strip()
    try:
        with _quiet():
            import jax
            import jaxmarl  # noqa: F401
    except ImportError as err:
        raise EnvError(f"smax needs jaxmarl and jax ({err.name or err} is missing): {INSTALL_HINT}") from None
    if not jax.config.jax_compilation_cache_dir:
        path = cache_dir()
        path.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
    return jax


@contextlib.contextmanager
def _quiet():
    """Swallow jaxmarl's import-time prints and undo its stream swap.

    jaxmarl 0.2's mabrax module sets `sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__`
    on import, which would unhook pytest's capture or a caller's redirect; so the originals are
    swapped too while importing, and everything is put back after.
    """
    saved = sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__
    sink = io.StringIO()
    sys.stdout = sys.__stdout__ = sink
    sys.stderr = sys.__stderr__ = sink
    try:
        yield
    finally:
        sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__ = saved


def make_raw(scenario: str, options: dict[str, Any]):
    """JaxMARL's `HeuristicEnemySMAX` for `scenario`, as JaxMARL's SMAX baselines build it."""
    import_jax()
    from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario

    return HeuristicEnemySMAX(
        scenario=map_name_to_scenario(scenario), max_steps=options["max_steps"],
        attack_mode=options["attack_mode"], see_enemy_actions=options["see_enemy_actions"],
        walls_cause_death=options["walls_cause_death"],
    )


def build_step_fn(env) -> tuple[Callable, Callable, Layout]:
    """(step_all, blank_carry, layout): the one function every step and reset runs, jitted.

    `step_all(carry, actions [E,N] int32, force_reset [E] bool, max_steps int32) -> (carry, buf)` steps every
    copy, then resets the copies whose episode ended or whose `force_reset` is set (a reset is a
    step with all copies forced, so only one program is compiled). `carry` = (env states, per-copy
    keys, returns, lengths) stays on the device; `buf` is the packed [E, layout.width] float32
    buffer. `max_steps` is an argument, not a constant, so time limits share one program.
    `blank_carry(keys)` is a zero carry to force-reset from.
    """
    import jax
    import jax.numpy as jnp

    smax = env._env
    n, m = env.num_allies, env.num_enemies
    allies = env.agents
    layout = Layout(n, m, smax.obs_size, smax.state_size, N_MOVES + m)
    to_smax = jnp.array(SMAX_MOVE + [5 + j for j in range(m)], dtype=jnp.int32)

    def observe(inner):
        """(obs [N,O], state [S], avail [N,A], units) of one SMAX state, avail in the SMACv2 layout."""
        obs = smax.get_obs_unit_list(inner)
        obs = jnp.stack([obs[a] for a in allies])
        world = smax.get_world_state(inner)
        raw = smax.get_avail_actions(inner)
        raw = jnp.stack([raw[a] for a in allies]).astype(bool)
        alive = inner.unit_alive[:n, None]
        avail = jnp.concatenate([~alive, alive, raw[:, jnp.array([0, 2, 1, 3])] & alive, raw[:, 5:]], axis=1)
        pos = inner.unit_positions
        fields = [pos[:, 0], pos[:, 1], inner.unit_health, inner.unit_types, inner.unit_alive,
                  inner.unit_weapon_cooldowns]
        units = jnp.stack([f.astype(jnp.float32) for f in fields], axis=1)
        return obs, world, avail, units

    def step_one(carry, actions, force_reset, max_steps):
        state, key, ret, length = carry
        key, k_step, k_reset = jax.random.split(key, 3)
        moves = to_smax[actions]
        _, after, rewards, _, _ = env.step_env(k_step, state, {a: moves[i] for i, a in enumerate(allies)})
        inner = after.state
        ally_alive, enemy_alive = inner.unit_alive[:n].any(), inner.unit_alive[n:].any()
        won = ally_alive & ~enemy_alive
        terminated = ~ally_alive | ~enemy_alive  # (SMAX's own done lags the time limit by a step)
        length = length + 1
        truncated = (length >= max_steps) & ~terminated
        done = terminated | truncated
        reward = rewards[allies[0]]  # every ally gets the same team reward
        ret = ret + reward
        _, fresh = env.reset(k_reset)
        restart = done | force_reset
        state = jax.tree.map(lambda new, old: jnp.where(restart, new, old), fresh, after)
        # final and current observations in one traced pass (half the program to compile)
        pair = jax.tree.map(lambda a, b: jnp.stack([a, b]), inner, state.state)
        obs, world, avail, units = jax.vmap(observe)(pair)
        parts = {"obs": obs[1], "state": world[1], "avail": avail[1], "final_obs": obs[0],
                 "final_state": world[0], "final_avail": avail[0], "reward": reward,
                 "terminated": terminated, "truncated": truncated, "won": won & done,
                 "episode_return": jnp.where(done, ret, 0.0), "episode_length": jnp.where(done, length, 0),
                 "step": jnp.where(restart, 0, length), "units": units[1]}
        buf = jnp.concatenate([jnp.ravel(parts[name]).astype(jnp.float32) for name, _ in layout.sizes()])
        carry = (state, key, jnp.where(restart, 0.0, ret), jnp.where(restart, 0, length))
        return carry, buf

    def blank_carry(keys):
        shapes = jax.eval_shape(jax.vmap(env.reset), keys)[1]
        states = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        e = keys.shape[0]
        return states, keys, jnp.zeros((e,), jnp.float32), jnp.zeros((e,), jnp.int32)

    step_all = jax.jit(jax.vmap(step_one, in_axes=(0, 0, 0, None)), donate_argnums=(0,))
    return step_all, blank_carry, layout


@cache
def compiled(scenario: str, options_key: tuple, num_envs: int) -> tuple[Callable, Callable, Layout, dict]:
    """(step_all compiled ahead of time, blank_carry, layout, seconds spent), once per process.

    The compile comes from jax's persistent cache when an earlier run stored it; `seconds`
    splits import, trace+lower and compile so the perf script can show which one a run paid.
    """
    start = time.perf_counter()
    jax = import_jax()
    import jax.numpy as jnp

    imported = time.perf_counter()
    env = make_raw(scenario, {**OPTIONS, **dict(options_key)})
    step_all, blank_carry, layout = build_step_fn(env)
    keys = jax.ShapeDtypeStruct((num_envs, 2), jnp.uint32)
    carry = jax.eval_shape(blank_carry, keys)
    actions = jax.ShapeDtypeStruct((num_envs, env.num_allies), jnp.int32)
    force = jax.ShapeDtypeStruct((num_envs,), jnp.bool_)
    lowered = step_all.lower(carry, actions, force, jax.ShapeDtypeStruct((), jnp.int32))
    traced = time.perf_counter()
    step_c = lowered.compile()
    done = time.perf_counter()
    seconds = {"import_s": imported - start, "trace_s": traced - imported, "compile_s": done - traced,
               "total_s": done - start}
    return step_c, jax.jit(blank_carry), layout, seconds


class SMAXVecEnv:
    """`num_envs` SMAX battles stepped by one compiled function; state stays on the device.

    Team reward: JaxMARL's shared reward (enemy health removed / enemy count, +1 on a win), the
    same for every ally, so `reward` is that value (not a sum) and an episode returns at most 2.
    terminated = one side wiped out; truncated = `max_steps`; `info["won"]` = all enemies dead
    and an ally alive (a mutual wipe-out is a draw).
    """

    def __init__(self, scenario: str, n_agents: int, num_envs: int, seed: int, options: dict[str, Any]):
        self.scenario, self.n_agents, self.num_envs, self.seed = scenario, n_agents, num_envs, seed
        self.options = options
        key = tuple(sorted((k, v) for k, v in options.items() if k != "max_steps"))  # max_steps is an input
        self._step_fn, self._blank, self.layout, self.setup_seconds = compiled(scenario, key, num_envs)
        self._max_steps = np.int32(options["max_steps"])
        lay = self.layout
        self.n_enemies = lay.n_enemies
        self.slices = lay.slices()
        self.info = EnvInfo(n_agents, lay.obs_dim, lay.state_dim, lay.n_actions, options["max_steps"], num_envs)
        self._consts = _unit_constants(scenario, key)
        self._stay = np.zeros(num_envs, bool)
        _warn_torch_threads()
        self._carry = None
        self._buf: np.ndarray | None = None

    def reset(self, seed: int | None = None):
        """Copy e is seeded with seed+e; seed=None continues each copy's stream (first: make's seed)."""
        import jax
        import jax.numpy as jnp

        if seed is None and self._carry is not None:
            keys = self._carry[1]  # continue each copy's own key stream
        else:
            seed = self.seed if seed is None else seed
            keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(seed, seed + self.num_envs, dtype=jnp.uint32))
        idle = np.zeros((self.num_envs, self.n_agents), np.int32)
        self._carry, buf = self._step_fn(self._blank(keys), idle, ~self._stay, self._max_steps)
        self._buf = np.array(buf)
        view = self._view(self._buf)
        return view["obs"], view["state"], view["avail"]

    def step(self, actions: np.ndarray) -> StepResult:
        if self._carry is None:
            raise RuntimeError("call reset() before step() or describe()")
        acts = check_actions(actions, self.info)
        self._carry, buf = self._step_fn(self._carry, acts.astype(np.int32, copy=False), self._stay, self._max_steps)
        self._buf = np.array(buf)  # one copy out of jax's read-only buffer
        v = self._view(self._buf)
        info = {"final_obs": v["final_obs"], "final_state": v["final_state"], "final_avail": v["final_avail"],
                "won": v["won"], "episode_return": v["episode_return"], "episode_length": v["episode_length"]}
        agent_reward = np.repeat(v["reward"][:, None], self.n_agents, axis=1)
        return StepResult(v["obs"], v["state"], v["avail"], v["reward"], agent_reward, v["terminated"],
                          v["truncated"], info)

    def _view(self, buf: np.ndarray) -> dict[str, np.ndarray]:
        """Named views (no copies for float fields) of a packed [E, K] buffer."""
        s, e, lay = self.slices, self.num_envs, self.layout
        out: dict[str, np.ndarray] = {}
        for name in ("obs", "final_obs"):
            out[name] = buf[:, s[name]].reshape(e, lay.n_agents, lay.obs_dim)
        for name in ("state", "final_state"):
            out[name] = buf[:, s[name]]
        for name in ("avail", "final_avail"):
            out[name] = buf[:, s[name]].reshape(e, lay.n_agents, lay.n_actions) > 0.5
        for name in ("terminated", "truncated", "won"):
            out[name] = buf[:, s[name].start] > 0.5
        out["reward"] = buf[:, s["reward"].start]
        out["episode_return"] = buf[:, s["episode_return"].start]
        out["episode_length"] = buf[:, s["episode_length"].start].astype(np.int64)
        return out

    def describe(self, env_index: int = 0) -> dict[str, Any]:
        """Units of copy env_index: all allies (dead ones with health 0), living enemies, the map."""
        if self._buf is None:
            raise RuntimeError("call reset() before step() or describe()")
        row = self._buf[env_index]
        units = row[self.slices["units"]].reshape(-1, len(UNIT_FIELDS))
        c = self._consts

        def unit(k: int, uid: str) -> dict[str, Any]:
            x, y, health, kind, alive, cooldown = units[k]
            t = int(kind)
            return {"id": uid, "pos": [round(float(x), 3), round(float(y), 3)], "health": round(float(health), 2),
                    "max_health": c["health"][t], "type": c["names"][t], "alive": bool(alive > 0.5),
                    "attack_range": c["attack_range"][t], "sight_range": c["sight_range"][t],
                    "cooldown": round(float(cooldown), 3)}

        agents = [unit(i, f"Agent_{i + 1}") for i in range(self.n_agents)]
        targets = [unit(self.n_agents + j, f"Enemy_{j + 1}") for j in range(self.n_enemies)
                   if units[self.n_agents + j, 4] > 0.5]
        for t in targets:
            t.pop("alive")
        return {
            "family": "smax",
            "scenario": self.scenario,
            "n_agents": self.n_agents,
            "n_enemies": self.n_enemies,
            "map_size": [c["map_width"], c["map_height"]],
            "agents": agents,
            "targets": targets,
            "step": int(row[self.slices["step"].start]),
            "episode_limit": self.info.episode_limit,
            "actions": MOVE_NAMES + [f"ATTACK_Enemy_{j + 1}" for j in range(self.n_enemies)],
            "walls_cause_death": self.options["walls_cause_death"],
            "coords": "pos is [x, y] in map units, x to the EAST, y to the NORTH; a unit attacks an enemy "
                      "closer than its attack_range; touching the map edge kills a unit",
        }

    def close(self) -> None:
        self._carry, self._buf = None, None


def _warn_torch_threads() -> None:
    """The slow SMAX stepping measured before was torch's intra-op threads fighting XLA's (docs/smax.md)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > 1:
        warnings.warn(f"smax: torch uses {torch.get_num_threads()} intra-op threads; beside jax on few cores "
                      "this made stepping ~10x slower (docs/smax.md): call torch.set_num_threads(1), as "
                      "benchmark.runner does", RuntimeWarning, stacklevel=5)


@cache
def _unit_constants(scenario: str, options_key: tuple) -> dict[str, Any]:
    """Per-unit-type constants for describe() (read once from a SMAX instance)."""
    env = make_raw(scenario, {**OPTIONS, **dict(options_key)})._env

    def as_list(a) -> list[float]:
        return [round(float(v), 4) for v in np.asarray(a)]

    return {"names": list(env.unit_type_names), "health": as_list(env.unit_type_health),
            "attack_range": as_list(env.unit_type_attack_ranges), "sight_range": as_list(env.unit_type_sight_ranges),
            "map_width": float(env.map_width), "map_height": float(env.map_height)}


class SMAXFamily:
    """Registry entry for `smax:<scenario>`; agents = allied units, fixed by the scenario."""

    name = "smax"
    pattern = None

    def scenarios(self) -> list[str]:
        return list(UNITS)

    def agent_range(self, scenario: str) -> tuple[int, int]:
        if scenario not in UNITS:
            raise EnvError(f"unknown smax scenario {scenario!r} (known: {', '.join(UNITS)})")
        return UNITS[scenario], UNITS[scenario]

    def available(self) -> tuple[bool, str]:
        return (True, "") if find_spec("jaxmarl") and find_spec("jax") else (False, INSTALL_HINT)

    def make(self, scenario: str, n_agents: int, num_envs: int, seed: int = 0, **options) -> SMAXVecEnv:
        if self.agent_range(scenario) != (n_agents, n_agents):
            raise EnvError(f"smax:{scenario} has {UNITS[scenario]} allied units, but n_agents={n_agents}")
        ok, hint = self.available()
        if not ok:
            raise EnvError(f"smax needs jaxmarl and jax: {hint}")
        opts = check_options(options)
        return SMAXVecEnv(scenario, n_agents, num_envs, seed, opts)


FAMILY = SMAXFamily()
