"""Demonstration sets: written atomically, verified byte for byte, loaded in the learners' format."""
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from leed.demos import DemoError, load_demos, resolve_demos, scripted_cache_path
from leed.dg.generate import generate_demos
from benchmark.envs import make_env

ENV = "lbf:Foraging-8x8-2p-2f-v3"


def lbf_factory(num_envs=2):
    return lambda: make_env(ENV, 2, num_envs=num_envs)


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("sets") / "lbf8"
    return generate_demos(lbf_factory(), ENV, 2, out, episodes=6, seed=3)


def test_set_has_manifest_parquet_prompts_and_card_with_provenance(demo_set):
    files = sorted(p.name for p in demo_set.iterdir())
    assert files == ["README.md", "episodes-00000.parquet", "manifest.json", "prompts.jsonl"]
    m = json.loads((demo_set / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["env"] == ENV and m["n_agents"] == 2 and m["episodes"] == 6
    assert m["generator"]["kind"] == "scripted" and m["generator"]["model"] is None
    assert set(m["files"]) == {"README.md", "episodes-00000.parquet", "prompts.jsonl"}
    assert m["return"]["mean"] == pytest.approx(np.mean(m["episode_returns"]))
    assert m["cost"]["tokens"] == 0 and m["cost"]["seconds"] > 0 and m["code_version"]
    card = (demo_set / "README.md").read_text()
    assert "Scripted" in card and "not by a language model" in card and "LLM (" not in card
    plans = [json.loads(line) for line in (demo_set / "prompts.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "scripted" for r in plans) == 6  # every plan written is kept


def test_loader_gives_per_agent_obs_avail_action(demo_set):
    d = load_demos(demo_set, expect_n_agents=2, expect_obs_dim=12, expect_n_actions=6)
    m = d.obs.shape[0]
    assert d.obs.shape == (m, 2, 12) and d.avail.shape == (m, 2, 6) and d.action.shape == (m, 2)
    assert m == d.manifest["steps"] and int(d.done.sum()) == 6
    a1 = d.agent(1)
    assert a1.obs.shape == (m, 12) and a1.avail.dtype == bool and a1.action.shape == (m,)
    assert a1.avail[np.arange(m), a1.action].all()  # demonstrated actions were available
    # per-agent rewards of an episode add up to its recorded team return
    first = d.episode == 0
    assert d.reward[first].sum() == pytest.approx(d.episode_returns[0], abs=1e-5)
    assert len(d.episode_returns) == 6 and d.episode_returns.mean() >= 0.9
    prov = d.provenance()
    assert prov["generator"]["kind"] == "scripted" and len(prov["manifest_sha256"]) == 64 and prov["demo_s"] > 0


def copy_set(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_one_changed_byte_is_refused_naming_the_file(demo_set, tmp_path, capsys):
    bad = copy_set(demo_set, tmp_path / "bad")
    data = bytearray((bad / "episodes-00000.parquet").read_bytes())
    data[len(data) // 2] ^= 1
    (bad / "episodes-00000.parquet").write_bytes(bytes(data))
    with pytest.raises(DemoError, match="episodes-00000.parquet was altered"):
        load_demos(bad)
    assert main(["demos", "verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "episodes-00000.parquet" in err and err.startswith("leed-bench: error:")
    assert main(["demos", "verify", str(demo_set)]) == 0
    assert "ok:" in capsys.readouterr().out


@pytest.mark.parametrize("breakage, message", [
    (lambda p: (p / "manifest.json").write_text("{not json"), "unreadable"),
    (lambda p: (p / "manifest.json").write_text(json.dumps({**json.loads((p / "manifest.json").read_text()), "schema_version": 99})), "schema_version 99 is not supported"),
    (lambda p: (p / "prompts.jsonl").unlink(), "prompts.jsonl is missing"),
    (lambda p: (p / "manifest.json").unlink(), "manifest.json is missing"),
])
def test_broken_sets_give_one_line(demo_set, tmp_path, capsys, breakage, message):
    bad = copy_set(demo_set, tmp_path / "bad")
    breakage(bad)
    assert main(["demos", "verify", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0


def test_shape_mismatch_names_what_differs(demo_set):
    with pytest.raises(DemoError) as err:
        load_demos(demo_set, expect_n_agents=4, expect_n_actions=6)
    assert "n_agents 2 (demos) != 4 (env)" in str(err.value) and "n_actions" not in str(err.value)


def test_existing_destination_is_refused_then_replaced_with_force(demo_set, tmp_path):
    out = copy_set(demo_set, tmp_path / "set")
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(DemoError, match="already exists"):
        generate_demos(lbf_factory(), ENV, 2, out, episodes=2)
    assert (out / "manifest.json").read_bytes() == before
    generate_demos(lbf_factory(), ENV, 2, out, episodes=2, force=True)
    assert load_demos(out).manifest["episodes"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temp or old folders left behind


class BrokenEnv:
    """The real lbf env until its 31st step, then a crash."""

    def __init__(self):
        self.env = make_env(ENV, 2, num_envs=1)
        self.info, self.reset, self.describe, self.close = self.env.info, self.env.reset, self.env.describe, self.env.close
        self.calls = 0

    def step(self, actions):
        self.calls += 1
        if self.calls > 30:
            raise RuntimeError("simulator crashed")
        return self.env.step(actions)


def test_failed_generation_leaves_nothing_half_written(tmp_path):
    with pytest.raises(RuntimeError):
        generate_demos(BrokenEnv, ENV, 2, tmp_path / "out", episodes=10)
    assert list(tmp_path.iterdir()) == []


def test_resolve_scripted_generates_into_the_keyed_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LEED_BENCH_CACHE", str(tmp_path))
    calls = []

    def counting_make_env(key, n_agents, num_envs):
        calls.append((key, n_agents))
        return make_env(key, n_agents, num_envs)

    first = resolve_demos(None, ENV, 2, episodes=4, make_env=counting_make_env)
    assert first.source == "generated" and calls == [(ENV, 2)]
    assert first.path == scripted_cache_path(ENV, 2, 4, 0).resolve()
    assert str(first.path).startswith(str(tmp_path)) and "scripted" in first.path.name
    again = resolve_demos("scripted", ENV, 2, episodes=4, make_env=counting_make_env)
    assert again.source == "cache" and len(calls) == 1 and again.manifest_sha256 == first.manifest_sha256
    local = resolve_demos(str(first.path), ENV, 2)
    assert local.source == "local"
    with pytest.raises(DemoError, match="are for env lbf:Foraging-8x8-2p-2f-v3, not lbf:other"):
        resolve_demos(str(first.path), "lbf:other", 2)
    with pytest.raises(DemoError, match="n_agents 2 \\(demos\\) != 3"):
        resolve_demos(str(first.path), ENV, 3)


@pytest.mark.parametrize("argv, message", [
    (["--episodes", "0"], "--episodes must be at least 1"),
    (["--env", "vmas:navigation"], "--n-agents is required"),
    (["--generator", "llm"], "--generator llm needs --base-url and --model"),
])
def test_cli_bad_generate_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    base = {"--env": ENV, "--episodes": "3", "--out": str(tmp_path / "out")}
    for k, v in zip(argv[::2], argv[1::2]):
        base[k] = v
    args = ["demos", "generate"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_cli_unknown_env_and_real_generation(tmp_path, capsys):
    assert main(["demos", "generate", "--env", "lbf:NoSuchTask-v0", "--n-agents", "2", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0 and not (tmp_path / "x").exists()
    assert main(["demos", "generate", "--env", ENV, "--episodes", "5", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "generator scripted" in out and "team return mean" in out
    assert load_demos(tmp_path / "d").manifest["generator"]["kind"] == "scripted"


def test_cli_list_shows_cached_sets(demo_set, capsys):
    assert main(["demos", "list", str(demo_set.parent)]) == 0
    assert f"{ENV} n=2 scripted episodes=6" in capsys.readouterr().out


def test_runs_filling_the_same_cache_entry_at_once_all_get_one_complete_set(tmp_path, monkeypatch):
    import threading

    monkeypatch.setenv("LEED_BENCH_CACHE", str(tmp_path))
    results, errors = [], []

    def worker():
        try:
            results.append(resolve_demos(None, ENV, 2, episodes=3,
                                         make_env=make_env))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len({d.manifest_sha256 for d in results}) == 1
    folder = scripted_cache_path(ENV, 2, 3, 0).parent
    assert [p.name for p in folder.iterdir()] == [scripted_cache_path(ENV, 2, 3, 0).name]  # no temp leftovers


def test_scripted_cache_key_changes_with_the_dg_source(monkeypatch):
    """Editing a rule or executor in leed/dg must not reuse scripted sets the old code made."""
    from leed import demos as D
    from leed.dg import scripted

    before = D.scripted_cache_path("lbf:Foraging-8x8-2p-2f-v3", 2, 50, 0)
    assert before == D.scripted_cache_path("lbf:Foraging-8x8-2p-2f-v3", 2, 50, 0)  # stable
    assert len(scripted.dg_source_sha256()) == 64
    monkeypatch.setattr(scripted, "dg_source_sha256", lambda: "0" * 64)  # as if leed/dg changed
    assert D.scripted_cache_path("lbf:Foraging-8x8-2p-2f-v3", 2, 50, 0) != before
