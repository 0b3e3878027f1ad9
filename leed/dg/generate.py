"""Make a demonstration set: plan (scripted rules or an LLM with refinement), execute, write.

Takes a `VecEnv` or a factory for one, never the harness: `leed` does not import `benchmark`.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

from baselines.core.env_api import VecEnv
from baselines.core.errors import UserError
from leed.demos import check_destination, demo_key, write_demo_set
from leed.dg.llm import LLMClient
from leed.dg.prompts import template_sha256
from leed.dg.refine import Episode, PlanLog, refine_batch, scripted_batch
from leed.dg.scripted import PLANNER_VERSION, planner_sha256, scripted_plan_text

GENERATORS = ("scripted", "llm", "replay", "transformers")
# The best team return a family allows, when known: refinement stops once a plan reaches it.
BEST_RETURN = {"lbf": 1.0}


def generate_episodes(
    env: VecEnv, episodes: int, seed: int = 0, generator: str = "scripted", client: LLMClient | None = None,
    rounds: int = 1, temperature: float = 0.0, log: PlanLog | None = None,
    progress: Callable[[int, int], None] | None = None, parse_retries: int = 2, best_return: float | None = None,
) -> list[Episode]:
    """`episodes` episodes, copy e of batch b starting from seed `seed + b * num_envs + e`."""
    log = log if log is not None else PlanLog()
    n_envs = env.info.num_envs
    out: list[Episode] = []
    for b in range(math.ceil(episodes / n_envs)):
        batch_seed = seed + b * n_envs
        if generator == "scripted":
            batch = scripted_batch(env, batch_seed, scripted_plan_text, log, len(out))
        else:
            if client is None:
                raise UserError(f"generator '{generator}' needs an LLM client")
            batch = refine_batch(env, batch_seed, client, rounds, temperature, log, len(out),
                                 best_return=best_return, parse_retries=parse_retries)
        out.extend(batch)
        if progress:
            progress(min(len(out), episodes), episodes)
    return out[:episodes]


def generate_demos(
    env: VecEnv | Callable[[], VecEnv], env_key: str, n_agents: int, out: str | Path, episodes: int = 50,
    seed: int = 0, generator: str = "scripted", client: LLMClient | None = None, rounds: int = 1,
    temperature: float = 0.0, force: bool = False, env_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None, exist_ok: bool = False,
) -> Path:
    """Generate and write a demonstration set to `out` (atomically); returns its path.

    `exist_ok`: a finished set already at `out` (e.g. a cache entry another run wrote) is kept.
    """
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {episodes}")
    if generator not in GENERATORS:
        raise UserError(f"--generator must be one of {', '.join(GENERATORS)}, got '{generator}'")
    if generator != "scripted" and rounds < 1:
        raise UserError(f"--rounds must be at least 1, got {rounds}")
    out = Path(out).expanduser()
    check_destination(out, force or exist_ok)  # before spending any tokens
    start = time.perf_counter()
    own_env = not isinstance(env, VecEnv) and callable(env)
    vec = env() if own_env else env
    try:
        if vec.info.n_agents != n_agents:
            raise UserError(f"env {env_key} has {vec.info.n_agents} agents, not {n_agents}")
        family = env_key.partition(":")[0]
        log = PlanLog()
        eps = generate_episodes(vec, episodes, seed, generator, client, rounds, temperature, log, progress,
                                best_return=BEST_RETURN.get(family))
        info = vec.info
    finally:
        if own_env:
            vec.close()
    seconds = time.perf_counter() - start
    if generator == "scripted":
        gen = {"kind": "scripted", "model": None, "prompt_sha256": planner_sha256(family), "temperature": None,
               "rounds": 1, "planner_version": PLANNER_VERSION}
    else:
        gen = {"kind": "llm", "client": generator, "model": getattr(client, "model", None),
               "prompt_sha256": template_sha256(family), "temperature": temperature, "rounds": rounds}
    usage = getattr(client, "usage", None)
    manifest = {
        "env": env_key, "family": family, "scenario": env_key.partition(":")[2], "n_agents": n_agents,
        "obs_dim": info.obs_dim, "n_actions": info.n_actions, "episode_limit": info.episode_limit,
        "env_options": env_options or {}, "seed": seed, "generator": gen,
        "key": demo_key(env_key, n_agents, gen["kind"], gen["prompt_sha256"]),
        "cost": {
            "seconds": round(seconds, 3),
            "tokens": usage.tokens if usage else 0,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "llm_calls": usage.calls if usage else 0,
            "llm_cached_calls": usage.cached_calls if usage else 0,
            "llm_seconds": round(usage.seconds, 3) if usage else 0.0,
        },
        "rejected_replies": sum(1 for r in log.records if r.get("kind") == "llm" and not r.get("accepted")),
    }
    return write_demo_set(out, eps, manifest, log.jsonl(), force=force, exist_ok=exist_ok)
