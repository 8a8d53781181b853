"""Search state and greedy construction (lazy and randomized greedy)."""

from __future__ import annotations

import numpy as np

from . import _batch
from . import _kernels as kern
from ._validate import Instance
from .constraints import SideArrays

__all__ = ["State", "construct", "HEAP_MIN_SITES"]

#: From this many candidate sites on (and without groups, spacing, quotas or a
#: randomized candidate list) the greedy runs on a heap (:func:`._batch.greedy_heap`,
#: the same choices) instead of scanning every site per look-up, which is O(m^2).
HEAP_MIN_SITES = 5_000


class State:
    """Open sites plus each client's closest / second-closest open site (mutable)."""

    def __init__(self, inst: Instance, side: SideArrays):
        m, n = inst.m, inst.n
        self.inst = inst
        self.side = side
        self.is_open = np.zeros(m, dtype=np.uint8)
        self.open_list = np.zeros(m, dtype=np.int64)
        self.nopen = 0
        self.gcount = np.zeros(max(side.gmin.shape[0], 1), dtype=np.int64)
        self.nconf = np.zeros(m, dtype=np.int32)
        self.q_use = np.zeros(side.q_lo.shape[0], dtype=np.float64)
        self.d1 = inst.unserved.copy()
        self.d2 = inst.unserved.copy()
        self.f1 = np.full(n, -1, dtype=np.int64)
        self.f2 = np.full(n, -1, dtype=np.int64)

    # kernel argument bundles (fixed-length tuples: mypy matches them to the kernels'
    # positional parameters) ----------------------------------------------------
    def inst_args(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        i = self.inst
        return (i.indptr, i.indices, i.cost, i.unserved, i.cptr, i.crow, i.ccost)

    def side_args(
        self,
    ) -> tuple[
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
    ]:
        s = self.side
        return (
            s.status,
            s.group,
            s.gmin,
            s.gmax,
            s.conf_ptr,
            s.conf_adj,
            s.q_ptr,
            s.q_row,
            s.q_val,
            s.q_lo,
            s.q_hi,
        )

    def state_args(
        self,
    ) -> tuple[
        np.ndarray,
        np.ndarray,
        int,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
        np.ndarray,
    ]:
        return (
            self.is_open,
            self.open_list,
            self.nopen,
            self.gcount,
            self.nconf,
            self.q_use,
            self.d1,
            self.f1,
            self.d2,
            self.f2,
        )

    def copy(self) -> State:
        new = State.__new__(State)
        new.inst, new.side, new.nopen = self.inst, self.side, self.nopen
        for name in ("is_open", "open_list", "gcount", "nconf", "q_use", "d1", "d2", "f1", "f2"):
            setattr(new, name, getattr(self, name).copy())
        return new

    def open(self, s: int) -> None:
        self.nopen = kern.apply_move(
            int(s),
            -1,
            *self.inst_args(),
            self.is_open,
            self.open_list,
            self.nopen,
            self.side.group,
            self.gcount,
            self.side.conf_ptr,
            self.side.conf_adj,
            self.nconf,
            self.side.q_ptr,
            self.side.q_row,
            self.side.q_val,
            self.q_use,
            self.d1,
            self.f1,
            self.d2,
            self.f2,
        )

    def open_many(self, sites) -> None:
        for s in np.asarray(sites, dtype=np.int64):
            if not self.is_open[s]:
                self.open(int(s))

    @property
    def sites(self) -> np.ndarray:
        return np.sort(self.open_list[: self.nopen].copy())

    def objective(self) -> float:
        """Exact objective: opening costs plus weighted service / unserved costs."""
        return float(self.d1.sum() + self.inst.fcost[self.open_list[: self.nopen]].sum())

    def quotas_met(self) -> bool:
        """True when every quota row is within its bounds."""
        s = self.side
        if not s.has_quotas:
            return True
        tl = 1e-9 * np.maximum(1.0, np.abs(s.q_lo))
        th = np.where(np.isfinite(s.q_hi), 1e-9 * np.maximum(1.0, np.abs(s.q_hi)), 0.0)
        return bool(np.all(self.q_use >= s.q_lo - tl) and np.all(self.q_use <= s.q_hi + th))

    def n_unserved(self) -> int:
        return int(np.count_nonzero(self.f1 < 0))

    def assignment(self) -> np.ndarray:
        """Nearest open site of every client in its stored row order (-1 = unserved).

        Recomputed from scratch so that ties (zero weights, coverage) resolve to the
        site with the smallest raw cost, and a site costing exactly the unserved cost
        serves the client (same objective)."""
        i = self.inst
        d1, d2 = np.empty(i.n), np.empty(i.n)
        f1, f2 = np.empty(i.n, dtype=np.int64), np.empty(i.n, dtype=np.int64)
        u = np.nextafter(i.unserved, np.inf)
        kern.assign_all(i.indptr, i.indices, i.cost, u, self.is_open, d1, f1, d2, f2)
        return f1


def construct(
    inst: Instance,
    side: SideArrays,
    kmin: int,
    kmax: int,
    *,
    stop_when_no_gain: bool = False,
    rcl: int = 1,
    seed: int = -1,
    start: np.ndarray | None = None,
    rcost: np.ndarray | None = None,
) -> tuple[State, int]:
    """Open the must-open sites (and ``start``), then add sites greedily.

    Returns the state and the number of gain evaluations. The state may hold fewer
    than ``kmin`` sites (or miss a quota minimum) when the side constraints block every
    remaining site. ``rcost`` (per site, > 0) makes the greedy rank sites by saving per
    unit of ``rcost`` (a budget's cost-effectiveness rule).
    """
    st = State(inst, side)
    st.open_many(side.must)
    if start is not None:
        st.open_many(start)
    if (
        rcl <= 1
        and inst.m >= HEAP_MIN_SITES
        and not (side.has_groups or side.has_conflicts or side.has_quotas)
    ):
        st.nopen, evals = _batch.greedy_heap(
            inst.cptr,
            inst.crow,
            inst.ccost,
            inst.fcost,
            side.status,
            st.is_open,
            st.open_list,
            st.nopen,
            st.d1,
            st.f1,
            st.d2,
            st.f2,
            kmin,
            kmax,
            stop_when_no_gain,
            np.zeros(inst.m) if rcost is None else np.asarray(rcost, dtype=np.float64),
        )
        return st, int(evals)
    st.nopen, evals = kern.greedy(
        *st.inst_args(),
        inst.fcost,
        *st.side_args(),
        *st.state_args(),
        kmin,
        kmax,
        stop_when_no_gain,
        rcl,
        seed,
        np.zeros(inst.m) if rcost is None else np.asarray(rcost, dtype=np.float64),
    )
    return st, int(evals)
