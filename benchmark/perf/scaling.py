"""Scalability on VMAS navigation: env-steps/s, one MAPPO iteration, one LEED update, vs agents.

For each agent count: env-steps/s under random valid actions (the learners' collection loop,
`Collector`, with a random policy), seconds for one MAPPO training iteration (collect one
segment + update), and seconds per LEED update (PPO + expert loss on scripted demonstrations
generated for that agent count), then the log-log slope of seconds per update against agent
count (1 = linear growth).

    python -m benchmark.perf.scaling --agents 4 16 64
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import leed  # noqa: F401  (registers "leed")
from baselines.core.rollout import Collector
from baselines.registry import make_learner
from benchmark.envs import make_env
from leed.demos import resolve_demos

ENV = "vmas:navigation"


def random_act(obs, avail, hidden, explore, t_env, rng=np.random.default_rng(0)):
    scores = np.where(avail.numpy(), rng.random(avail.shape), -1.0)
    return torch.from_numpy(scores.argmax(-1)), hidden


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, first reset)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--rollout-len", type=int, default=20, help="steps per env per iteration")
    parser.add_argument("--demo-episodes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'agents':>6} {'env-steps/s':>11} {'mappo iter s':>12} {'leed update s':>13} {'demo gen s':>10} {'demo return':>11}")
    update_s = []
    for n in args.agents:
        env = make_env(ENV, n, args.num_envs, seed=0)
        collector = Collector(env, seed=0)
        steps = 5
        t0 = time.perf_counter()
        collector.collect(random_act, steps, 0)
        env_rate = steps * args.num_envs / (time.perf_counter() - t0)

        overrides = {"rollout_len": args.rollout_len}
        mappo = make_learner("mappo", env.info, overrides, seed=0)
        mappo_s = timed(lambda: mappo.iterate(collector, collector.env_steps), args.repeats)

        t0 = time.perf_counter()
        demos = resolve_demos("scripted", ENV, n, episodes=args.demo_episodes, make_env=make_env)
        demo_s = time.perf_counter() - t0
        learner = make_learner("leed", env.info, overrides, seed=0, demos=demos)
        segment, _ = collector.collect(learner.act, args.rollout_len, 0)
        leed_s = timed(lambda: learner.update(segment), args.repeats)
        update_s.append(leed_s)
        print(f"{n:>6} {env_rate:>11.0f} {mappo_s:>12.2f} {leed_s:>13.3f} {demo_s:>10.1f} "
              f"{float(np.mean(demos.episode_returns)):>11.2f}", flush=True)
        env.close()
    if len(args.agents) > 1:
        slope = np.polyfit(np.log(args.agents), np.log(update_s), 1)[0]
        print(f"log-log slope of LEED seconds per update against agent count: {slope:.2f} "
              f"({'at most linear' if slope <= 1.05 else 'super-linear'})")


if __name__ == "__main__":
    main()
