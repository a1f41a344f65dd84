"""Where on the grid the violations sit: bus and branch violation shares drawn on the network.

Each answer of a model is re-scored with the env (the arena keeps only the top violations
per answer) and every violated element is mapped to the network: bus rows to their bus,
generator rows to the generator's bus, branch rows to their branch. A share is the fraction
of answers (instances x seeds) in which that element has at least one violation. Drawn with
networkx + matplotlib (PGLib cases carry no coordinates, so a Kamada-Kawai layout).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

_ELEMENT = re.compile(r"^(bus|generator|branch) (\S+)")


def grid_topology(env_id: str, env_kwargs: dict, split: str, seed: int) -> dict | None:
    """Bus ids, branch endpoints and generator buses of the env's grid (``None``: not a grid env)."""
    import gymnasium as gym

    import feasgym.envs  # noqa: F401

    env = gym.make(env_id, split=split, **env_kwargs)
    try:
        env.reset(seed=seed, options={"instance": 0})
        inst = getattr(env.unwrapped, "instance", None)
        if inst is None or not hasattr(inst, "bus_ids") or not hasattr(inst, "model"):
            return None
        m = inst.model
        return {"buses": list(inst.bus_ids), "gens": list(inst.gen_ids), "branches": list(inst.branch_ids),
                "from": [int(i) for i in m.f], "to": [int(i) for i in m.t], "gen_bus": [int(i) for i in m.gen_bus]}
    finally:
        env.close()


def violation_shares(topology: dict, violations: Sequence[Sequence[dict]]) -> dict:
    """Per bus and per branch: share of answers with a violation there (``violations``: one list per answer)."""
    bus_index = {b: i for i, b in enumerate(topology["buses"])}
    gen_bus = dict(zip(topology["gens"], topology["gen_bus"]))
    branch_index = {b: i for i, b in enumerate(topology["branches"])}
    bus_hits = np.zeros(len(bus_index))
    branch_hits = np.zeros(len(branch_index))
    other = 0
    for answer in violations:
        buses, branches = set(), set()
        for v in answer:
            match = _ELEMENT.match(str(v.get("element", "")))
            if not match:
                other += 1
                continue
            kind, name = match.groups()
            if kind == "bus" and name in bus_index:
                buses.add(bus_index[name])
            elif kind == "generator" and name in gen_bus:
                buses.add(gen_bus[name])
            elif kind == "branch" and name in branch_index:
                branches.add(branch_index[name])
            else:
                other += 1
        bus_hits[list(buses)] += 1
        branch_hits[list(branches)] += 1
    n = max(1, len(violations))
    return {"bus": (bus_hits / n).tolist(), "branch": (branch_hits / n).tolist(), "answers": len(violations),
            "unplaced": other}


def answer_violations(records: Sequence[dict], env_id: str, env_kwargs: dict) -> list[list[dict]]:
    """Every violation of each recorded answer (re-scored; the arena record keeps the top few)."""
    from feasgym.envs.rewards import EnvScorer

    scorer = EnvScorer(env_id, env_kwargs)
    return [scorer.score(r["seed"], r["split"], r["instance"], r["answer"] or "")["feasibility"]["violations"]
            for r in records]


def plot_violation_network(topology: dict, shares: dict[str, dict], title: str, path: Path) -> Path:
    """One panel per model (``shares``: model label -> :func:`violation_shares`), shared colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    graph = nx.MultiGraph()
    graph.add_nodes_from(range(len(topology["buses"])))
    for k, (f, t) in enumerate(zip(topology["from"], topology["to"])):
        graph.add_edge(f, t, key=k)
    pos = nx.kamada_kawai_layout(nx.Graph(graph))
    cmap = plt.get_cmap("Reds")
    fig, axes = plt.subplots(1, len(shares), figsize=(5.2 * len(shares), 5.0), squeeze=False)
    for ax, (label, share) in zip(axes[0], shares.items()):
        for k, (f, t) in enumerate(zip(topology["from"], topology["to"])):
            (x0, y0), (x1, y1) = pos[f], pos[t]
            ax.plot([x0, x1], [y0, y1], color=cmap(0.15 + 0.85 * share["branch"][k]),
                    lw=1.5 + 5 * share["branch"][k], zorder=1, solid_capstyle="round")
        xy = np.array([pos[i] for i in range(len(topology["buses"]))])
        has_gen = set(topology["gen_bus"])
        for i, (x, y) in enumerate(xy):
            ax.scatter(x, y, s=260, color=cmap(0.1 + 0.9 * share["bus"][i]), edgecolors="black",
                       linewidths=1.5 if i in has_gen else 0.6, marker="s" if i in has_gen else "o", zorder=2)
            if len(xy) <= 40:
                ax.annotate(topology["buses"][i], (x, y), ha="center", va="center", fontsize=7, zorder=3,
                            color="white" if share["bus"][i] > 0.6 else "black")
        ax.set_title(f"{label}: {share['answers']} answers", fontsize=9)
        ax.set_axis_off()
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=cmap)
    fig.colorbar(mappable, ax=axes[0].tolist(), shrink=0.7, label="share of answers violating there")
    fig.suptitle(title + "\n(squares: buses with generators, whose limit violations count at their bus)", fontsize=9,
                 y=1.02)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
