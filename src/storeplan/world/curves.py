"""Each country's value curve: what its k-th store is worth, opened in year t.

For one country (:class:`~storeplan.world.CountryInput`), :func:`country_curve` builds
the Huff market of its candidate columns (site x format) and computes, in the planning
currency:

* the **sequence**: a lazy greedy (CELF) over the columns that keeps the country's
  conflicts (minimum spacing, one format per site) and adds, one at a time, the store of
  highest marginal value if opened in year 1. Its ``k``-th entry gives the store's
  marginal yearly cash at full ramp (``margin x`` its revenue ``+`` the margin-weighted
  change of the stores before it), its fixed cost and opening cost. The world master
  allocates stores and capital to countries from these sequences.
* the **upper items**: per column, its *solo* yearly cash ``margin x`` revenue when it is
  our only new store. Under the Huff model a store's revenue only falls as other stores
  open (the denominators grow), so in every year every store earns at most its solo
  revenue: the items bound the NPV of every schedule (see :mod:`storeplan.world.master`).
* the **cuts**: the country's revenue ``f(S)`` (all our stores, margin aside) is monotone
  and submodular in the set of open columns, so for any reference set ``G`` (prefixes
  of the sequence) ``f(S) <= f(G) + sum_{j in S} Delta_j(G)``, with ``Delta_j(G)`` the
  gain of adding ``j`` to ``G`` (Nemhauser, Wolsey and Fisher 1978). Per format, the
  gains sorted from the highest bound that sum for any number of stores of the format;
  and the revenue of one format's stores is at most what all its columns together
  would take (``all_open``).

:func:`item_values` turns yearly cash into the value of a store opened in year ``t``,
exactly as :func:`storeplan.rollout.cashflow.evaluate` discounts a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..market.oracles import HuffOracle
from ..pipeline import build_market, build_problem
from ..rollout import RolloutSpec
from ..rollout.cashflow import evaluate, ramp_factor
from ..rollout.schedule import single_store_values
from ..rollout.world_spec import WorldSpec
from .inputs import CountryInput

__all__ = ["CountryCurve", "CurveTask", "country_curve", "item_values", "year_weights"]

#: Stale candidates re-evaluated together in one step of the lazy greedy.
_BATCH = 64

#: Sizes of the sequence prefixes used as reference sets of the cuts (plus 0 and the
#: whole sequence).
_REF_SIZES = (10, 40, 160, 640, 2560)


@dataclass(frozen=True)
class CurveTask:
    """One country's curve to compute (picklable, for the engines)."""

    country: CountryInput
    world: WorldSpec
    rollout: RolloutSpec
    max_stores: int


@dataclass(frozen=True, eq=False)
class CountryCurve:
    """One country's sequence and upper items (money in the planning currency).

    Attributes
    ----------
    country : str
        ISO2 code.
    seq_gain : ndarray of float64
        Marginal yearly cash at full ramp of the sequence's stores, in order, planning
        currency per year.
    seq_fixed, seq_capex : ndarray of float64
        Fixed cost (per year) and opening cost of each sequence store, planning currency.
    seq_ids : ndarray of object
        Column ids (``"<site>@<format>"`` with format choice, else the site id).
    seq_formats : ndarray of object
        Format of each sequence store.
    formats : tuple of str
        Format names of the upper groups.
    group_solo : tuple of ndarray
        Per format, the solo yearly cash of its columns sorted from the highest (planning
        currency per year).
    group_fixed, group_capex : tuple of float
        Per format, its fixed and opening cost in this country, planning currency.
    margins : tuple of float
        Per format, the share of sales that is cash to the brand.
    sites : int
        Distinct candidate sites (one format per site).
    ref_value : ndarray of float64, shape (k,)
        ``f(G)`` of each reference set: our stores' yearly revenue (existing included),
        planning currency per year.
    ref_gain : tuple of ndarray
        Per format, shape ``(k, columns of the format)``: the gains ``Delta_j(G)`` of
        its columns for each reference set, each row sorted from the highest (planning
        currency per year).
    fmt_ref_value : ndarray of float64, shape (n_formats, k)
        Per format, ``f(G_f)`` for the reference sets ``G_f`` = the format's columns of
        each sequence prefix (plus the existing stores), planning currency per year.
    fmt_ref_gain : tuple of ndarray
        Per format, shape ``(k, columns of the format)``: its columns' gains with respect
        to ``G_f``, each row sorted from the highest (planning currency per year).
    all_open : tuple of float
        Per format, the yearly revenue of its columns when all of them are open (with
        the existing stores), planning currency per year.
    base_cash : float
        Yearly cash of the existing stores with no new store, net of their fixed costs
        (an upper bound on theirs with any new stores), planning currency per year.
    npv0 : float
        NPV of the existing stores with no new store (as
        :func:`storeplan.rollout.cashflow.evaluate` values it), planning currency; NaN
        unless the rollout's objective is ``"npv"``.
    col_value : ndarray of float64, shape (m, years)
        The single-store values of the country's *kept* columns
        (:func:`storeplan.rollout.schedule.single_store_values`: a column's NPV opened in
        each year as our only new store; an upper bound on what it adds to any schedule),
        planning currency. Kept: per class of columns of equal format and costs, those
        among the ``max_stores + 1`` best of the class in some year (a plan of at most
        ``max_stores`` stores can always move a store of a dropped column to a free kept
        column of its class and year without losing value), and the ``must_open`` ones.
        Empty (``m = 0``) unless the objective is ``"npv"``.
    col_site : ndarray of int64, shape (m,)
        Site number of each kept column (one store per site).
    col_capex : ndarray of float64, shape (m,)
        Opening cost of each kept column, planning currency.
    col_format : ndarray of int64, shape (m,)
        Index into :attr:`formats` of each kept column.
    col_must : ndarray of bool, shape (m,)
        Kept columns that must open.
    site_pairs : ndarray of int64, shape (p, 2)
        Pairs of sites (as in :attr:`col_site`) closer than the minimum spacing; with any,
        every column is kept.
    n_columns : int
        Candidate columns of the country.
    seconds : float
        Wall time, seconds.
    """

    country: str
    seq_gain: np.ndarray
    seq_fixed: np.ndarray
    seq_capex: np.ndarray
    seq_ids: np.ndarray
    seq_formats: np.ndarray
    formats: tuple[str, ...]
    group_solo: tuple[np.ndarray, ...]
    group_fixed: tuple[float, ...]
    group_capex: tuple[float, ...]
    margins: tuple[float, ...]
    sites: int
    ref_value: np.ndarray
    ref_gain: tuple[np.ndarray, ...]
    fmt_ref_value: np.ndarray
    fmt_ref_gain: tuple[np.ndarray, ...]
    all_open: tuple[float, ...]
    base_cash: float
    npv0: float
    col_value: np.ndarray
    col_site: np.ndarray
    col_capex: np.ndarray
    col_format: np.ndarray
    col_must: np.ndarray
    site_pairs: np.ndarray
    n_columns: int
    seconds: float


def year_weights(spec: RolloutSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(R, F, D)`` per opening year ``t = 1..years``: a store opened in year ``t`` with
    yearly cash ``g`` at full ramp, fixed cost ``f`` and opening cost ``c`` is worth
    ``g R[t] - f F[t] - c D[t]``.

    ``R[t] = sum_{tau >= t} w_tau rho(tau - t)`` with ``w`` the running-cash weights
    (:meth:`RolloutSpec.value_weights`: discount factors, the last raised by the terminal
    value) and ``rho`` the ramp factor of a store's ``(tau - t + 1)``-th year;
    ``F[t] = sum_{tau >= t} w_tau``; ``D[t]`` the discount factor of year ``t`` (1 for
    ``objective = "net_revenue"``). Both ``R`` and ``F`` fall with ``t``.
    """
    h, y = spec.horizon, spec.years
    w = spec.value_weights(h)
    disc = spec.discount(h) if spec.objective == "npv" else np.ones(h)
    tau = np.arange(1, h + 1)
    R = np.zeros(y)
    F = np.zeros(y)
    for t in range(1, y + 1):
        age = (tau - t) * 12.0
        rho = ramp_factor(age, spec.ramp_months, spec.ramp_shape)
        R[t - 1] = float((w * rho)[tau >= t].sum())
        F[t - 1] = float(w[tau >= t].sum())
    return R, F, disc[:y].copy()


def item_values(gain, fixed, capex, spec: RolloutSpec) -> np.ndarray:
    """Value of each store opened in each year: shape ``(n, years)``, planning currency
    (``gain``: yearly cash at full ramp; see :func:`year_weights`)."""
    R, F, D = year_weights(spec)
    g = np.asarray(gain, np.float64)[:, None]
    f = np.asarray(fixed, np.float64)[:, None]
    c = np.asarray(capex, np.float64)[:, None]
    return g * R[None, :] - f * F[None, :] - c * D[None, :]


def _neighbours(n: int, conflicts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if conflicts is None or len(conflicts) == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    a = np.concatenate([conflicts[:, 0], conflicts[:, 1]]).astype(np.int64)
    b = np.concatenate([conflicts[:, 1], conflicts[:, 0]]).astype(np.int64)
    order = np.argsort(a, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=ptr[1:])
    return ptr, b[order]


def country_curve(task: CurveTask) -> CountryCurve:
    """The value curve of one country (see the module docstring).

    Parameters
    ----------
    task : CurveTask
        The country, the world and rollout settings, and the most stores the sequence
        needs (the country's caps over the rollout).

    Returns
    -------
    CountryCurve
    """
    import time

    t0 = time.perf_counter()
    inp, spec = task.country, task.rollout
    scn = inp.scenario
    problem = build_problem(scn)
    market, _ = build_market(scn, problem)
    k, n = problem.n_sites, problem.n_columns
    margins = scn.format_margins(spec)
    col_fmt = np.asarray(problem.col_format, dtype=object)
    m = np.array([margins[str(f)] for f in col_fmt], np.float64)
    fixed = np.asarray(problem.fixed_cost, np.float64)
    capex = np.asarray(problem.opening_cost, np.float64)
    oracle = HuffOracle(market, np.arange(n, dtype=np.int64))
    exist = np.arange(k, n, dtype=np.int64)
    cand = np.arange(k, dtype=np.int64)
    allowed = np.ones(k, bool)
    con = problem.constraints
    if con is not None and con.forbidden is not None:
        allowed[np.asarray(con.forbidden, np.int64)[np.asarray(con.forbidden) < k]] = False
    must = (
        np.asarray(con.must_open, np.int64)
        if con is not None and con.must_open is not None
        else np.zeros(0, np.int64)
    )
    base_rev = oracle(exist) if len(exist) else np.zeros(0)
    base_cash = float((m[exist] * base_rev).sum() - fixed[exist].sum()) if len(exist) else 0.0
    own, _ = oracle.gains(exist, m[exist], cand)
    solo = m[:k] * own
    R, F, D = year_weights(spec)
    # the sequence: CELF on the value of opening in year 1
    ptr, nb = _neighbours(k, None if con is None else con.conflicts)
    key = solo * R[0] - fixed[:k] * F[0] - capex[:k] * D[0]
    key = np.where(allowed, key, -np.inf)
    fresh = np.zeros(k, bool)
    gain_now = solo.copy()
    is_open = np.zeros(k, bool)
    blocked = ~allowed
    order: list[int] = []
    gains: list[float] = []
    open_idx = exist.copy()
    limit = min(int(task.max_stores), k)

    def _open(j: int, g: float) -> None:
        nonlocal open_idx
        order.append(j)
        gains.append(g)
        is_open[j] = True
        blocked[j] = True
        blocked[nb[ptr[j] : ptr[j + 1]]] = True
        open_idx = np.concatenate([open_idx, [j]])
        fresh[:] = False

    for j in must:
        if len(order) >= limit or is_open[j]:
            continue
        o, d = oracle.gains(open_idx, m[open_idx], np.array([j]))
        _open(int(j), float(m[j] * o[0] + d[0]))
    while len(order) < limit:
        live = np.flatnonzero(~blocked)
        if len(live) == 0:
            break
        top = live[np.argsort(-key[live], kind="stable")[:_BATCH]]
        if fresh[top[0]]:
            j = int(top[0])
            _open(j, float(gain_now[j]))
            continue
        stale = top[~fresh[top]]
        o, d = oracle.gains(open_idx, m[open_idx], stale)
        g = m[stale] * o + d
        gain_now[stale] = g
        key[stale] = g * R[0] - fixed[stale] * F[0] - capex[stale] * D[0]
        fresh[stale] = True
    seq = np.asarray(order, np.int64)
    to = inp.to_planning
    fmts = tuple(f.name for f in scn.formats)
    g_solo, g_fix, g_cap = [], [], []
    by_format = [np.flatnonzero((col_fmt[:k] == f) & allowed) for f in fmts]
    for cols in by_format:
        g_solo.append(np.sort(np.asarray(to(solo[cols]), np.float64))[::-1].copy())
        g_fix.append(float(to(fixed[cols[0]])) if len(cols) else 0.0)
        g_cap.append(float(to(capex[cols[0]])) if len(cols) else 0.0)
    # cuts at prefixes of the sequence (unweighted revenue: monotone submodular)
    sizes = sorted({0, len(seq)} | {s for s in _REF_SIZES if s < len(seq)})
    ref_value = np.zeros(len(sizes))
    ref_gain = [np.zeros((len(sizes), len(c))) for c in by_format]
    ones = np.ones(n)
    for r, size in enumerate(sizes):
        g_set = np.concatenate([exist, seq[:size]])
        ref_value[r] = float(to(float(np.sum(oracle(g_set))))) if len(g_set) else 0.0
        o, d = oracle.gains(g_set, ones[g_set], cand)
        gain = np.clip(o + d, 0.0, None)
        gain[seq[:size]] = 0.0
        for fi, cols in enumerate(by_format):
            ref_gain[fi][r] = np.sort(np.asarray(to(gain[cols]), np.float64))[::-1]
    # per-format cuts: reference sets of one format's columns only
    fmt_ref_value = np.zeros((len(fmts), len(sizes)))
    fmt_ref_gain = [np.zeros((len(sizes), len(c))) for c in by_format]
    seq_fmt = col_fmt[seq]
    for fi, (f, cols) in enumerate(zip(fmts, by_format, strict=True)):
        if len(cols) == 0:
            continue
        for r, size in enumerate(sizes):
            mine = seq[:size][seq_fmt[:size] == f]
            g_set = np.concatenate([exist, mine])
            fmt_ref_value[fi, r] = float(to(float(np.sum(oracle(g_set))))) if len(g_set) else 0.0
            o, d = oracle.gains(g_set, ones[g_set], cols)
            gain = np.clip(o + d, 0.0, None)
            gain[np.isin(cols, mine)] = 0.0
            fmt_ref_gain[fi][r] = np.sort(np.asarray(to(gain), np.float64))[::-1]
    all_open = []
    for cols in by_format:
        if len(cols) == 0:
            all_open.append(0.0)
            continue
        rev = oracle(np.concatenate([cols, exist]))
        all_open.append(float(to(float(rev[: len(cols)].sum()))))
    col_site = problem.col_site if problem.col_site is not None else np.arange(n)
    single = _single_store_columns(
        oracle, spec, problem, m, allowed, must, con, int(task.max_stores), fmts, col_fmt, to
    )
    return CountryCurve(
        country=inp.country,
        seq_gain=np.asarray(to(np.asarray(gains, np.float64)), np.float64),
        seq_fixed=np.asarray(to(fixed[seq]), np.float64),
        seq_capex=np.asarray(to(capex[seq]), np.float64),
        seq_ids=np.asarray(problem.col_ids, dtype=object)[seq],
        seq_formats=col_fmt[seq],
        formats=fmts,
        group_solo=tuple(g_solo),
        group_fixed=tuple(g_fix),
        group_capex=tuple(g_cap),
        margins=tuple(float(margins[f]) for f in fmts),
        sites=int(len(np.unique(np.asarray(col_site)[:k]))),
        ref_value=ref_value,
        ref_gain=tuple(ref_gain),
        fmt_ref_value=fmt_ref_value,
        fmt_ref_gain=tuple(fmt_ref_gain),
        all_open=tuple(all_open),
        base_cash=float(to(base_cash)),
        **single,
        n_columns=int(k),
        seconds=time.perf_counter() - t0,
    )


def _single_store_columns(
    oracle, spec: RolloutSpec, problem, m, allowed, must, con, max_stores: int, fmts, col_fmt, to
) -> dict:
    """The kept columns' single-store values (see :class:`CountryCurve`)."""
    k, n = problem.n_sites, problem.n_columns
    T = spec.years
    empty = {
        "npv0": float("nan"),
        "col_value": np.zeros((0, T)),
        "col_site": np.zeros(0, np.int64),
        "col_capex": np.zeros(0),
        "col_format": np.zeros(0, np.int64),
        "col_must": np.zeros(0, bool),
        "site_pairs": np.zeros((0, 2), np.int64),
    }
    if spec.objective != "npv" or k == 0:
        return empty
    opening = np.asarray(problem.opening_cost, np.float64)
    fixed = np.asarray(problem.fixed_cost, np.float64)
    exist = np.arange(k, n, dtype=np.int64)
    # columns in conflict with an existing store never open
    ok = allowed.copy()
    if con is not None and con.conflicts is not None and len(con.conflicts) and len(exist):
        pairs = np.asarray(con.conflicts, np.int64)
        for a, b in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
            hit = a[(b >= k) & (a < k)]
            ok[hit] = False
    is_must = np.zeros(k, bool)
    is_must[np.asarray(must, np.int64)[np.asarray(must, np.int64) < k]] = True
    ok |= is_must
    cand = np.flatnonzero(ok)
    if len(cand) == 0:
        return empty
    g, _ = single_store_values(oracle, spec, opening, fixed, exist, cand, margin=m)
    base_year = np.concatenate([np.full(k, -1, np.int64), np.zeros(n - k, np.int64)])
    npv0 = float(evaluate(oracle, base_year, spec, opening, fixed, margin=m)["value"]) if n > k else 0.0
    # per class (format, opening cost, fixed cost): the max_stores + 1 best in each year
    keep = is_must[cand].copy()
    top = max_stores + 1
    fmt_index = {f: i for i, f in enumerate(fmts)}
    fi = np.array([fmt_index.get(str(f), -1) for f in col_fmt[cand]], np.float64)
    cls = np.unique(
        np.stack([fi, opening[cand], fixed[cand]], axis=1),
        axis=0,
        return_inverse=True,
    )[1].ravel()
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        if len(idx) <= top:
            keep[idx] = True
            continue
        for t in range(T):
            keep[idx[np.argpartition(-g[idx, t], top - 1)[:top]]] = True
    site = np.asarray(problem.col_site, np.int64)[:k] if problem.col_site is not None else np.arange(k)
    # the spacing: pairs of distinct sites that conflict (both candidate columns); with
    # them every column is kept (moving a store to another column could break them)
    pairs = np.zeros((0, 2), np.int64)
    if con is not None and con.conflicts is not None and len(con.conflicts):
        cp = np.asarray(con.conflicts, np.int64)
        cp = cp[(cp[:, 0] < k) & (cp[:, 1] < k)]
        sp = np.sort(np.stack([site[cp[:, 0]], site[cp[:, 1]]], axis=1), axis=1)
        sp = sp[sp[:, 0] != sp[:, 1]]
        if len(sp):
            pairs = np.unique(sp, axis=0)
            keep[:] = True
    sel = cand[keep]
    used = np.unique(site[sel])
    pairs = pairs[np.isin(pairs[:, 0], used) & np.isin(pairs[:, 1], used)]
    return {
        "site_pairs": pairs,
        "npv0": float(to(npv0)),
        "col_value": np.asarray(to(g[keep]), np.float64).reshape(-1, T),
        "col_site": site[sel].astype(np.int64),
        "col_capex": np.asarray(to(opening[sel]), np.float64).reshape(-1),
        "col_format": np.array([fmt_index[str(f)] for f in col_fmt[sel]], np.int64),
        "col_must": is_must[sel],
    }
