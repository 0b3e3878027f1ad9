"""The demonstration-set format: a folder with a manifest, parquet episodes, prompts and a card.

Demonstrations are stored exactly as the learners' own trajectories (obs, avail, action per step
and agent), so LEED's expert loss reads them with no conversion. Every file's sha256 is in the
manifest and is checked on load: a set that was altered, truncated or half-copied is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from baselines.core.gitinfo import PROJECT_ROOT, git_state
from baselines.core.errors import UserError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
EPISODES_FILE = "episodes-00000.parquet"
PROMPTS_FILE = "prompts.jsonl"
CARD_FILE = "README.md"


class DemoError(UserError):
    """A demonstration set that cannot be used (missing, altered, wrong schema or shape)."""


@dataclass
class AgentDemos:
    """One agent's demonstration steps: what LEED's expert loss consumes."""

    obs: np.ndarray  # [M, O] float32
    avail: np.ndarray  # [M, A] bool
    action: np.ndarray  # [M] int64


@dataclass
class DemoSet:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    obs: np.ndarray  # [M, N, O] step-major, all episodes concatenated
    avail: np.ndarray  # [M, N, A]
    action: np.ndarray  # [M, N]
    reward: np.ndarray  # [M, N]
    done: np.ndarray  # [M]
    episode: np.ndarray  # [M]
    step: np.ndarray  # [M]
    episode_returns: np.ndarray  # [episodes] team returns
    revision: str | None = None  # Hub commit sha when pulled
    source: str = "local"  # local | hub | generated | cache

    @property
    def n_agents(self) -> int:
        return int(self.obs.shape[1])

    def agent(self, i: int) -> AgentDemos:
        return AgentDemos(self.obs[:, i], self.avail[:, i], self.action[:, i])

    @property
    def agents(self) -> list[AgentDemos]:
        return [self.agent(i) for i in range(self.n_agents)]

    @property
    def generator(self) -> dict[str, Any]:
        return dict(self.manifest["generator"])

    def provenance(self) -> dict[str, Any]:
        """What a run records about its demonstrations (and the generation cost to charge LEED)."""
        m = self.manifest
        return {
            "path": str(self.path), "source": self.source, "revision": self.revision,
            "manifest_sha256": self.manifest_sha256, "generator": self.generator,
            "env": m["env"], "n_agents": m["n_agents"], "episodes": m["episodes"],
            "return_mean": m["return"]["mean"], "demo_s": float(m["cost"]["seconds"]),
            "tokens": int(m["cost"]["tokens"]), "key": m.get("key"),
        }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> str:
    """The git commit of this checkout if there is one, else the installed package version."""
    commit, dirty = git_state(PROJECT_ROOT, untracked=False)
    if commit:
        return f"git:{commit}" + ("-dirty" if dirty else "")
    try:
        from importlib.metadata import version

        return f"leed-bench {version('leed-bench')}"
    except Exception:  # noqa: BLE001 - not installed: say so rather than fail
        return "unknown"


def demo_key(env: str, n_agents: int, generator: str, prompt_sha256: str) -> str:
    """The cache/Hub key (env, scenario, n_agents, generator, prompt sha256) as a folder path."""
    family, _, scenario = env.partition(":")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario)
    return f"{family}/{safe}/n{n_agents}/{generator}-{prompt_sha256[:12]}"


# ---------------------------------------------------------------- writing

def _episodes_table(episodes: list[Any]):
    import pyarrow as pa

    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("episode", "step", "agent", "obs", "avail", "action", "reward", "done")}
    for k, ep in enumerate(episodes):
        t, n = ep.action.shape
        cols["episode"].append(np.full(t * n, k, dtype=np.int32))
        cols["step"].append(np.repeat(np.arange(t, dtype=np.int32), n))
        cols["agent"].append(np.tile(np.arange(n, dtype=np.int16), t))
        cols["obs"].append(ep.obs.reshape(t * n, -1).astype(np.float32))
        cols["avail"].append(ep.avail.reshape(t * n, -1).astype(bool))
        cols["action"].append(ep.action.reshape(t * n).astype(np.int16))
        cols["reward"].append(ep.reward.reshape(t * n).astype(np.float32))
        cols["done"].append(np.repeat(ep.done, n))
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    obs, avail = cat["obs"], cat["avail"]
    return pa.table({
        "episode": cat["episode"], "step": cat["step"], "agent": cat["agent"],
        "obs": pa.FixedSizeListArray.from_arrays(pa.array(obs.reshape(-1)), obs.shape[1]),
        "avail": pa.FixedSizeListArray.from_arrays(pa.array(avail.reshape(-1)), avail.shape[1]),
        "action": cat["action"], "reward": cat["reward"], "done": cat["done"],
    })


def _card(m: dict[str, Any]) -> str:
    g = m["generator"]
    if g["kind"] == "scripted":
        who = ("**Scripted.** These demonstrations were written by leed-bench's rule-based planner "
               f"(version {g.get('planner_version')}), not by a language model. No LLM was called.")
    else:
        who = (f"**LLM ({g['kind']}).** Plans were written by the model `{g.get('model')}` at temperature "
               f"{g.get('temperature')} with up to {g.get('rounds')} refinement rounds; every prompt and "
               f"reply is in `{PROMPTS_FILE}`.")
    r = m["return"]
    return f"""---
tags: [multi-agent-reinforcement-learning, demonstrations, leed-bench]
---
# LEED demonstrations: {m['env']} with {m['n_agents']} agents

{who}

| field | value |
| --- | --- |
| env | `{m['env']}` |
| agents | {m['n_agents']} |
| episodes | {m['episodes']} ({m['steps']} steps) |
| team return mean / std / min / max | {r['mean']:.4f} / {r['std']:.4f} / {r['min']:.4f} / {r['max']:.4f} |
| win rate | {m['win_rate'] if m['win_rate'] is not None else 'n/a'} |
| generator | {g['kind']} |
| {'planner rules sha256 (no prompt)' if g['kind'] == 'scripted' else 'prompt template sha256'} | `{g.get('prompt_sha256')}` |
| tokens / seconds spent | {m['cost']['tokens']} / {m['cost']['seconds']:.2f} |
| created | {m['created_at']} by {m['code_version']} |

Format: `{EPISODES_FILE}` has one row per step and agent (`episode, step, agent, obs, avail,
action, reward, done`), the same observation/availability/action layout the agents train on.
`manifest.json` lists the sha256 of every file; `leed-bench demos verify` checks them.
"""


def check_destination(out: Path, force: bool) -> None:
    """Refuse early (before any work) to overwrite an existing set unless forced."""
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise DemoError(f"--out {out} already exists and is not empty (pass --force to replace it)")


def write_demo_set(out: str | Path, episodes: list[Any], manifest: dict[str, Any], prompts_jsonl: str,
                   force: bool = False, exist_ok: bool = False) -> Path:
    """Write the set into a temp folder beside `out`, then rename: never a half-written set.

    `exist_ok`: a set that another process finished at `out` first is kept and ours dropped
    (two runs filling the same cache entry at once).
    """
    out = Path(out).expanduser().resolve()
    if exist_ok and (out / MANIFEST).is_file():
        return out
    check_destination(out, force or exist_ok)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        import pyarrow.parquet as pq

        pq.write_table(_episodes_table(episodes), tmp / EPISODES_FILE)
        (tmp / PROMPTS_FILE).write_text(prompts_jsonl)
        returns = np.array([ep.team_return for ep in episodes], dtype=np.float64)
        wins = [ep.won for ep in episodes if ep.won is not None]
        m = dict(manifest)
        m.update(
            schema_version=SCHEMA_VERSION,
            episodes=len(episodes),
            steps=int(sum(ep.length for ep in episodes)),
            episode_returns=[round(float(x), 6) for x in returns],
            win_rate=float(np.mean(wins)) if wins else None,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            code_version=code_version(),
        )
        m["return"] = {"mean": float(returns.mean()), "std": float(returns.std()),
                       "min": float(returns.min()), "max": float(returns.max())}
        (tmp / CARD_FILE).write_text(_card(m))
        m["files"] = {name: sha256_file(tmp / name) for name in (EPISODES_FILE, PROMPTS_FILE, CARD_FILE)}
        (tmp / MANIFEST).write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
        if exist_ok and (out / MANIFEST).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
        elif out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "set")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, out)
            except OSError:
                if not (exist_ok and (out / MANIFEST).is_file()):  # lost a race to a finished set: keep it
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# ---------------------------------------------------------------- reading

def read_manifest(path: str | Path) -> tuple[dict[str, Any], str]:
    """(manifest, its sha256); a missing/unreadable/foreign manifest is one clear error."""
    path = Path(path).expanduser()
    mpath = path / MANIFEST
    if not path.is_dir():
        raise DemoError(f"demonstration set {path} does not exist or is not a folder")
    try:
        raw = mpath.read_bytes()
        manifest = json.loads(raw)
    except FileNotFoundError:
        raise DemoError(f"{mpath} is missing: not a demonstration set") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DemoError(f"{mpath} is unreadable: {getattr(err, 'msg', None) or err}") from None
    if not isinstance(manifest, dict) or "schema_version" not in manifest:
        raise DemoError(f"{mpath} has no schema_version: not a demonstration set")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise DemoError(
            f"{mpath}: schema_version {manifest['schema_version']!r} is not supported (this leed-bench reads {SCHEMA_VERSION})"
        )
    for key in ("env", "n_agents", "obs_dim", "n_actions", "generator", "files", "episodes"):
        if key not in manifest:
            raise DemoError(f"{mpath} lacks the field '{key}'")
    return manifest, hashlib.sha256(raw).hexdigest()


def verify_files(path: str | Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is present with the recorded sha256."""
    path = Path(path)
    for name, digest in sorted(manifest["files"].items()):
        f = path / name
        if not f.is_file():
            raise DemoError(f"{f} is missing (listed in {MANIFEST})")
        actual = sha256_file(f)
        if actual != digest:
            raise DemoError(f"{f} was altered: sha256 {actual[:12]}... differs from the manifest's {digest[:12]}...")


def load_demos(
    path: str | Path,
    expect_n_agents: int | None = None,
    expect_obs_dim: int | None = None,
    expect_n_actions: int | None = None,
) -> DemoSet:
    """Verify and load a set; shapes that do not match the learner's env are refused in one line."""
    import pyarrow.parquet as pq

    path = Path(path).expanduser().resolve()
    manifest, msha = read_manifest(path)
    verify_files(path, manifest)
    diffs = [f"{name} {manifest[key]} (demos) != {want} (env)"
             for name, key, want in (("n_agents", "n_agents", expect_n_agents), ("obs_dim", "obs_dim", expect_obs_dim),
                                     ("n_actions", "n_actions", expect_n_actions))
             if want is not None and int(manifest[key]) != int(want)]
    if diffs:
        raise DemoError(f"demonstrations {path} do not fit this env: {'; '.join(diffs)}")
    n, o, a = int(manifest["n_agents"]), int(manifest["obs_dim"]), int(manifest["n_actions"])
    parts = sorted(p for p in manifest["files"] if p.startswith("episodes-") and p.endswith(".parquet"))
    try:
        import pyarrow as pa

        table = pa.concat_tables([pq.read_table(path / p) for p in parts])
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DemoError(f"{path / parts[0]} is not a readable parquet file: {err}") from None
    table = table.sort_by([("episode", "ascending"), ("step", "ascending"), ("agent", "ascending")])
    rows = table.num_rows
    if rows % n:
        raise DemoError(f"{path / parts[0]}: {rows} rows is not a multiple of n_agents {n}")
    m = rows // n
    obs = table.column("obs").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    avail = table.column("avail").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    if obs.size != rows * o or avail.size != rows * a:
        raise DemoError(f"{path / parts[0]}: obs/avail widths differ from the manifest's obs_dim {o} / n_actions {a}")
    col = lambda name: table.column(name).to_numpy()  # noqa: E731
    agent = col("agent").reshape(m, n)
    if not (agent == np.arange(n)).all():
        raise DemoError(f"{path / parts[0]}: some steps do not have a row for every agent")
    episode = col("episode").reshape(m, n)[:, 0]
    returns = np.asarray(manifest.get("episode_returns") or [], dtype=np.float64)
    return DemoSet(
        path=path, manifest=manifest, manifest_sha256=msha,
        obs=obs.astype(np.float32).reshape(m, n, o),
        avail=avail.astype(bool).reshape(m, n, a),
        action=col("action").astype(np.int64).reshape(m, n),
        reward=col("reward").astype(np.float32).reshape(m, n),
        done=col("done").reshape(m, n)[:, 0].astype(bool),
        episode=episode.astype(np.int64),
        step=col("step").reshape(m, n)[:, 0].astype(np.int64),
        episode_returns=returns,
    )


# ---------------------------------------------------------------- resolving a run's demonstrations

def cache_root() -> Path:
    """Where generated scripted sets live: $LEED_BENCH_CACHE or ~/.cache/leed-bench (XDG aware)."""
    if os.environ.get("LEED_BENCH_CACHE"):
        return Path(os.environ["LEED_BENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leed-bench"


def scripted_cache_path(env_key: str, n_agents: int, episodes: int, seed: int) -> Path:
    from leed.dg.scripted import planner_sha256

    family = env_key.partition(":")[0]
    key = demo_key(env_key, n_agents, "scripted", planner_sha256(family))
    return cache_root() / "demos" / f"{key}-e{episodes}-s{seed}"


def resolve_demos(
    ref: str | None,
    env_key: str,
    n_agents: int,
    episodes: int = 50,
    make_env: Callable[..., Any] | None = None,
    seed: int = 0,
    expect_obs_dim: int | None = None,
    expect_n_actions: int | None = None,
) -> DemoSet:
    """The demonstrations for one run: a local folder, `hf://owner/repo@rev[/subdir]`, or None /
    "scripted" (generated once into the user cache under its key, then reused).

    `make_env(env_key, n_agents, num_envs)` builds the env when scripted demos must be generated.
    """
    source = "local"
    revision = None
    if ref is None or ref == "scripted":
        path = scripted_cache_path(env_key, n_agents, episodes, seed)
        source = "cache"
        if not (path / MANIFEST).is_file():
            if make_env is None:
                raise DemoError(f"no scripted demonstrations cached at {path} and no make_env to generate them")
            from leed.dg.generate import generate_demos

            n_envs = min(episodes, 10)  # episode k starts from seed + k whatever the batch size
            generate_demos(lambda: make_env(env_key, n_agents, n_envs), env_key, n_agents, path,
                           episodes=episodes, seed=seed, generator="scripted", exist_ok=True)
            source = "generated"
    elif ref.startswith("hf://"):
        from leed.hub import pull

        result = pull(ref)
        path, revision, source = result.path, result.revision, "hub"
    else:
        path = Path(ref).expanduser()
    demos = load_demos(path, expect_n_agents=n_agents, expect_obs_dim=expect_obs_dim, expect_n_actions=expect_n_actions)
    if demos.manifest["env"] != env_key:
        raise DemoError(f"demonstrations {path} are for env {demos.manifest['env']}, not {env_key}")
    demos.revision, demos.source = revision, source
    return demos
