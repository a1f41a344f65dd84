"""The study's own figures: every seed's point (format vs feasibility) and training curves per seed.

Legends sit outside the axes, so no legend box covers a data point.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

KIND_COLORS = {"base": "#7f7f7f", "sft": "#1f77b4", "rl": "#d62728", "oracle": "#2ca02c", "looks-right": "#ff7f0e"}
SEED_MARKERS = "os^Dv<>p*h"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _kind(agent: str) -> tuple[str, int | None]:
    """``sft-s2`` -> ("sft", 2); ``oracle`` -> ("oracle", None)."""
    kind, sep, seed = agent.rpartition("-s")
    if sep and kind in ("sft", "rl") and seed.isdigit():
        return kind, int(seed)
    return agent, None


def plot_format_vs_feasibility(sections: dict[str, dict], seeds: list[int], path: Path) -> Path:
    """One row per evaluation section: x format; y CSR (left panel) and fully feasible (right panel).

    Every training seed's SFT and RL model is its own point (marker = seed), so the spread shows.
    """
    plt = _plt()
    fig, axes = plt.subplots(len(sections), 2, figsize=(10.5, 4.0 * len(sections)), squeeze=False)
    handles = {}
    for row, (label, section) in zip(axes, sections.items()):
        for ax, key, title in ((row[0], "constraint_rate", "constraint-satisfaction rate"),
                               (row[1], "feasible", "fully-feasible rate")):
            for agent, a in section["agents"].items():
                kind, seed = _kind(agent)
                marker = SEED_MARKERS[seeds.index(seed) % len(SEED_MARKERS)] if seed in seeds else "o"
                h = ax.scatter(a["format"]["mean"], a[key]["mean"], color=KIND_COLORS.get(kind, "#9467bd"),
                               marker=marker, s=55, alpha=0.85, edgecolors="black", linewidths=0.4, zorder=3)
                handles.setdefault(f"{kind}" if seed is None else f"{kind} seed {seed}", h)
            ax.plot([0, 1], [0, 1], ls=":", color="#bbbbbb", lw=1)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xlabel("format score")
            ax.set_ylabel(title)
            ax.set_title(label, fontsize=8)
            ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(6, len(handles)), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.07 + 0.02 * (len(handles) // 6), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training_curves(runs: dict[int, dict], path: Path) -> Path:
    """Per seed: SFT loss; GRPO sampled feasibility reward per step with its fitted trend; probes."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    cmap = plt.get_cmap("tab10")
    for k, (seed, run) in enumerate(sorted(runs.items())):
        color = cmap(k % 10)
        sft, grpo = run.get("sft"), run.get("grpo")
        if sft:
            steps = [h["step"] for h in sft["log_history"] if "loss" in h]
            axes[0].plot(steps, [h["loss"] for h in sft["log_history"] if "loss" in h], color=color, lw=1,
                         label=f"seed {seed}")
        if grpo:
            history = [h for h in grpo["log_history"] if "rewards/feasibility_reward/mean" in h]
            x = np.array([h["step"] for h in history], float)
            y = np.array([h["rewards/feasibility_reward/mean"] for h in history], float)
            axes[1].plot(x, y, color=color, alpha=0.35, lw=1)
            if x.size >= 3:
                fit = np.polyfit(x, y, 1)
                axes[1].plot(x, np.polyval(fit, x), color=color, lw=2, label=f"seed {seed} (linear fit)")
            probe = list(grpo["probe"])
            if sft and sft["probe"]:
                probe.insert(0, {**sft["probe"][-1], "step": 0})  # GRPO starts from SFT's final model
            if probe:
                axes[2].plot([r["step"] for r in probe], [r["constraint_rate"] for r in probe], color=color,
                             marker="o", lw=2, label=f"seed {seed} CSR")
                axes[2].plot([r["step"] for r in probe], [r["feasible"] for r in probe], color=color,
                             marker="s", ls="--", lw=1, label=f"seed {seed} fully feasible")
    axes[0].set_title("SFT: training loss (completion tokens)", fontsize=10)
    axes[1].set_title("GRPO: sampled feasibility reward per step", fontsize=10)
    axes[2].set_title("GRPO: held-out probe (greedy), step 0 = SFT", fontsize=10)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    axes[1].set_ylim(-0.05, 1.05)
    axes[2].set_ylim(-0.05, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
