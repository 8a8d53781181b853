"""Planar TSPLIB-style p-median (n = 1,400-5,934 points, p = 10-1,500): storeplan vs peers.

Usage::

    python benchmarks/run_planar.py [--grid default|full] [--time-limit 60]
        [--target-gap 0.001] [--peers fasterpam,pbp] [--pbp-max-n 1400] [--seed 0]

Instances (:func:`planar_points`): clearly synthetic, seeded point sets of the sizes of
TSPLIB's fl1400, pcb3038 and rl5934, not their coordinates (no package on the
project's package index ships TSPLIB coordinates: ``tsplib95`` is a parser only), so
there is no published optimum and the table reports our certified gap.

- ``uniform``: integer coordinates uniform in a 10,000 x 10,000 square.
- ``clustered``: n / 200 Gaussian clusters (standard deviation 150) in the same
  square, like the drilling / city clusters of the fl and rl instances.

Distances follow TSPLIB's EUC_2D convention, ``nint(sqrt(dx^2 + dy^2))``, as a dense
float64 matrix (clients = candidate sites = the points; 282 MB at n = 5,934).

Rows (one process, each peer right after ours on the same matrix):

- ``storeplan``: ``solvers.pmedian(D, p, time_limit=..., target_gap=...)`` (the automatic
  nearest-k path for dense matrices), with its certified gap, the seconds past the limit
  and the ``k`` it needed.
- ``fasterpam``: kmedoids 0.5.5 FasterPAM (``init="build"``, one thread): the same swap
  neighbourhood, heuristic, no bound.
- ``pbp``: pbp-pmedian[highs] 0.2.2 (exact, Benders) with the same time limit, for
  ``n <= --pbp-max-n`` only (it found no solution in 120 s at n = 1,400, p = 10).

Run under ``flock /work/notes/bench.lock`` on a shared machine; the 1-minute load
average is printed with every row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import have, machine, warmup  # noqa: E402

from storeplan.solvers import pmedian  # noqa: E402

#: (kind, n, p values) of the default grid: 13 runs, about 15 minutes at a 60 s limit.
DEFAULT_GRID = [
    ("uniform", 1400, (10, 100, 500)),
    ("clustered", 3038, (10, 100, 1000)),
    ("uniform", 5934, (10, 100, 1000, 1500)),
    ("clustered", 5934, (10, 500, 1500)),
]
#: Every kind at every size with p = 10, 100, 500, 1000, 1500 (where p < n / 2).
FULL_GRID = [
    (kind, n, tuple(p for p in (10, 100, 500, 1000, 1500) if p < n // 2))
    for kind in ("uniform", "clustered")
    for n in (1400, 3038, 5934)
]

#: Side of the square, in coordinate units, and the clusters' standard deviation.
SIDE = 10_000.0
CLUSTER_SD = 150.0


def planar_points(n: int, kind: str, seed: int = 0) -> np.ndarray:
    """``n`` integer points (coordinate units) in a :data:`SIDE` square, ``uniform`` or
    ``clustered`` (n / 200 Gaussian clusters of standard deviation :data:`CLUSTER_SD`)."""
    rng = np.random.default_rng([seed, n, 0 if kind == "uniform" else 1])
    if kind == "uniform":
        return np.floor(rng.random((n, 2)) * SIDE)
    if kind != "clustered":
        raise ValueError(f"kind must be 'uniform' or 'clustered', got {kind!r}")
    centres = rng.random((max(5, n // 200), 2)) * SIDE
    which = rng.integers(0, centres.shape[0], n)
    xy = centres[which] + rng.normal(size=(n, 2)) * CLUSTER_SD
    return np.floor(np.clip(xy, 0.0, SIDE))


def euc_2d(xy: np.ndarray) -> np.ndarray:
    """TSPLIB EUC_2D distances ``nint(sqrt(dx^2 + dy^2))`` between all points (float64)."""
    d = np.empty((xy.shape[0], xy.shape[0]))
    for a in range(0, xy.shape[0], 512):
        blk = xy[a : a + 512]
        d[a : a + 512] = np.floor(np.sqrt(((blk[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)) + 0.5)
    return d


def cost(d: np.ndarray, sites) -> float:
    """p-median objective of ``sites`` on ``d`` (every client to its nearest site)."""
    return float(d[:, np.asarray(sites, dtype=np.int64)].min(axis=1).sum())


def run_peer(name: str, d: np.ndarray, p: int, time_limit: float, seed: int) -> dict:
    t = time.perf_counter()
    if name == "fasterpam":
        import kmedoids

        res = kmedoids.fasterpam(d, p, init="build", random_state=seed, n_cpu=1)
        obj, status = cost(d, res.medoids), "heuristic"
    elif name == "pbp":
        from pbp_pmedian import solve

        _, sites, _, status, engine = solve(d, p, time_limit=time_limit)
        ok = sites is not None and len(sites) == p
        obj = cost(d, sites) if ok else float("nan")
        status = f"{status} ({engine})" if ok else f"no solution ({engine})"
    else:
        raise ValueError(name)
    return {"objective": obj, "seconds": time.perf_counter() - t, "status": status}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=("default", "full"), default="default")
    ap.add_argument("--only", default="", help="comma-separated kind:n:p runs instead of the grid")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--target-gap", type=float, default=0.001)
    installed = [p for p, mod in (("fasterpam", "kmedoids"), ("pbp", "pbp_pmedian")) if have(mod)]
    ap.add_argument("--peers", default=",".join(installed))
    ap.add_argument("--pbp-max-n", type=int, default=1400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.only:
        grid = []
        for part in args.only.split(","):
            kind, n, p = part.split(":")
            grid.append((kind, int(n), (int(p),)))
    else:
        grid = DEFAULT_GRID if args.grid == "default" else FULL_GRID
    peers = [p for p in args.peers.split(",") if p]
    warmup()
    print(f"# {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"# time limit {args.time_limit:g} s, target gap {100 * args.target_gap:g} %, seed {args.seed}\n")
    print(
        "| instance | n | p | solver | objective | vs ours % | bound | gap % | proven | seconds "
        "| past limit s | k (initial / mean / max) | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    met = total = 0
    for kind, n, ps in grid:
        d = euc_2d(planar_points(n, kind, args.seed))
        name = f"{kind[:3]}{n}"
        for p in ps:
            t = time.perf_counter()
            s = pmedian(d, p, time_limit=args.time_limit, seed=args.seed, target_gap=args.target_gap)
            secs = time.perf_counter() - t
            total += 1
            met += int(s.gap <= 0.001 + 1e-12 and secs <= args.time_limit)
            ks = ""
            if "k_initial" in s.info:
                ks = f"{s.info['k_initial']} / {s.info['k_mean']:.0f} / {s.info['k_max']}"
            print(
                f"| {name} | {n} | {p} | storeplan | {s.objective:.0f} | 0 | {s.bound:.0f} "
                f"| {100 * s.gap:.3f} | {'yes' if s.proven_optimal else 'no'} | {secs:.1f} "
                f"| {max(0.0, secs - args.time_limit):.1f} | {ks} | {os.getloadavg()[0]:.2f} |",
                flush=True,
            )
            print(f"<!-- {name} p={p}: {s.method} -->", flush=True)
            for peer in peers:
                if peer == "pbp" and n > args.pbp_max_n:
                    continue
                try:
                    r = run_peer(peer, d, p, args.time_limit, args.seed)
                except Exception as exc:  # a peer's failure is a row, not a crash
                    r = {"objective": float("nan"), "seconds": float("nan"), "status": f"error: {exc!r}"[:60]}
                dev = 100 * (r["objective"] - s.objective) / s.objective
                print(
                    f"| {name} | {n} | {p} | {peer} ({r['status']}) | {r['objective']:.0f} | {dev:+.3f} "
                    f"| | | | {r['seconds']:.1f} | | | {os.getloadavg()[0]:.2f} |",
                    flush=True,
                )
    print(f"\nstoreplan: certified gap <= 0.1 % within the {args.time_limit:g} s limit on {met}/{total} runs")


if __name__ == "__main__":
    main()
