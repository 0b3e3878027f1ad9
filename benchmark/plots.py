"""Publication figures from the tables of `benchmark.stats` (PNG + PDF, seaborn style).

Every function takes DataFrames and an output folder and returns the files it wrote. One colour
per algorithm across all figures (`algo_palette`), from seaborn's colour-blind-safe palette;
LEED is drawn thicker so it can be found in greyscale too.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullLocator

from benchmark.metrics import KNOWN_ALGOS, METRICS, algo_order, natural_key

REFERENCE = "leed"
MAX_PANELS = 12  # per learning-curve figure; more tasks are split over several files

sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def algo_palette(algos: Iterable[str]) -> dict[str, tuple]:
    """Fixed colour per algorithm: known names always get the same colour, others the rest."""
    colours = sns.color_palette("colorblind", 10)
    fixed = {a: colours[i] for i, a in enumerate(KNOWN_ALGOS)}
    spare = [c for c in colours if c not in fixed.values()]
    palette, used = {}, set()
    for a in sorted(set(algos), key=algo_order):
        base = a.split("[")[0]
        c = fixed.get(base)
        if c is None or c in used:
            c = spare.pop(0) if spare else colours[len(palette) % 10]
        palette[a] = c
        used.add(c)
    return palette


def display_name(algo: str) -> str:
    """`mappo[epymarl]` -> `MAPPO (epymarl)`."""
    base, _, rest = algo.partition("[")
    name = base.upper() if base in KNOWN_ALGOS else base
    return f"{name} ({rest.rstrip(']')})" if rest else name


def _style(algo: str) -> dict:
    return {"lw": 2.2, "zorder": 3} if algo.split("[")[0] == REFERENCE else {"lw": 1.5}


# Titles get a fixed `y`: auto-positioning measures every tick label of every panel first,
# which was a third of the drawing time of a 1,000-run report.


def _save(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def _figure(nrows: int, ncols: int, panel: tuple[float, float], left: float = 0.75,
            right: float = 0.15, top: float = 0.8, bottom: float = 0.6, wgap: float = 0.55,
            hgap: float = 0.75, min_width: float = 0.0, **kw) -> tuple[plt.Figure, np.ndarray]:
    """A grid with margins and gaps in inches: predictable, and far cheaper than
    constrained layout (which redraws every tick label to measure it, twice per format).
    Panels widen to reach `min_width`, so a one-row legend above them fits."""
    fixed = left + right + (ncols - 1) * wgap
    panel = (max(panel[0], (min_width - fixed) / ncols), panel[1])
    w = fixed + ncols * panel[0]
    h = top + bottom + nrows * panel[1] + (nrows - 1) * hgap
    fig = plt.figure(figsize=(w, h))
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
        "left": left / w, "right": 1 - right / w, "top": 1 - top / h, "bottom": bottom / h,
        "wspace": wgap / panel[0], "hspace": hgap / panel[1]}, **kw)
    return fig, axes


def _legend_width(algos: Sequence[str]) -> float:
    """Inches a one-row legend of these algorithms needs (line, gap, label)."""
    return 0.3 + sum(0.75 + 0.085 * len(display_name(a)) for a in algos)


def _legend(fig: plt.Figure, algos: Sequence[str], palette: dict) -> None:
    handles = [plt.Line2D([], [], color=palette[a], **_style(a)) for a in algos]
    h = fig.get_figheight()
    fig.legend(handles, [display_name(a) for a in algos], loc="upper center",
               bbox_to_anchor=(0.5, 1 - 0.05 / h), ncol=min(len(algos), 6), frameon=False)


def _time_unit(max_s: float) -> tuple[float, str]:
    if max_s >= 3 * 3600:
        return 3600.0, "h"
    if max_s >= 300:
        return 60.0, "min"
    return 1.0, "s"


def _step_unit(typical_s: float) -> tuple[float, str]:
    """Seconds per env step are tiny: show them in ms or µs so tick labels stay short."""
    if typical_s < 1e-3:
        return 1e6, "µs"
    if typical_s < 1:
        return 1e3, "ms"
    return 1.0, "s"


def _task_title(env: str, n_agents) -> str:
    n = "? agents" if pd.isna(n_agents) or int(n_agents) <= 0 else f"{int(n_agents)} agents"
    return f"{env}\n{n}"


# ------------------------------------------------------------------------------ learning curves

def learning_curves(curves: pd.DataFrame, out_dir: Path, x: str = "env_steps",
                    palette: dict | None = None, episodes: int | None = None,
                    scores: dict[str, str] | None = None) -> list[Path]:
    """Mean evaluation score with its 95% band per task; one panel per task, grouped by family.

    `scores` names each family's score ("return", "win rate"); return where not given.
    """
    if curves.empty:
        return []
    palette = palette or algo_palette(curves["algo"])
    c = curves.copy()
    c["family"] = c["env"].astype(str).str.split(":").str[0]
    if x == "wall_s":
        scale, unit = _time_unit(float(c["x"].max()))
        c["x"] = c["x"] / scale
        xlabel = f"Wall-clock time ({unit})"
        caption = ("Each point: one evaluation, at the seeds' mean wall-clock time (LEED's "
                   "includes demonstration generation); line: mean {score} over seeds; "
                   "shaded: 95% bootstrap CI.")
    else:
        xlabel = "Environment steps"
        caption = "Line: mean {score} over seeds; shaded: 95% bootstrap CI."
    episodes_text = f" (mean of {episodes} episodes)" if episodes else ""
    stem = "learning_curves_" + ("wall" if x == "wall_s" else "steps")
    paths = []
    for family, cf in c.groupby("family", sort=True):
        score = (scores or {}).get(family, "return")
        ylabel = f"Evaluation {score}{episodes_text}"
        tasks = sorted(cf[["env", "n_agents"]].drop_duplicates().itertuples(index=False),
                       key=lambda t: (natural_key(t[0]), -1 if pd.isna(t[1]) else t[1]))
        chunks = [tasks[i:i + MAX_PANELS] for i in range(0, len(tasks), MAX_PANELS)]
        for ci, chunk in enumerate(chunks):
            ncols = min(4, len(chunk))
            nrows = math.ceil(len(chunk) / ncols)
            algos = sorted(cf["algo"].unique(), key=algo_order)
            width = max(0.85 + 0.15 + 2.9 * ncols + 0.55 * (ncols - 1), _legend_width(algos))
            cap = textwrap.wrap(caption.format(score=score), int(width * 13))
            fig, axes = _figure(nrows, ncols, (2.9, 2.2), left=0.85,
                                bottom=0.8 + 0.14 * len(cap), min_width=width)
            for ax, (env, n) in zip(axes.flat, chunk):
                ct = cf[(cf["env"] == env) & _same(cf["n_agents"], n)]
                for algo in algos:
                    d = ct[ct["algo"] == algo]
                    if d.empty:
                        continue
                    ax.plot(d["x"], d["mean"], color=palette[algo], **_style(algo))
                    ax.fill_between(d["x"], d["lo"], d["hi"], color=palette[algo], alpha=0.2,
                                    lw=0)
                ax.set_title(_task_title(env, n), fontsize=9, y=1.02)
                if x != "wall_s":
                    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
                ax.tick_params(labelsize=8)
            for ax in list(axes.flat)[len(chunk):]:
                ax.set_visible(False)
            fig.supxlabel(xlabel, fontsize=10, y=(0.2 + 0.14 * len(cap)) / fig.get_figheight(),
                          va="bottom")
            fig.text(0.5, 0.06 / fig.get_figheight(), "\n".join(cap), ha="center",
                     va="bottom", fontsize=8, color="0.35", linespacing=1.2)
            fig.supylabel(ylabel, fontsize=10, x=0.1 / fig.get_figwidth(), ha="left")
            _legend(fig, algos, palette)
            suffix = f"_{family}" + (f"_{ci + 1}" if len(chunks) > 1 else "")
            paths += _save(fig, out_dir, stem + suffix)
    return paths


def _same(series: pd.Series, value) -> pd.Series:
    return series.isna() if pd.isna(value) else series.eq(value).fillna(False)


# --------------------------------------------------------------------------------- scalability

def scalability(scal: pd.DataFrame, out_dir: Path, palette: dict | None = None,
                max_groups: int = 5, scores: dict[str, str] | None = None) -> list[Path]:
    """Final score and seconds per env step against the number of agents (log-log for cost).

    `scores` names each task group's score ("return", "win rate"); return where not given.
    """
    s = scal.dropna(subset=["n_agents", "mean"])
    s = s[s["n_agents"] > 0]  # 0: agent count unknown
    counts = s.groupby("scale_group")["n_agents"].nunique()
    groups = sorted(counts[counts >= 2].index, key=natural_key)
    if not groups:
        return []
    palette = palette or algo_palette(s["algo"])
    metrics = [m for m in ("final", "s_per_step") if m in set(s["metric"])]
    cost = s["metric"] == "s_per_step"
    scale, unit = _step_unit(float(s.loc[cost, "mean"].median()) if cost.any() else 1.0)
    s = s.copy()
    for col in ("mean", "mean_lo", "mean_hi"):
        s.loc[cost, col] = s.loc[cost, col] * scale
    paths = []
    for gi in range(0, len(groups), max_groups):
        chunk = groups[gi:gi + max_groups]
        algos = sorted(s[s["scale_group"].isin(chunk)]["algo"].unique(), key=algo_order)
        fig, axes = _figure(len(metrics), len(chunk), (2.6, 2.0), left=0.95, wgap=0.45,
                            hgap=0.6, bottom=0.85, min_width=_legend_width(algos))
        fig.text(0.5, 0.08 / fig.get_figheight(), "Mean over seeds; shaded: 95% bootstrap CI",
                 ha="center", va="bottom", fontsize=8, color="0.35")
        for j, group in enumerate(chunk):
            for i, metric in enumerate(metrics):
                ax = axes[i, j]
                d = s[(s["scale_group"] == group) & (s["metric"] == metric)]
                for algo in algos:
                    da = d[d["algo"] == algo].sort_values("n_agents")
                    if da.empty:
                        continue
                    n = da["n_agents"].astype(float)
                    ax.plot(n, da["mean"], marker="o", ms=4, color=palette[algo], **_style(algo))
                    ax.fill_between(n, da["mean_lo"], da["mean_hi"], color=palette[algo],
                                    alpha=0.2, lw=0)
                agent_counts = sorted(d["n_agents"].dropna().astype(int).unique())
                if metric == "s_per_step":
                    ax.set_xscale("log")
                    ax.set_yscale("log")
                    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2, 3, 5)))
                    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                    if j == 0:
                        ax.set_ylabel(f"Wall time per env step ({unit})\n(log scale)",
                                      fontsize=9)
                elif j == 0 or (scores or {}).get(group) != (scores or {}).get(chunk[j - 1]):
                    ax.set_ylabel(f"Final {(scores or {}).get(group, 'return')}", fontsize=9)
                ax.set_xticks(agent_counts, [str(a) for a in agent_counts])
                ax.xaxis.set_minor_locator(NullLocator())  # log axes would label 3x10^0 etc.
                ax.tick_params(which="both", labelsize=8)
                if i == 0:
                    ax.set_title(group, fontsize=9, y=1.02)
                if i == len(metrics) - 1:
                    ax.set_xlabel("Number of agents", fontsize=9)
        _legend(fig, algos, palette)
        suffix = f"_{gi // max_groups + 1}" if len(groups) > max_groups else ""
        paths += _save(fig, out_dir, "scalability" + suffix)
    return paths


# ------------------------------------------------------------------- aggregates across tasks

def aggregate_intervals(agg: pd.DataFrame, out_dir: Path, metric: str = "final",
                        palette: dict | None = None, score: str = "return") -> list[Path]:
    """rliable-style interval plot: median, IQM and mean of normalised scores with 95% CIs."""
    if agg.empty:
        return []
    palette = palette or algo_palette(agg["algo"])
    a = agg.assign(_o=agg["algo"].map(algo_order)).sort_values("_o", ascending=False)
    names = [("median", "Median"), ("iqm", "IQM"), ("mean", "Mean")]
    fig, axes = _figure(1, 3, (2.6, 0.45 * len(a) + 0.2), left=1.5, top=0.55, bottom=0.55,
                        wgap=0.25, hgap=0, sharey=True)
    axes = axes[0]
    y = np.arange(len(a))
    for ax, (key, title) in zip(axes, names):
        for yi, row in zip(y, a.itertuples(index=False)):
            c = palette[row.algo]
            lo, hi, pt = getattr(row, f"{key}_lo"), getattr(row, f"{key}_hi"), getattr(row, key)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.barh(yi, hi - lo, left=lo, height=0.6, color=c, alpha=0.75)
            ax.plot([pt, pt], [yi - 0.3, yi + 0.3], color="black", lw=1.5)
            ax.plot(pt, yi, "o", ms=5, color=c, mec="black", mew=0.8, zorder=4)
        vals = a[[key, f"{key}_lo", f"{key}_hi"]].to_numpy(float)
        lo_x, hi_x = np.nanmin(vals), np.nanmax(vals)
        pad = 0.08 * (hi_x - lo_x) or 0.05
        ax.set_xlim(lo_x - pad, hi_x + pad)  # bars pin autoscaling to their edges otherwise
        ax.set_title(title, fontsize=10, y=1.02)
        ax.set_xlabel("Normalized score", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(y, [display_name(al) for al in a["algo"]])
    n_tasks = int(a["n_tasks"].max())
    title = METRICS[metric].label.split(' (')[0].replace("return", score).capitalize()
    fig.suptitle(f"{title}, min-max normalized per "
                 f"task ({n_tasks} task{'s' if n_tasks != 1 else ''}); bars: 95% bootstrap CIs",
                 fontsize=10)
    return _save(fig, out_dir, f"aggregate_iqm_{metric}")


def probability_of_improvement(poi: pd.DataFrame, out_dir: Path, reference: str = REFERENCE,
                               palette: dict | None = None, score: str = "return") -> list[Path]:
    """P(reference > baseline) per baseline with 95% CIs; 0.5 marks no difference."""
    if poi.empty:
        return []
    palette = palette or algo_palette([reference, *poi["baseline"]])
    p = poi.assign(_o=poi["baseline"].map(algo_order)).sort_values("_o", ascending=False)
    fig, axes = _figure(1, 1, (3.6, 0.5 * len(p) + 0.2), left=2.0, top=0.2, bottom=0.55)
    ax = axes[0, 0]
    y = np.arange(len(p))
    for yi, row in zip(y, p.itertuples(index=False)):
        if np.isfinite(row.poi_lo) and np.isfinite(row.poi_hi):
            ax.barh(yi, row.poi_hi - row.poi_lo, left=row.poi_lo, height=0.6,
                    color=palette[row.baseline], alpha=0.75)
        ax.plot([row.poi, row.poi], [yi - 0.3, yi + 0.3], color="black", lw=1.5)
        # A dot too, so a zero-width interval (e.g. P = 1 with few seeds) is still seen.
        ax.plot(row.poi, yi, "o", ms=6, color=palette[row.baseline], mec="black", mew=0.8,
                clip_on=False, zorder=4)
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlim(-0.02, 1.02)  # so P = 0 or 1 stays visible
    ax.tick_params(labelsize=9)
    ax.set_yticks(y, [f"P({display_name(reference)} > {display_name(b)})" for b in p["baseline"]])
    ax.set_xlabel(f"Probability of improvement (final {score}; 95% CI)", fontsize=9)
    return _save(fig, out_dir, "probability_of_improvement")


def performance_profiles(prof: pd.DataFrame, out_dir: Path,
                         palette: dict | None = None, score: str = "return") -> list[Path]:
    """Score distributions: fraction of runs whose normalised score exceeds tau, with 95% bands."""
    if prof.empty:
        return []
    palette = palette or algo_palette(prof["algo"])
    algos = sorted(prof["algo"].unique(), key=algo_order)
    fig, axes = _figure(1, 1, (4.2, 3.0), left=0.7, top=0.2, bottom=0.6, right=1.5)
    ax = axes[0, 0]
    for algo in algos:
        d = prof[prof["algo"] == algo]
        ax.plot(d["tau"], d["fraction"], color=palette[algo], label=display_name(algo),
                **_style(algo))
        ax.fill_between(d["tau"], d["lo"], d["hi"], color=palette[algo], alpha=0.2, lw=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(rf"Normalized final {score} $\tau$ (min-max per task)", fontsize=9)
    ax.set_ylabel(r"Fraction of runs with score $> \tau$", fontsize=9)
    # Outside the axes: profiles fill the whole square, any corner would hide a curve.
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _save(fig, out_dir, "performance_profiles")
