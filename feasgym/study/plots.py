"""The study's own figures: format vs feasibility per agent, and training curves."""
from __future__ import annotations

from pathlib import Path

AGENT_COLORS = {"base": "#7f7f7f", "sft": "#1f77b4", "rl": "#d62728", "oracle": "#2ca02c", "looks-right": "#ff7f0e"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_format_vs_feasibility(sections: dict[str, dict], path: Path) -> Path:
    """One panel per evaluation (label -> arena env section): x format, y CSR (filled) and fully feasible (hollow)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(sections), figsize=(5.2 * len(sections), 4.4), squeeze=False)
    for ax, (label, section) in zip(axes[0], sections.items()):
        for name, a in section["agents"].items():
            color = AGENT_COLORS.get(name, "#9467bd")
            x = a["format"]["mean"]
            xerr = [[x - a["format"]["ci_low"]], [a["format"]["ci_high"] - x]]
            for key, fill in (("constraint_rate", color), ("feasible", "none")):
                y = a[key]["mean"]
                yerr = [[y - a[key]["ci_low"]], [a[key]["ci_high"] - y]]
                ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=color, mfc=fill, ms=8, capsize=3,
                            label=name if key == "constraint_rate" else None)
            ax.annotate(name, (x, a["constraint_rate"]["mean"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.plot([0, 1], [0, 1], ls=":", color="#bbbbbb", lw=1)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("format score")
        ax.set_ylabel("constraint-satisfaction (filled) / fully feasible (hollow)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training_curves(sft: dict | None, grpo: dict | None, path: Path) -> Path:
    """SFT loss and held-out probes; GRPO reward components per step and probes."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    if sft:
        steps = [h["step"] for h in sft["log_history"] if "loss" in h]
        ax2 = ax.twinx()
        ax2.plot(steps, [h["loss"] for h in sft["log_history"] if "loss" in h], color="#bbbbbb", lw=1, label="loss")
        ax2.set_ylabel("training loss (completion tokens)")
        _probe_lines(ax, sft["probe"])
    ax.set_title("SFT: held-out probes (greedy)", fontsize=10)
    ax.set_xlabel("step")
    ax = axes[1]
    if grpo:
        history = [h for h in grpo["log_history"] if "rewards/feasibility_reward/mean" in h]
        steps = [h["step"] for h in history]
        for name, color in (("format", "#1f77b4"), ("feasibility", "#d62728"), ("optimality", "#2ca02c")):
            key = f"rewards/{name}_reward/mean"
            ax.plot(steps, [h.get(key) for h in history], color=color, alpha=0.35, lw=1,
                    label=f"{name} reward (sampled)")
        probe = list(grpo["probe"])
        if sft and sft["probe"] and (not probe or probe[0]["step"] != 0):
            probe.insert(0, {**sft["probe"][-1], "step": 0})  # GRPO starts from SFT's final model
        _probe_lines(ax, probe, prefix="probe ")
    ax.set_title("GRPO: reward per step (sampled) and probes (greedy)", fontsize=10)
    ax.set_xlabel("step")
    for ax in axes:
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _probe_lines(ax, probe: list[dict], prefix: str = "") -> None:
    if not probe:
        return
    steps = [r["step"] for r in probe]
    for key, color, label in (("format", "#1f77b4", "format"), ("constraint_rate", "#9467bd", "constraint-satisfaction"),
                              ("feasible", "#d62728", "fully feasible")):
        ax.plot(steps, [r[key] for r in probe], marker="o", color=color, lw=2, label=prefix + label)
