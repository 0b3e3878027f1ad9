"""Resuming: a killed matrix keeps its finished runs byte for byte and restarts the partial one;
a finished spec run again does nothing. Driven through the real CLI in a subprocess."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

import benchfakes
from baselines.core.errors import UserError
from benchmark import cli, store
from benchmark.api import plan
from benchmark.runner import run_one

SPEC = {
    "name": "tiny",
    "envs": [{"env": "fake:grid", "agents": [2], "options": {"sleep_s": 0.25}}],
    "algos": ["mappo"],
    "seeds": [1, 2, 3],
    "budget": {"env_steps": 400},
    "eval": {"interval": 100, "episodes": 2},
    "workers": 1,
}


def snapshot(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(run_dir.iterdir())}


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def fakes(monkeypatch):
    benchfakes.install(monkeypatch)


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def test_killed_matrix_resumes_without_redoing_finished_runs(tmp_path, spec_file, fakes):
    results = tmp_path / "results"
    runs_dir = results / "tiny" / "runs"
    proc = benchfakes.leed_bench("run", str(spec_file), "--results-dir", str(results))

    def one_done_one_partial() -> bool:
        dirs = [p for p in runs_dir.glob("*") if p.is_dir()] if runs_dir.exists() else []
        done = [p for p in dirs if (p / "done").exists()]
        partial = [p for p in dirs if not (p / "done").exists() and (p / "metrics.csv").exists()]
        return bool(done and partial)

    wait_for(one_done_one_partial)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(1.0)  # an orphaned worker would write on now; it must have died with its parent

    finished = {p.name: snapshot(p) for p in runs_dir.iterdir() if (p / "done").exists()}
    partial = [p.name for p in runs_dir.iterdir() if not (p / "done").exists()]
    assert len(partial) == 1 and 1 <= len(finished) < 3
    partial_started = store.read_run(runs_dir / partial[0])["provenance"]["started_at"]
    partial_bytes = (runs_dir / partial[0] / "metrics.csv").read_bytes()

    again = benchfakes.leed_bench("run", str(spec_file), "--results-dir", str(results))
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert f"{len(finished)} already done, {3 - len(finished)} to run (1 partial, restarted)" in out

    for run_id, files in finished.items():
        assert snapshot(runs_dir / run_id) == files  # same bytes, never rewritten
    restarted = runs_dir / partial[0]
    assert (restarted / "done").exists()
    assert store.read_run(restarted)["provenance"]["started_at"] >= partial_started
    assert (restarted / "metrics.csv").read_bytes() != partial_bytes  # a whole new curve
    assert "error.txt" not in os.listdir(restarted)

    table = pd.read_csv(results / "tiny" / "table.csv")
    expected_ids = {r.run_id for r in plan(spec_file)[1]}
    assert set(table.run_id) == expected_ids
    curves = table.groupby("run_id").env_steps.apply(list).tolist()
    assert curves == [[0, 100, 200, 300, 400]] * 3  # each run exactly once


def test_second_invocation_of_a_finished_spec_redoes_nothing(tmp_path, spec_file):
    results = tmp_path / "results"
    first = benchfakes.leed_bench("run", str(spec_file), "--results-dir", str(results))
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.count("done   mappo fake:grid") == 3
    before = {p: p.stat().st_mtime_ns for p in (results / "tiny").rglob("*")}

    started = time.perf_counter()
    second = benchfakes.leed_bench("run", str(spec_file), "--results-dir", str(results))
    out, err = second.communicate(timeout=60)
    elapsed = time.perf_counter() - started
    assert second.returncode == 0, err
    assert "3 runs, 3 already done, 0 to run" in out and "done   " not in out
    assert {p: p.stat().st_mtime_ns for p in (results / "tiny").rglob("*")} == before
    assert elapsed < 30  # seconds (about 4 on an idle machine): imports only, no worker started


# --- the runner, in-process ----------------------------------------------------------------

def test_leed_run_records_demo_provenance_and_charges_generation_time(tmp_path, monkeypatch, fakes):
    calls = []

    class FakeDemos:
        def provenance(self):
            return {"source": "cache", "generator": {"kind": "scripted"}, "demo_s": 42.0}

    def resolve_demos(ref, env_key, n_agents, episodes, make_env):
        calls.append((ref, env_key, n_agents, episodes))
        return FakeDemos()

    monkeypatch.setitem(sys.modules, "leed.demos", SimpleNamespace(resolve_demos=resolve_demos))
    spec = {**SPEC, "algos": ["leed"], "seeds": [1], "demos": {"source": "scripted", "episodes": 5},
            "envs": [{"env": "fake:grid", "agents": [2]}]}
    (run,) = plan(spec)[1]
    summary = run_one(run, tmp_path / "tiny")
    assert calls == [("scripted", "fake:grid", 2, 5)]
    record = store.read_run(store.run_dir(tmp_path / "tiny", run.run_id))
    assert record["demo_s"] == 42.0 and summary["demo_s"] == 42.0
    demos = record["provenance"]["demos"]
    assert demos["generator"] == {"kind": "scripted"} and demos["ref"] == "scripted"
    assert store.load_table(tmp_path / "tiny").demo_s.unique().tolist() == [42.0]


def test_epymarl_algorithms_go_to_the_epymarl_backend(tmp_path, monkeypatch, fakes):
    import benchmark.spec

    monkeypatch.setattr(benchmark.spec, "epymarl_available", lambda: False)
    spec = {**SPEC, "algos": ["epymarl:qmix"], "seeds": [1]}
    with pytest.raises(UserError, match="EPyMARL backend not available"):
        plan(spec)

    monkeypatch.setattr(benchmark.spec, "epymarl_available", lambda: True)
    (run,) = plan(spec)[1]
    monkeypatch.setitem(sys.modules, "baselines.epymarl", None)  # not installed after all
    with pytest.raises(UserError, match="EPyMARL backend not available"):
        run_one(run, tmp_path / "a")

    seen = []

    def run_epymarl(cfg, run_dir, on_eval):
        seen.append((cfg.algo, Path(run_dir).name))
        on_eval(benchfakes.fake_train(cfg, None))
    monkeypatch.setitem(sys.modules, "baselines.epymarl", SimpleNamespace(run_epymarl=run_epymarl))
    run_one(run, tmp_path / "b")
    assert seen == [("epymarl:qmix", run.run_id)]
    assert store.load_table(tmp_path / "b").backend.tolist() == ["epymarl"]


def test_train_command_trains_one_run_and_prints_the_final_line(tmp_path, capsys, fakes):
    argv = ["train", "--algo", "qmix", "--env", "fake:grid", "--agents", "3", "--steps", "200",
            "--seed", "4", "--eval-interval", "100", "--set", "lr=5e-4", "--set", "env.sleep_s=0",
            "--results-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("final eval_return=") and "env_steps=200 wall_s=" in lines[-1]
    (run_dir,) = store.finished_run_dirs(tmp_path / "train")
    config = store.read_run(run_dir)["config"]
    assert (config["algo"], config["n_agents"], config["seed"], config["overrides"]) == \
        ("qmix", 3, 4, {"lr": 0.0005})
    assert config["env_options"] == {"sleep_s": 0}
    first = (run_dir / "run.json").read_text()
    assert cli.main(argv) == 0  # train always trains afresh, in the same folder
    assert (run_dir / "run.json").read_text() != first
    assert len(store.finished_run_dirs(tmp_path / "train")) == 1
