"""The results store: atomic files, done written last, a tidy table of finished runs only."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from baselines.train import TrainConfig
from benchmark import store
from benchmark.matrix import Run

ROW = {"env_steps": 0, "wall_s": 0.5, "episodes": 0, "updates": 0, "update_s": 0.0,
       "eval_return": 0.25, "eval_return_std": 0.1, "eval_win_rate": float("nan"),
       "eval_episodes": 4, "train_return": float("nan")}


def make_run(seed=1, algo="mappo", demo_episodes=None) -> Run:
    return Run(TrainConfig(algo=algo, env="lbf:Foraging-8x8-2f-v3", n_agents=2, seed=seed,
                           env_steps=100, eval_interval=50, eval_episodes=4),
               demo_episodes=demo_episodes)


def finished_run(exp_dir, run: Run, rows=(ROW,), **extra) -> None:
    record = {"run_id": run.run_id, "config": run.identity(), "backend": "native", **extra}
    path = store.start_run(exp_dir, run.run_id, record)
    writer = store.MetricsWriter(path)
    for row in rows:
        writer.append(row)
    store.finish_run(path, {**record, "finished_at": store.now_iso()})


def test_atomic_write_replaces_whole_file_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "x.json"
    store.atomic_write_json(path, {"a": 1, "nan": float("nan")})
    store.atomic_write_json(path, {"a": 2, "nan": float("nan")})
    assert json.loads(path.read_text()) == {"a": 2, "nan": None}  # strict JSON, not NaN
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.json"
    store.atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        store.atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_metrics_csv_has_the_documented_columns_then_extras(tmp_path):
    writer = store.MetricsWriter(tmp_path)
    writer.append(ROW)
    writer.append({**ROW, "env_steps": 50, "loss": 0.3})
    frame = pd.read_csv(tmp_path / "metrics.csv")
    assert list(frame.columns) == store.METRIC_COLUMNS + ["loss"]
    assert frame.env_steps.tolist() == [0, 50]
    assert math.isnan(frame.eval_win_rate[0]) and math.isnan(frame.loss[0])


def test_start_run_deletes_a_partial_run_but_refuses_a_finished_one(tmp_path):
    run = make_run()
    path = store.start_run(tmp_path, run.run_id, {"run_id": run.run_id})
    (path / "metrics.csv").write_text("half a row")
    store.start_run(tmp_path, run.run_id, {"run_id": run.run_id})
    assert sorted(p.name for p in path.iterdir()) == ["run.json"]
    finished_run(tmp_path / "exp", run)
    with pytest.raises(FileExistsError):
        store.start_run(tmp_path / "exp", run.run_id, {})


def test_done_is_written_after_run_json_and_metrics(tmp_path):
    run = make_run()
    finished_run(tmp_path, run)
    path = store.run_dir(tmp_path, run.run_id)
    mtimes = {p.name: p.stat().st_mtime_ns for p in path.iterdir()}
    assert mtimes["done"] >= max(mtimes["run.json"], mtimes["metrics.csv"])


def test_table_has_finished_runs_only_with_tidy_columns(tmp_path):
    exp = tmp_path / "quick"
    a, b, partial = make_run(seed=1), make_run(seed=2, algo="leed", demo_episodes=8), make_run(3)
    finished_run(exp, a, rows=[ROW, {**ROW, "env_steps": 50, "eval_return": 0.5}])
    finished_run(exp, b, demo_s=12.5)
    store.start_run(exp, partial.run_id, {"run_id": partial.run_id})

    table = store.load_table(exp)
    assert list(table.columns) == store.RUN_COLUMNS + store.METRIC_COLUMNS
    assert sorted(table.run_id.unique()) == sorted([a.run_id, b.run_id])
    assert len(table) == 3
    first = table[table.run_id == a.run_id].iloc[-1]
    assert (first.experiment, first.algo, first.family, first.scenario) == \
        ("quick", "mappo", "lbf", "Foraging-8x8-2f-v3")
    assert (first.n_agents, first.seed, first.backend, first.eval_return) == (2, 1, "native", 0.5)
    assert math.isnan(first.demo_s)
    assert table[table.run_id == b.run_id].demo_s.tolist() == [12.5]

    path = store.write_table(exp)
    assert pd.read_csv(path).shape == table.shape


def test_table_of_an_empty_experiment_has_the_columns(tmp_path):
    assert list(store.load_table(tmp_path).columns) == store.RUN_COLUMNS + store.METRIC_COLUMNS


def test_unchanged_table_is_not_rewritten(tmp_path):
    finished_run(tmp_path, make_run())
    path = store.write_table(tmp_path)
    before = path.stat().st_mtime_ns
    store.write_table(tmp_path)
    assert path.stat().st_mtime_ns == before


def test_write_run_files_puts_done_last(tmp_path):
    files = {"done": b"x\n", "run.json": b"{}", "metrics.csv": b"env_steps\n0\n"}
    path = store.write_run_files(tmp_path, "abc123abc123", files)
    mtimes = {p.name: p.stat().st_mtime_ns for p in path.iterdir()}
    assert mtimes["done"] >= max(mtimes["run.json"], mtimes["metrics.csv"])
    assert (path / "metrics.csv").read_bytes() == files["metrics.csv"]


def test_provenance_records_code_libraries_hardware_and_time():
    prov = store.provenance()
    assert set(prov) >= {"git_commit", "git_dirty", "package_version", "python", "libraries",
                         "hardware", "hostname", "started_at"}
    assert prov["package_version"]
    assert prov["libraries"]["torch"] and prov["libraries"]["numpy"]
    assert "lbforaging" in prov["libraries"] and "vmas" in prov["libraries"]
    hw = prov["hardware"]
    assert hw["cores"] >= 1 and hw["cpu"] and "gpu" in hw and "memory_gb" in hw
    if prov["git_commit"] is not None:
        assert len(prov["git_commit"]) == 40 and isinstance(prov["git_dirty"], bool)
    json.dumps(prov)
