"""`leed-bench report`: the report a reader gets, including from incomplete tables."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.perf.report_speed import TASKS, synthetic_table, write_experiment

FIGURES = ["learning_curves_steps_lbf", "learning_curves_wall_lbf", "scalability",
           "aggregate_iqm_final", "probability_of_improvement", "performance_profiles"]


@pytest.fixture
def experiment(tmp_path):
    table = synthetic_table(algos=["leed", "mappo", "qmix"], tasks=TASKS[:2], seeds=range(3),
                            n_evals=12, env_steps=50_000)
    return write_experiment(tmp_path / "small", table)


def test_report_writes_tables_provenance_and_figures(experiment, capsys):
    assert main(["report", str(experiment), "--reps", "300"]) == 0
    text = (experiment / "report.md").read_text()
    for section in ["## Setup", "## Hardware", "## Provenance", "## Demonstrations",
                    "## Results per task", "## leed against the baselines",
                    "## Aggregate across tasks", "## Scalability", "## Figures"]:
        assert section in text
    assert "Scripted rule-based planner, not an LLM" in text
    assert "Synthetic CPU, 2 cores" in text and "0123456789abcdef" in text
    assert re.search(r"\| `leed` \| 3 \| [0-9.]+ \[[0-9.]+, [0-9.]+\]", text)  # IQM with CI
    assert "p (Holm)" in text
    for stem in FIGURES:
        for ext in ("png", "pdf"):
            assert (experiment / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    for link in re.findall(r"\]\((figures/[^)]+)\)", text):
        assert (experiment / link).is_file()
    assert "wrote" in capsys.readouterr().out


def test_llm_demonstrations_are_named_with_their_model(experiment):
    runs = [json.loads(p.read_text()) for p in (experiment / "runs").glob("*/run.json")]
    data = next(r for r in runs if r["config"]["algo"] == "leed")
    run = experiment / "runs" / data["run_id"] / "run.json"
    data["provenance"]["demos"] = {"generator": {"kind": "llm", "model": "gpt-4o-2024-08-06",
                                                 "prompt_sha256": "ab" * 32},
                                   "path": "demos/x", "revision": None, "seconds": 90,
                                   "tokens": 12345}
    run.write_text(json.dumps(data))
    assert main(["report", str(experiment), "--no-figures", "--reps", "200"]) == 0
    text = (experiment / "report.md").read_text()
    assert "LLM `gpt-4o-2024-08-06` (prompt sha256 `abababababab`, 12,345 tokens) (1 LEED run)" \
        in text


def test_the_stores_run_json_layout_is_read_too(experiment):
    # benchmark/store.py nests git and package info and keeps `demos` at the top level.
    for path in (experiment / "runs").glob("*/run.json"):
        data = json.loads(path.read_text())
        prov = data["provenance"]
        prov["git"] = {"commit": prov.pop("git_commit"), "dirty": not prov.pop("git_dirty")}
        prov["package"] = {"name": "leed-bench", "version": prov.pop("package_version")}
        data["demos"] = prov.pop("demos")
        path.write_text(json.dumps(data))
    assert main(["report", str(experiment), "--no-figures", "--reps", "200"]) == 0
    text = (experiment / "report.md").read_text()
    assert "0123456789abcdef0123456789abcdef01234567 (dirty: uncommitted changes)" in text
    assert "leed-bench version: `0.1.0`" in text
    assert "Scripted rule-based planner, not an LLM" in text


def test_nan_values_and_a_single_seed_still_report_with_reasons(tmp_path, capsys):
    table = synthetic_table(algos=["leed", "mappo"], tasks=TASKS[:1], seeds=[0], n_evals=8)
    table.loc[table.index[::3], "eval_return"] = np.nan  # scattered missing evaluations
    table["wall_s"] = np.nan  # no clocks at all
    table.loc[table["algo"] == "mappo", "eval_return"] = np.nan  # a run that never evaluated
    exp = write_experiment(tmp_path / "holes", table, write_runs=False)
    assert main(["report", str(exp), "--reps", "200"]) == 0
    text = (exp / "report.md").read_text()
    assert "CI unavailable: 1 seed" in text
    assert "row(s) with a missing or NaN `eval_return` were skipped" in text
    assert "no wall-clock times" in text
    assert "Traceback" not in capsys.readouterr().err


def test_report_on_a_missing_folder_or_table_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "table.csv").write_text("run_id,algo\nx,leed\n")
    assert main(["report", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("leed-bench: error: ") for e in err)
    assert "lacks column(s) env" in err[2]


def test_smax_tasks_are_compared_on_win_rate_and_the_rest_on_return(tmp_path):
    """`--metric auto`: a task whose evaluations record a win rate is scored by it."""
    table = synthetic_table(algos=["leed", "mappo"], tasks=[("smax:smacv2_5_units", 5),
                                                          ("smax:smacv2_10_units", 10),
                                                          ("vmas:navigation", 4)],
                            seeds=range(3), n_evals=6, env_steps=30_000)
    smax = table["env"].str.startswith("smax")
    # win rates in [0, 1] that rank the algorithms the other way round from their returns
    table.loc[smax, "eval_win_rate"] = np.where(table.loc[smax, "algo"] == "leed", 0.2, 0.7)
    table.loc[smax, "eval_return"] = table.loc[smax, "eval_return"] + 10.0
    exp = write_experiment(tmp_path / "battles", table)
    assert main(["report", str(exp), "--reps", "200"]) == 0
    text = (exp / "report.md").read_text()
    smax_part = text.split("### smax:smacv2_5_units, 5 agents")[1].split("###")[0]
    vmas_part = text.split("### vmas:navigation, 4 agents")[1].split("###")[0]
    assert "Score: win rate." in smax_part and "Final win rate IQM" in smax_part
    assert "| `leed` | 3 | 0.200 [0.200, 0.200]" in smax_part  # the win rate, not a return of ~10
    assert "| `mappo` | 3 | 0.700 [0.700, 0.700]" in smax_part
    assert "Score: return." in vmas_part and "Final return IQM" in vmas_part
    assert "share of evaluation episodes won" in text and "Final score" in text  # mixed tasks
    assert (exp / "figures" / "scalability.png").is_file()

    assert main(["report", str(exp), "--reps", "200", "--no-figures", "--metric", "return"]) == 0
    text = (exp / "report.md").read_text()
    smax_part = text.split("### smax:smacv2_5_units, 5 agents")[1].split("###")[0]
    assert "Score: return." in smax_part and "| `leed` | 3 | 0.200" not in smax_part
