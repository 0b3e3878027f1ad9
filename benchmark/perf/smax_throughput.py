"""Env-steps per second of `smax:smacv2_{5,10,20}_units` from the learners' own loop, and compile time.

The loop is `baselines.core.rollout.Collector.collect` with a random act function (uniform over
the available actions, in torch like a learner's `act`), so the figure includes everything a
training run pays per env step except the network. An env-step is one step of one copy.
Setup time is split into jax import, trace+lower and XLA compile; each case runs in a fresh
process twice, first with an empty jax compilation cache (cold) and then with the cache that
first run wrote (warm), unless `--no-cold`.

Run: `python -m benchmark.perf.smax_throughput [--seconds S] [--num-envs E] [--only 5]`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SCENARIOS = {"smacv2_5_units": 5, "smacv2_10_units": 10, "smacv2_20_units": 20}


def random_act(generator):
    """A learner-shaped `act`: one uniformly random available action per agent (Gumbel-max)."""
    import torch

    def act(obs, avail, hidden, explore, t_env):
        scores = torch.where(avail, torch.rand(avail.shape, generator=generator), torch.tensor(-1.0))
        return scores.argmax(-1), hidden

    return act


def measure(scenario: str, num_envs: int, seconds: float, segment: int = 10) -> dict:
    """`measure_env` for `smax:<scenario>`, with the scenario's name in the result."""
    return {"scenario": scenario, **measure_env(f"smax:{scenario}", SCENARIOS[scenario], num_envs, seconds, segment)}


def measure_env(key: str, n_agents: int, num_envs: int, seconds: float, segment: int = 10) -> dict:
    """Collect `segment`-step pieces for about `seconds`; returns setup and throughput figures."""
    import torch

    from baselines.core.rollout import Collector
    from benchmark.envs import make_env

    torch.set_num_threads(1)  # as benchmark.runner sets in every worker
    wall0, cpu0 = time.perf_counter(), time.process_time()
    env = make_env(key, n_agents, num_envs, seed=0)
    setup = dict(getattr(env, "setup_seconds", {}), make_wall_s=time.perf_counter() - wall0,
                 make_cpu_s=time.process_time() - cpu0)
    collector = Collector(env, seed=0)
    act = random_act(torch.Generator().manual_seed(0))
    collector.collect(act, segment, 0)  # warm-up: first dispatch, allocator
    steps, wins, episodes = 0, 0.0, 0
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    while steps < 3 * segment or time.perf_counter() - start_wall < seconds:
        _, stats = collector.collect(act, segment, collector.env_steps)
        steps += segment
        wins += sum(stats.wins)  # empty where the env has no win condition
        episodes += len(stats.returns)
    wall_s, cpu_s = time.perf_counter() - start_wall, time.process_time() - start_cpu
    env.close()
    return {"num_envs": num_envs, "env_steps_per_s": steps * num_envs / wall_s,
            "env_steps_per_cpu_s": steps * num_envs / cpu_s, "vec_step_ms": 1e3 * wall_s / steps,
            "episodes": episodes, "random_win_rate": wins / max(episodes, 1), **setup}


def run_case(scenario: str, num_envs: int, seconds: float, cache: str | None) -> dict:
    """`measure` in a fresh process (so import and compile are paid again), with `cache` as jax's cache."""
    return {"scenario": scenario, **measure_in_process(f"smax:{scenario}", SCENARIOS[scenario], num_envs, seconds, cache)}


def measure_in_process(key: str, n_agents: int, num_envs: int, seconds: float,
                       jax_cache: str | None = None) -> dict:
    """`measure_env` in a fresh Python process; `jax_cache` (a folder) replaces jax's cache."""
    env = dict(os.environ)
    if jax_cache is not None:
        env["LEED_BENCH_JAX_CACHE"] = jax_cache
    code = ("import json; from benchmark.perf.smax_throughput import measure_env; "
            f"print('RESULT', json.dumps(measure_env({key!r}, {n_agents}, {num_envs}, {seconds})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"{key} with {n_agents} agents failed: {tail[0]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="collection time per case (default 10)")
    parser.add_argument("--num-envs", type=int, default=32, help="copies stepped together (default 32)")
    parser.add_argument("--only", default="", help="run scenarios whose name contains this text")
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache run (use the user cache)")
    args = parser.parse_args(argv)
    from benchmark.envs import FAMILIES

    ok, hint = FAMILIES["smax"].available()
    if not ok:
        raise SystemExit(f"smax_throughput: smax is not installed: {hint}")
    print(f"{'scenario':<16} {'copies':>6} {'cache':>5} {'env-steps/s':>11} {'per cpu-s':>9} {'ms/step':>8} "
          f"{'import s':>8} {'trace s':>7} {'compile s':>9} {'make cpu-s':>10}", flush=True)
    with tempfile.TemporaryDirectory(prefix="smax-jax-cache-") as cold_dir:
        for scenario in SCENARIOS:
            if args.only not in scenario:
                continue
            runs = [("cold", cold_dir), ("warm", cold_dir)] if not args.no_cold else [("user", None)]
            for label, cache in runs:
                r = run_case(scenario, args.num_envs, args.seconds, cache)
                print(f"{scenario:<16} {args.num_envs:>6} {label:>5} {r['env_steps_per_s']:>11.0f} "
                      f"{r['env_steps_per_cpu_s']:>9.0f} {r['vec_step_ms']:>8.2f} {r['import_s']:>8.1f} "
                      f"{r['trace_s']:>7.1f} {r['compile_s']:>9.1f} {r['make_cpu_s']:>10.1f}", flush=True)
    print_load_note()


def print_load_note() -> None:
    """Throughput under load is lower; say how loaded the machine was."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.1f} on {os.cpu_count()} cores while measuring; 'per cpu-s' divides by each "
          "case's own CPU time, which other processes on the machine do not inflate)")


if __name__ == "__main__":
    main()
