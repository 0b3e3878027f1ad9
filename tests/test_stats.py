"""Statistics against known answers: hand computations, rliable itself, scipy itself."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rliable import library as rly
from rliable import metrics as rm
from scipy import stats as sps

from benchmark import metrics as M
from benchmark import stats as S

SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.55, 0.9, 0.2, 0.65, 0.5, 0.7])


def per_run(values, algo="mappo", env="lbf:Foraging-8x8-2p-2f-v3", n_agents=2, metric="final"):
    return pd.DataFrame({"env": env, "scenario": env.split(":")[1], "n_agents": n_agents,
                         "algo": algo, "seed": range(len(values)), metric: values})


def curve_table(returns, steps, run_id="r0", algo="mappo", seed=0, **extra):
    return pd.DataFrame({"run_id": run_id, "algo": algo, "env": "lbf:Foraging-8x8-2p-2f-v3",
                         "n_agents": 2, "seed": seed, "env_steps": steps,
                         "eval_return": returns, **extra})


def test_iqm_is_the_mean_of_the_middle_half_like_rliable():
    # Sorted: 0.1 0.2 | 0.35 0.4 0.5 0.55 0.65 0.7 | 0.8 0.9 -> cut int(0.25 * 10) = 2 per end.
    hand = (0.35 + 0.4 + 0.5 + 0.55 + 0.65 + 0.7) / 6
    assert S.iqm(SCORES) == pytest.approx(hand)
    assert rm.aggregate_iqm(SCORES[:, None]) == pytest.approx(hand)
    assert S.iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    matrix = np.random.default_rng(1).random((7, 5))
    np.testing.assert_allclose(S.iqm(matrix, axis=0), sps.trim_mean(matrix, 0.25, axis=0))
    assert S.iqm(matrix) == pytest.approx(rm.aggregate_iqm(matrix))


def test_iqm_ci_matches_rliable_and_a_hand_bootstrap():
    out = S.cell_aggregates(per_run(SCORES), "final", reps=2000, seed=0).iloc[0]

    np.random.seed(0)
    _, ci = rly.get_interval_estimates(
        {"a": SCORES[:, None]}, lambda s: np.array([rm.aggregate_iqm(s)]), reps=2000)
    assert (out["iqm_lo"], out["iqm_hi"]) == pytest.approx(tuple(ci["a"].ravel()))

    # By hand: resample the 10 runs with replacement 2,000 times (rliable draws its indices
    # from numpy's global RNG), take the IQM of each, read off the 2.5th/97.5th percentiles.
    np.random.seed(0)
    boot = [rm.aggregate_iqm(SCORES[np.random.choice(10, (10, 1), replace=True)[:, 0]])
            for _ in range(2000)]
    assert (out["iqm_lo"], out["iqm_hi"]) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])))
    assert out["iqm"] == pytest.approx(0.525)
    assert out["iqm_lo"] < 0.525 < out["iqm_hi"]
    assert out["mean"] == pytest.approx(SCORES.mean())
    assert out["median"] == pytest.approx(np.median(SCORES))


def test_batched_cells_get_the_same_intervals_as_one_cell_alone():
    two = pd.concat([per_run(SCORES), per_run(SCORES[::-1] * 2, algo="qmix")])
    both = S.cell_aggregates(two, reps=4000, seed=3).set_index("algo")
    alone = S.cell_aggregates(per_run(SCORES * 2, algo="qmix"), reps=4000, seed=3).iloc[0]
    # Different random draws, same bootstrap distribution: agree to Monte Carlo error.
    assert both.loc["qmix", "iqm_lo"] == pytest.approx(alone["iqm_lo"], abs=0.06)
    assert both.loc["qmix", "iqm_hi"] == pytest.approx(alone["iqm_hi"], abs=0.06)


def test_holm_correction_on_known_p_values():
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone
    # 0.02, 0.03, 0.06, 0.06; returned in the input order.
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(S.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    out = S.holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])


def test_auc_of_known_curves():
    linear = curve_table(np.linspace(0, 1, 11), np.arange(0, 110, 10))
    uneven = curve_table([0.0, 1.0, 1.0], [0, 10, 100], run_id="r1", seed=1)
    flat = curve_table([2.0, 2.0, 2.0], [0, 50, 100], run_id="r2", seed=2)
    out = M.run_metrics(pd.concat([linear, uneven, flat])).set_index("run_id")
    assert out.loc["r0", "auc"] == pytest.approx(0.5)
    assert out.loc["r1", "auc"] == pytest.approx((10 * 0.5 + 90 * 1.0) / 100)
    assert out.loc["r2", "auc"] == pytest.approx(2.0)


def test_final_threshold_throughput_and_demo_time():
    t = curve_table([0.0, 0.2, 0.6, 0.8, 1.0], [0, 100, 200, 300, 400],
                    wall_s=[0, 10, 20, 30, 40], updates=[0, 1, 2, 3, 4],
                    update_s=[0, 2, 4, 6, 8], demo_s=5.0)
    out = M.run_metrics(t, k=2, threshold=0.5).iloc[0]
    assert out["final"] == pytest.approx(0.9)
    assert out["steps_to_threshold"] == 200
    assert out["wall_to_threshold_s"] == 20
    assert out["wall_to_threshold_incl_demo_s"] == 25
    assert out["env_steps_per_s"] == pytest.approx(10.0)
    assert out["s_per_update"] == pytest.approx(2.0)
    # Relative threshold: 0.9 of the way from the first evaluation (0) to the best final (0.9).
    rel = M.run_metrics(t, k=2, threshold_frac=0.9).iloc[0]
    assert rel["threshold"] == pytest.approx(0.81)
    assert rel["steps_to_threshold"] == 400


def test_probability_of_improvement_and_mann_whitney_match_rliable_and_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 1, (6, 3)), rng.normal(0, 1, (5, 3))
    assert S._prob_greater(x, y).mean() == pytest.approx(rm.probability_of_improvement(x, y))
    rows = []
    for task in range(3):
        env = f"lbf:Task-{task}"
        rows += [per_run(x[:, task], "leed", env), per_run(y[:, task], "mappo", env)]
    tests = S.improvement_tests(pd.concat(rows), reps=500)
    for task, r in enumerate(tests.itertuples()):
        expected = sps.mannwhitneyu(x[:, task], y[:, task], alternative="two-sided")
        assert r.u_stat == expected.statistic and r.p_value == pytest.approx(expected.pvalue)
        assert r.poi == pytest.approx(expected.statistic / 30)
        assert r.poi_lo <= r.poi <= r.poi_hi
    np.testing.assert_allclose(tests["p_holm"], S.holm(tests["p_value"]))


def test_scaling_slope_recovers_a_power_law():
    n = np.array([2, 2, 4, 4, 8, 8])
    df = per_run(3e-5 * n ** 1.5 * np.array([1, 1.01] * 3), metric="s_per_step")
    df["n_agents"] = n
    df["scale_group"] = "lbf:Foraging-8x8-Np-2f-v3"
    out = S.scaling_slopes(df).iloc[0]
    assert out["slope"] == pytest.approx(1.5, abs=0.01)
    assert out["slope_lo"] < 1.5 < out["slope_hi"]
    one = S.scaling_slopes(df[df["n_agents"] == 2]).iloc[0]
    assert np.isnan(one["slope"]) and "fewer than 2 agent counts" in one["note"]


def test_lbf_player_count_is_folded_into_one_scaling_group():
    assert M.scale_group("lbf:Foraging-8x8-4p-2f-v3", 4) == "lbf:Foraging-8x8-Np-2f-v3"
    assert M.scale_group("vmas:navigation", 3) == "vmas:navigation"
    assert M.scale_group("smax:smacv2_10_units", 10) == "smax:smacv2_N_units"  # the SMACv2 ladder
    assert M.scale_group("smacv2:zerg_20_vs_20", 20) == "smacv2:zerg_N_vs_N"
    assert M.scale_group("smax:smacv2_10_units", 5) == "smax:smacv2_10_units"  # other count: kept


def test_single_seed_and_missing_values_give_reasons_not_errors():
    df = pd.concat([per_run([0.5]), per_run([np.nan, np.nan], algo="qmix"),
                    per_run([0.2, np.nan, 0.4], algo="vdn")])
    out = S.cell_aggregates(df, reps=200).set_index("algo")
    assert out.loc["mappo", "mean"] == 0.5 and np.isnan(out.loc["mappo", "mean_lo"])
    assert out.loc["mappo", "note"] == "CI unavailable: 1 seed"
    assert np.isnan(out.loc["qmix", "mean"]) and "no finite values" in out.loc["qmix", "note"]
    assert out.loc["vdn", "n"] == 2 and "1 run(s) without a value" in out.loc["vdn", "note"]
    _agg, notes = S.aggregate_across_tasks(df, reps=200)
    assert isinstance(notes, list)  # flat/degenerate tasks are explained, not raised


def test_performance_profile_counts_runs_above_tau():
    df = pd.concat([per_run([0.0, 1.0, 0.5, 0.25], "leed"), per_run([0.0, 0.1, 0.2, 0.3])])
    prof = S.performance_profiles(df, taus=[0.0, 0.4], reps=200).set_index(["algo", "tau"])
    # Normalised by the task's min 0 and max 1: leed has 3/4 runs > 0 and 2/4 > 0.4.
    assert prof.loc[("leed", 0.0), "fraction"] == pytest.approx(0.75)
    assert prof.loc[("leed", 0.4), "fraction"] == pytest.approx(0.5)
    assert prof.loc[("mappo", 0.4), "fraction"] == 0.0


def test_learning_curve_band_is_a_bootstrap_interval_of_the_mean():
    t = M.normalize_table(pd.concat([curve_table([0.0, 1.0], [0, 10], "a", seed=0),
                                     curve_table([0.0, 3.0], [0, 10], "b", seed=1),
                                     curve_table([0.0, 5.0], [0, 10], "c", algo="qmix")]))
    c = S.learning_curves(t).set_index(["algo", "x"])
    # Resampling two runs (1, 3) gives means 1, 2 or 3: the 95% band spans 1 to 3.
    assert c.loc[("mappo", 10), "mean"] == pytest.approx(2.0)
    assert (c.loc[("mappo", 10), "lo"], c.loc[("mappo", 10), "hi"]) == (1.0, 3.0)
    assert np.isnan(c.loc[("qmix", 10), "lo"])  # one seed: no band
