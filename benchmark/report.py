"""`results/<exp>/report.md` and `figures/`: what a reader needs to judge the comparison.

Reads only `table.csv` and `runs/*/run.json` (through `read_table` / `read_runs`, the one place
that touches the results layout here), computes per-run metrics and statistics, draws the
figures and writes Markdown. Anything that cannot be estimated is printed with its reason.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from baselines.core.errors import UserError
from benchmark import metrics as M
from benchmark import stats as S

REFERENCE = "leed"


# ------------------------------------------------------------------------------------ reading

def read_table(exp_dir: Path | str) -> pd.DataFrame:
    """The experiment's tidy table, normalised. Switch to `benchmark.store.load_table` here."""
    path = Path(exp_dir) / "table.csv"
    if not Path(exp_dir).is_dir():
        raise UserError(f"{exp_dir}: no such experiment folder")
    if not path.is_file():
        raise UserError(f"{path}: missing (has the experiment finished any run?)")
    try:
        table = pd.read_csv(path, dtype={"run_id": str, "experiment": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a readable CSV table ({str(err).splitlines()[0]})")
    return M.normalize_table(table)


def read_runs(exp_dir: Path | str) -> tuple[dict[str, dict], list[str]]:
    """run_id -> run.json for every run folder; unreadable files become notes, not errors."""
    runs, notes = {}, []
    for path in sorted((Path(exp_dir) / "runs").glob("*/run.json")):
        try:
            data = json.loads(path.read_text())
            runs[str(data.get("run_id") or path.parent.name)] = data
        except (OSError, ValueError) as err:
            notes.append(f"`{path.parent.name}/run.json` unreadable ({type(err).__name__}); "
                         "its provenance is missing below")
    return runs, notes


def write_text_atomic(path: Path, text: str) -> None:
    """Readers never see half a report: the store's temp-file-and-rename write."""
    from benchmark.store import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


# ---------------------------------------------------------------------------------- formatting

def num(x, unit: str = "") -> str:
    """Readable number with about 3 significant figures; `n/a` for NaN."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return "n/a"
    x = float(x)
    a = abs(x)
    if a >= 1e6:
        s = f"{x / 1e6:.3g}M"
    elif a >= 1e4:
        s = f"{x / 1e3:.3g}k"
    elif a >= 100:
        s = f"{x:,.0f}"
    elif a >= 1e-2 or a == 0:
        s = f"{x:.3g}" if a >= 10 else f"{x:.3f}"
    else:
        s = f"{x:.2e}"
    return s + unit


def with_ci(point, lo, hi, note: str = "") -> str:
    """`0.812 [0.750, 0.880]`, or the point with the reason its CI is unavailable."""
    if pd.isna(point):
        return "n/a"  # the reason is in the data notes (e.g. no wall-clock times)
    if pd.isna(lo) or pd.isna(hi):
        reason = next((n for n in note.split("; ") if n.startswith("CI unavailable")),
                      "CI unavailable")
        return f"{num(point)} ({reason})"
    return f"{num(point)} [{num(lo)}, {num(hi)}]"


def pval(p) -> str:
    if pd.isna(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def md_table(header: list[str], rows: Iterable[list[str]]) -> str:
    rows = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _counts(values: Iterable, total: int | None = None) -> str:
    c = Counter(values)
    if len(c) == 1:
        return f"`{next(iter(c))}`"
    return ", ".join(f"`{k}` ({n} runs)" for k, n in c.most_common())


# ------------------------------------------------------------------------------ text sections

def provenance_of(record: dict) -> dict:
    """One flat view of a run.json's provenance, whichever of the two layouts it uses.

    The documented layout has `git_commit`, `git_dirty`, `package_version` and
    `provenance.demos`; the store writes `git: {commit, dirty}`, `package: {version}` and a
    top-level `demos`. Missing fields are None.
    """
    p = record.get("provenance") or {}
    git = p.get("git") or {}
    package = p.get("package") or {}
    return {
        "commit": p.get("git_commit") or git.get("commit"),
        "dirty": p.get("git_dirty") if "git_dirty" in p else git.get("dirty"),
        "version": p.get("package_version") or package.get("version"),
        "python": p.get("python"),
        "libraries": p.get("libraries") or {},
        "hardware": p.get("hardware") or {},
        "hostname": p.get("hostname"),
        "started_at": p.get("started_at"),
        "demos": p.get("demos") or record.get("demos"),
        "imported": p.get("imported"),
    }


def describe_demos(runs: dict[str, dict], per_run: pd.DataFrame) -> str:
    """Say in words what generated LEED's demonstrations, so nobody mistakes a script for an LLM."""
    leed_ids = set(per_run.loc[per_run["algo"].str.split("[").str[0] == REFERENCE, "run_id"])
    if not leed_ids:
        return "No LEED runs in this experiment, so no demonstrations were used."
    by_generator: dict[str, list] = {}
    for rid in sorted(leed_ids):
        demos = provenance_of(runs.get(rid) or {})["demos"]
        by_generator.setdefault(_generator_sentence(demos), []).append(demos or {})
    lines = []
    for sentence, sets in by_generator.items():
        keys = sorted({str(d.get("key") or d.get("path")) for d in sets
                       if d.get("key") or d.get("path")})
        revs = sorted({str(d["revision"]) for d in sets if d.get("revision")})
        where = f" Sets: {', '.join(f'`{k}`' for k in keys)}." if keys else ""
        where += f" Revision: {', '.join(f'`{r}`' for r in revs)}." if revs else ""
        n = len(sets)
        lines.append(f"- {sentence} ({n} LEED run{'s' if n != 1 else ''}).{where}")
    demo_s = per_run.loc[per_run["run_id"].isin(leed_ids), "demo_s"]
    if demo_s.notna().any():
        lines.append(f"- Demonstration generation took {num(demo_s.mean())} s per run on "
                     f"average; wall-clock figures and the `incl. demos` columns charge it "
                     "to LEED.")
    return "\n".join(lines)


def _generator_sentence(demos: dict | None) -> str:
    """`Scripted rule-based planner v1, not an LLM; 32 episodes per set` and the like."""
    if not demos:
        return "Demonstration provenance was not recorded in run.json"
    gen = demos.get("generator") or {}
    kind = str(gen.get("kind") or "").lower()
    facts = []
    if demos.get("episodes"):
        facts.append(f"{int(demos['episodes'])} episodes per set")
    if kind == "scripted":
        version = gen.get("planner_version")
        name = gen.get("name") or gen.get("planner")
        named = f" `{name}`" if name and name != "rule-based planner" else ""
        ver = f" v{version}" if version is not None else ""
        head = f"Scripted rule-based planner{named}{ver}, not an LLM"
    elif kind == "llm":
        head = f"LLM `{gen.get('model') or 'unrecorded model'}`"
        sha = gen.get("prompt_sha256")
        facts.insert(0, f"prompt sha256 `{str(sha)[:12]}`" if sha else "prompt not recorded")
        if gen.get("temperature") is not None:
            facts.append(f"temperature {gen['temperature']}")
        if demos.get("tokens"):
            facts.append(f"{int(demos['tokens']):,} tokens")
    else:
        head = f"Generator of kind `{kind or 'unknown'}`"
    return head + (f" ({', '.join(facts)})" if facts else "")


def describe_setup(table: pd.DataFrame, per_run: pd.DataFrame, runs: dict[str, dict]) -> str:
    cfgs = [r.get("config") or {} for r in runs.values()]
    seeds = per_run.groupby(M.CELL_KEYS, dropna=False)["seed"].nunique()
    tasks = per_run[M.TASK_KEYS].drop_duplicates()
    lines = [
        (f"- Runs: {per_run['run_id'].nunique()} ({len(table)} evaluation rows) in "
        f"{len(tasks)} task(s) x {per_run['algo'].nunique()} algorithm(s)."),
        "- Algorithms: " + ", ".join(f"`{a}`" for a in sorted(per_run["algo"].unique(),
                                                             key=M.algo_order)) + ".",
        "- Tasks: " + ", ".join(f"`{M.task_label(e, n)}`" for e, _, n in sorted(
            tasks.itertuples(index=False),
            key=lambda t: (M.natural_key(t[0]), -1 if pd.isna(t[2]) else t[2]))) + ".",
        f"- Seeds per cell: {seeds.min()}" + (f" to {seeds.max()}" if seeds.max() != seeds.min()
                                              else "") + ".",
        "- Backends: " + _counts(per_run["backend"]) + ".",
    ]
    if "eval_mode" in table and table["eval_mode"].notna().any():
        modes = table.groupby("run_id")["eval_mode"].first().dropna()
        lines.append(f"- Evaluation policy: {_counts(modes)} (greedy = arg-max actions).")
    for key, label in [("env_steps", "Budget (env steps)"), ("eval_interval",
                       "Evaluation interval (env steps)"), ("eval_episodes",
                       "Evaluation episodes"), ("num_envs", "Parallel envs")]:
        vals = [c.get(key) for c in cfgs if c.get(key) is not None]
        if vals:
            lines.append(f"- {label}: {_counts(vals)}.")
    if not cfgs:
        lines.append("- No run.json found: budgets and provenance are unavailable.")
    return "\n".join(lines)


def describe_hardware(runs: dict[str, dict]) -> str:
    hw = []
    for r in runs.values():
        h = provenance_of(r)["hardware"]
        if h:
            gpu = h.get("gpu") or "no GPU"
            hw.append(f"{h.get('cpu', 'unknown CPU')}, {h.get('cores', '?')} cores, "
                      f"{h.get('memory_gb', '?')} GB RAM, {gpu}")
    if not hw:
        return "Not recorded."
    hosts = Counter(provenance_of(r)["hostname"] for r in runs.values())
    hosts.pop(None, None)
    lines = [f"- {h} ({n} run{'s' if n != 1 else ''})" for h, n in Counter(hw).most_common()]
    if hosts:
        lines.append(f"- Hosts: {len(hosts)} (" + ", ".join(f"`{h}`" for h in sorted(hosts)) +
                     ")")
    lines.append("- Wall-clock numbers are only comparable between runs on the same hardware.")
    return "\n".join(lines)


def describe_provenance(runs: dict[str, dict]) -> str:
    prov = [provenance_of(r) for r in runs.values()]
    if not prov:
        return "Not recorded."
    commits = [f"{p['commit'] or 'unknown'}" + (" (dirty: uncommitted changes)" if p["dirty"]
                                                else "") for p in prov]
    lines = [f"- Git commit: {_counts(commits)}.",
             f"- leed-bench version: {_counts(p['version'] or 'unknown' for p in prov)}.",
             f"- Python: {_counts(p['python'] or 'unknown' for p in prov)}."]
    imported = Counter(f"`{(p['imported'].get('file') or 'a file')}` "
                       f"({p['imported'].get('format', 'unknown')} format)"
                       for p in prov if p["imported"])
    for source, n in imported.items():
        lines.append(f"- {n} run{'s' if n != 1 else ''} imported from {source}: the code, "
                     "hardware and timing of the original runs are unknown.")
    libs: dict[str, Counter] = {}
    for p in prov:
        for name, version in p["libraries"].items():
            libs.setdefault(name, Counter())[str(version or "not installed")] += 1
    if libs:
        rows = []
        for name in sorted(libs):
            versions = libs[name]
            rows.append([name, ", ".join(sorted(versions)),
                         "**differs across runs**" if len(versions) > 1 else ""])
        lines.append("\n" + md_table(["Library", "Version", "Note"], rows))
    started = sorted(p["started_at"] for p in prov if p["started_at"])
    if started:
        lines.insert(0, f"- Runs started between {started[0]} and {started[-1]}.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- tables

def threshold_summary(per_run: pd.DataFrame, col: str) -> pd.Series:
    """Median over runs with 'never reached' as +inf (a survival-style median), per cell.

    A run that reached the threshold (by env steps) but has no time for it is unknown, not
    'never reached': the cell then shows n/a.
    """
    reached = per_run["steps_to_threshold"].notna()
    unknown = reached & per_run[col].isna()

    def med(v: pd.Series) -> str:
        if len(v) == 0 or unknown.loc[v.index].any():
            return "n/a"
        m = float(np.median(v.fillna(np.inf)))
        shown = "not reached" if not np.isfinite(m) else num(m)
        return f"{shown} ({int(v.notna().sum())}/{len(v)})"
    return per_run.groupby(M.CELL_KEYS, dropna=False)[col].apply(med)


def describe_scores(scores: dict[tuple, str]) -> str:
    """Which tasks are compared on which score, in one sentence."""
    by_name: dict[str, list[str]] = {}
    for (env, _scenario, n), name in sorted(scores.items(), key=lambda kv: M.natural_key(kv[0][0])):
        by_name.setdefault(name, []).append(M.task_label(env, n))
    meaning = {"win rate": "share of evaluation episodes won (`eval_win_rate`, what SMACv2 "
                           "papers report)",
               "return": "mean evaluation return (`eval_return`)"}
    parts = [f"{meaning.get(name, name)} on {', '.join(tasks)}" for name, tasks in by_name.items()]
    return ("; ".join(parts) or "evaluation return") + \
        ". `leed-bench report --metric return|win_rate` picks one for every task."


def task_tables(per_run: pd.DataFrame, aggs: dict[str, pd.DataFrame],
                scores: dict[tuple, str] | None = None) -> str:
    out = []
    thr = {c: threshold_summary(per_run, c) for c in
           ("steps_to_threshold", "wall_to_threshold_s", "wall_to_threshold_incl_demo_s")}
    threshold = per_run.groupby(M.TASK_KEYS, dropna=False)["threshold"].first()
    groups = sorted(per_run.groupby(M.TASK_KEYS, dropna=False),
                    key=lambda g: (M.natural_key(g[0][0]), -1 if pd.isna(g[0][2]) else g[0][2]))
    for task, tdf in groups:
        env, _scenario, n = task
        score = (scores or {}).get(task, "return")
        out.append(f"### {M.task_label(env, n)}\n")
        out.append(f"Score: {score}. Threshold: {score} {num(threshold.loc[task])}. Columns "
                   "`to threshold`: median (runs that reached it / runs).\n")
        perf, cost = [], []
        for algo in sorted(tdf["algo"].unique(), key=M.algo_order):
            key = (*task, algo)
            f, a = _row(aggs["final"], key), _row(aggs["auc"], key)
            perf.append([f"`{algo}`", str(int(f["n"])) if f is not None else "0",
                         _ci(f, "iqm"), _ci(f, "mean"), num(f["median"]) if f is not None
                         else "n/a", _ci(a, "iqm")])
            sps_, spu = _row(aggs["env_steps_per_s"], key), _row(aggs["s_per_update"], key)
            wall = _row(aggs["wall_incl_demo_s"], key)
            cost.append([f"`{algo}`", thr["steps_to_threshold"].get(key, "n/a"),
                         thr["wall_to_threshold_s"].get(key, "n/a"),
                         thr["wall_to_threshold_incl_demo_s"].get(key, "n/a"),
                         _ci(sps_, "mean"), _ci(spu, "mean"), _ci(wall, "mean")])
        out.append(md_table(["Algorithm", "Seeds", f"Final {score} IQM [95% CI]",
                             f"Final {score} mean [95% CI]", f"Final {score} median",
                             "Normalized AUC IQM [95% CI]"], perf))
        out.append("")
        out.append(md_table(["Algorithm", "Env steps to threshold", "Wall s to threshold",
                             "Wall s to threshold incl. demos", "Env steps/s (mean)",
                             "s/update (mean)", "Total wall s incl. demos (mean)"], cost))
        out.append("")
    return "\n".join(out)


def _row(df: pd.DataFrame, key: tuple) -> pd.Series | None:
    mask = np.ones(len(df), dtype=bool)
    for col, v in zip(M.CELL_KEYS, key):
        mask &= (df[col].isna() if pd.isna(v) else (df[col] == v).fillna(False)).to_numpy()
    hit = df[mask]
    return None if hit.empty else hit.iloc[0]


def _ci(row: pd.Series | None, stat: str) -> str:
    if row is None:
        return "n/a"
    return with_ci(row[stat], row[f"{stat}_lo"], row[f"{stat}_hi"], row["note"])


def improvement_table(tests: pd.DataFrame, reference: str) -> str:
    if tests.empty:
        return f"No task has both `{reference}` and a baseline."
    rows = []
    for r in tests.itertuples(index=False):
        note = r.note or ("significant after Holm" if r.p_holm < 0.05 else "")
        rows.append([M.task_label(r.env, r.n_agents), f"`{r.baseline}`", f"{r.n_ref}/{r.n_base}",
                     with_ci(r.poi, r.poi_lo, r.poi_hi, r.note),
                     "n/a" if pd.isna(r.u_stat) else f"{r.u_stat:g}", pval(r.p_value),
                     pval(r.p_holm), note])
    return md_table(["Task", "Baseline", "Seeds (LEED/baseline)",
                     f"P({reference} > baseline) [95% CI]", "U", "p (Mann-Whitney, two-sided)",
                     "p (Holm)", "Note"], rows)


# -------------------------------------------------------------------------------------- build

def build_report(exp_dir: Path | str, k: int = 3, reps: int = S.DEFAULT_REPS, seed: int = 0,
                 threshold: float | dict | None = None, threshold_frac: float = 0.9,
                 reference: str = REFERENCE, figures: bool = True, score: str = "auto") -> Path:
    """Write `report.md` (and `figures/`) into `exp_dir`; return the report's path.

    `score`: what the tables and figures compare (`metrics.select_score`): "auto" takes the
    win rate where a task records one (SMAX/SMACv2) and the return elsewhere.
    """
    exp_dir = Path(exp_dir)
    table = M.select_score(read_table(exp_dir), score)
    runs, notes = read_runs(exp_dir)
    if table.empty:
        raise UserError(f"{exp_dir / 'table.csv'}: no rows to report on")
    notes += table_notes(table)
    if threshold is None:  # a spec's per-env threshold, if the harness records one in run.json
        given = {c["env"]: float(c["threshold"]) for c in
                 ((r.get("config") or {}) for r in runs.values())
                 if c.get("env") and isinstance(c.get("threshold"), (int, float))}
        threshold = given or None
    per_run = M.run_metrics(table, k=k, threshold=threshold, threshold_frac=threshold_frac)
    finished = set(per_run["run_id"])
    running = len(set(runs) - finished)
    if running:  # started but not finished (still running, or killed): not in the table
        notes.append(f"{running} run(s) started but not finished are left out")
        runs = {rid: r for rid, r in runs.items() if rid in finished}
    missing = sorted(finished - set(runs))
    if runs and missing:
        notes.append(f"{len(missing)} run(s) in table.csv have no run.json")

    aggs = S.cell_aggregates_many(per_run, ("final", "auc", "env_steps_per_s", "s_per_update",
                                            "wall_incl_demo_s"), reps=reps, seed=seed)
    for m in ("final",):
        for r in aggs[m].itertuples(index=False):
            if r.note:
                notes.append(f"{M.task_label(r.env, r.n_agents)}, `{r.algo}` ({m}): {r.note}")
    tests = {m: S.improvement_tests(per_run, m, reference=reference, reps=reps, seed=seed)
             for m in ("final", "auc")}
    agg_all, agg_notes = S.aggregate_across_tasks(per_run, "final", reps=reps, seed=seed)
    poi_all, poi_notes = S.probability_of_improvement(per_run, "final", reference, reps, seed)
    notes += power_notes(tests["final"])
    has_ref = (per_run["algo"].str.split("[").str[0] == reference).any()
    agg_notes = list(dict.fromkeys(agg_notes + (poi_notes if has_ref else [])))
    notes += [f"aggregates across tasks: {n}" for n in agg_notes]
    slopes = S.scaling_slopes(per_run, "s_per_step")
    slopes = slopes.iloc[sorted(range(len(slopes)), key=lambda i: (
        M.natural_key(slopes["scale_group"].iloc[i]), M.algo_order(slopes["algo"].iloc[i])))]
    fig_paths: list[Path] = []
    if figures:
        fig_paths = draw_figures(exp_dir / "figures", table, per_run, agg_all, poi_all,
                                 reference, reps, seed)
    per_task = M.score_labels(table, M.TASK_KEYS)

    text = render(exp_dir, table, per_run, runs, aggs, tests, agg_all, poi_all, slopes,
                  fig_paths if figures else None, notes, k=k, threshold=threshold,
                  threshold_frac=threshold_frac,
                  reps=reps, reference=reference, agg_reasons=agg_notes, scores=per_task)
    path = exp_dir / "report.md"
    write_text_atomic(path, text)
    return path


def power_notes(tests: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """Warn where too few seeds make p < alpha impossible, so 'not significant' is not misread."""
    notes = []
    for (nx, ny), _ in tests.groupby(["n_ref", "n_base"]):
        if nx and ny:
            p_min = min(1.0, 2.0 / math.comb(int(nx) + int(ny), int(nx)))
            if p_min >= alpha:
                notes.append(f"with {nx} vs {ny} seeds the smallest two-sided Mann-Whitney p "
                             f"attainable is {p_min:.3f}, so no single task can reach p < "
                             f"{alpha}: read the probabilities of improvement and their CIs, "
                             "or add seeds")
    return notes


def table_notes(table: pd.DataFrame) -> list[str]:
    notes = []
    column = {"return": "eval_return", "win rate": "eval_win_rate"}.get(
        M.score_label(table), "eval_return` / `eval_win_rate")
    nan_ret = int(table["eval_return"].isna().sum())
    if nan_ret:
        notes.append(f"{nan_ret} row(s) with a missing or NaN `{column}` were skipped")
    no_eval = table.groupby("run_id")["eval_return"].count()
    if (no_eval == 0).any():
        notes.append(f"{int((no_eval == 0).sum())} run(s) have no evaluation with a "
                     f"{M.score_label(table)}")
    if table["wall_s"].isna().all():
        notes.append("no wall-clock times in the table (e.g. imported runs): time metrics are n/a")
    return notes


def draw_figures(out: Path, table, per_run, agg_all, poi_all, reference, reps, seed) -> list[Path]:
    from benchmark import plots as P

    palette = P.algo_palette(per_run["algo"])
    score = M.score_label(table)
    by_family = M.score_labels(table, table["env"].str.split(":").str[0])
    by_group = M.score_labels(table, table["run_id"].map(per_run.set_index("run_id")["scale_group"]))
    episodes = table["eval_episodes"].dropna()
    episodes = int(episodes.iloc[0]) if len(episodes) and episodes.nunique() == 1 else None
    paths = []
    paths += P.learning_curves(S.learning_curves(table, "env_steps"), out, "env_steps",
                               palette, episodes, by_family)
    if table["wall_s"].notna().any():
        paths += P.learning_curves(S.learning_curves(table, "wall_s"), out, "wall_s", palette,
                                   episodes, by_family)
    paths += P.scalability(S.scalability(per_run, ("final", "s_per_step"), reps, seed), out,
                           palette, scores=by_group)
    paths += P.aggregate_intervals(agg_all, out, "final", palette, score)
    paths += P.probability_of_improvement(poi_all, out, reference, palette, score)
    paths += P.performance_profiles(S.performance_profiles(per_run, "final", reps=reps,
                                                           seed=seed), out, palette, score)
    return paths


def render(exp_dir, table, per_run, runs, aggs, tests, agg_all, poi_all, slopes, fig_paths,
           notes, *, k, threshold, threshold_frac, reps, reference, agg_reasons=(),
           scores=None) -> str:
    name = exp_dir.name
    scores = scores or {}
    score = M.score_label(table)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    relative = (f"{threshold_frac:.0%} of the way from the task's mean first evaluation to "
                "the best algorithm's mean final return")
    if isinstance(threshold, dict):
        thr_text = ("given per environment (" + ", ".join(f"`{k}`: {v:g}" for k, v in
                                                          sorted(threshold.items()))
                    + f"); elsewhere {relative}")
    else:
        thr_text = f"given ({threshold:g})" if threshold is not None else relative
    s = [f"# Report: {name}", "",
         f"Generated {now} by `leed-bench report` from `table.csv` and `runs/*/run.json`.", "",
         "## Setup", "", describe_setup(table, per_run, runs), "",
         "## Hardware", "", describe_hardware(runs), "",
         "## Provenance", "", describe_provenance(runs), "",
         "## Demonstrations", "", describe_demos(runs, per_run), "",
         "## Metrics and statistics", "",
         f"- **Score**: {describe_scores(scores)}",
         (f"- **Final {score}**: mean of a run's last {k} evaluations. **Normalized AUC**: area "
         f"under the evaluation {score} curve over env steps divided by the step span (the mean "
         f"{score} over training; higher means it learned earlier)."),
         (f"- **Threshold**: {thr_text}; steps and wall seconds to it are those of the first "
         "evaluation at or above it. `incl. demos` adds LEED's demonstration-generation time."),
         (f"- Across seeds per cell: mean, median and IQM (25% trimmed mean) with 95% percentile "
         f"stratified-bootstrap CIs ({reps} resamples, rliable)."),
         (f"- `{reference}` against each baseline: probability of improvement P({reference} > "
         "baseline) with a bootstrap CI, and a two-sided Mann-Whitney U test; p-values are "
         "Holm-corrected over all task x baseline comparisons of that metric."),
         ("- Aggregates across tasks use scores min-max normalized per task over all runs of "
         "this experiment (comparable within this report only)."), "",
         "## Results per task", "", task_tables(per_run, aggs, scores),
         f"## {reference} against the baselines", "",
         f"### Final {score}", "", improvement_table(tests["final"], reference), "",
         "### Normalized AUC", "", improvement_table(tests["auc"], reference), "",
         f"## Aggregate across tasks (normalized final {score})", ""]
    if agg_all.empty:
        s.append("Unavailable: " + ("; ".join(agg_reasons) or "no scores") + ".")
    else:
        rows = [[f"`{r.algo}`", str(r.n_tasks), str(r.n_runs),
                 with_ci(r.median, r.median_lo, r.median_hi), with_ci(r.iqm, r.iqm_lo, r.iqm_hi),
                 with_ci(r.mean, r.mean_lo, r.mean_hi)]
                for r in agg_all.assign(_o=agg_all["algo"].map(M.algo_order))
                .sort_values("_o").itertuples(index=False)]
        s.append(md_table(["Algorithm", "Tasks", "Runs", "Median [95% CI]", "IQM [95% CI]",
                           "Mean [95% CI]"], rows))
    if not poi_all.empty:
        s += ["", md_table(["Comparison", "Tasks", "Probability of improvement [95% CI]"],
                           [[f"P({reference} > {r.baseline})", str(r.n_tasks),
                             with_ci(r.poi, r.poi_lo, r.poi_hi)]
                            for r in poi_all.itertuples(index=False)])]
    s += ["", "## Scalability", "",
          ("Log-log slope b of wall seconds per env step against the number of agents "
          "(cost ~ agents^b; b = 1 is linear), fitted over every run."), ""]
    s.append(md_table(["Task group", "Algorithm", "Agent counts", "Runs", "Slope b [95% CI]"],
                      [[f"`{r.scale_group}`", f"`{r.algo}`", r.agent_counts or "none",
                        str(r.n_points), with_ci(r.slope, r.slope_lo, r.slope_hi, r.note)
                        if pd.notna(r.slope) else f"n/a ({r.note.removeprefix('slope ')})"]
                       for r in slopes.itertuples(index=False)]) if not slopes.empty
             else "No runs.")
    s += ["", "## Figures", ""]
    if fig_paths is None:
        s += ["Not drawn (`--no-figures`).", ""]
    elif not fig_paths:
        s += ["None: no evaluations to plot.", ""]
    for p in [p for p in fig_paths or [] if p.suffix == ".png"]:
        rel = p.relative_to(exp_dir).as_posix()
        s += [f"![{p.stem}]({rel})", f"[{p.stem}.pdf]({rel[:-4]}.pdf)", ""]
    s += ["## Data notes", ""]
    s += [f"- {n}" for n in notes] or ["- None: every run has values for every metric."]
    return "\n".join(s) + "\n"
