"""Env-steps per second of the adapters under random valid actions.

An env-step is one step of one copy: stepping E copies once counts E. Includes auto-resets,
excludes the first reset. Run: `python -m benchmark.perf.env_throughput [--seconds S]`.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmark.envs import lbf, make_env

CASES = [  # (key, n_agents, num_envs)
    ("lbf:Foraging-8x8-2p-2f-v3", 2, 10),
    ("lbf:Foraging-8x8-4p-2f-v3", 4, 10),
    ("vmas:navigation", 4, 32),
    ("vmas:navigation", 16, 32),
    ("vmas:navigation", 64, 32),
    ("vmas:navigation", 128, 32),
]


def random_valid_actions(rng: np.random.Generator, avail: np.ndarray) -> np.ndarray:
    """One uniformly random available action per agent (Gumbel-max over the mask)."""
    scores = np.where(avail, rng.random(avail.shape), -1.0)
    return scores.argmax(-1)


def measure(key: str, n_agents: int, num_envs: int, seconds: float, min_steps: int = 3) -> dict:
    """Step for about `seconds` (at least `min_steps` vector steps); returns timings."""
    start = time.perf_counter()
    env = make_env(key, n_agents, num_envs, seed=0)
    _, _, avail = env.reset(seed=0)
    setup_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < seconds:
        avail = env.step(random_valid_actions(rng, avail)).avail
        steps += 1
    wall_s = time.perf_counter() - start
    env.close()
    return {"env_steps_per_s": steps * num_envs / wall_s, "vec_step_ms": 1e3 * wall_s / steps,
            "steps": steps, "setup_s": setup_s}


def raw_lbf_step_us(n_agents: int, seconds: float) -> float:
    """Microseconds per `ForagingEnv.step` of unpatched lbforaging (no gym wrappers), one copy."""
    task = lbf.parse_scenario(f"Foraging-8x8-{n_agents}p-2f-v3")
    env = lbf.make_raw(task, n_agents, 50)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if env.step(rng.integers(0, 6, n_agents).tolist())[2]:
            env.reset()
        steps += 1
    return 1e6 * (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per case (default 2)")
    parser.add_argument("--only", default="", help="run cases whose key contains this text")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # VMAS is fastest single-threaded here; workers do the same
    print(f"{'env':<28} {'agents':>6} {'copies':>6} {'env-steps/s':>12} {'ms/vec-step':>12} {'setup s':>8}")
    for key, n_agents, num_envs in CASES:
        if args.only in key:
            r = measure(key, n_agents, num_envs, args.seconds)
            print(f"{key:<28} {n_agents:>6} {num_envs:>6} {r['env_steps_per_s']:>12.0f} "
                  f"{r['vec_step_ms']:>12.2f} {r['setup_s']:>8.2f}", flush=True)
    if any(args.only in key for key, _, _ in CASES if key.startswith("lbf:")):
        for n_agents in (2, 4):
            us = raw_lbf_step_us(n_agents, args.seconds / 2)
            print(f"lbforaging raw ForagingEnv.step, {n_agents}p 8x8 2f: {us:.0f} us/step "
                  f"({1e6 / us:.0f} steps/s, one copy)", flush=True)


if __name__ == "__main__":
    main()
