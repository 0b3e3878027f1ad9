"""marl-eval JSON (BenchMARL's `create_json` output): import, export, and back."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.marl_eval import from_marl_eval, to_marl_eval
from benchmark.perf.report_speed import synthetic_table

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "benchmarl-json" \
    / "mappo_vmas_navigation_seed0.json"


@pytest.fixture
def benchmarl():
    if not FIXTURE.is_file():
        pytest.skip(f"BenchMARL fixture not found at {FIXTURE} (shared fixtures not checked out)")
    return FIXTURE


def test_benchmarl_file_imports_and_exports_back_to_the_same_structure(benchmarl, tmp_path):
    assert main(["import", str(benchmarl), "--experiment", "bm", "--results-dir",
                 str(tmp_path), "--n-agents", "3"]) == 0
    exp = tmp_path / "bm"
    table = pd.read_csv(exp / "table.csv")
    assert set(table["backend"]) == {"imported"} and set(table["n_agents"]) == {3}
    assert list(table["env_steps"]) == [6000, 60000, 120000, 180000, 240000, 300000]
    run_dir = next((exp / "runs").iterdir())
    assert {p.name for p in run_dir.iterdir()} == {"run.json", "metrics.csv", "done"}

    assert main(["export", str(exp), "--format", "marl-eval", "--out",
                 str(tmp_path / "out.json")]) == 0
    original = json.loads(benchmarl.read_text())
    back = json.loads((tmp_path / "out.json").read_text())
    orig_run = original["vmas"]["navigation"]["mappo"]["seed_0"]
    back_run = back["vmas"]["navigation"]["mappo"]["seed_0"]
    assert sorted(back_run) == sorted(orig_run)  # step_0..step_5 + absolute_metrics
    for key, step in orig_run.items():
        if key == "absolute_metrics":  # kept in run.json; exported for the metrics we export
            assert back_run[key] == {"return": step["return"]}
            continue
        assert back_run[key]["step_count"] == step["step_count"]
        assert np.mean(back_run[key]["return"]) == pytest.approx(np.mean(step["return"]))
    # The BenchMARL README's own numbers: mean evaluation return 0.34 at 6k, 0.90 at 300k.
    assert table["eval_return"].iloc[0] == pytest.approx(0.34, abs=0.005)
    assert table["eval_return"].iloc[-1] == pytest.approx(0.90, abs=0.005)
    assert (table["eval_episodes"] == 10).all()


def test_importing_the_same_file_twice_adds_nothing(benchmarl, tmp_path, capsys):
    args = ["import", str(benchmarl), "--experiment", "bm", "--results-dir", str(tmp_path)]
    assert main(args) == 0 and main(args) == 0
    assert "0 run(s)" in capsys.readouterr().out.splitlines()[-1]
    assert len(pd.read_csv(tmp_path / "bm" / "table.csv")) == 6


def test_export_matches_the_layout_and_reimports_to_the_same_numbers():
    table = synthetic_table(algos=["leed", "qmix"], tasks=[("vmas:navigation", 2),
                                                           ("vmas:navigation", 4)],
                            seeds=[0, 1], n_evals=4, env_steps=300)
    data = to_marl_eval(table)
    # One scenario at two agent counts: the count goes into the task name, or marl-eval
    # would pool them.
    assert sorted(data["vmas"]) == ["navigation@n2", "navigation@n4"]
    run = data["vmas"]["navigation@n2"]["leed"]["seed_1"]
    assert list(run) == ["step_0", "step_1", "step_2", "step_3", "absolute_metrics"]
    assert run["step_3"]["step_count"] == 300 and isinstance(run["step_3"]["return"], list)
    assert run["absolute_metrics"] == {"return": run["step_3"]["return"]}

    back, runs = from_marl_eval(data, "again")
    assert len(runs) == 8 and set(back["n_agents"]) == {2, 4}
    key = ["algo", "n_agents", "seed", "env_steps"]
    merged = table.merge(back, on=key, suffixes=("", "_back"))
    assert len(merged) == len(table)
    np.testing.assert_allclose(merged["eval_return"], merged["eval_return_back"])


def test_malformed_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    for content in ["not json", "[]", ('{"vmas": {"nav": {"mappo": {"seed_0": {"step_0": '
                                      '{"return": [1]}}}}}}')]:
        bad.write_text(content)
        assert main(["import", str(bad), "--experiment", "x", "--results-dir",
                     str(tmp_path)]) == 2
    assert main(["import", str(tmp_path / "missing.json"), "--experiment", "x"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all(e.startswith("leed-bench: error: ") for e in err)
    assert "vmas/nav/mappo/seed_0/step_0 needs 'step_count' and 'return'" in err[2]
