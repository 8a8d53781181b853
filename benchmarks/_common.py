"""Shared helpers of the benchmark scripts: timing, peak memory, peers, tables."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

DEFAULT_ORLIB = Path(os.environ.get("STOREPLAN_ORLIB", "/work/shared/benchmarks/orlib"))


def orlib_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--orlib-dir",
        type=Path,
        default=DEFAULT_ORLIB,
        help=f"folder holding pmed/ and uncap/ (default {DEFAULT_ORLIB})",
    )


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``/proc/self/clear_refs``), so that
    :func:`phase_peak_rss_mib` measures one phase alone. False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def phase_peak_rss_mib() -> float:
    """Peak RSS since the last :func:`reset_peak_rss` (``VmHWM``), MiB; falls back to
    the whole-process peak where ``/proc`` is unavailable."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mib()


def limit_memory(gib: float | None) -> None:
    """Cap this process's address space at ``gib`` GiB (RLIMIT_AS), so that a runaway
    benchmark fails with MemoryError instead of taking a shared machine's memory."""
    if gib:
        lim = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def timed(fn: Callable, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def rel(a: float, b: float) -> float:
    """Relative difference of ``a`` to ``b`` in percent."""
    return 100.0 * (a - b) / max(abs(b), 1e-12)


def table(rows: list[dict], columns: list[str]) -> str:
    """Markdown table of ``rows`` restricted to ``columns`` (missing cells blank)."""

    def fmt(v) -> str:
        if v is None:
            return ""
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "no"
        if isinstance(v, float | np.floating):
            if not np.isfinite(v):
                return str(v)
            if abs(v) >= 100:
                return f"{v:.0f}" if float(v).is_integer() else f"{v:.3f}"
            return f"{v:.3g}"
        return str(v)

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(c)) for c in columns) + " |")
    return "\n".join(out)


def pmedian_cost(d: np.ndarray, sites) -> float:
    return float(d[:, np.asarray(sites, dtype=np.int64)].min(axis=1).sum())


def warmup() -> None:
    """Load the Numba kernels (compiled once, cached on disk) before timing anything."""
    from storeplan.solvers import coverage, facility_location, pmedian

    rng = np.random.default_rng(0)
    d = rng.random((30, 20)) * 10
    pmedian(d, 3)
    pmedian(d, 3, method="heuristic", unserved_cost=5.0)
    coverage(d, 3, 3.0)
    facility_location(d, 2.0)
