"""`leed-bench compare`: exit 0 on no change, 1 naming a regressed cell, 2 on unusable input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.compare import compare_tables, one_sided_test
from benchmark.perf.report_speed import TASKS, synthetic_table, write_experiment


@pytest.fixture
def table():
    return synthetic_table(algos=["leed", "mappo", "qmix"], tasks=TASKS[:2], seeds=range(3),
                           n_evals=10, env_steps=20_000)


def test_reference_against_itself_passes(tmp_path, table, capsys):
    ref = write_experiment(tmp_path / "ref", table, write_runs=False)
    assert main(["compare", str(ref), str(ref)]) == 0
    out = capsys.readouterr().out
    assert "no regression in 6 cell(s)" in out and "regression\n" not in out


def test_one_algorithm_lowered_30_percent_fails_and_names_the_cell(tmp_path, table, capsys):
    ref = write_experiment(tmp_path / "ref", table, write_runs=False)
    low = table.copy()
    low.loc[low["algo"] == "qmix", "eval_return"] *= 0.7
    cand = write_experiment(tmp_path / "cand", low, write_runs=False)
    assert main(["compare", str(ref), str(cand)]) == 1
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert len(err) == 2  # qmix on both tasks, nothing else
    assert "regression in lbf:Foraging-8x8-2p-2f-v3, 2 agents, qmix" in err[0]
    assert "(-30.0%)" in err[0]
    assert "lbf:Foraging-8x8-3p-2f-v3, 3 agents, qmix" in err[1]
    assert "regression" in captured.out  # the table marks it too


def test_no_common_cell_or_missing_folder_is_unusable_input(tmp_path, table, capsys):
    ref = write_experiment(tmp_path / "ref", table, write_runs=False)
    other = write_experiment(tmp_path / "other", synthetic_table(
        tasks=[("vmas:wheel", 4)], seeds=range(2), n_evals=5), write_runs=False)
    assert main(["compare", str(ref), str(other)]) == 2
    assert main(["compare", str(ref), str(tmp_path / "missing")]) == 2
    (tmp_path / "no_table").mkdir()
    assert main(["compare", str(tmp_path / "no_table"), str(ref)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "no cell (env, scenario, n_agents, algo) is in both" in err[0]
    assert all(e.startswith("leed-bench: error: ") for e in err)


def test_small_noise_within_tolerance_passes(table):
    rng = np.random.default_rng(0)
    noisy = table.assign(eval_return=table["eval_return"] * (1 + 0.01 * rng.standard_normal(
        len(table))))
    out = compare_tables(table, noisy)
    assert (out["verdict"] == "ok").all()


def test_lower_is_better_metrics_regress_when_they_grow(table):
    slow = table.assign(update_s=table["update_s"] * 1.3)
    out = compare_tables(table, slow, metric="s_per_update")
    assert (out["verdict"] == "regression").all()
    assert (out["change"] > 0.29).all()


def test_test_choice_follows_the_seeds_available():
    ref = pd.Series([1.0, 1.2, 0.8], index=[0, 1, 2])
    assert one_sided_test(ref, ref * 0.5, 0.05)[0] == "paired t"
    welch, p = one_sided_test(ref, pd.Series([0.4, 0.5, 0.6], index=[7, 8, 9]), 0.05)
    assert welch == "Welch t" and p < 0.05
    assert one_sided_test(ref.iloc[:1], ref.iloc[:1] * 0.5, 0.05) == ("point", 0.0)
    assert one_sided_test(ref.iloc[:1], ref.iloc[:1], 0.05) == ("point", 1.0)
