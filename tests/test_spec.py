"""Experiment specs and the run matrix: one schema, errors that name the field, stable run ids."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import benchfakes
from baselines.core.errors import UserError
from benchmark import cli
from benchmark.api import load_preset, plan
from benchmark.matrix import Filters, expand
from benchmark.spec import SpecError, load_spec

TINY = {
    "name": "tiny",
    "envs": [{"env": "fake:grid", "agents": [2, 3]}],
    "algos": ["mappo", {"name": "qmix", "overrides": {"lr": 1e-3}}],
    "seeds": [1, 2],
    "budget": {"env_steps": 400},
    "eval": {"interval": 100, "episodes": 2},
}


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    benchfakes.install(monkeypatch)


def with_(**changes):
    spec = json.loads(json.dumps(TINY))
    spec.update(changes)
    return spec


def write_spec(tmp_path: Path, spec: dict | str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    return path


def test_tiny_spec_expands_to_envs_x_agents_x_algos_x_seeds():
    runs = expand(load_spec(TINY))
    assert len(runs) == 1 * 2 * 2 * 2
    assert len({r.run_id for r in runs}) == len(runs)
    qmix = [r for r in runs if r.config.algo == "qmix"]
    assert all(r.config.overrides == {"lr": 1e-3} for r in qmix)
    assert all(len(r.run_id) == 12 and int(r.run_id, 16) >= 0 for r in runs)


def test_run_id_is_a_content_hash_independent_of_order_and_filters():
    reordered = with_(algos=[{"overrides": {"lr": 1e-3}, "name": "qmix"}, "mappo"], seeds=[2, 1])
    ids = {r.run_id for r in expand(load_spec(TINY))}
    assert ids == {r.run_id for r in expand(load_spec(reordered))}
    one = expand(load_spec(TINY), Filters(algos=("qmix",), agents=(3,), seeds=(2,)))
    assert len(one) == 1 and one[0].run_id in ids
    changed = expand(load_spec(with_(budget={"env_steps": 401})))
    assert ids.isdisjoint(r.run_id for r in changed)


def test_run_id_is_stable_across_processes(tmp_path):
    """The id is sha256 of canonical JSON, not Python's salted hash(): a new process agrees."""
    import subprocess
    import sys

    path = write_spec(tmp_path, TINY)
    code = ("import benchfakes, types; benchfakes.install(types.SimpleNamespace(setattr=setattr));"
            "from benchmark.api import plan; import sys;"
            "print(' '.join(r.run_id for r in plan(sys.argv[1])[1]))")
    tests_dir = str(Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True, cwd=tests_dir, env={**__import__("os").environ,
                                                         "PYTHONPATH": tests_dir})
    assert out.stdout.split() == [r.run_id for r in expand(load_spec(path))]


def test_leed_runs_carry_the_demo_source_and_episodes():
    spec = with_(algos=["leed", "mappo"], demos={"source": "hf://org/demos@v1", "episodes": 8})
    runs = expand(load_spec(spec))
    leed = [r for r in runs if r.config.algo == "leed"]
    other = [r for r in runs if r.config.algo == "mappo"]
    assert all(r.config.demos == "hf://org/demos@v1" and r.demo_episodes == 8 for r in leed)
    assert all(r.config.demos is None and r.demo_episodes is None for r in other)
    more = expand(load_spec(with_(algos=["leed"], demos={"episodes": 9})))
    assert {r.run_id for r in leed}.isdisjoint(r.run_id for r in more)


def test_yaml_reads_5e_minus_4_as_a_float(tmp_path):
    text = yaml.safe_dump(with_(algos=["mappo"])) + ""
    text = text.replace("- mappo", "- name: mappo\n  overrides: {lr: 5e-4}")
    spec = load_spec(write_spec(tmp_path, text))
    assert spec.algos[0].overrides == {"lr": 0.0005}


def test_budget_scale_keeps_the_number_of_evaluations():
    spec = load_spec(with_(budget={"env_steps": 10_000_000}, eval={"interval": 100_000}))
    small = spec.scaled(0.01)
    assert (small.env_steps, small.eval.interval) == (100_000, 1_000)
    assert small.name == f"{spec.name}-x0.01"  # its own folder: a report never mixes budgets
    with pytest.raises(UserError, match="--budget-scale"):
        spec.scaled(0)


def test_presets_ship_with_the_package_and_validate():
    quick = load_preset("quick")
    runs = expand(quick)
    assert {r.config.algo for r in runs} == {"mappo", "ippo", "qmix", "leed"}
    assert {r.config.n_agents for r in runs} == {2, 4}
    assert len(runs) == 2 * 4 * 3
    assert quick.env_steps == 20_000
    paper, vmas = plan(load_preset("paper"), env=["vmas"], budget_scale=0.01)
    assert {r.config.n_agents for r in vmas} == {4, 16, 64}
    assert len(vmas) == 3 * 4 * 5 and paper.env_steps == 100_000


@pytest.mark.parametrize("change, field, value", [
    ({"colour": "red"}, "spec.colour", "unknown key"),
    ({"algos": ["mappo", "mapo"]}, "spec.algos[1]", "unknown algorithm 'mapo'"),
    ({"seeds": []}, "spec.seeds", "[]"),
    ({"budget": {"env_steps": -5}}, "spec.budget.env_steps", "-5"),
    ({"envs": [{"env": "fake:grid", "agents": [2, 12]}]}, "spec.envs[0].agents[1]", "got 12"),
    ({"envs": [{"env": "grid", "agents": [2]}]}, "spec.envs[0].env", "'grid'"),
    ({"algos": [{"name": "mappo", "overrides": {"lrr": 1}}]}, "spec.algos[0].overrides", "'lrr'"),
    ({"algos": [{"name": "qmix", "overrides": {"lr": "fast"}}]}, "spec.algos[0].overrides", "'fast'"),
    ({"eval": {"interval": 0}}, "spec.eval.interval", "got 0"),
    ({"executor": "slurm"}, "spec.executor", "'slurm'"),
    ({"seeds": [1, True]}, "spec.seeds[1]", "True"),
    ({"demos": {"source": "hf://nope"}}, "spec.demos.source", "'hf://nope'"),
    ({"algos": ["epymarl:"]}, "spec.algos[0]", "epymarl:"),
])
def test_bad_spec_names_the_field_and_value(tmp_path, change, field, value):
    path = write_spec(tmp_path, with_(**change))
    with pytest.raises(SpecError) as err:
        plan(path)
    assert err.value.field == field
    assert value in str(err.value)
    assert str(err.value).startswith(f"{path}: {field}: ")


BAD_SPECS = {
    "unknown key": (with_(colour="red"), "spec.colour"),
    "unknown algo": (with_(algos=["mappo", "mapo"]), "unknown algorithm 'mapo'"),
    "empty seeds": (with_(seeds=[]), "spec.seeds"),
    "negative budget": (with_(budget={"env_steps": -5}), "spec.budget.env_steps: must be >= 1, got -5"),
    "too many agents": (with_(envs=[{"env": "fake:grid", "agents": [12]}]),
                        "spec.envs[0].agents[0]: fake:grid takes 1 to 4 agents, got 12"),
    "yaml syntax": ("name: tiny\nenvs: [\n  - env: fake:grid\nseeds: {\n", "spec.yaml:"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case):
    spec, expected = BAD_SPECS[case]
    path = write_spec(tmp_path, spec)
    results = tmp_path / "results"
    code = cli.main(["run", str(path), "--results-dir", str(results)])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("leed-bench: error: ")
    assert expected in err
    assert not results.exists()


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write_spec(tmp_path, "name: tiny\nseeds: [1, 2\nbudget: 3\n")
    with pytest.raises(UserError, match=r"spec\.yaml:3: YAML syntax error"):
        load_spec(path)


def test_missing_spec_file_and_unknown_preset_are_user_errors(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "spec file not found" in capsys.readouterr().err
    assert cli.main(["run", "--preset", "nope"]) == 2
    assert "unknown preset 'nope' (known: paper, quick)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["--algo", "qmix"], "--algo qmix: matches nothing in the spec (have: mappo)"),
    (["--agents", "7"], "--agents 7: matches nothing"),
    (["--env", "vmas"], "--env vmas: matches nothing"),
    (["--seeds", "1,x"], "--seeds: expected int values, got 'x'"),
])
def test_filters_that_match_nothing_are_named(tmp_path, capsys, argv, expected):
    path = write_spec(tmp_path, with_(algos=["mappo"]))
    assert cli.main(["run", str(path), "--results-dir", str(tmp_path / "r"), *argv]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("change, expected", [
    ({"--algo": "mapo"}, "--algo: unknown algorithm 'mapo'"),
    ({"--agents": "12"}, "--agents: fake:grid takes 1 to 4 agents, got 12"),
    ({"--steps": "-1"}, "--steps: must be >= 1, got -1"),
    ({"--env": "grid"}, "--env: must be 'family:scenario'"),
    ({"--set": "lrr=1"}, "--set: unknown hyperparameter 'lrr'"),
    ({"--set": "lr"}, "--set: expected KEY=VALUE"),
    ({"--seed": "-3"}, "--seed: must be >= 0, got -3"),
])
def test_train_flags_are_checked_by_the_same_schema(tmp_path, capsys, change, expected):
    flags = {"--algo": "mappo", "--env": "fake:grid", "--agents": "2", "--steps": "100", **change}
    args = [a for kv in flags.items() for a in kv]
    code = cli.main(["train", *args, "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert expected in err
    assert not (tmp_path / "r").exists()


def test_real_environment_registry_rejects_an_agent_count_lbf_cannot_take(monkeypatch):
    envs = pytest.importorskip("benchmark.envs")
    if not hasattr(envs, "check_env"):
        pytest.skip("benchmark.envs is not built yet")
    import benchmark.matrix

    monkeypatch.setattr(benchmark.matrix, "check_env", envs.check_env)
    spec = with_(envs=[{"env": "lbf:Foraging-8x8-2f-v3", "agents": [2, 40]}])
    with pytest.raises(SpecError) as err:
        expand(load_spec(spec))
    assert err.value.field == "spec.envs[0].agents[1]" and "40" in err.value.detail
