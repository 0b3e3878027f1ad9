"""Env-steps per second of the paper preset's environments, from the learners' own loop.

SMAX `smacv2_{5,10,20}_units` and VMAS navigation with 4, 16, 64 and 128 agents, each stepped
by `baselines.core.rollout.Collector.collect` with uniformly random available actions (what a
training run pays per env step, minus the network), 32 copies by default. An env-step is one
step of one copy. Each case runs in its own process so one env's threads or caches do not slow
the next; SMAX uses the jax compilation cache (compile time is in `make s`, near 0 once cached).
`smax_throughput` splits SMAX's setup into import / trace / compile, cold and warm.

Run: `python -m benchmark.perf.paper_envs [--seconds S] [--num-envs E] [--only vmas]`.
"""
from __future__ import annotations

import argparse

from benchmark.perf.smax_throughput import measure_in_process, print_load_note

CASES = [  # (env key, agents)
    ("smax:smacv2_5_units", 5),
    ("smax:smacv2_10_units", 10),
    ("smax:smacv2_20_units", 20),
    ("vmas:navigation", 4),
    ("vmas:navigation", 16),
    ("vmas:navigation", 64),
    ("vmas:navigation", 128),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="collection time per case (default 10)")
    parser.add_argument("--num-envs", type=int, default=32, help="copies stepped together (default 32)")
    parser.add_argument("--only", default="", help="run cases whose env key contains this text")
    args = parser.parse_args(argv)
    from benchmark.envs import FAMILIES

    print(f"{'env':<22} {'agents':>6} {'copies':>6} {'env-steps/s':>11} {'per cpu-s':>9} {'ms/step':>8} "
          f"{'make s':>6}", flush=True)
    for key, n_agents in CASES:
        if args.only not in key:
            continue
        ok, hint = FAMILIES[key.split(":")[0]].available()
        if not ok:
            print(f"{key:<22} {n_agents:>6}  not installed: {hint}", flush=True)
            continue
        r = measure_in_process(key, n_agents, args.num_envs, args.seconds)
        print(f"{key:<22} {n_agents:>6} {args.num_envs:>6} {r['env_steps_per_s']:>11.0f} "
              f"{r['env_steps_per_cpu_s']:>9.0f} {r['vec_step_ms']:>8.2f} {r['make_wall_s']:>6.1f}", flush=True)
    print_load_note()


if __name__ == "__main__":
    main()
