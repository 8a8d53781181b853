"""Runs jobs in worker processes, at most ``max_runs`` at a time; the others queue.

Each job gets its own process (``spawn``: a clean interpreter, safe next to the
server's threads), so a long solve never blocks a request and a cancel is a plain
terminate of that process. The worker writes its progress straight into the job store;
the server only watches the process and reads the store. Output files are written
atomically by :meth:`Plan.save`; a cancelled job's output folder is removed.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import shutil
import threading
import time
import traceback
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from ..bundled import PHASE_LABELS as _CLI_PHASES
from ..bundled import demo_scenario_path
from .store import FINISHED, JobStore

__all__ = [
    "JobRunner",
    "run_job",
    "PHASE_LABELS",
    "DiskCache",
    "warm_start",
    "write_payload",
    "REPLAN_SECONDS",
]

log = logging.getLogger(__name__)

#: The phases a job reports, in order, with their labels on the page.
PHASE_LABELS = {**_CLI_PHASES, "explain": "Why here: marginal values and alternatives"}


def job_dir(data_dir: Path, job_id: str) -> Path:
    return Path(data_dir) / "jobs" / job_id


def scenario_path(data_dir: Path, inputs: dict[str, Any]) -> Path:
    """The scenario file of a job: a bundled one, or an upload's (inside the data dir)."""
    src = inputs["scenario"]
    kind, _, name = src.partition(":")
    if kind == "bundled":
        return demo_scenario_path(name)
    from .uploads import upload_scenario_path

    return upload_scenario_path(Path(data_dir), name)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in: nested tables key by key (as ``Scenario.from_toml``'s
    overrides), other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict):
            out[key] = deep_merge(out[key] if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = json.loads(json.dumps(value))
    return out


def scenario_overrides(inputs: dict[str, Any]) -> dict[str, Any]:
    """The settings to merge into the scenario file: the form's, then pins and bans."""
    over = json.loads(json.dumps(inputs.get("overrides") or {}))
    pins, bans = list(inputs.get("pins") or []), list(inputs.get("bans") or [])
    if pins or bans:
        con = over.setdefault("constraints", {})
        if pins:
            con["must_open"] = sorted(set(con.get("must_open", [])) | set(pins))
        if bans:
            con["forbidden"] = sorted(set(con.get("forbidden", [])) | set(bans))
    return over


#: Solver (and rollout improvement) time limit of a warm-started re-plan, seconds.
REPLAN_SECONDS = 5.0


class DiskCache(MutableMapping[str, Any]):
    """A mapping kept as pickles in ``folder`` (the built markets by input hash, see
    :func:`storeplan.pipeline.market_key`), at most ``keep`` entries: the least recently
    used are removed. Only this app writes the folder (inside its data dir)."""

    def __init__(self, folder: Path, keep: int = 3) -> None:
        self.folder = Path(folder)
        self.keep = keep

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise KeyError(key)
        return self.folder / f"{key}.pkl"

    def __getitem__(self, key: str) -> Any:
        path = self._path(key)
        try:
            with path.open("rb") as fh:
                value = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise KeyError(key) from exc
        os.utime(path)  # recently used
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        from .._io import atomic_path

        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._path(key), suffix=".tmp.pkl") as tmp, Path(tmp).open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        for old in sorted(self.folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime)[: -self.keep]:
            old.unlink(missing_ok=True)

    def __delitem__(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def __iter__(self) -> Iterator[str]:
        return (p.stem for p in self.folder.glob("*.pkl"))

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.pkl"))


def warm_start(store: JobStore, data_dir: Path, inputs: dict[str, Any], market: str | None = None) -> Any:
    """The :class:`storeplan.pipeline.WarmStart` of a re-plan: the parent run's new
    stores and rollout schedule (``rollout.csv``), and its bounds (the plan's and the
    rollout's) when the re-plan only adds pins and bans to the same settings (every
    plan it allows was allowed before, so a bound on the best plan still holds when
    maximising, and a lower bound when minimising) and the same market: ``market``, the
    re-plan's :func:`storeplan.pipeline.market_key`, equals the one the parent recorded
    (its data and model inputs are unchanged). None when the job is no re-plan or its
    parent has no plan."""
    import pandas as pd

    from ..pipeline import WarmStart

    parent = store.get(str(inputs.get("warm_start") or "")) if inputs.get("warm_start") else None
    if parent is None or parent.status != "done":
        return None
    out = job_dir(data_dir, parent.id) / "out"
    plan_csv = out / "plan.csv"
    if not plan_csv.is_file():
        return None
    stores = pd.read_csv(plan_csv, dtype={"id": str}, usecols=["id", "status"])
    ids = tuple(stores.loc[stores["status"].astype(str) != "existing", "id"].astype(str))
    schedule = None
    if (out / "rollout.csv").is_file():
        sched = pd.read_csv(out / "rollout.csv", dtype={"id": str}, usecols=["id", "open_year"])
        sched = sched[sched["open_year"] >= 1]
        schedule = tuple(zip(sched["id"].astype(str), sched["open_year"].astype(int).tolist(), strict=True))
    p = parent.inputs
    restricts = (
        p.get("scenario") == inputs.get("scenario")
        and (p.get("overrides") or {}) == (inputs.get("overrides") or {})
        and set(p.get("pins") or []) <= set(inputs.get("pins") or [])
        and set(p.get("bans") or []) <= set(inputs.get("bans") or [])
    )
    if restricts:
        try:
            recorded = json.loads((job_dir(data_dir, parent.id) / "web" / "summary.json").read_text("utf-8"))
        except (OSError, ValueError):
            recorded = {}
        restricts = market is not None and recorded.get("market_key") == market
    bound = (parent.summary or {}).get("bound_value") if restricts else None
    rollout_bound = _rollout_bound(out) if restricts and schedule is not None else None
    return WarmStart(
        ids,
        time_limit=REPLAN_SECONDS,
        bound=None if bound is None else float(bound),
        schedule=schedule,
        rollout_bound=rollout_bound,
    )


def _rollout_bound(out: Path) -> float | None:
    """The NPV bound of the rollout saved in ``out`` (None when absent or not finite)."""
    try:
        value = json.loads((out / "rollout.json").read_text(encoding="utf-8"))["schedule"]["bound"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _plan_market(scenario: Any, cache: MutableMapping[str, Any] | None = None) -> Any:
    """The Huff market a plan was solved with (for the store cards' 'why here'): the one
    ``solve`` left in ``cache``, else built again."""
    from ..pipeline import build_market, build_problem, market_key

    if cache is not None:
        hit = cache.get(market_key(scenario))
        if hit is not None:
            return hit[0]
    market, _ = build_market(scenario, build_problem(scenario))  # the pipeline's own (calibrated) market
    return market


def write_payload(
    plan: Any,
    web: Path,
    *,
    name: str,
    outputs: list[str],
    n_sites: int,
    why: Any = None,
    warm: bool = False,
    market: str | None = None,
    cards: bool = True,
    map_only: bool = False,
    pending: list[str] | None = None,
) -> dict[str, Any]:
    """Write what the page shows of a plan into ``web``: ``map.bin`` (the map layers as
    :func:`storeplan.web.results.map_binary`; only it with ``map_only``), else
    ``cards.json`` (the store cards, "why here" from ``why`` when given) and
    ``summary.json`` (headline, years, comparison row, charts among ``outputs``, the
    ``market`` key the plan was solved with (:func:`storeplan.pipeline.market_key`),
    ``pending``: what is still being written, by default the report and "why here" when
    ``why`` is not given). Returns the summary."""
    from .._io import write_json
    from . import results

    web.mkdir(parents=True, exist_ok=True)
    if map_only:
        from .._io import atomic_path

        payload = results.map_binary(results.map_layers(plan, plan.areas, plan.rivals))
        with atomic_path(web / "map.bin", suffix=".tmp.bin") as tmp:
            Path(tmp).write_bytes(payload)
        return {}
    if cards:
        write_json(web / "cards.json", results.store_cards(plan, why), compact=True)
    summary = {
        "name": name,
        "scenario": plan.scenario_name,
        "objective": plan.objective,
        "headline": results.headline(plan),
        "years": results.year_table(plan),
        "comparison": results.comparison_row(plan, name),
        "charts": sorted(o for o in outputs if o.endswith(".png")),
        "notes": list(plan.notes),
        "n_sites": n_sites,
        "market_key": market,
        "warm_start": warm,
        "pending": pending if pending is not None else ([] if why is not None else ["report", "why here"]),
    }
    write_json(web / "summary.json", summary)
    return summary


def run_job(db_path: str, data_dir: str, job_id: str) -> None:
    """Worker-process entry point: load, solve, save, explain; record everything in the store."""
    from ..errors import StoreplanError
    from ..pipeline import solve
    from ..scenario import Scenario
    from .explain import why_here

    store = JobStore(db_path, recover=False)
    job = store.get(job_id)
    if job is None:
        return
    root = job_dir(Path(data_dir), job_id)
    out = root / "out"
    web = root / "web"
    if not store.mark_running(job_id):
        return  # cancelled while it was handed to this worker: nothing to run

    logger = logging.getLogger("storeplan")
    logger.setLevel(logging.INFO)
    root.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(root / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    starts: dict[str, float] = {}
    last = [0.0]

    def progress(phase: str, frac: float) -> None:
        now = time.perf_counter()
        if frac <= 0.0:
            starts[phase] = now
        done = frac >= 1.0
        if not done and frac > 0.0 and now - last[0] < 0.2:
            return  # at most 5 writes a second inside a phase
        last[0] = now
        store.set_progress(job_id, phase, frac, (now - starts.get(phase, now)) if done else None)

    try:
        progress("load", 0.0)
        scenario = Scenario.from_toml(
            scenario_path(Path(data_dir), job.inputs), **scenario_overrides(job.inputs)
        )
        progress("load", 1.0)
        cache = DiskCache(Path(data_dir) / "cache" / "markets")
        from ..pipeline import market_key

        key = market_key(scenario)
        start = warm_start(store, Path(data_dir), job.inputs, key)
        plan = solve(scenario, progress=progress, start=start, cache=cache)
        progress("save", 0.0)
        from .._io import atomic_path
        from ..report import write as write_report

        written = plan.save(out)

        def outputs() -> list[str]:
            return sorted(str(Path(p).relative_to(out)) for p in written.values())

        def payload(why: Any) -> dict[str, Any]:
            return write_payload(
                plan,
                web,
                name=job.name,
                outputs=outputs(),
                n_sites=int(len(scenario.sites)),
                why=why,
                warm=start is not None,
                market=key,
                cards=True,
            )

        if start is not None:
            # a warm re-plan answers as soon as the plan and its map are written; the
            # report and the store cards' "why here" follow in this worker
            write_payload(plan, web, name=job.name, outputs=[], n_sites=0, map_only=True)
            summary = payload(None)
            progress("save", 1.0)
            store.finish(job_id, "done", outputs=outputs(), summary=summary["comparison"])
            written.update(write_report(plan, out))
        else:
            written.update(write_report(plan, out))
            progress("save", 1.0)
        progress("explain", 0.0)
        market = _plan_market(scenario, cache) if plan.objective == "revenue" else None
        why = why_here(plan, scenario, market=market)
        with atomic_path(out / "why_here.csv") as tmp:
            why.to_csv(tmp, index=False)
        written["why_here.csv"] = out / "why_here.csv"
        if start is None:
            write_payload(plan, web, name=job.name, outputs=[], n_sites=0, map_only=True)
        summary = payload(why)
        progress("explain", 1.0)
        if not store.finish(job_id, "done", outputs=outputs(), summary=summary["comparison"]):
            store.update(job_id, outputs=outputs(), phase=None)  # the warm re-plan's report is in
    except StoreplanError as exc:
        _failed(store, job_id, web, str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded, never shown as a traceback
        (root / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        _failed(store, job_id, web, f"internal error ({type(exc).__name__}): {exc}")
    finally:
        logger.removeHandler(handler)
        handler.close()


def _failed(store: JobStore, job_id: str, web: Path, message: str) -> None:
    """Mark a job failed with ``message``; a warm re-plan that had already answered stays
    done, with the message, and its page stops waiting for the report."""
    if store.finish(job_id, "failed", error=message):
        return
    store.update(job_id, error=f"the report could not be written: {message}", phase=None)
    path = web / "summary.json"
    if path.is_file():
        from .._io import write_json

        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["pending"] = []
        write_json(path, summary)


def _warm_worker(conn: Any, db_path: str, data_dir: str) -> None:
    """A spare worker's entry point: import the solver stack now, then run the one job
    whose id arrives on ``conn`` (``None``: exit)."""
    import importlib

    for mod in ("storeplan.pipeline", "storeplan.report", "storeplan.web.explain", "storeplan.web.results"):
        importlib.import_module(mod)
    try:
        job_id = conn.recv()
    except EOFError:
        return
    if job_id:
        run_job(db_path, data_dir, job_id)


class JobRunner:
    """Starts queued jobs in worker processes, at most ``max_runs`` at once.

    A daemon thread polls every ``poll_s`` seconds: it reaps finished processes (a process
    that died without finishing its job marks it failed) and starts queued jobs in order.
    With ``spare``, one spare worker is kept started (interpreter and solver stack
    imported), so a new job, a re-plan above all, does not wait for that. A worker
    whose job is already done (a warm re-plan still writing its report) does not count
    against ``max_runs``.
    """

    def __init__(
        self,
        store: JobStore,
        data_dir: Path,
        *,
        max_runs: int = 1,
        poll_s: float = 0.2,
        spare: bool = True,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.max_runs = max(1, int(max_runs))
        self.poll_s = poll_s
        self.spare = spare
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[str, Any] = {}
        self._spare: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="storeplan-jobs", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a job was added)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the loop and terminate running workers (their jobs are marked failed)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            procs = dict(self._procs)
            self._procs.clear()
        for job_id, proc in procs.items():
            proc.terminate()
            proc.join(timeout=5)
            self.store.finish(job_id, "failed", error="the server stopped during this run; run it again")
        spare, self._spare = self._spare, None
        if spare is not None:
            spare[0].terminate()
            spare[0].join(timeout=5)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; False when it had already finished."""
        with self._lock:
            proc = self._procs.pop(job_id, None)
        if proc is not None:
            proc.terminate()
            proc.join(timeout=10)
            if proc.is_alive():  # pragma: no cover - a worker ignoring SIGTERM
                proc.kill()
                proc.join(timeout=5)
        moved = self.store.finish(job_id, "cancelled", error="cancelled by the user")
        if moved:
            shutil.rmtree(job_dir(self.data_dir, job_id) / "out", ignore_errors=True)
            shutil.rmtree(job_dir(self.data_dir, job_id) / "web", ignore_errors=True)
        self.wake()
        return moved

    @property
    def running(self) -> list[str]:
        with self._lock:
            return list(self._procs)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the loop must survive a bad tick
                log.exception("job runner tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            for job_id, proc in list(self._procs.items()):
                if proc.is_alive():
                    continue
                proc.join()
                del self._procs[job_id]
                job = self.store.get(job_id)
                if job is not None and job.status not in FINISHED:
                    self.store.finish(
                        job_id, "failed", error=f"the worker process stopped (exit code {proc.exitcode})"
                    )
            busy = 0
            for job_id in self._procs:
                job = self.store.get(job_id)
                busy += job is None or job.status not in FINISHED
            free = self.max_runs - busy
        if free > 0:
            for job in self.store.queued()[:free]:
                self._start(job.id)
        if self.spare and self._spare is None and not self._stop.is_set():
            self._spare = self._new_spare()

    def _new_spare(self) -> tuple[Any, Any]:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_warm_worker,
            args=(recv, str(self.store.path), str(self.data_dir)),
            name="storeplan-job-spare",
            daemon=True,
        )
        proc.start()
        recv.close()
        return proc, send

    def _start(self, job_id: str) -> None:
        # mark it running before the process starts so no second tick picks it up (and
        # leave it alone when a cancel got there first)
        if not self.store.mark_running(job_id):
            return
        spare, self._spare = self._spare, None
        if spare is not None and spare[0].is_alive():
            proc, send = spare
            with self._lock:  # a cancel from now on finds the worker and stops it
                self._procs[job_id] = proc
            send.send(job_id)
            send.close()
        else:
            if spare is not None:
                spare[0].join(timeout=1)
            proc = self._ctx.Process(
                target=run_job,
                args=(str(self.store.path), str(self.data_dir), job_id),
                name=f"storeplan-job-{job_id}",
                daemon=True,
            )
            proc.start()
            with self._lock:
                self._procs[job_id] = proc
        self.store.update(job_id, pid=proc.pid)
