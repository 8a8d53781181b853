"""Side constraints on the set of open sites and their validation.

Every solver accepts a :class:`Constraints`; :func:`prepare` checks it against the
instance and turns it into flat arrays the Numba kernels read (:class:`SideArrays`).

With :math:`y_j \\in \\{0, 1\\}` the open/closed decision of site :math:`j`:

.. math::

    y_j = 1 \\; (j \\in \\text{must\\_open}), \\qquad
    y_j = 0 \\; (j \\in \\text{forbidden}),

    \\text{group\\_min}_g \\le \\sum_{j : \\text{group}_j = g} y_j \\le \\text{group\\_max}_g,
    \\qquad
    y_a + y_b \\le 1 \\; ((a, b) \\in \\text{conflicts}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, InputError

__all__ = ["Constraints", "SideArrays", "prepare"]

FREE, MUST, FORBIDDEN = 0, 1, 2


@dataclass(frozen=True)
class Constraints:
    """Side constraints on which sites may or must be open.

    Parameters
    ----------
    must_open : array-like of int, optional
        Sites that must be open (e.g. existing stores).
    forbidden : array-like of int, optional
        Sites that may not be open.
    group : array-like of int, shape (n_sites,), optional
        Group id of every site (e.g. region), -1 for no group.
    group_min, group_max : array-like of int, optional
        Minimum / maximum number of open sites per group id (indexed by group id).
    conflicts : array-like of int, shape (k, 2), optional
        Site pairs that may not both be open (minimum spacing; see
        :func:`storeplan.geo.pairs_within`).
    """

    must_open: np.ndarray | None = None
    forbidden: np.ndarray | None = None
    group: np.ndarray | None = None
    group_min: np.ndarray | None = None
    group_max: np.ndarray | None = None
    conflicts: np.ndarray | None = None


@dataclass(frozen=True)
class SideArrays:
    """Flat arrays of validated constraints (internal).

    ``status`` is 0 free / 1 must-open / 2 forbidden per site; ``group`` is int32 with
    -1 for none; ``gmin``/``gmax`` int64 per group (gmax = n_sites when unbounded);
    ``conf_ptr``/``conf_adj`` a symmetric CSR adjacency of conflicting sites.
    """

    status: np.ndarray
    group: np.ndarray
    gmin: np.ndarray
    gmax: np.ndarray
    conf_ptr: np.ndarray
    conf_adj: np.ndarray
    conflicts: np.ndarray

    @property
    def must(self) -> np.ndarray:
        return np.flatnonzero(self.status == MUST)

    @property
    def forbidden(self) -> np.ndarray:
        return np.flatnonzero(self.status == FORBIDDEN)

    @property
    def has_groups(self) -> bool:
        return bool(self.gmin.shape[0] > 0)

    @property
    def has_conflicts(self) -> bool:
        return bool(self.conflicts.shape[0] > 0)

    @property
    def trivial(self) -> bool:
        return not (self.has_groups or self.has_conflicts or np.any(self.status != FREE))


def _index_array(value, m: int, name: str) -> np.ndarray:
    if value is None:
        return np.empty(0, dtype=np.int64)
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (m,):
            raise InputError(f"{name} as a boolean mask must have length {m}, got {arr.shape}")
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.reshape(-1)
    if (
        arr.size
        and not np.issubdtype(arr.dtype, np.integer)
        and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)))
    ):
        raise InputError(f"{name} must hold integer site indices")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= m):
        raise InputError(f"{name} holds site indices outside 0..{m - 1}")
    return np.unique(arr)


def prepare(
    constraints: Constraints | None,
    m: int,
    p_min: int,
    p_max: int,
) -> SideArrays:
    """Validate ``constraints`` for ``m`` sites and between ``p_min`` and ``p_max`` open
    sites; raise :class:`InfeasibleError` naming the violated constraint."""
    c = constraints if constraints is not None else Constraints()
    if not isinstance(c, Constraints):
        raise InputError(f"constraints must be a storeplan.solvers.Constraints, got {type(c)!r}")
    status = np.zeros(m, dtype=np.int8)
    must = _index_array(c.must_open, m, "must_open")
    forb = _index_array(c.forbidden, m, "forbidden")
    both = np.intersect1d(must, forb)
    if both.size:
        raise InfeasibleError(f"must_open and forbidden share {both.size} site(s), e.g. site {int(both[0])}")
    status[must] = MUST
    status[forb] = FORBIDDEN
    if must.size > p_max:
        raise InfeasibleError(f"must_open has {must.size} sites but p = {p_max}")
    if m - forb.size < p_min:
        raise InfeasibleError(f"forbidden leaves {m - forb.size} allowed sites but p = {p_min}")

    # groups
    if c.group is None:
        if c.group_min is not None or c.group_max is not None:
            raise InputError("group_min / group_max given without group")
        group = np.full(m, -1, dtype=np.int32)
        gmin = np.zeros(0, dtype=np.int64)
        gmax = np.zeros(0, dtype=np.int64)
    else:
        g = np.asarray(c.group).reshape(-1)
        if g.shape[0] != m:
            raise InputError(f"group must have one entry per site ({m}), got {g.shape[0]}")
        if g.size and not np.issubdtype(g.dtype, np.integer):
            raise InputError("group must hold integer group ids")
        if g.size and g.min() < -1:
            raise InputError("group ids must be >= 0 (or -1 for no group)")
        group = g.astype(np.int32)
        n_groups = int(group.max()) + 1 if group.size else 0
        for name, arr in (("group_min", c.group_min), ("group_max", c.group_max)):
            if arr is not None:
                a = np.asarray(arr).reshape(-1)
                n_groups = max(n_groups, a.shape[0])
                if a.size and (not np.all(np.isfinite(a.astype(np.float64))) or np.any(a < 0)):
                    raise InputError(f"{name} must hold non-negative integers")
        gmin = np.zeros(n_groups, dtype=np.int64)
        gmax = np.full(n_groups, m, dtype=np.int64)
        if c.group_min is not None:
            a = np.asarray(c.group_min).reshape(-1).astype(np.int64)
            gmin[: a.shape[0]] = a
        if c.group_max is not None:
            a = np.asarray(c.group_max).reshape(-1).astype(np.int64)
            gmax[: a.shape[0]] = a
        for k in range(n_groups):
            in_g = group == k
            allowed = int(np.count_nonzero(in_g & (status != FORBIDDEN)))
            n_must = int(np.count_nonzero(in_g & (status == MUST)))
            if gmin[k] > gmax[k]:
                raise InfeasibleError(f"group {k} has group_min {gmin[k]} > group_max {gmax[k]}")
            if gmin[k] > allowed:
                raise InfeasibleError(
                    f"group {k} needs at least {gmin[k]} sites but only {allowed} are allowed"
                )
            if n_must > gmax[k]:
                raise InfeasibleError(f"group {k} allows at most {gmax[k]} sites but {n_must} are must_open")
        if gmin.sum() > p_max:
            raise InfeasibleError(f"group minimums need {int(gmin.sum())} sites in total but p = {p_max}")
        # most sites the groups allow (ungrouped sites are unbounded)
        cap = int(np.count_nonzero((group == -1) & (status != FORBIDDEN)))
        for k in range(n_groups):
            allowed = int(np.count_nonzero((group == k) & (status != FORBIDDEN)))
            cap += min(allowed, int(gmax[k]))
        if cap < p_min:
            raise InfeasibleError(f"group maximums allow at most {cap} open sites but p = {p_min}")

    # conflicts (minimum spacing)
    if c.conflicts is None:
        pairs = np.empty((0, 2), dtype=np.int64)
    else:
        pairs = np.asarray(c.conflicts)
        if pairs.size == 0:
            pairs = np.empty((0, 2), dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise InputError(f"conflicts must have shape (k, 2), got {pairs.shape}")
        if pairs.size and not np.issubdtype(pairs.dtype, np.integer):
            raise InputError("conflicts must hold integer site indices")
        pairs = pairs.astype(np.int64)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= m):
            raise InputError(f"conflicts hold site indices outside 0..{m - 1}")
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        pairs = np.unique(np.sort(pairs, axis=1), axis=0) if pairs.size else pairs
        bad = (status[pairs[:, 0]] == MUST) & (status[pairs[:, 1]] == MUST)
        if np.any(bad):
            a, b = pairs[np.flatnonzero(bad)[0]]
            raise InfeasibleError(f"minimum spacing: must-open sites {a} and {b} conflict")
    sym = np.concatenate([pairs, pairs[:, ::-1]]) if pairs.size else pairs
    conf_ptr = np.zeros(m + 1, dtype=np.int64)
    if sym.size:
        order = np.lexsort((sym[:, 1], sym[:, 0]))
        sym = sym[order]
        np.cumsum(np.bincount(sym[:, 0], minlength=m), out=conf_ptr[1:])
        conf_adj = sym[:, 1].astype(np.int32)
    else:
        conf_adj = np.empty(0, dtype=np.int32)
    return SideArrays(status, group, gmin, gmax, conf_ptr, conf_adj, pairs)


def check_sites(side: SideArrays, sites: np.ndarray) -> str | None:
    """Return a description of the first violated constraint for ``sites``, or None."""
    sites = np.asarray(sites, dtype=np.int64)
    is_open = np.zeros(side.status.shape[0], dtype=bool)
    is_open[sites] = True
    if np.any(side.status[sites] == FORBIDDEN):
        return "forbidden site open"
    if np.any(~is_open[side.status == MUST]):
        return "must_open site closed"
    for k in range(side.gmin.shape[0]):
        cnt = int(np.count_nonzero(is_open & (side.group == k)))
        if cnt < side.gmin[k] or cnt > side.gmax[k]:
            return f"group {k} has {cnt} open sites"
    if side.has_conflicts:
        both = is_open[side.conflicts[:, 0]] & is_open[side.conflicts[:, 1]]
        if np.any(both):
            return "minimum spacing violated"
    return None
