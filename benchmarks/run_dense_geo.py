"""Dense real-geography p-median: the nearest-k solver against a NumPy greedy + swap.

Instance: :func:`china_dense.china_dense`, every bundled China place (16,048) as a
client weighted by population, the ``--sites`` most populous places as candidates,
dense great-circle km (float64, about 450 MB at 3,500 sites). Rows, in one process:

- ``numpy greedy+swap``: the peer, a plain NumPy greedy (one pass over the matrix per
  opened site) plus one swap pass (for every open site, the best replacement: one pass
  over the matrix each), read in row blocks so it stays within memory. No bound.
- ``storeplan``: ``solvers.pmedian(D, p, weights=w, time_limit=...)`` (automatic
  nearest-k relaxation for a dense matrix of this size).
- ``storeplan full`` (``--full``): the same call with ``nearest=n_sites``, i.e. the whole
  matrix sorted into one structure (the behaviour before the nearest-k path).
- with ``--cover KM``: maximal covering of the population within KM on the same matrix
  and the same ``p``: ``numpy greedy cover`` (the peer: largest uncovered weight first,
  on the sparse 0/1 cover matrix) and ``storeplan cover``
  (``solvers.coverage(D, p, radius=KM, weights=w, time_limit=...)``, objective = covered
  population, a maximisation, so the bound is above it).

Peak RSS per row is the process's high-water mark reset at the start of the row, so it
includes the matrix itself (about 450 MB) and the interpreter. Run sparingly on a
shared machine, under ``flock /work/notes/bench.lock``::

    python benchmarks/run_dense_geo.py --p 200 --time-limit 60 --full
    python benchmarks/run_dense_geo.py --p 50 200 500 --cover 30 --no-pmedian
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine, phase_peak_rss_mib, reset_peak_rss  # noqa: E402
from china_dense import china_dense  # noqa: E402

from storeplan import solvers  # noqa: E402


def _blocks(n: int, m: int, nbytes: int = 32 * 2**20):
    r = max(1, nbytes // (8 * m))
    for a in range(0, n, r):
        yield a, min(n, a + r)


def _gains(D: np.ndarray, w: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``sum_i w_i max(0, base_i - D_ij)`` for every column ``j``."""
    n, m = D.shape
    g = np.zeros(m)
    tmp = np.empty((max(b - a for a, b in _blocks(n, m)), m))
    for a, b in _blocks(n, m):
        t = tmp[: b - a]
        np.subtract(base[a:b, None], D[a:b], out=t)
        np.maximum(t, 0.0, out=t)
        g += w[a:b] @ t
    return g


def _two_nearest(D: np.ndarray, sites: np.ndarray):
    sub = D[:, sites]
    part = np.argpartition(sub, 1, axis=1)[:, :2] if sites.size > 1 else np.zeros((D.shape[0], 1), int)
    v = np.take_along_axis(sub, part, axis=1)
    o = np.argsort(v, axis=1)
    part, v = np.take_along_axis(part, o, axis=1), np.take_along_axis(v, o, axis=1)
    d2 = v[:, 1] if sites.size > 1 else np.full(D.shape[0], np.inf)
    return v[:, 0], sites[part[:, 0]], d2


def numpy_greedy_swap(D: np.ndarray, w: np.ndarray, p: int) -> tuple[float, np.ndarray]:
    """Greedy (largest saving first) plus one pass of best-replacement swaps."""
    n, m = D.shape
    d1 = np.full(n, np.inf)
    first = np.zeros(m)
    for a, b in _blocks(n, m):
        first += w[a:b] @ D[a:b]
    sites = [int(np.argmin(first))]
    d1 = D[:, sites[0]].copy()
    for _ in range(p - 1):
        g = _gains(D, w, d1)
        g[sites] = -np.inf
        j = int(np.argmax(g))
        sites.append(j)
        np.minimum(d1, D[:, j], out=d1)
    s = np.array(sites)
    obj = float(w @ d1)
    for t in range(p):
        d1, f1, d2 = _two_nearest(D, s)
        r = s[t]
        base = np.where(f1 == r, d2, d1)
        g = _gains(D, w, base)
        g[s] = -np.inf
        j = int(np.argmax(g))
        new = float(w @ base) - g[j]
        if new < obj - 1e-9 * obj:
            s[t] = j
            obj = float(w @ np.minimum(base, D[:, j]))
    return obj, np.sort(s)


def numpy_greedy_cover(D: np.ndarray, w: np.ndarray, p: int, radius: float) -> tuple[float, np.ndarray]:
    """Greedy maximal covering: open the site covering the most uncovered weight, ``p`` times."""
    import scipy.sparse as sp

    n, m = D.shape
    parts = [sp.csr_matrix(D[a:b] <= radius, dtype=np.float64) for a, b in _blocks(n, m)]
    cover = sp.vstack(parts).tocsc()
    left = w.astype(float).copy()
    sites: list[int] = []
    for _ in range(p):
        g = cover.T @ left
        g[sites] = -np.inf
        j = int(np.argmax(g))
        sites.append(j)
        left[cover.indices[cover.indptr[j] : cover.indptr[j + 1]]] = 0.0
    return float(w.sum() - left.sum()), np.sort(np.array(sites))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=3500)
    ap.add_argument("--p", type=int, nargs="+", default=[200])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--provinces", nargs="*", default=None, help="restrict to these provinces")
    ap.add_argument("--full", action="store_true", help="also run the whole-matrix path (slow)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--target-gap", type=float, default=0.001, help="stop at this certified gap")
    ap.add_argument("--cover", type=float, nargs="*", default=[], help="maximal covering radii, km")
    ap.add_argument("--no-pmedian", action="store_true", help="only the covering rows")
    args = ap.parse_args()
    t = time.perf_counter()
    D, w, _ = china_dense(args.sites, args.provinces or None)
    print(f"# {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(
        f"# instance: {D.shape[0]} clients x {D.shape[1]} sites, dense float64 "
        f"({D.nbytes / 2**20:.0f} MiB), built in {time.perf_counter() - t:.1f} s"
    )
    print()
    print(
        "| p | solver | seconds | time / peer | objective | vs peer % | bound | gap % | proven "
        "| k (initial / mean / max) | pairs | peak RSS MiB | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in args.p:
        peer_s = peer_obj = float("nan")
        rows = []
        if not args.no_peer and not args.no_pmedian:
            reset_peak_rss()
            t = time.perf_counter()
            peer_obj, _ = numpy_greedy_swap(D, w, p)
            peer_s = time.perf_counter() - t
            rss = phase_peak_rss_mib()
            rows.append((p, "numpy greedy+swap", peer_s, peer_obj, None, None, "", "", rss, None))
        runs = [("storeplan", None)] + ([("storeplan full", D.shape[1])] if args.full else [])
        for name, k in [] if args.no_pmedian else runs:
            reset_peak_rss()
            s = solvers.pmedian(
                D, p, weights=w, time_limit=args.time_limit, nearest=k, target_gap=args.target_gap
            )
            ks = ""
            if "k_initial" in s.info:
                ks = f"{s.info['k_initial']} / {s.info['k_mean']:.1f} / {s.info['k_max']}"
            pairs = s.info.get("pairs", s.info.get("arcs", ""))
            rows.append((p, name, s.seconds, s.objective, s.bound, s, ks, pairs, phase_peak_rss_mib(), None))
        for km in args.cover:
            reset_peak_rss()
            t = time.perf_counter()
            c_obj, _ = numpy_greedy_cover(D, w, p, km)
            c_s = time.perf_counter() - t
            peer = (c_s, c_obj)  # the covering rows compare with the covering peer
            name = f"numpy greedy cover {km:g} km"
            rows.append((p, name, c_s, c_obj, None, None, "", "", phase_peak_rss_mib(), peer))
            reset_peak_rss()
            s = solvers.coverage(D, p, radius=km, weights=w, time_limit=args.time_limit)
            pairs = s.info.get("pairs", s.info.get("arcs", ""))
            name = f"storeplan cover {km:g} km"
            rows.append((p, name, s.seconds, s.objective, s.bound, s, "", pairs, phase_peak_rss_mib(), peer))
        for p_, name, sec, obj, bound, s, ks, pairs, rss, ref in rows:
            ref_s, ref_obj = (peer_s, peer_obj) if ref is None else ref
            ratio = sec / ref_s if np.isfinite(ref_s) else float("nan")
            dev = 100 * (obj - ref_obj) / ref_obj if np.isfinite(ref_obj) else float("nan")
            bnd = "" if bound is None else f"{bound:.6g}"
            gap = "" if s is None else f"{100 * s.gap:.3f}"
            prv = "" if s is None else ("yes" if s.proven_optimal else "no")
            print(
                f"| {p_} | {name} | {sec:.1f} | {ratio:.2f} | {obj:.6g} | {dev:+.3f} | {bnd} | {gap} | {prv} "
                f"| {ks} | {pairs} | {rss:.0f} | {os.getloadavg()[0]:.2f} |"
            )
            if s is not None:
                print(
                    f"<!-- {name} p={p_}: method {s.method}; "
                    f"info { {k: v for k, v in s.info.items() if isinstance(v, int | float)} } -->"
                )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
