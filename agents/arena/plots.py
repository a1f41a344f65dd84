"""PNG plots of an arena summary: the format-vs-feasibility gap, and violations by constraint type.

Rendered with matplotlib's object API (no display, no pyplot state), one panel per env section.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

GAP_METRICS = (("format", "format score", "#4c72b0"),
               ("constraint_rate", "constraint-satisfaction rate", "#dd8452"),
               ("feasible", "fully feasible", "#55a868"))


def _figure(n_panels: int, width: float, height: float):
    """A pyplot-free figure: no global backend or figure registry is touched."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * n_panels, height))
    return fig, fig.subplots(1, n_panels, squeeze=False)[0]


def plot_gap(summary: dict, path: Path) -> Path:
    """Per agent: format score, constraint-satisfaction rate and feasible rate with 95% CIs."""
    envs = summary["envs"]
    n_agents = max(len(e["agents"]) for e in envs.values())
    fig, axes = _figure(len(envs), max(4.5, 1.6 * n_agents + 1.5), 4.6)
    for ax, (label, section) in zip(axes, envs.items()):
        names = list(section["agents"])
        x = np.arange(len(names))
        width = 0.8 / len(GAP_METRICS)
        for j, (metric, title, color) in enumerate(GAP_METRICS):
            stats = [section["agents"][n][metric] for n in names]
            means = np.array([s["mean"] if s else np.nan for s in stats])
            low = np.array([s["mean"] - s["ci_low"] if s else 0.0 for s in stats])
            high = np.array([s["ci_high"] - s["mean"] if s else 0.0 for s in stats])
            pos = x + (j - (len(GAP_METRICS) - 1) / 2) * width
            ax.bar(pos, means, width, yerr=[low, high], capsize=3, color=color, label=title)
            for p, m in zip(pos, means):
                if np.isfinite(m):
                    ax.text(p, min(m, 1.0) + 0.03, f"{m:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, names, rotation=15 if len(names) > 3 else 0)
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("mean over episodes (95% bootstrap CI)")
        n = max((section["agents"][name]["n"] for name in names), default=0)
        ax.set_title(f"{label} ({n} instances)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(GAP_METRICS), fontsize=8, frameon=False)
    fig.suptitle("Looks right vs is right: format score against feasibility", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    return path


def plot_violations(summary: dict, path: Path) -> Path:
    """Heatmap per env: share of each constraint type's rows violated, per agent."""
    envs = summary["envs"]
    n_types = max((len(_types(e)) for e in envs.values()), default=1)
    n_agents = max(len(e["agents"]) for e in envs.values())
    fig, axes = _figure(len(envs), max(4.5, 0.9 * n_types + 2.0), 1.0 + 0.5 * n_agents + 1.2)
    image = None
    for ax, (label, section) in zip(axes, envs.items()):
        names, types = list(section["agents"]), _types(section)
        grid = np.array([[section["agents"][n]["violations_by_type"].get(t, {}).get("rate", np.nan) for t in types]
                         for n in names], dtype=float).reshape(len(names), len(types))
        image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(types)), types, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if grid[i, j] > 0.6 else "black")
        ax.set_title(f"{label}: share of rows violated", fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _types(section: dict) -> list[str]:
    types: list[str] = []
    for agent in section["agents"].values():
        types += [t for t in agent["violations_by_type"] if t not in types]
    return types


def write_plots(summary: dict, out_dir: Path) -> dict[str, str]:
    """Write both plots; returns their file names (relative to ``out_dir``)."""
    gap = plot_gap(summary, out_dir / "gap.png")
    violations = plot_violations(summary, out_dir / "violations.png")
    return {"gap": gap.name, "violations": violations.name}
