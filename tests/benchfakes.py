"""Fast stand-ins for the harness tests: an environment check and a training loop.

The harness is tested on its own contract (spec, matrix, store, executors), not on how fast a
real learner trains. Algorithm names and overrides go through the real registry. Run as a
script, this patches the fakes in and calls the real CLI, so subprocess tests (SIGKILL, Ray)
exercise `leed-bench` and its worker processes end to end:

    python tests/benchfakes.py run tiny.yaml --results-dir /tmp/results

The fake env family `fake` takes 1 to 4 agents; its options steer the fake learner:
`sleep_s` (seconds per evaluation interval, so a kill has something to hit), `fail` (raise) and
`die` (the worker process SIGKILLs itself).
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from baselines.core.env_api import AgentCountError, EnvError

MAX_AGENTS = {"fake": 4, "lbf": 9, "vmas": 128, "smax": 20}


def check_env(key: str, n_agents: int) -> None:
    family = key.split(":", 1)[0]
    if family not in MAX_AGENTS:
        raise EnvError(f"unknown env family {family!r} (known: {', '.join(sorted(MAX_AGENTS))})")
    if not 1 <= n_agents <= MAX_AGENTS[family]:
        raise AgentCountError(f"{key} takes 1 to {MAX_AGENTS[family]} agents, got {n_agents}")


def fake_train(cfg, make_env, on_eval=None, progress=False, demos=None) -> dict[str, Any]:
    """Evaluation rows shaped like `baselines.train.train`'s; deterministic but for wall_s."""
    if cfg.env_options.get("fail"):
        raise FloatingPointError("loss is nan (the fake learner was told to fail)")
    if cfg.env_options.get("die"):  # as the OS's out-of-memory killer would
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    rng = random.Random(f"{cfg.algo}/{cfg.env}/{cfg.n_agents}/{cfg.seed}")
    started = time.perf_counter()
    checkpoints = sorted({*range(0, cfg.env_steps, cfg.eval_interval), cfg.env_steps})
    row: dict[str, Any] = {}
    for i, env_steps in enumerate(checkpoints):
        if i:
            time.sleep(cfg.env_options.get("sleep_s", 0.0))
        ret = min(1.0, env_steps / cfg.env_steps * rng.uniform(0.5, 1.0))
        row = {
            "env_steps": env_steps, "wall_s": round(time.perf_counter() - started, 4),
            "episodes": env_steps // 50, "updates": i, "update_s": 0.001 * i,
            "eval_return": round(ret, 6), "eval_return_std": 0.1,
            "eval_win_rate": float("nan"), "eval_episodes": cfg.eval_episodes,
            "train_return": round(ret / 2, 6),
        }
        if on_eval:
            on_eval(row)
    return row


def install(monkeypatch) -> None:
    """Patch the fakes in (pytest's monkeypatch undoes it after the test)."""
    import baselines.train
    import benchmark.matrix

    monkeypatch.setattr(benchmark.matrix, "check_env", check_env)
    monkeypatch.setattr(baselines.train, "train", fake_train)


def leed_bench(*args: str) -> subprocess.Popen:
    """`leed-bench ARGS` with the fakes, in a process of its own, as a user would run it."""
    here = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, __file__, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


if __name__ == "__main__":
    import benchfakes  # this file again, under an importable name, so workers can unpickle it

    benchfakes.install(SimpleNamespace(setattr=setattr))
    from benchmark.cli import main

    sys.exit(main(sys.argv[1:]))
