"""The results store: `results/<exp>/runs/<run_id>/{run.json, metrics.csv, done}`.

Every file is written whole to a temporary file and moved into place with `os.replace`, so a
killed process leaves either the old file or the new one, never half of one. `done` is written
last: a run folder without it is partial and is deleted when the run restarts. Finished runs are
never rewritten, which is what makes resuming a killed matrix safe.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import math
import os
import platform
import shutil
import socket
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.core.gitinfo import PROJECT_ROOT, git_state

RUN_FILE, METRICS_FILE, DONE_FILE, TABLE_FILE = "run.json", "metrics.csv", "done", "table.csv"

METRIC_COLUMNS = [
    "env_steps", "wall_s", "episodes", "updates", "update_s", "eval_return", "eval_return_std",
    "eval_win_rate", "eval_episodes", "train_return",
]
RUN_COLUMNS = [
    "experiment", "run_id", "algo", "env", "family", "scenario", "n_agents", "seed", "backend",
    "demo_s",
]
LIBRARIES = [
    "torch", "numpy", "scipy", "pandas", "lbforaging", "vmas", "jax", "jaxmarl", "smacv2",
    "ray", "huggingface-hub", "pyarrow",
]


# --- atomic files -----------------------------------------------------------------------------

def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers (and a crash) see the old file or the new one whole."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Strict JSON (NaN and infinities become null) so any JSON reader takes run.json."""
    text = json.dumps(_finite(obj), indent=2, sort_keys=True, default=str, allow_nan=False)
    atomic_write_text(path, text + "\n")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):  # numpy/torch scalars
        return _finite(obj.item())
    return obj


# --- runs -------------------------------------------------------------------------------------

def runs_dir(exp_dir: Path) -> Path:
    return Path(exp_dir) / "runs"


def run_dir(exp_dir: Path, run_id: str) -> Path:
    return runs_dir(exp_dir) / run_id


def is_done(path: Path) -> bool:
    return (Path(path) / DONE_FILE).is_file()


def start_run(exp_dir: Path, run_id: str, record: dict[str, Any]) -> Path:
    """A fresh folder for `run_id` with its run.json; a partial folder left by a crash is deleted.

    Refuses to touch a finished run: finished results are never overwritten by accident.
    """
    path = run_dir(exp_dir, run_id)
    if is_done(path):
        raise FileExistsError(f"run {run_id} is already done in {exp_dir}")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    atomic_write_json(path / RUN_FILE, record)
    return path


def reset_run(exp_dir: Path, run_id: str) -> None:
    """Delete a run folder, finished or not (`leed-bench train` always trains afresh)."""
    shutil.rmtree(run_dir(exp_dir, run_id), ignore_errors=True)


class MetricsWriter:
    """Appends evaluation rows to metrics.csv, rewriting the whole file atomically each time.

    A run has tens of evaluations, so rewriting is cheap and a kill never leaves a torn row.
    """

    def __init__(self, path: Path):
        self.path = Path(path) / METRICS_FILE
        self.rows: list[dict[str, Any]] = []

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))
        atomic_write_text(self.path, rows_to_csv(self.rows))


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """The metrics CSV: the documented columns first, any extra keys a learner reports after."""
    extra = sorted({k for r in rows for k in r} - set(METRIC_COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS + extra, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in writer.fieldnames})
    return buf.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    return value


def finish_run(path: Path, record: dict[str, Any]) -> None:
    """Rewrite run.json with the final record, then write `done`: from here the run is kept."""
    atomic_write_json(Path(path) / RUN_FILE, record)
    atomic_write_text(Path(path) / DONE_FILE, record.get("finished_at", "") + "\n")


def write_run_files(exp_dir: Path, run_id: str, files: dict[str, bytes]) -> Path:
    """Store a run produced elsewhere (a Ray worker): every file atomically, `done` last."""
    path = run_dir(exp_dir, run_id)
    if path.exists() and not is_done(path):
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == DONE_FILE):
        atomic_write_bytes(path / name, files[name])
    return path


def read_run(path: Path) -> dict[str, Any]:
    return json.loads((Path(path) / RUN_FILE).read_text(encoding="utf-8"))


def finished_run_dirs(exp_dir: Path) -> list[Path]:
    root = runs_dir(exp_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and is_done(p))


# --- the tidy table ---------------------------------------------------------------------------

def table_is_stale(exp_dir: Path) -> bool:
    """True when a run finished after `table.csv` was written (or there is none yet)."""
    done = [(p / DONE_FILE).stat().st_mtime for p in finished_run_dirs(exp_dir)]
    table = Path(exp_dir) / TABLE_FILE
    return bool(done) and (not table.is_file() or table.stat().st_mtime < max(done))


def load_table(exp_dir: Path) -> pd.DataFrame:
    """One row per evaluation of every finished run, with the run's identity columns first."""
    exp_dir = Path(exp_dir)
    frames = []
    for path in finished_run_dirs(exp_dir):
        record = read_run(path)
        metrics = pd.read_csv(path / METRICS_FILE)
        cfg = record["config"]
        family, scenario = cfg["env"].split(":", 1)
        ident = {
            "experiment": exp_dir.name, "run_id": record["run_id"], "algo": cfg["algo"],
            "env": cfg["env"], "family": family, "scenario": scenario,
            "n_agents": cfg["n_agents"], "seed": cfg["seed"], "backend": record["backend"],
            "demo_s": record.get("demo_s", float("nan")),
        }
        frames.append(metrics.assign(**ident))
    if not frames:
        return pd.DataFrame(columns=RUN_COLUMNS + METRIC_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    table["demo_s"] = table["demo_s"].astype(float)
    extra = [c for c in table.columns if c not in RUN_COLUMNS + METRIC_COLUMNS]
    ordered = RUN_COLUMNS + [c for c in METRIC_COLUMNS if c in table.columns] + extra
    return table[ordered]


def write_table(exp_dir: Path, table: pd.DataFrame | None = None) -> Path:
    """Rebuild `<exp>/table.csv` from the finished runs (atomically) and return its path.

    An unchanged table is left alone, so re-running a finished experiment writes nothing.
    """
    path = Path(exp_dir) / TABLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (load_table(exp_dir) if table is None else table).to_csv(index=False)
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        atomic_write_text(path, text)
    return path


# --- provenance -------------------------------------------------------------------------------

def provenance() -> dict[str, Any]:
    """Where and with what a run ran: code version, libraries, hardware, host, start time."""
    return {
        **_static_provenance(),
        "started_at": now_iso(),
    }


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@functools.cache
def _static_provenance() -> dict[str, Any]:
    commit, dirty = _git_state()
    return {
        "git_commit": commit, "git_dirty": dirty, "package_version": _version("leed-bench"),
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "hardware": _hardware(),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout this code runs from; (None, None) for an installed wheel."""
    return git_state(PROJECT_ROOT)


def _hardware() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "memory_gb": memory_gb, "gpu": _gpu()}


def _gpu() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None
