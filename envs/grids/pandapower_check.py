"""An independent check of an AC state with pandapower (used to cross-check our checker).

pandapower builds its own network model from the instance's PYPOWER case
(``from_ppc``), runs its own Newton power flow from the answer's setpoints (generator
P and voltage setpoints, slack voltage), and we read its result tables. A state that
is not the power flow's solution for its own setpoints violates power balance; limits
are read from pandapower's tables. This is also the baseline "library path" of the
scoring benchmark.
"""
from __future__ import annotations

import warnings

import numpy as np

from .case import instance_ppc
from .instance import GridInstance

BALANCE = "balance"  # pandapower cannot split a state mismatch into P and Q rows per bus


class PandapowerChecker:
    def __init__(self, inst: GridInstance, *, rate_mva: np.ndarray | None = None):
        import pandapower as pp
        from pandapower.converter.pypower.from_ppc import from_ppc

        self._pp = pp
        self.inst = inst
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.net = from_ppc(instance_ppc(inst.case, inst.pd_mw, inst.qd_mvar, inst.outage), f_hz=60,
                                validate_conversion=False)
        lookups = self.net._from_ppc_lookups
        self.gen_lookup = list(zip(lookups["gen"]["element"].astype(int), lookups["gen"]["element_type"]))
        self.branch_lookup = list(zip(lookups["branch"]["element"].astype(int), lookups["branch"]["element_type"]))
        self.rate_mva = inst.model.rate_mva if rate_mva is None else np.asarray(rate_mva, dtype=float)

    def run(self, pg, qg, vm, va_deg) -> bool:
        """Load the answer's setpoints and run pandapower's power flow; False if it fails."""
        m, net = self.inst.model, self.net
        for g, (element, kind) in enumerate(self.gen_lookup):
            bus = m.gen_bus[g]
            if kind == "gen":
                net.gen.at[element, "p_mw"] = pg[g]
                net.gen.at[element, "vm_pu"] = vm[bus]
            elif kind == "sgen":
                net.sgen.at[element, "p_mw"] = pg[g]
                net.sgen.at[element, "q_mvar"] = qg[g]
            else:  # ext_grid: the slack holds voltage magnitude and angle
                net.ext_grid.at[element, "vm_pu"] = vm[bus]
                net.ext_grid.at[element, "va_degree"] = va_deg[bus]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._pp.runpp(net, algorithm="nr", calculate_voltage_angles=True, trafo_model="pi",
                               enforce_q_lims=False, init="flat", tolerance_mva=1e-9, numba=False)
        except Exception:
            return False
        return bool(net.converged)

    def violations(self, pg, qg, vm, va_deg, *, vm_tol=1e-4, gen_tol_mw=1e-2, flow_tol_mva=1.0,
                   state_tol_pu=1e-3, state_tol_deg=1e-2, power_tol_mw=1.0) -> dict[str, set[int]]:
        """Violated elements by type: ``balance`` (bus or generator ids), ``bus_vm``, ``gen_p``, ``gen_q``,
        ``branch_flow`` (internal indices)."""
        out: dict[str, set[int]] = {k: set() for k in (BALANCE, "bus_vm", "gen_p", "gen_q", "branch_flow")}
        m, net = self.inst.model, self.net
        if not self.run(pg, qg, vm, va_deg):
            out[BALANCE] = set(range(m.n_bus))
            return out
        res_vm = net.res_bus.loc[m.bus_numbers, "vm_pu"].to_numpy()
        res_va = net.res_bus.loc[m.bus_numbers, "va_degree"].to_numpy()
        # The answer's state must be the power flow's solution of its own setpoints.
        off = (np.abs(res_vm - vm) > state_tol_pu) | (np.abs(res_va - va_deg) > state_tol_deg)
        out[BALANCE].update(int(i) for i in np.flatnonzero(off))
        gen_p, gen_q = self.generator_outputs(pg, qg)
        out[BALANCE].update(int(m.gen_bus[g]) for g in np.flatnonzero(np.abs(gen_p - pg) > power_tol_mw))
        out[BALANCE].update(int(m.gen_bus[g]) for g in np.flatnonzero(np.abs(gen_q - qg) > power_tol_mw))
        vmin = net.bus.loc[m.bus_numbers, "min_vm_pu"].to_numpy()
        vmax = net.bus.loc[m.bus_numbers, "max_vm_pu"].to_numpy()
        out["bus_vm"].update(int(i) for i in np.flatnonzero((res_vm < vmin - vm_tol) | (res_vm > vmax + vm_tol)))
        out["gen_p"].update(int(g) for g in np.flatnonzero((gen_p < m.pmin - gen_tol_mw) | (gen_p > m.pmax + gen_tol_mw)))
        out["gen_q"].update(int(g) for g in np.flatnonzero((gen_q < m.qmin - gen_tol_mw) | (gen_q > m.qmax + gen_tol_mw)))
        flows = self._branch_flows_mva()
        out["branch_flow"].update(int(k) for k in np.flatnonzero(flows > self.rate_mva + flow_tol_mva))
        return out

    def generator_outputs(self, pg, qg) -> tuple[np.ndarray, np.ndarray]:
        """Generator P and Q from pandapower's result tables (Q shared by Q range at shared buses)."""
        net, m = self.net, self.inst.model
        p, q = np.array(pg, dtype=float), np.zeros(m.n_gen)
        for g, (element, kind) in enumerate(self.gen_lookup):
            table = {"gen": net.res_gen, "sgen": net.res_sgen, "ext_grid": net.res_ext_grid}[kind]
            if kind == "ext_grid":
                p[g] = table.at[element, "p_mw"]
            if kind == "sgen":
                q[g] = qg[g]
            else:
                q[g] = table.at[element, "q_mvar"]
        return p, q

    def _branch_flows_mva(self) -> np.ndarray:
        net = self.net
        flows = np.zeros(len(self.branch_lookup))
        for k, (element, kind) in enumerate(self.branch_lookup):
            if kind == "trafo":
                row = net.res_trafo.loc[element]
                s_from = np.hypot(row["p_hv_mw"], row["q_hv_mvar"])
                s_to = np.hypot(row["p_lv_mw"], row["q_lv_mvar"])
            else:  # "line" or "impedance": both tables name the ends from/to
                row = (net.res_line if kind == "line" else net.res_impedance).loc[element]
                s_from = np.hypot(row["p_from_mw"], row["q_from_mvar"])
                s_to = np.hypot(row["p_to_mw"], row["q_to_mvar"])
            flows[k] = max(s_from, s_to)
        return flows
