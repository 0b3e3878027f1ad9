"""Issue 2's learning check: native MAPPO on lbf:Foraging-8x8-2p-2f-v3 (time limit 50), 200k steps.

Prints, per seed, the final evaluation return (in the family's EPyMARL test mode: sampled
actions for MAPPO, and, for reference, greedy actions too), env steps and wall seconds, next to
EPyMARL's figure on the same kind of 2-core machine (its 9 min 49 s for 200k steps, from its
sacred run; pass --epymarl-wall-s to use one measured side by side).

    python -m benchmark.perf.mappo_lbf --seeds 1 2 3
    python -m benchmark.perf.mappo_lbf --seeds 1 2 3 --no-action-masks   # as EPyMARL's gymma

EPyMARL's gymma wrapper offers every LBF action, valid or not; `--no-action-masks` does the
same here, the like-for-like setting for a greedy comparison (docs/epymarl.md says how to make
EPyMARL's MAPPO test greedily).
"""
from __future__ import annotations

import argparse
import time

import torch

from baselines.core.evaluate import evaluate
from baselines.train import TrainConfig, train

EPYMARL_WALL_S = 9 * 60 + 49  # EPyMARL MAPPO, 200k steps, 2-core CPU machine (shared fixtures' run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--eval-episodes", type=int, default=100)  # EPyMARL's test_nepisode
    parser.add_argument("--epymarl-wall-s", type=float, default=EPYMARL_WALL_S)
    parser.add_argument("--action-masks", action=argparse.BooleanOptionalAction, default=True,
                        help="mask invalid LBF actions (default); --no-action-masks as EPyMARL's gymma")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from benchmark.envs import make_env

    print(f"{'seed':>4} {'final(sample)':>13} {'final(greedy)':>13} {'env_steps':>9} {'wall_s':>7} {'vs EPyMARL':>10}")
    for seed in args.seeds:
        cfg = TrainConfig("mappo", "lbf:Foraging-8x8-2p-2f-v3", 2, seed=seed, env_steps=args.steps,
                          eval_interval=10_000, eval_episodes=args.eval_episodes,
                          env_options={} if args.action_masks else {"action_masks": False})
        t0 = time.perf_counter()
        learners = []
        last = train(cfg, make_env, learner_hook=learners.append)
        wall = time.perf_counter() - t0
        env = make_env(cfg.env, 2, args.eval_episodes, seed=seed + 7, **cfg.env_options)
        greedy = evaluate(env, learners[0].act, seed=seed + 7, t_env=args.steps, sample=False)["eval_return"]
        print(f"{seed:>4} {last['eval_return']:>13.3f} {greedy:>13.3f} {last['env_steps']:>9} {wall:>7.1f} "
              f"{wall / args.epymarl_wall_s:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
