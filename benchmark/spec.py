"""Experiment specs: YAML (or a dict) -> frozen dataclasses, validated once, here.

The CLI (`run`, `train`), tox and the Python API all build a `Spec` through `parse_spec`, so
there is one schema and one set of error messages. Everything downstream trusts a `Spec`.
Environment cells (family, scenario, agent count) are checked in `benchmark.matrix`, after
filters, so a filtered run does not need every family of the spec installed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from baselines.core.errors import UserError

EXECUTORS = ("local", "ray")
EPYMARL_PREFIX = "epymarl:"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_RE = re.compile(r"^[a-z0-9_]+:[^\s:]+$")


class SpecError(UserError):
    """A bad field in a spec: `field` is its path (`spec.algos[1]`), `detail` what is wrong."""

    def __init__(self, field: str, detail: str, source: str | None = None):
        self.field, self.detail, self.source = field, detail, source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{field}: {detail}")


@dataclass(frozen=True)
class EnvItem:
    env: str  # "family:scenario"
    agents: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlgoItem:
    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    needs_demos: bool = False  # from the registry: LEED is handed demonstrations


@dataclass(frozen=True)
class EvalSpec:
    interval: int = 10_000
    episodes: int = 32
    mode: str = "auto"  # auto (each family's EPyMARL test mode) | greedy | sample


@dataclass(frozen=True)
class DemoSpec:
    """Where LEED's demonstrations come from: "scripted", a local folder or "hf://owner/repo@rev"."""

    source: str = "scripted"
    episodes: int = 32


@dataclass(frozen=True)
class Spec:
    name: str
    envs: tuple[EnvItem, ...]
    algos: tuple[AlgoItem, ...]
    seeds: tuple[int, ...]
    env_steps: int  # the budget
    eval: EvalSpec = EvalSpec()
    demos: DemoSpec = DemoSpec()
    executor: str = "local"
    workers: int = 1
    num_envs: int | None = None
    source: str | None = field(default=None, compare=False)  # the file it came from, for errors

    def scaled(self, factor: float) -> "Spec":
        """The budget and eval interval times `factor`: same number of evaluations, less compute.

        The scaled experiment is named `<name>-x<factor>` so its runs get their own folder and
        report: a report never mixes runs of different budgets.
        """
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
            raise SpecError("--budget-scale", f"must be a positive number, got {factor!r}")
        if factor == 1:
            return self
        return dataclasses.replace(
            self,
            name=f"{self.name}-x{factor:g}",
            env_steps=max(1, round(self.env_steps * factor)),
            eval=dataclasses.replace(self.eval, interval=max(1, round(self.eval.interval * factor))),
        )


# --- the learner registry, looked up when a spec is validated -------------------------------------

def known_algos() -> Mapping[str, Any]:
    """The native algorithm registry: name -> entry (with `config_cls` where it has one)."""
    import leed  # noqa: F401  registers "leed"
    from baselines.registry import ALGOS

    return ALGOS


def check_overrides(name: str, overrides: Mapping[str, Any]) -> None:
    """Raise `UserError` unless the learner's config dataclass takes `overrides` (registry's check)."""
    from baselines.registry import build_config

    try:
        build_config(name, dict(overrides))
    except (TypeError, ValueError) as err:  # the config's own checks
        raise UserError(f"{type(err).__name__}: {err}") from None


def epymarl_available() -> bool:
    """Whether the EPyMARL backend (`baselines.epymarl.run_epymarl`) is installed."""
    try:
        from baselines.epymarl import run_epymarl  # noqa: F401
    except ImportError:
        return False
    return True


# --- loading ----------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `5e-4` as a float (YAML 1.1 wants `5.0e-4`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def yaml_value(text: str) -> Any:
    """A command-line value read as YAML (`5e-4`, `true`, `[64, 64]`); plain text if not YAML."""
    try:
        return yaml.load(text, Loader=_Loader) if text.strip() else ""
    except yaml.YAMLError:
        return text


def preset_names() -> list[str]:
    folder = resources.files("benchmark") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    if name not in preset_names():
        raise UserError(f"--preset: unknown preset {name!r} (known: {', '.join(preset_names())})")
    return Path(str(resources.files("benchmark") / "presets" / f"{name}.yaml"))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a spec file; a missing file or bad YAML is one line naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"spec file not found: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read spec file {path}: {type(err).__name__}") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: a spec must be a YAML mapping, got {type(data).__name__}")
    return data


def load_spec(source: str | Path | Mapping[str, Any]) -> Spec:
    """A `Spec` from a YAML file path or a dict in the same shape."""
    if isinstance(source, Mapping):
        return parse_spec(source)
    data = read_yaml(source)
    try:
        return dataclasses.replace(parse_spec(data), source=str(source))
    except SpecError as err:
        raise SpecError(err.field, err.detail, source=str(source)) from None


# --- validation -------------------------------------------------------------------------------

_TOP_KEYS = {"name", "envs", "algos", "seeds", "budget", "eval", "demos", "executor", "workers",
             "num_envs"}


def _check_keys(value: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(value, Mapping):
        raise SpecError(where, f"must be a mapping, got {value!r}")
    for key in value:
        if key not in allowed:
            raise SpecError(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            raise SpecError(f"{where}.{key}", "is required")
    return dict(value)


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(where, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(where, f"must be >= {minimum}, got {value}")
    return value


def _json_value(value: Any, where: str) -> None:
    """Options and overrides go into the run id's canonical JSON, so they must be plain JSON."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SpecError(where, f"must be plain JSON data (numbers, strings, lists), got {value!r}") \
            from None


def _parse_env(raw: Any, where: str) -> EnvItem:
    raw = _check_keys(raw, where, {"env", "agents", "options"}, {"env", "agents"})
    key = raw["env"]
    if not isinstance(key, str) or not _ENV_RE.match(key):
        raise SpecError(f"{where}.env", f"must be 'family:scenario', got {key!r}")
    agents = raw["agents"]
    if isinstance(agents, int) and not isinstance(agents, bool):
        agents = [agents]
    if not isinstance(agents, list) or not agents:
        raise SpecError(f"{where}.agents", f"must be a non-empty list of agent counts, got {agents!r}")
    counts = tuple(_int(n, f"{where}.agents[{i}]", minimum=1) for i, n in enumerate(agents))
    if len(set(counts)) != len(counts):
        raise SpecError(f"{where}.agents", f"has duplicates: {list(counts)}")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise SpecError(f"{where}.options", f"must be a mapping, got {options!r}")
    for k, v in options.items():
        _json_value(v, f"{where}.options.{k}")
    return EnvItem(env=key, agents=counts, options=dict(options))


def _parse_algo(raw: Any, where: str, registry: Mapping[str, Any]) -> AlgoItem:
    if isinstance(raw, str):
        raw = {"name": raw}
    raw = _check_keys(raw, where, {"name", "overrides"}, {"name"})
    name = raw["name"]
    if not isinstance(name, str):
        raise SpecError(f"{where}.name", f"must be an algorithm name, got {name!r}")
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise SpecError(f"{where}.overrides", f"must be a mapping, got {overrides!r}")
    for key, value in overrides.items():
        _json_value(value, f"{where}.overrides.{key}")
    if name.startswith(EPYMARL_PREFIX):
        if not name[len(EPYMARL_PREFIX):]:
            raise SpecError(where, f"{name!r} names no EPyMARL algorithm (e.g. epymarl:mappo)")
        if not epymarl_available():
            raise SpecError(where, f"{name!r}: EPyMARL backend not available (baselines.epymarl)")
        return AlgoItem(name=name, overrides=dict(overrides))  # EPyMARL checks its own config
    if name not in registry:
        raise SpecError(where, f"unknown algorithm {name!r} (known: {', '.join(sorted(registry))})")
    try:
        check_overrides(name, overrides)
    except UserError as err:
        raise SpecError(f"{where}.overrides", str(err)) from None
    return AlgoItem(name=name, overrides=dict(overrides),
                    needs_demos=bool(getattr(registry[name], "needs_demos", False)))


def _parse_demos(raw: Any) -> DemoSpec:
    raw = _check_keys(raw, "spec.demos", {"source", "episodes"})
    source = raw.get("source", DemoSpec.source)
    if not isinstance(source, str) or not source:
        raise SpecError("spec.demos.source",
                        f"must be 'scripted', a local folder or 'hf://owner/repo@rev', got {source!r}")
    if source.startswith("hf://") and not re.match(r"^hf://[^/@\s]+/[^/@\s]+(@[^@/\s]+)?(/\S+)?$", source):
        raise SpecError("spec.demos.source", f"must look like 'hf://owner/repo@revision', got {source!r}")
    episodes = _int(raw.get("episodes", DemoSpec.episodes), "spec.demos.episodes", minimum=1)
    return DemoSpec(source=source, episodes=episodes)


def parse_spec(raw: Mapping[str, Any]) -> Spec:
    """Validate a spec dict; raise `SpecError` naming the first bad field and its value."""
    raw = _check_keys(raw, "spec", _TOP_KEYS, {"name", "envs", "algos", "seeds", "budget"})

    name = raw["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SpecError("spec.name", f"must be a folder-safe name (letters, digits, _.-), got {name!r}")

    envs = raw["envs"]
    if not isinstance(envs, list) or not envs:
        raise SpecError("spec.envs", f"must be a non-empty list, got {envs!r}")
    env_entries = tuple(_parse_env(e, f"spec.envs[{i}]") for i, e in enumerate(envs))
    keys = [e.env for e in env_entries]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise SpecError(f"spec.envs[{i}].env", f"{key!r} is listed twice; merge its agent counts")

    algos = raw["algos"]
    if not isinstance(algos, list) or not algos:
        raise SpecError("spec.algos", f"must be a non-empty list, got {algos!r}")
    registry = known_algos()
    algo_entries = tuple(_parse_algo(a, f"spec.algos[{i}]", registry) for i, a in enumerate(algos))
    names = [a.name for a in algo_entries]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise SpecError(f"spec.algos[{i}]", f"{n!r} is listed twice")

    seeds = raw["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds:
        raise SpecError("spec.seeds", f"must be a non-empty list of integers, got {seeds!r}")
    seed_values = tuple(_int(s, f"spec.seeds[{i}]", minimum=0) for i, s in enumerate(seeds))
    if len(set(seed_values)) != len(seed_values):
        raise SpecError("spec.seeds", f"has duplicates: {list(seed_values)}")

    budget = _check_keys(raw["budget"], "spec.budget", {"env_steps"}, {"env_steps"})
    env_steps = _int(budget["env_steps"], "spec.budget.env_steps", minimum=1)

    ev = _check_keys(raw.get("eval") or {}, "spec.eval", {"interval", "episodes", "mode"})
    mode = ev.get("mode", EvalSpec.mode)
    if mode not in ("auto", "greedy", "sample"):
        raise SpecError("spec.eval.mode", f"must be auto, greedy or sample, got {mode!r}")
    eval_spec = EvalSpec(
        interval=_int(ev.get("interval", EvalSpec.interval), "spec.eval.interval", minimum=1),
        episodes=_int(ev.get("episodes", EvalSpec.episodes), "spec.eval.episodes", minimum=1),
        mode=mode,
    )

    executor = raw.get("executor", "local")
    if executor not in EXECUTORS:
        raise SpecError("spec.executor", f"must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    workers = _int(raw.get("workers", 1), "spec.workers", minimum=1)
    num_envs = raw.get("num_envs")
    if num_envs is not None:
        num_envs = _int(num_envs, "spec.num_envs", minimum=1)

    return Spec(
        name=name, envs=env_entries, algos=algo_entries, seeds=seed_values, env_steps=env_steps,
        eval=eval_spec, demos=_parse_demos(raw.get("demos") or {}), executor=executor,
        workers=workers, num_envs=num_envs,
    )
