"""One training run: collect, update, evaluate greedily every `eval_interval` env steps.

The harness (`benchmark`) builds the environment factory and the demonstrations and passes them
in; this module never imports the harness.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from baselines.core.errors import UserError
from baselines.core.evaluate import evaluate
from baselines.core.rollout import Collector
from baselines.registry import build_config, get_algo, make_learner


@dataclass
class TrainConfig:
    """Everything that defines one run; its content hash is the run id in the harness."""

    algo: str
    env: str  # "family:scenario"
    n_agents: int
    seed: int = 0
    env_steps: int = 200_000
    eval_interval: int = 10_000
    eval_episodes: int = 32
    # "auto": each family's EPyMARL test mode — policy learners sample from their policy
    # (EPyMARL's soft_policies selector samples in test mode too), value learners act greedily.
    eval_mode: str = "auto"  # auto | greedy | sample
    num_envs: int | None = None  # None: the algorithm's default (EPyMARL's batch_size_run)
    overrides: dict[str, Any] = field(default_factory=dict)  # learner hyperparameters
    env_options: dict[str, Any] = field(default_factory=dict)
    demos: str | None = None  # LEED: a demonstration-set folder or hub reference


def train(
    cfg: TrainConfig,
    make_env: Callable[..., Any],
    on_eval: Callable[[dict], None] | None = None,
    progress: bool = False,
    demos: Any = None,
    learner_hook: Callable[[Any], None] | None = None,
) -> dict:
    """Run `cfg` to completion; call `on_eval(row)` after every evaluation; return the last row.

    `make_env(key, n_agents, num_envs, seed=..., **options)` builds a `VecEnv`. Evaluation is
    greedy, on a separate set of `eval_episodes` env copies, at step 0, every `eval_interval`
    env steps, and at the end.
    """
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    start = time.perf_counter()
    entry = get_algo(cfg.algo)
    eval_mode = resolve_eval_mode(cfg.eval_mode, entry.family)
    num_envs = cfg.num_envs or build_config(cfg.algo, cfg.overrides).num_envs
    env = make_env(cfg.env, cfg.n_agents, num_envs, seed=cfg.seed, **cfg.env_options)
    eval_env = make_env(cfg.env, cfg.n_agents, cfg.eval_episodes, seed=cfg.seed + 1, **cfg.env_options)
    try:
        learner = make_learner(cfg.algo, env.info, cfg.overrides, seed=cfg.seed,
                               demos=demos if entry.needs_demos else None)
        if learner_hook:  # lets scripts inspect or evaluate the learner after training
            learner_hook(learner)
        collector = Collector(env, seed=cfg.seed)
        bar = tqdm(total=cfg.env_steps, unit="step", disable=not progress, dynamic_ncols=True,
                   desc=f"{cfg.algo} {cfg.env} n={cfg.n_agents} seed={cfg.seed}")
        update_s, train_returns, n_evals, last_row = 0.0, [], 0, {}

        def evaluate_now() -> dict:
            nonlocal n_evals, train_returns
            row = {"env_steps": collector.env_steps, "wall_s": time.perf_counter() - start,
                   "episodes": collector.episodes, "updates": learner.updates, "update_s": update_s,
                   **evaluate(eval_env, learner.act, seed=cfg.seed * 100_003 + n_evals, t_env=collector.env_steps,
                               sample=eval_mode == "sample"),
                   "eval_mode": eval_mode,
                   "train_return": float(np.mean(train_returns)) if train_returns else float("nan")}
            row["wall_s"] = time.perf_counter() - start  # include the evaluation itself
            n_evals, train_returns = n_evals + 1, []
            if on_eval:
                on_eval(row)
            bar.set_postfix(eval_return=f"{row['eval_return']:.3f}")
            return row

        last_row = evaluate_now()
        next_eval = cfg.eval_interval
        while collector.env_steps < cfg.env_steps:
            before_steps, t0 = collector.env_steps, time.perf_counter()
            collect_before = collector.collect_s
            episodes, stats = learner.iterate(collector, collector.env_steps)
            update_s += (time.perf_counter() - t0) - (collector.collect_s - collect_before)
            check_finite(stats, cfg, collector.env_steps)
            train_returns += episodes.returns
            bar.update(collector.env_steps - before_steps)
            if collector.env_steps >= next_eval or collector.env_steps >= cfg.env_steps:
                last_row = evaluate_now()
                while next_eval <= collector.env_steps:
                    next_eval += cfg.eval_interval
        bar.close()
        return last_row
    finally:
        env.close()
        eval_env.close()


def resolve_eval_mode(mode: str, family: str) -> str:
    """'auto' -> the family's EPyMARL test mode; sampling only makes sense for a policy."""
    if mode not in ("auto", "greedy", "sample"):
        raise UserError(f"eval_mode must be auto, greedy or sample, got {mode!r}")
    if mode == "auto":
        return "greedy" if family == "value" else "sample"
    if mode == "sample" and family == "value":
        raise UserError("eval_mode 'sample' needs a policy learner; value learners evaluate greedily")
    return mode


def check_finite(stats: dict[str, float], cfg: TrainConfig, env_steps: int) -> None:
    """A NaN loss means the run is garbage from here on: stop it loudly rather than log noise."""
    bad = [k for k, v in stats.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"{cfg.algo} on {cfg.env}: non-finite {', '.join(bad)} at {env_steps} env steps")
