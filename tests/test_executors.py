"""Executors: the local pool and Ray leave the same results; a failed run does not stop the rest."""
from __future__ import annotations

import pandas as pd
import pytest

import benchfakes
from benchmark import store
from benchmark.api import plan, run_experiment
from benchmark.executors import execute


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    benchfakes.install(monkeypatch)


def quick_spec(**changes) -> dict:
    return {"name": "tiny", "envs": [{"env": "fake:grid", "agents": [2, 3]}], "algos": ["mappo"],
            "seeds": [1, 2], "budget": {"env_steps": 400}, "eval": {"interval": 100}, **changes}


def test_local_pool_runs_every_run_once_in_parallel_workers(tmp_path):
    lines = []
    _, runs = plan(quick_spec())
    outcome = execute(runs, tmp_path / "tiny", workers=2, train_fn=benchfakes.fake_train,
                      echo=lines.append)
    assert sorted(s["run_id"] for s in outcome.finished) == sorted(r.run_id for r in runs)
    assert outcome.failed == [] and outcome.skipped == []
    done_lines = [line for line in lines if line.startswith("done ")]
    assert len(done_lines) == 4 and all("eval_return=" in line and "wall_s=" in line
                                        for line in done_lines)
    again = execute(runs, tmp_path / "tiny", workers=2, echo=lines.append)
    assert again.finished == [] and len(again.skipped) == 4


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, capsys):
    spec = quick_spec(envs=[{"env": "fake:grid", "agents": [2]},
                            {"env": "fake:broken", "agents": [2], "options": {"fail": True}}],
                      seeds=[1])
    result = run_experiment(spec, results_dir=tmp_path, workers=2)
    assert len(result.outcome.finished) == 1 and len(result.outcome.failed) == 1
    run_id, reason = result.outcome.failed[0]
    assert reason.startswith("FloatingPointError: loss is nan")
    error_file = store.run_dir(tmp_path / "tiny", run_id) / "error.txt"
    assert "Traceback" in error_file.read_text() and "fake_train" in error_file.read_text()
    assert "FAILED mappo fake:broken" in capsys.readouterr().out
    assert set(result.table.env) == {"fake:grid"}


def test_a_worker_killed_by_the_os_fails_only_its_own_run(tmp_path, capsys):
    spec = quick_spec(envs=[{"env": "fake:oom", "agents": [2], "options": {"die": True}},
                            {"env": "fake:grid", "agents": [2]}], seeds=[1, 2])
    result = run_experiment(spec, results_dir=tmp_path, workers=1)  # the dying run goes first
    assert len(result.outcome.finished) == 2 and len(result.outcome.failed) == 2
    reasons = [reason for _, reason in result.outcome.failed]
    assert all(r.startswith("WorkerDied: its worker process was killed by signal 9 (SIGKILL") for r in reasons)
    assert set(result.table.env) == {"fake:grid"} and set(result.table.seed) == {1, 2}


@pytest.mark.slow
def test_ray_executor_gives_the_same_runs_and_columns_as_the_local_pool(tmp_path):
    pytest.importorskip("ray")
    import yaml

    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump(quick_spec()))
    tables = {}
    for executor in ("local", "ray"):
        results = tmp_path / executor
        proc = benchfakes.leed_bench("run", str(spec_file), "--results-dir", str(results),
                          "--executor", executor, "--workers", "2")
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert f"on {executor} x2" in out
        tables[executor] = pd.read_csv(results / "tiny" / "table.csv")
        assert sorted(p.name for p in (results / "tiny" / "runs").iterdir()) == \
            sorted(tables[executor].run_id.unique())
        for run_dir in (results / "tiny" / "runs").iterdir():
            assert sorted(p.name for p in run_dir.iterdir()) == ["done", "metrics.csv", "run.json"]
            assert store.read_run(run_dir)["experiment"] == "tiny"
    local, ray = tables["local"], tables["ray"]
    assert set(local.run_id) == set(ray.run_id) and len(set(local.run_id)) == 4
    assert list(local.columns) == list(ray.columns)
    deterministic = [c for c in local.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(local.sort_values(["run_id", "env_steps"])[deterministic].reset_index(drop=True),
                                  ray.sort_values(["run_id", "env_steps"])[deterministic].reset_index(drop=True))


def test_summary_line_shows_the_win_rate_only_where_the_task_has_one():
    from benchmark.runner import format_summary

    row = {"eval_return": 0.7, "eval_mode": "sample", "env_steps": 100, "wall_s": 3.0}
    assert "win_rate=0.250 " in format_summary({**row, "eval_win_rate": 0.25})
    assert "win_rate" not in format_summary({**row, "eval_win_rate": float("nan")})


def test_runs_go_seed_major_so_a_stopped_matrix_compares_every_cell(tmp_path):
    lines = []
    _, runs = plan(quick_spec(seeds=[1, 2]))  # listed cell by cell: (n=2, s1), (n=2, s2), (n=3, s1), ...
    execute(runs, tmp_path / "tiny", workers=1, train_fn=benchfakes.fake_train, echo=lines.append)
    done = [line.split()[3:5] for line in lines if line.startswith("done ")]
    assert done == [["n=2", "seed=1"], ["n=3", "seed=1"], ["n=2", "seed=2"], ["n=3", "seed=2"]]


def test_report_while_a_matrix_runs_covers_the_finished_runs_and_says_what_it_left_out(tmp_path, capsys):
    from benchmark.cli import main

    exp = tmp_path / "tiny"
    _, runs = plan(quick_spec())
    execute(runs[:3], exp, workers=1, train_fn=benchfakes.fake_train, echo=lambda _: None)
    store.start_run(exp, runs[3].run_id, {"run_id": runs[3].run_id})  # started, not finished
    assert not (exp / "table.csv").exists()
    assert main(["report", str(exp), "--no-figures", "--reps", "200"]) == 0
    assert pd.read_csv(exp / "table.csv").run_id.nunique() == 3
    assert "1 run(s) started but not finished are left out" in (exp / "report.md").read_text()
