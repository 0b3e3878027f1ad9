"""The EPyMARL backend: importing real sacred results, running a checkout, the crosscheck maths.

The importer is tested on real EPyMARL output (shared/fixtures/epymarl-sacred: MAPPO and QMIX on
LBF, commit cbc38c0). Running EPyMARL is tested against a fake checkout whose src/main.py lays
out a fixture run exactly where EPyMARL's would, so the subprocess, results-folder and import
plumbing are exercised in a second instead of ten minutes.
"""
from __future__ import annotations

import json
import shutil
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines import epymarl
from baselines.core.errors import UserError
from baselines.train import TrainConfig
from benchmark.cli import main as cli

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
SACRED = FIXTURES / "epymarl-sacred"
KEY = "lbforaging:Foraging-8x8-2p-2f-v3"


def fixture_run(alg: str) -> Path:
    path = SACRED / alg / KEY / "1"
    if not path.is_dir():
        pytest.skip(f"fixture {path} is absent (shared/fixtures not laid beside the repo)")
    return path


def copy_run(alg: str, tmp_path: Path) -> Path:
    """A writable copy of a fixture run folder, in EPyMARL's <alg>/<key>/<id> layout."""
    dst = tmp_path / "sacred" / alg / KEY / "1"
    shutil.copytree(fixture_run(alg), dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("leed-bench: error: ")
    return err


# --- importing real sacred results ------------------------------------------------------------

@pytest.mark.parametrize("alg", ["mappo", "qmix"])
def test_every_metric_series_arrives_with_its_steps(alg):
    path = fixture_run(alg)
    raw = json.loads((path / "metrics.json").read_text())
    config, rows, prov = epymarl.import_sacred_run(path)

    test = raw["test_return_mean"]
    assert [r["env_steps"] for r in rows] == test["steps"]
    assert [r["eval_return"] for r in rows] == pytest.approx(test["values"])
    assert [r["eval_return_std"] for r in rows] == pytest.approx(raw["test_return_std"]["values"])
    assert all(r["eval_episodes"] == 100 for r in rows)
    # EPyMARL's policy learners sample in test mode; its value learners act greedily.
    assert {r["eval_mode"] for r in rows} == {"sample" if alg == "mappo" else "greedy"}

    long = pd.DataFrame(epymarl.series_rows(epymarl.read_series(path), None))
    assert set(long["metric"]) == set(raw)
    for name, series in raw.items():
        got = long[long["metric"] == name]
        assert got["step"].tolist() == series["steps"], name
        assert got["value"].tolist() == pytest.approx(series["values"]), name
    assert config["name"] == alg and prov["status"] == "COMPLETED"


@pytest.mark.parametrize("alg", ["mappo", "qmix"])
def test_wall_seconds_come_from_metric_timestamps_relative_to_run_start(alg):
    _, rows, prov = epymarl.import_sacred_run(fixture_run(alg))
    wall = [r["wall_s"] for r in rows]
    assert wall[0] > 0 and all(b > a for a, b in pairwise(wall))
    assert wall[-1] < prov["run_wall_s"]  # the last test ends before the run stops
    episodes = [r["episodes"] for r in rows]
    assert all(b >= a for a, b in pairwise(episodes)) and episodes[0] >= 1


def test_whole_tree_imports_both_algorithms():
    fixture_run("mappo")
    runs = epymarl.import_sacred_tree(SACRED)
    assert sorted(cfg["name"] for _, cfg, _, _ in runs) == ["mappo", "qmix"]
    cfg = epymarl.train_config_dict(runs[0][1])
    assert cfg["env"] == "lbf:Foraging-8x8-2p-2f-v3" and cfg["n_agents"] == 2
    assert cfg["algo"].startswith("epymarl:")


def test_import_command_stores_runs_like_native_ones_and_is_idempotent(tmp_path, capsys):
    fixture_run("mappo")
    results = tmp_path / "results"
    args = ["import-epymarl", str(SACRED), "--experiment", "epy", "--results-dir", str(results)]
    assert cli(args) == 0
    exp = results / "epy"
    runs = sorted((exp / "runs").iterdir())
    assert len(runs) == 2 and all((r / "done").is_file() for r in runs)
    table = pd.read_csv(exp / "table.csv")
    assert set(table["algo"]) == {"epymarl:mappo", "epymarl:qmix"}
    assert set(table["backend"]) == {"epymarl"} and set(table["n_agents"]) == {2}
    series = pd.read_csv(runs[0] / epymarl.SERIES_FILE)
    assert "test_return_mean" in set(series["metric"])

    before = {p: p.read_bytes() for p in exp.rglob("*") if p.is_file()}
    assert cli(args) == 0
    assert {p: p.read_bytes() for p in exp.rglob("*") if p.is_file()} == before


def test_missing_metrics_json_is_one_line_and_exit_2(tmp_path, capsys):
    run = copy_run("mappo", tmp_path)
    (run / "metrics.json").unlink()
    results = tmp_path / "results"
    code = cli(["import-epymarl", str(tmp_path / "sacred"), "--experiment", "x",
                "--results-dir", str(results)])
    assert code == 2
    assert "no metrics.json" in one_error_line(capsys)
    assert not results.exists()  # checked before anything is written


@pytest.mark.parametrize("name", ["metrics.json", "run.json", "config.json", "info.json"])
def test_truncated_json_is_one_line_and_exit_2(tmp_path, capsys, name):
    run = copy_run("qmix", tmp_path)
    text = (run / name).read_text()
    (run / name).write_text(text[: len(text) // 2])
    code = cli(["import-epymarl", str(run), "--experiment", "x", "--results-dir", str(tmp_path / "r")])
    assert code == 2
    err = one_error_line(capsys)
    assert name in err and "truncated or invalid JSON" in err


def test_a_run_that_never_evaluated_is_one_line(tmp_path, capsys):
    run = copy_run("mappo", tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["test_return_mean"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert cli(["import-epymarl", str(run), "--experiment", "x", "--results-dir", str(tmp_path)]) == 2
    assert "no test_return_mean" in one_error_line(capsys)


def test_a_folder_without_sacred_runs_is_one_line(tmp_path, capsys):
    assert cli(["import-epymarl", str(tmp_path), "--experiment", "x"]) == 2
    assert "no sacred runs" in one_error_line(capsys)


# --- the checkout -----------------------------------------------------------------------------

FAKE_MAIN = r'''
import json, os, shutil, sys
from os.path import abspath, dirname, join
if os.environ.get("FAKE_EPYMARL_FAIL"):
    print("Traceback (most recent call last):\nValueError: boom", flush=True)
    sys.exit(1)
args = sys.argv[1:]
with open(os.environ["FAKE_EPYMARL_ARGV"], "w") as f:
    json.dump(args, f)
opt = dict(a.split("=", 1) for a in args if "=" in a)
dst = join(dirname(dirname(abspath(__file__))), "results", "sacred", opt["--config"], opt["env_args.key"], "1")
shutil.copytree(os.environ["FAKE_SACRED_RUN"], dst)
'''
STUBS = ("pkg_resources", "sacred", "yaml", "numpy", "torch", "gymnasium", "lbforaging")


def fake_checkout(tmp_path: Path, envs_init: str = "", main: str = FAKE_MAIN) -> Path:
    """src/main.py, config/algs/mappo.yaml, and stub modules in src/ so imports are instant."""
    root = tmp_path / "epymarl"
    src = root / "src"
    (src / "config" / "algs").mkdir(parents=True)
    (src / "config" / "algs" / "mappo.yaml").write_text("name: mappo\n")
    (src / "envs").mkdir()
    (src / "envs" / "__init__.py").write_text(envs_init)
    for name in STUBS:
        (src / f"{name}.py").write_text("")
    (src / "main.py").write_text(main)
    return root


def use_checkout(monkeypatch, root: Path) -> None:
    monkeypatch.setenv(epymarl.PATH_VAR, str(root))
    monkeypatch.setenv(epymarl.PYTHON_VAR, sys.executable)


def test_unset_epymarl_path_is_one_line(monkeypatch, capsys):
    monkeypatch.delenv(epymarl.PATH_VAR, raising=False)
    with pytest.raises(UserError, match="EPYMARL_PATH is not set"):
        epymarl.find_checkout()
    code = cli(["crosscheck", "--env", "lbf:Foraging-8x8-2p-2f-v3", "--algo", "mappo",
                "--seeds", "2", "--steps", "1000", "--results-dir", "/nonexistent/never-written"])
    assert code == 2
    assert "EPYMARL_PATH is not set" in one_error_line(capsys)


def test_epymarl_path_without_main_py_is_one_line(tmp_path, monkeypatch):
    use_checkout(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="no src/main.py"):
        epymarl.find_checkout()
    use_checkout(monkeypatch, tmp_path / "missing")
    with pytest.raises(UserError, match="no such folder"):
        epymarl.find_checkout()


@pytest.mark.parametrize("envs_init, expected", [
    ("import smaclite\n", "install smaclite"),
    ("import some_missing_module_xyz\n", "requirements.txt"),
    ("raise ModuleNotFoundError(\"No module named 'pkg_resources'\", name='pkg_resources')\n",
     "setuptools<81"),
])
def test_a_missing_python_dependency_names_module_and_fix(tmp_path, monkeypatch, envs_init, expected):
    use_checkout(monkeypatch, fake_checkout(tmp_path, envs_init))
    with pytest.raises(UserError) as err:
        epymarl.find_checkout()
    message = str(err.value)
    assert "\n" not in message and "is missing" in message and expected in message


def test_a_broken_epymarl_python_is_one_line(tmp_path, monkeypatch):
    use_checkout(monkeypatch, fake_checkout(tmp_path))
    monkeypatch.setenv(epymarl.PYTHON_VAR, str(tmp_path / "no-python"))
    with pytest.raises(UserError, match="EPYMARL_PYTHON=.*cannot run it"):
        epymarl.find_checkout()


def cfg(**kw) -> TrainConfig:
    base = {"algo": "epymarl:mappo", "env": "lbf:Foraging-8x8-2p-2f-v3", "n_agents": 2,
            "seed": 3, "env_steps": 5000, "eval_interval": 1000, "eval_episodes": 20,
            "env_options": {"action_masks": False}}
    return TrainConfig(**{**base, **kw})


def test_run_epymarl_runs_main_py_and_imports_what_sacred_wrote(tmp_path, monkeypatch):
    use_checkout(monkeypatch, fake_checkout(tmp_path))
    monkeypatch.setenv("FAKE_SACRED_RUN", str(fixture_run("mappo")))
    monkeypatch.setenv("FAKE_EPYMARL_ARGV", str(tmp_path / "argv.json"))
    seen = []
    last = epymarl.run_epymarl(cfg(overrides={"lr": 5e-4}), tmp_path / "run", on_eval=seen.append)

    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[:4] == ["--config=mappo", "--env-config=gymma", "with", f"env_args.key={KEY}"]
    for flag in ("env_args.time_limit=50", "t_max=5000", "seed=3", "test_interval=1000",
                 "test_nepisode=20", "lr=0.0005"):
        assert flag in argv
    assert len(seen) == 20 and last == seen[-1] and last["eval_return"] == pytest.approx(0.97762, abs=1e-4)
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {
        epymarl.LOG_FILE, epymarl.META_FILE, epymarl.SERIES_FILE}
    assert not (tmp_path / "epymarl" / "results").exists()  # the checkout is left untouched


def test_a_failing_epymarl_run_says_its_last_line(tmp_path, monkeypatch):
    use_checkout(monkeypatch, fake_checkout(tmp_path))
    monkeypatch.setenv("FAKE_EPYMARL_FAIL", "1")
    with pytest.raises(RuntimeError, match="exited with code 1: ValueError: boom"):
        epymarl.run_epymarl(cfg(), tmp_path / "run")


def test_unknown_epymarl_algorithm_lists_the_known_ones(tmp_path, monkeypatch):
    use_checkout(monkeypatch, fake_checkout(tmp_path))
    with pytest.raises(UserError, match=r"no src/config/algs/qmax.yaml \(known: mappo\)"):
        epymarl.run_epymarl(cfg(algo="epymarl:qmax"), tmp_path / "run")


def test_an_eval_mode_epymarl_cannot_give_is_refused(tmp_path, monkeypatch):
    root = fake_checkout(tmp_path)
    (root / "src" / "config" / "algs" / "mappo.yaml").write_text("action_selector: soft_policies\n")
    use_checkout(monkeypatch, root)
    with pytest.raises(UserError, match="eval_mode sample .*not greedy"):
        epymarl.run_epymarl(cfg(eval_mode="greedy"), tmp_path / "run")


def test_env_keys_map_to_epymarl_gymma_keys():
    assert epymarl.epymarl_env_key("lbf:Foraging-8x8-2p-2f-v3", 2) == KEY
    assert epymarl.epymarl_env_key("lbf:Foraging-8x8-2f-v3", 4) == "lbforaging:Foraging-8x8-4p-2f-v3"
    assert epymarl.epymarl_env_key("lbf:Foraging-2s-8x8-2f-coop-v3", 3) == \
        "lbforaging:Foraging-2s-8x8-3p-2f-coop-v3"
    with pytest.raises(UserError, match="not 3"):
        epymarl.epymarl_env_key("lbf:Foraging-8x8-2p-2f-v3", 3)
    with pytest.raises(UserError, match="not supported"):
        epymarl.epymarl_env_key("vmas:navigation", 3)


def test_action_masks_cannot_be_asked_of_epymarl():
    with pytest.raises(UserError, match="action_masks: false"):
        epymarl.epymarl_command(Path("main.py"), "python", "mappo", KEY,
                                cfg(env_options={"action_masks": True}))


# --- the crosscheck's statistics --------------------------------------------------------------

def test_tost_shows_equivalence_only_within_the_margin():
    from benchmark.commands.crosscheck import tost

    x, y = np.array([0.95, 0.97, 0.99]), np.array([0.96, 0.98, 0.97])
    close = tost(x, y, margin=0.1)
    assert close.equivalent and close.lo90 > -0.1 and close.hi90 < 0.1
    assert not tost(x, y, margin=0.001).equivalent
    assert not tost(x, y - 0.5, margin=0.1).equivalent
    assert np.isnan(tost(x[:1], y, margin=0.1).p_value)
    # The 90% CI is Welch's: variances 4e-4 and 1e-4 give df = 2.94 and t(0.95, 2.94) = 2.37.
    se = np.sqrt(4e-4 / 3 + 1e-4 / 3)
    assert close.hi90 - close.lo90 == pytest.approx(2 * 2.37 * se, rel=0.01)


def test_crosscheck_summary_reports_both_sides_and_the_wall_ratio():
    from benchmark.commands.crosscheck import format_summary, summarize

    per_run = pd.DataFrame({
        "run_id": list("abcdef"), "backend": ["native"] * 3 + ["epymarl"] * 3,
        "seed": [1, 2, 3] * 2, "final": [0.95, 0.97, 0.99, 0.96, 0.98, 0.97],
        "env_steps": [200000] * 3 + [192702] * 3, "wall_s": [100.0] * 6,
        "run_wall_s": [150.0, 150.0, 150.0, 600.0, 600.0, 600.0],
    })
    result = summarize(per_run, margin=0.1)
    assert result["wall_ratio_native_over_epymarl"] == pytest.approx(0.25)
    lo, hi = result["sides"]["native"]["ci95"]
    assert 0.95 - 1e-9 <= lo <= 0.97 <= hi <= 0.99 + 1e-9
    text = format_summary(result, "mappo", "lbf:Foraging-8x8-2p-2f-v3", 3)
    assert "equivalent" in text and "ratio native / epymarl = 0.250" in text


@pytest.mark.slow  # worker processes and the report's figures: ~20 s on 2 busy cores
def test_crosscheck_runs_both_sides_into_one_table(tmp_path, monkeypatch, capsys):
    import benchfakes

    benchfakes.install(monkeypatch)  # a fast native learner; EPyMARL is the fake checkout
    use_checkout(monkeypatch, fake_checkout(tmp_path))
    monkeypatch.setenv("FAKE_SACRED_RUN", str(fixture_run("mappo")))
    monkeypatch.setenv("FAKE_EPYMARL_ARGV", str(tmp_path / "argv.json"))
    results = tmp_path / "results"
    code = cli(["crosscheck", "--env", "lbf:Foraging-8x8-2p-2f-v3", "--algo", "mappo", "--seeds", "2",
                "--steps", "2000", "--eval-interval", "1000", "--results-dir", str(results)])
    out = capsys.readouterr().out
    assert code == 0, out
    table = pd.read_csv(results / "crosscheck" / "table.csv")
    assert set(zip(table["algo"], table["backend"])) == {("mappo", "native"),
                                                          ("epymarl:mappo", "epymarl")}
    assert table.groupby("algo")["seed"].nunique().to_dict() == {"mappo": 2, "epymarl:mappo": 2}
    summary = json.loads((results / "crosscheck" / "crosscheck.json").read_text())
    assert summary["tost"]["margin"] == 0.1 and summary["wall_ratio_native_over_epymarl"] > 0
    assert "TOST" in out and "wall-clock ratio native / epymarl" in out
