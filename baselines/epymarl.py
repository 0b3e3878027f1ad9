"""Run baselines through a real EPyMARL checkout and read its sacred results as our metrics rows.

Reviewers trust EPyMARL's numbers, so the suite can run an algorithm (`epymarl:mappo`, ...)
through EPyMARL's own `src/main.py` and import any sacred results folder it wrote. Nothing of
EPyMARL is vendored: `EPYMARL_PATH` names a checkout, `EPYMARL_PYTHON` the interpreter that has
its requirements (default: this one). See docs/epymarl.md.

EPyMARL's sacred FileStorageObserver writes `results/sacred/<alg>/<env key>/<id>/` with
`config.json`, `run.json` (start/stop times, host, status), `metrics.json` (each series as
`steps`, `values`, `timestamps`) and `info.json`. One row per test evaluation comes out of it:
`env_steps` = the steps of `test_return_mean`, `wall_s` = its timestamps minus the run's start.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines.core.gitinfo import git_state
from baselines.core.errors import UserError

PATH_VAR, PYTHON_VAR = "EPYMARL_PATH", "EPYMARL_PYTHON"
ALGO_PREFIX = "epymarl:"
LBF_TIME_LIMIT = 50  # EPyMARL's published LBF setting (`env_args.time_limit=50`)
SERIES_FILE, META_FILE, LOG_FILE = "epymarl_series.csv", "epymarl.json", "epymarl.log"
SACRED_FILES = ("config.json", "metrics.json", "run.json")  # info.json is read when present

# Modules whose absence we can explain; anything else points at requirements.txt.
_HINTS = {
    "pkg_resources": "sacred needs pkg_resources: pip install 'setuptools<81'",
    "setuptools": "sacred needs pkg_resources: pip install 'setuptools<81'",
    "smaclite": ("EPyMARL's src/envs/__init__.py imports smaclite unconditionally: install smaclite "
                 "from github.com/uoe-agents/smaclite or wrap that import in try/except ImportError"),
    "lbforaging": "pip install lbforaging",
    "sacred": "pip install -r $EPYMARL_PATH/requirements.txt 'setuptools<81'",
}

# Runs in EPYMARL_PYTHON from src/: the imports main.py and the gymma env need, first missing one.
_PROBE = """
import importlib, sys
sys.path.insert(0, ".")
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError as err:
        print("MISSING", getattr(err, "name", None) or name)
        sys.exit(3)
print("OK")
"""
_PROBE_MODULES = ("pkg_resources", "sacred", "yaml", "numpy", "torch", "gymnasium", "envs")


class SacredImportError(UserError):
    """A sacred run folder that cannot be imported (missing or truncated file, no test series)."""


@dataclass(frozen=True)
class Checkout:
    """A usable EPyMARL checkout and the interpreter that runs it."""

    root: Path
    python: str

    @property
    def main(self) -> Path:
        return self.root / "src" / "main.py"

    def algorithms(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "src" / "config" / "algs").glob("*.yaml"))


# --- the checkout -----------------------------------------------------------------------------

def find_checkout(environ: Mapping[str, str] | None = None, modules: tuple[str, ...] = ()) -> Checkout:
    """The checkout named by `EPYMARL_PATH`, checked usable; otherwise one line saying what to do."""
    environ = os.environ if environ is None else environ
    raw = environ.get(PATH_VAR, "").strip()
    if not raw:
        raise UserError(f"{PATH_VAR} is not set: clone https://github.com/uoe-agents/epymarl, "
                        f"install its requirements and set {PATH_VAR} to it (see docs/epymarl.md)")
    root = Path(raw).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{PATH_VAR}={raw}: no such folder; point it at a checkout of uoe-agents/epymarl")
    if not (root / "src" / "main.py").is_file():
        raise UserError(f"{PATH_VAR}={raw}: no src/main.py there; point it at a checkout of "
                        "uoe-agents/epymarl (the folder holding src/ and requirements.txt)")
    python = environ.get(PYTHON_VAR, "").strip() or sys.executable
    _check_imports(str(root), python, tuple(modules))
    return Checkout(root=root, python=python)


@functools.lru_cache(maxsize=16)
def _check_imports(root: str, python: str, extra: tuple[str, ...]) -> None:
    """Import what EPyMARL needs in its interpreter once per process: a missing module is one line."""
    cmd = [python, "-c", _PROBE, *_PROBE_MODULES, *extra]
    try:
        out = subprocess.run(cmd, cwd=Path(root) / "src", capture_output=True, text=True,
                             timeout=300, env=_child_env(), check=False)
    except OSError as err:
        raise UserError(f"{PYTHON_VAR}={python}: cannot run it ({err.strerror or err}); "
                        "set it to the python that has EPyMARL's requirements") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{python}: importing EPyMARL's modules took over 300 s") from None
    lines = out.stdout.strip().splitlines()
    if out.returncode == 3 and lines and lines[-1].startswith("MISSING"):
        name = lines[-1].split(maxsplit=1)[1].strip()
        top = name.split(".")[0]
        hint = _HINTS.get(top, f"pip install -r {root}/requirements.txt")
        raise UserError(f"EPyMARL at {root} is not usable with {python}: module '{name}' is "
                        f"missing; {hint} (see docs/epymarl.md)")
    if out.returncode != 0:
        last = _last_line(out.stderr) or f"exit code {out.returncode}"
        raise UserError(f"EPyMARL at {root} is not usable with {python}: importing its modules "
                        f"failed: {last}")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _child_env() -> dict[str, str]:
    """This environment with one torch thread: EPyMARL shares the few cores with other runs."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def epymarl_commit(root: Path) -> dict[str, Any] | None:
    """The checkout's commit (and whether it has local edits, e.g. a guarded smaclite import)."""
    commit, dirty = git_state(root, untracked=False)
    return None if commit is None else {"commit": commit, "dirty": dirty}


# --- env keys ---------------------------------------------------------------------------------

def epymarl_env_key(env: str, n_agents: int) -> str:
    """`lbf:Foraging-8x8-2f-v3` + 2 agents -> `lbforaging:Foraging-8x8-2p-2f-v3` (EPyMARL's gymma key)."""
    family, _, scenario = env.partition(":")
    if family != "lbf":
        raise UserError(f"epymarl backend: env {env!r} is not supported (only lbf:..., run through "
                        "EPyMARL's gymma wrapper)")
    players = re.search(r"-(\d+)p-", scenario)
    if players and int(players.group(1)) != n_agents:
        raise UserError(f"epymarl backend: {env} has {players.group(1)} players, not {n_agents}")
    if not players:
        scenario = re.sub(r"^(Foraging(?:-\d+s)?-\d+x\d+)-", rf"\1-{n_agents}p-", scenario, count=1)
    return f"lbforaging:{scenario}"


def suite_env(config: Mapping[str, Any]) -> tuple[str, int | None]:
    """EPyMARL config -> (our env key, agent count if the key tells it), for imported runs."""
    args = config.get("env_args") or {}
    if config.get("env") == "gymma" and args.get("key"):
        module, _, name = str(args["key"]).rpartition(":")
        family = {"lbforaging": "lbf", "": "gymma"}.get(module, module)
        players = re.search(r"-(\d+)p-", name)
        return f"{family}:{name}", int(players.group(1)) if players else None
    name = args.get("map_name") or args.get("key") or "unknown"
    return f"{config.get('env', 'unknown')}:{name}", None


# --- reading sacred run folders ---------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One metric as sacred logged it: parallel lists of env steps, values and UTC timestamps."""

    name: str
    steps: list[int]
    values: list[float]
    timestamps: list[dt.datetime]


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SacredImportError(f"{path.parent}: no {path.name}; not a complete sacred run folder "
                                "(expected config.json, metrics.json, run.json)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SacredImportError(f"{path}: cannot read it ({type(err).__name__})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SacredImportError(f"{path}: truncated or invalid JSON (line {err.lineno}, column "
                                f"{err.colno}: {err.msg})") from None


def _timestamp(value: Any, where: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise SacredImportError(f"{where}: bad timestamp {value!r}") from None


def read_series(path: Path) -> dict[str, Series]:
    """Every series of `metrics.json`, checked: steps, values and timestamps of equal length."""
    path = Path(path)
    raw = _read_json(path / "metrics.json")
    if not isinstance(raw, dict):
        raise SacredImportError(f"{path / 'metrics.json'}: expected an object of metric series")
    series = {}
    for name, entry in raw.items():
        where = f"{path / 'metrics.json'}: series {name!r}"
        if not isinstance(entry, dict) or not all(k in entry for k in ("steps", "values")):
            raise SacredImportError(f"{where} lacks steps/values")
        steps, values = entry["steps"], entry["values"]
        stamps = entry.get("timestamps") or []
        if len(steps) != len(values) or (stamps and len(stamps) != len(steps)):
            raise SacredImportError(f"{where} has {len(steps)} steps, {len(values)} values and "
                                    f"{len(stamps)} timestamps")
        series[name] = Series(name, [int(s) for s in steps], [_float(v) for v in values],
                              [_timestamp(t, where) for t in stamps])
    return series


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _at_or_before(series: Series | None, step: int) -> float:
    """The series' latest value logged at or before `step` (NaN if none): e.g. the train return."""
    if series is None:
        return math.nan
    best = math.nan
    for s, v in zip(series.steps, series.values):
        if s > step:
            break
        best = v
    return best


def _episodes_at(series: Series | None, step: int) -> float:
    """Episodes finished by `step`, interpolated from EPyMARL's `episode` log (logged between tests).

    Linear between logged points (and from (0, 0)), extended at the last logged rate; NaN if the
    run logged no episodes.
    """
    if series is None or not series.steps:
        return math.nan
    xs, ys = [0, *series.steps], [0.0, *series.values]
    for i in range(1, len(xs)):
        if step <= xs[i]:
            break
    span = xs[i] - xs[i - 1]
    rate = (ys[i] - ys[i - 1]) / span if span > 0 else 0.0
    return float(round(ys[i - 1] + rate * (step - xs[i - 1])))


def eval_episodes(config: Mapping[str, Any]) -> int:
    """Episodes per test: the parallel runner rounds `test_nepisode` down to whole batches."""
    n = int(config.get("test_nepisode", 20))
    if config.get("runner") == "parallel":
        batch = int(config.get("batch_size_run", 1))
        return max(1, n // batch) * batch
    return n


def eval_mode_of(config: Mapping[str, Any]) -> str | None:
    """How EPyMARL's test episodes pick actions: its policy selectors sample even in test mode."""
    selector = config.get("action_selector")
    if selector == "soft_policies":
        return "sample"
    if selector == "epsilon_greedy":
        return "greedy" if float(config.get("evaluation_epsilon", 0.0)) == 0 else "sample"
    if selector == "multinomial":
        return "greedy" if config.get("test_greedy", True) else "sample"
    return None


def rows_from_series(config: Mapping[str, Any], series: dict[str, Series],
                     start: dt.datetime, where: str = "metrics.json") -> list[dict[str, Any]]:
    """One tidy metrics row per test evaluation (the steps of `test_return_mean`)."""
    test = series.get("test_return_mean")
    if test is None or not test.steps:
        raise SacredImportError(f"{where}: no test_return_mean series: the run logged no evaluation "
                                "(was it stopped before its first test, or test_interval > t_max?)")
    n_eval, mode = eval_episodes(config), eval_mode_of(config)
    rows = []
    for i, step in enumerate(test.steps):
        wall = (test.timestamps[i] - start).total_seconds() if test.timestamps else math.nan
        rows.append({
            "env_steps": step, "wall_s": wall,
            "episodes": _episodes_at(series.get("episode"), step),
            "updates": math.nan, "update_s": math.nan,  # EPyMARL does not log them
            "eval_return": test.values[i],
            "eval_return_std": _at_or_before(series.get("test_return_std"), step),
            "eval_win_rate": _at_or_before(series.get("test_battle_won_mean"), step),
            "eval_episodes": n_eval,
            "train_return": _at_or_before(series.get("return_mean"), step),
            **({"eval_mode": mode} if mode else {}),
        })
    return rows


def series_rows(series: dict[str, Series], start: dt.datetime | None) -> list[dict[str, Any]]:
    """Every logged series in long form (metric, step, value, wall_s): nothing EPyMARL logged is lost."""
    out = []
    for name in sorted(series):
        s = series[name]
        for i, (step, value) in enumerate(zip(s.steps, s.values)):
            wall = (s.timestamps[i] - start).total_seconds() if start and s.timestamps else math.nan
            out.append({"metric": name, "step": step, "value": value, "wall_s": wall})
    return out


def import_sacred_run(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """A sacred run folder -> (EPyMARL's config, metrics rows, provenance); one-line errors."""
    path = Path(path)
    if not path.is_dir():
        raise SacredImportError(f"{path}: no such sacred run folder")
    config = _read_json(path / "config.json")
    run = _read_json(path / "run.json")
    if (path / "info.json").exists():
        _read_json(path / "info.json")  # a truncated info.json means a damaged folder: say so
    if not isinstance(config, dict) or not isinstance(run, dict):
        raise SacredImportError(f"{path}: config.json and run.json must be JSON objects")
    if "start_time" not in run:
        raise SacredImportError(f"{path / 'run.json'}: no start_time")
    start = _timestamp(run["start_time"], str(path / "run.json"))
    series = read_series(path)
    rows = rows_from_series(config, series, start, where=str(path / "metrics.json"))
    return config, rows, _provenance(path, config, run, start)


def _provenance(path: Path, config: Mapping[str, Any], run: Mapping[str, Any],
                start: dt.datetime) -> dict[str, Any]:
    """Where and with what EPyMARL ran, from run.json (the machine's environment variables left out)."""
    stop = run.get("stop_time")
    host = {k: v for k, v in (run.get("host") or {}).items() if k != "ENV"}
    experiment = run.get("experiment") or {}
    meta = run.get("meta") or {}
    return {
        "source": "epymarl-sacred", "sacred_dir": str(path), "sacred_id": path.name,
        "status": run.get("status"), "start_time": run.get("start_time"), "stop_time": stop,
        "run_wall_s": (_timestamp(stop, "run.json") - start).total_seconds() if stop else None,
        "host": host, "dependencies": experiment.get("dependencies"),
        "config_updates": meta.get("config_updates"),
        "epymarl_alg": config.get("name"), "env_key": (config.get("env_args") or {}).get("key"),
    }


def is_sacred_run_dir(path: Path) -> bool:
    """A sacred run folder holds at least one of its files (so a damaged one is still found)."""
    return path.is_dir() and path.name != "_sources" and any(
        (path / name).exists() for name in (*SACRED_FILES, "info.json", "cout.txt"))


def find_sacred_runs(root: Path) -> list[Path]:
    """Every sacred run folder at or under `root` (`<alg>/<key>/<id>/`), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise SacredImportError(f"{root}: no such folder")
    if is_sacred_run_dir(root):
        return [root]
    found = sorted(p for p in root.rglob("*") if "_sources" not in p.parts and is_sacred_run_dir(p))
    if not found:
        raise SacredImportError(f"{root}: no sacred runs under it (expected "
                                "<alg>/<env key>/<id>/run.json as EPyMARL writes in results/sacred)")
    return found


def import_sacred_tree(root: Path) -> list[tuple[Path, dict[str, Any], list[dict], dict[str, Any]]]:
    """Every run under `root` as (folder, config, rows, provenance); the first bad folder stops it."""
    return [(p, *import_sacred_run(p)) for p in find_sacred_runs(root)]


# --- files beside a run in the store ----------------------------------------------------------

def series_csv(series: dict[str, Series], start: dt.datetime | None) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["metric", "step", "value", "wall_s"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(series_rows(series, start))
    return buf.getvalue()


def write_run_extras(run_dir: Path, sacred_dir: Path, extra: Mapping[str, Any] | None = None) -> None:
    """Keep EPyMARL's config, provenance and every logged series beside the run's metrics.csv."""
    config, _, prov = import_sacred_run(sacred_dir)
    start = _timestamp(prov["start_time"], "run.json")
    _atomic_write(Path(run_dir) / SERIES_FILE, series_csv(read_series(sacred_dir), start))
    meta = {"config": config, "provenance": prov, **(extra or {})}
    _atomic_write(Path(run_dir) / META_FILE, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- running EPyMARL --------------------------------------------------------------------------

def sacred_value(value: Any) -> str:
    """A value as sacred's `with key=value` parses it (Python literal syntax)."""
    return repr(value)


def epymarl_command(checkout_main: Path, python: str, alg: str, env_key: str, cfg: Any) -> list[str]:
    """EPyMARL's own command line for one run of `cfg` (a TrainConfig)."""
    options = dict(cfg.env_options or {})
    time_limit = options.pop("time_limit", LBF_TIME_LIMIT)
    if options.pop("action_masks", False):  # our lbf option; EPyMARL's gymma has no such thing
        raise UserError("epymarl backend: EPyMARL's gymma wrapper offers every LBF action (no "
                        "masks); set the env option action_masks: false to run the same task")
    interval = cfg.eval_interval
    updates = [
        f"env_args.key={env_key}", f"env_args.time_limit={int(time_limit)}",
        f"t_max={cfg.env_steps}", f"seed={cfg.seed}",
        f"test_interval={interval}", f"test_nepisode={cfg.eval_episodes}",
        f"log_interval={interval}", f"runner_log_interval={interval}",
        f"learner_log_interval={interval}",
        *(f"env_args.{k}={sacred_value(v)}" for k, v in sorted(options.items())),
        *(f"{k}={sacred_value(v)}" for k, v in sorted((cfg.overrides or {}).items())),
    ]
    if cfg.num_envs is not None:
        updates.append(f"batch_size_run={cfg.num_envs}")
    return [python, str(checkout_main), f"--config={alg}", "--env-config=gymma", "with", *updates]


def _die_with_parent() -> Callable[[], Any] | None:
    """A preexec hook that has the child killed when the harness worker dies (no orphan EPyMARL).

    prctl is looked up here, in the parent: between fork and exec the hook only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        import signal

        prctl, sig = ctypes.CDLL(None, use_errno=True).prctl, int(signal.SIGKILL)
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, sig)  # PR_SET_PDEATHSIG


def run_epymarl(cfg: Any, run_dir: Path, on_eval: Callable[[dict], None] | None = None) -> dict:
    """Run `cfg` (algo `epymarl:<alg>`) through EPyMARL's src/main.py; rows to `on_eval`; last row.

    Sacred writes into a temporary folder (a symlink to the checkout's src/ there makes EPyMARL's
    `results/` land beside it, leaving the checkout untouched); the run's folder keeps the log,
    EPyMARL's config and provenance, and every logged series.
    """
    alg = cfg.algo.removeprefix(ALGO_PREFIX)
    env_key = epymarl_env_key(cfg.env, cfg.n_agents)
    checkout = find_checkout(modules=(env_key.split(":")[0],))
    if alg not in checkout.algorithms():
        raise UserError(f"{cfg.algo}: EPyMARL has no src/config/algs/{alg}.yaml "
                        f"(known: {', '.join(checkout.algorithms())})")
    _check_eval_mode(checkout, alg, cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leed-epymarl-") as tmp:
        work = Path(tmp)
        (work / "src").symlink_to(checkout.root / "src", target_is_directory=True)
        cmd = epymarl_command(work / "src" / "main.py", checkout.python, alg, env_key, cfg)
        started, cpu_before = time.perf_counter(), _children_cpu_s()
        _run_logged(cmd, work, run_dir / LOG_FILE)
        wall_s, cpu_s = time.perf_counter() - started, _children_cpu_s() - cpu_before
        sacred = _single_sacred_run(work / "results" / "sacred", run_dir / LOG_FILE)
        _, rows, prov = import_sacred_run(sacred)
        write_run_extras(run_dir, sacred, {
            "command": [cmd[0], str(checkout.main), *cmd[2:]], "checkout": str(checkout.root),
            "python": checkout.python, "epymarl_git": epymarl_commit(checkout.root),
            "process_wall_s": wall_s, "process_cpu_s": cpu_s,
        })
    if prov.get("status") != "COMPLETED":
        raise RuntimeError(f"EPyMARL run ended with status {prov.get('status')} (log: {run_dir / LOG_FILE})")
    for row in rows:
        if on_eval:
            on_eval(row)
    return rows[-1]


def _check_eval_mode(checkout: Checkout, alg: str, cfg: Any) -> None:
    """EPyMARL's test mode is fixed by its action selector: refuse an eval_mode it cannot give."""
    wanted = getattr(cfg, "eval_mode", "auto")
    if wanted == "auto":
        return
    import yaml

    path = checkout.root / "src" / "config" / "algs" / f"{alg}.yaml"
    alg_config = {**(yaml.safe_load(path.read_text(encoding="utf-8")) or {}), **(cfg.overrides or {})}
    actual = eval_mode_of(alg_config)
    if actual is not None and actual != wanted:
        raise UserError(f"{cfg.algo}: EPyMARL evaluates with eval_mode {actual} (its "
                        f"{alg_config.get('action_selector')} selector in test mode), not {wanted}")


def _children_cpu_s() -> float:
    """CPU seconds of finished child processes (EPyMARL and its env workers): load-independent cost."""
    try:
        import resource
    except ImportError:
        return math.nan
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_logged(cmd: list[str], cwd: Path, log_path: Path) -> None:
    """Run EPyMARL with its output in `log_path`; a failure raises with its last line."""
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env=_child_env(), preexec_fn=_die_with_parent())  # noqa: PLW1509
        try:
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if code != 0:
        last = _last_line(log_path.read_text(encoding="utf-8", errors="replace"))
        raise RuntimeError(f"EPyMARL exited with code {code}: {last} (log: {log_path})")


def _single_sacred_run(sacred_root: Path, log_path: Path) -> Path:
    runs = find_sacred_runs(sacred_root) if sacred_root.is_dir() else []
    if len(runs) != 1:
        raise RuntimeError(f"expected one sacred run under {sacred_root}, found {len(runs)} "
                           f"(log: {log_path})")
    return runs[0]


def train_config_dict(config: Mapping[str, Any], n_agents: int | None = None) -> dict[str, Any]:
    """An imported EPyMARL config as our TrainConfig fields, so imported runs sit in one table."""
    from baselines.train import TrainConfig

    env, key_agents = suite_env(config)
    agents = n_agents or key_agents
    if agents is None:
        raise SacredImportError(f"cannot tell the agent count of {env!r} from its key; pass --agents N")
    cfg = TrainConfig(
        algo=ALGO_PREFIX + str(config.get("name", "unknown")), env=env, n_agents=int(agents),
        seed=int(config.get("seed", 0)), env_steps=int(config.get("t_max", 0)),
        eval_interval=int(config.get("test_interval", 0)), eval_episodes=eval_episodes(config),
        num_envs=int(config["batch_size_run"]) if "batch_size_run" in config else None,
    )
    return dataclasses.asdict(cfg)
