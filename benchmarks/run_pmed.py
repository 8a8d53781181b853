"""OR-Library p-median benchmark (pmed1-40): storeplan vs peers.

Usage::

    python benchmarks/run_pmed.py [--orlib-dir DIR] [--instances 1-40] [--time-limit 300]
        [--peers pbp,fasterpam,spopt,highs] [--peer-time-limit 60] [--peer-max-n 300]

Prints two markdown tables: ours (objective, best known, deviation, certified gap,
proven, seconds) and the peers on the same instances with time ratios from this run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, orlib_arg, peak_rss_mib, rel, table, timed, warmup  # noqa: E402
from peers import available, run_peer  # noqa: E402

from storeplan.solvers import pmedian  # noqa: E402
from storeplan.solvers.orlib import read_optima, read_pmed  # noqa: E402


def parse_range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    orlib_arg(ap)
    ap.add_argument("--instances", default="1-40")
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--peers", default=",".join(available()))
    ap.add_argument("--peer-time-limit", type=float, default=60.0)
    ap.add_argument(
        "--peer-max-n",
        type=int,
        default=300,
        help="run the compact-MIP peers (spopt, highs) only up to this n",
    )
    args = ap.parse_args(argv)
    opt = read_optima(args.orlib_dir / "pmed" / "pmedopt.txt")
    peers = [p for p in args.peers.split(",") if p]
    ours, others = [], []
    warmup()
    print(f"# p-median, OR-Library ({machine()})\n", flush=True)
    for k in parse_range(args.instances):
        name = f"pmed{k}"
        d, p = read_pmed(args.orlib_dir / "pmed" / f"{name}.txt")
        sol, secs = timed(pmedian, d, p, time_limit=args.time_limit)
        best = opt.get(name, float("nan"))
        row = {
            "instance": name,
            "n": d.shape[0],
            "p": p,
            "best known": best,
            "ours": sol.objective,
            "dev %": rel(sol.objective, best),
            "bound": sol.bound,
            "gap %": 100 * sol.gap,
            "proven": sol.proven_optimal,
            "seconds": secs,
            "method": sol.method,
        }
        ours.append(row)
        print(
            " ".join(f"{c}={row[c]}" for c in ("instance", "ours", "bound", "seconds")),
            file=sys.stderr,
            flush=True,
        )
        for peer in peers:
            if peer in ("spopt", "highs") and d.shape[0] > args.peer_max_n:
                continue
            try:
                r = run_peer(peer, d, p, args.peer_time_limit)
            except Exception as exc:  # a peer failing must not stop the benchmark
                r = {"status": f"error: {type(exc).__name__}: {exc}"[:80]}
            r.update(instance=name, peer=peer)
            if "objective" in r:
                r["dev %"] = rel(r["objective"], best)
                r["time ratio peer/ours"] = r["seconds"] / max(secs, 1e-9)
            others.append(r)
    print(
        table(
            ours,
            [
                "instance",
                "n",
                "p",
                "best known",
                "ours",
                "dev %",
                "bound",
                "gap %",
                "proven",
                "seconds",
                "method",
            ],
        )
    )
    n_opt = sum(abs(r["dev %"]) < 1e-9 for r in ours)
    n_proven = sum(bool(r["proven"]) for r in ours)
    total = sum(r["seconds"] for r in ours)
    print(
        f"\nours: {n_opt}/{len(ours)} at the best known value, {n_proven}/{len(ours)} proven "
        f"optimal, total {total:.1f} s, peak RSS {peak_rss_mib():.0f} MiB\n"
    )
    if others:
        print(
            table(
                others,
                ["instance", "peer", "objective", "dev %", "status", "seconds", "time ratio peer/ours"],
            )
        )


if __name__ == "__main__":
    main()
