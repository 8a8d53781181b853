"""Peer p-median solvers, each used only when its package is installed.

- ``pbp``: pbp-pmedian (exact, Hammer-Beresnev pseudo-Boolean / Benders lineage, HiGHS).
- ``fasterpam``: kmedoids FasterPAM (heuristic; square matrices only).
- ``spopt``: spopt PMedian via PuLP + CBC (compact MIP).
- ``highs``: textbook HiGHS MIP (classical strong formulation, every arc, no reduction).
"""

from __future__ import annotations

import time

import numpy as np
from _common import have, pmedian_cost

PEERS = ("pbp", "fasterpam", "spopt", "highs")


def available() -> list[str]:
    out = []
    if have("pbp_pmedian"):
        out.append("pbp")
    if have("kmedoids"):
        out.append("fasterpam")
    if have("spopt") and have("pulp"):
        out.append("spopt")
    out.append("highs")
    return out


def run_peer(name: str, d: np.ndarray, p: int, time_limit: float, seed: int = 0) -> dict:
    """Run peer ``name`` on the dense matrix ``d``; returns objective, seconds, status."""
    t = time.perf_counter()
    if name == "pbp":
        from pbp_pmedian import solve

        value, sites, _, status, engine = solve(d, p, time_limit=time_limit)
        if sites is None or len(sites) != p:
            obj, status = float("nan"), f"no solution ({status}, {engine})"
        else:
            obj, status = pmedian_cost(d, sites), f"{status} ({engine})"
    elif name == "fasterpam":
        import kmedoids

        if d.shape[0] != d.shape[1]:
            return {"status": "n/a (square only)"}
        res = kmedoids.fasterpam(d, p, init="build", random_state=seed, n_cpu=1)
        obj = pmedian_cost(d, res.medoids)
        status = "heuristic"
    elif name == "spopt":
        import pulp
        from spopt.locate import PMedian

        model = PMedian.from_cost_matrix(d, np.ones(d.shape[0]), p_facilities=p)
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=1)
        model = model.solve(solver, results=False)
        status = pulp.LpStatus[model.problem.status]
        sites = [j for j, v in enumerate(model.fac_vars) if v.value() and v.value() > 0.5]
        obj = pmedian_cost(d, sites) if len(sites) == p else float("nan")
    elif name == "highs":
        from storeplan.solvers._validate import as_sorted_csr
        from storeplan.solvers.constraints import prepare
        from storeplan.solvers.mip import solve_min_mip

        n, m, ip, ix, v = as_sorted_csr(d)
        side = prepare(None, m, p, p)
        r = solve_min_mip(
            ip,
            ix,
            v,
            np.full(n, np.inf),
            np.zeros(m),
            side,
            p,
            p,
            np.ones(v.shape[0], dtype=bool),
            np.zeros(n, dtype=bool),
            np.zeros(m, np.int8),
            time_limit=time_limit,
            warm_sites=None,
        )
        obj = pmedian_cost(d, r.y) if r.y is not None else float("nan")
        status = r.status
    else:
        raise ValueError(name)
    return {"objective": obj, "seconds": time.perf_counter() - t, "status": status}
