"""The output set of a world plan: data files, report and map, written as one set.

:func:`write_world` writes into a temporary sibling folder of ``out_dir`` and swaps it
in at the end (:func:`storeplan._io.output_set`, as ``storeplan run`` does for a
single-country plan), so ``out_dir`` always holds one run's complete set or the previous
one untouched, Ctrl-C included.

Files (columns and units in ``summary.json`` ``columns``, as the single-country
``summary.json`` carries its ``units``):

* ``countries.csv``: :data:`~storeplan.world.COUNTRY_COLUMNS` plus ``stores_year_<t>``;
* ``plan.csv``: :data:`~storeplan.world.STORE_COLUMNS`, one row per new store;
* ``world_years.csv``: :data:`~storeplan.world.YEAR_COLUMNS`, one row per horizon year;
* ``fx.csv``: the exchange rates used;
* ``summary.json``: ``metrics`` (:meth:`WorldMetrics.to_dict`: value and unit of each
  headline figure), ``countries`` (the ``countries.csv`` rows), ``columns`` (unit of
  every column of every file), ``notes``;
* ``report.html``, ``charts/world_*.png`` and ``map.html``
  (:mod:`storeplan.report.world`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_path, output_set, write_json
from ..errors import StoreplanWarning
from .plan import COUNTRY_COLUMNS, STORE_COLUMNS, YEAR_COLUMNS, WorldPlan

__all__ = ["write_world", "world_summary", "world_columns", "check_world_plan", "FX_COLUMNS", "WORLD_FILES"]

#: ``fx.csv``: one row per currency (name -> unit).
FX_COLUMNS: dict[str, str] = {
    "currency": "ISO 4217",
    "per_base": "units of the currency per 1 planning currency",
    "base": "planning currency (ISO 4217)",
    "date": "date of the rates",
    "source": "text",
}

#: The data files of a world output set, in the order they are written.
WORLD_FILES = ("countries.csv", "plan.csv", "world_years.csv", "fx.csv", "summary.json")


def _ordered(df: pd.DataFrame, declared: list[str]) -> pd.DataFrame:
    """``df`` with the declared columns first (in order) and any others after them."""
    missing = [c for c in declared if c not in df.columns]
    if missing:
        raise KeyError(f"world plan table lacks the columns {', '.join(missing)}")
    return df[declared + [c for c in df.columns if c not in declared]]


def world_columns(plan: WorldPlan) -> dict[str, dict[str, str]]:
    """Unit of every column of every data file of :func:`write_world`.

    Returns
    -------
    dict
        File name -> {column -> unit}; ``countries.csv`` includes one
        ``stores_year_<t>`` per rollout year.
    """
    cur = plan.currency
    ycols = {f"stores_year_{t}": f"new stores opened in rollout year {t}" for t in range(1, plan.years + 1)}

    def unit(u: str) -> str:
        return u.replace("planning currency", f"planning currency ({cur})")

    return {
        "countries.csv": {k: unit(u) for k, u in {**COUNTRY_COLUMNS, **ycols}.items()},
        "plan.csv": {k: unit(u) for k, u in STORE_COLUMNS.items()},
        "world_years.csv": {k: unit(u) for k, u in YEAR_COLUMNS.items()},
        "fx.csv": dict(FX_COLUMNS),
    }


def _countries_frame(plan: WorldPlan) -> pd.DataFrame:
    ycols = [f"stores_year_{t}" for t in range(1, plan.years + 1)]
    return _ordered(plan.countries, [*COUNTRY_COLUMNS, *ycols])


def world_summary(plan: WorldPlan) -> dict[str, Any]:
    """The contents of ``summary.json``.

    Returns
    -------
    dict
        ``scenario``, ``currency``, ``years``, ``start_year``, ``metrics`` (each
        :class:`~storeplan.world.WorldMetrics` field as ``{"value", "unit"}``),
        ``countries`` (the ``countries.csv`` rows), ``columns``
        (:func:`world_columns`), ``notes``.
    """
    metrics = plan.metrics.to_dict()
    ps = metrics.get("phase_seconds")
    if ps is not None:
        ps["value"] = {str(k): float(v) for k, v in dict(ps["value"]).items()}
    rows = _countries_frame(plan).to_dict(orient="records")
    return {
        "scenario": plan.name,
        "currency": plan.currency,
        "years": int(plan.years),
        "start_year": None if plan.start_year is None else int(plan.start_year),
        "metrics": metrics,
        "countries": rows,
        "columns": world_columns(plan),
        "notes": [str(n) for n in plan.notes],
    }


def check_world_plan(plan: WorldPlan, *, rtol: float = 1e-6) -> list[str]:
    """The identities the world outputs rest on, as a list of what fails (empty: all hold).

    * each country's ``stores``, ``stores_own``, ``stores_partner`` and
      ``stores_year_<t>`` equal the rows of :attr:`WorldPlan.stores`;
    * ``stores_year_<t>`` summed over the countries equals ``new_stores`` of year ``t``
      in :attr:`WorldPlan.years_table`;
    * ``metrics.stores``, ``stores_own``, ``stores_partner``, ``countries_entered``,
      ``npv``, ``capex`` equal the sums of the country rows.

    Parameters
    ----------
    plan : WorldPlan
    rtol : float, default 1e-6
        Relative tolerance of the money identities.

    Returns
    -------
    list of str
    """
    bad: list[str] = []
    c, s, yt, m = plan.countries, plan.stores, plan.years_table, plan.metrics
    by = s.groupby(s["country"].astype(str))
    n = by.size()
    for r in c.itertuples(index=False):
        cc = str(r.country)
        got = int(n.get(cc, 0))
        if int(r.stores) != got:
            bad.append(f"{cc}: countries.stores {int(r.stores)} but {got} rows in plan.csv")
        for own in ("own", "partner"):
            k = int(((s["country"].astype(str) == cc) & (s["ownership"].astype(str) == own)).sum())
            if int(getattr(r, f"stores_{own}")) != k:
                bad.append(f"{cc}: stores_{own} {int(getattr(r, f'stores_{own}'))} but {k} in plan.csv")
        for t in range(1, plan.years + 1):
            col = f"stores_year_{t}"
            k = int(((s["country"].astype(str) == cc) & (s["open_year"].astype(int) == t)).sum())
            v = int(getattr(r, col, 0))
            if v != k:
                bad.append(f"{cc}: {col} {v} but {k} stores opening in year {t} in plan.csv")
    for t in range(1, plan.years + 1):
        col = f"stores_year_{t}"
        total = int(c[col].sum()) if col in c else 0
        row = yt[yt["year"] == t]
        ny = int(row["new_stores"].iloc[0]) if len(row) else 0
        if total != ny:
            bad.append(f"year {t}: countries' {col} sum to {total} but world_years.new_stores is {ny}")
    counts: tuple[tuple[str, int], ...] = (
        ("stores", int(c["stores"].sum())),
        ("stores_own", int(c["stores_own"].sum())),
        ("stores_partner", int(c["stores_partner"].sum())),
        ("countries_entered", int((c["entry_year"] > 0).sum())),
    )
    for field, count in counts:
        if int(getattr(m, field)) != count:
            bad.append(f"metrics.{field} {getattr(m, field)} but the country rows give {count}")
    for field, total_f in (("npv", float(c["npv"].sum())), ("capex", float(c["capex"].sum()))):
        got_f = float(getattr(m, field))
        if not np.isclose(got_f, total_f, rtol=rtol, atol=1e-6):
            bad.append(f"metrics.{field} {got_f:,.2f} but the country rows sum to {total_f:,.2f}")
    return bad


def _csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def write_world(
    plan: WorldPlan,
    out_dir: str | os.PathLike,
    *,
    report: bool = True,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Path]:
    """Write the output set of a world plan (see the module docstring) to ``out_dir``.

    Parameters
    ----------
    plan : WorldPlan
    out_dir : str or PathLike
        Output folder: missing, empty, or an earlier storeplan output set (replaced as a
        whole at the end).
    report : bool, default True
        Also write ``report.html``, ``charts/world_*.png`` and ``map.html`` (needs
        matplotlib; see :mod:`storeplan.report.world`).
    progress : callable, optional
        ``progress("save", fraction)``.

    Returns
    -------
    dict of str to Path
        File name (relative to ``out_dir``) -> final path.

    Raises
    ------
    OutputFolderError
        ``out_dir`` cannot receive an output set (checked before anything is written).

    Warns
    -----
    StoreplanWarning
        The plan's tables do not add up (:func:`check_world_plan`); the files are still
        written, as they are.
    """
    step = progress or (lambda phase, frac: None)
    problems = check_world_plan(plan)
    if problems:
        warnings.warn(
            f"world plan tables do not add up ({len(problems)}): " + "; ".join(problems[:3]),
            StoreplanWarning,
            stacklevel=2,
        )
    out = Path(os.path.abspath(os.fspath(out_dir)))
    names: list[str] = []
    step("save", 0.0)
    with output_set(out) as tmp:
        _csv(_countries_frame(plan), tmp / "countries.csv")
        _csv(_ordered(plan.stores, list(STORE_COLUMNS)), tmp / "plan.csv")
        _csv(_ordered(plan.years_table, list(YEAR_COLUMNS)), tmp / "world_years.csv")
        _csv(_ordered(plan.fx, list(FX_COLUMNS)), tmp / "fx.csv")
        write_json(tmp / "summary.json", world_summary(plan))
        names += list(WORLD_FILES)
        step("save", 0.3)
        if report:
            from ..report.world import write_world_report

            written = write_world_report(plan, tmp)
            names += [str(p.relative_to(tmp)) for p in written.values()]
        step("save", 0.95)
    step("save", 1.0)
    return {name: out / name for name in sorted(names)}
