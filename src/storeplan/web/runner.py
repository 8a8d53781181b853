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
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ..bundled import PHASE_LABELS as _CLI_PHASES
from ..bundled import demo_scenario_path
from .store import FINISHED, JobStore

__all__ = ["JobRunner", "run_job", "PHASE_LABELS"]

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


def _plan_market(scenario: Any) -> Any:
    """The Huff market a plan was solved with (for the store cards' 'why here')."""
    from ..pipeline import build_market

    market, _ = build_market(scenario)  # the pipeline's own (calibrated) market
    return market


def run_job(db_path: str, data_dir: str, job_id: str) -> None:
    """Worker-process entry point: load, solve, save, explain; record everything in the store."""
    from ..errors import StoreplanError
    from ..pipeline import solve
    from ..scenario import Scenario
    from . import results
    from .explain import why_here

    store = JobStore(db_path, recover=False)
    job = store.get(job_id)
    if job is None:
        return
    root = job_dir(Path(data_dir), job_id)
    out = root / "out"
    web = root / "web"
    store.update(job_id, status="running", started=time.time())
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
        plan = solve(scenario, progress=progress)
        progress("save", 0.0)
        from ..report import write as write_report

        written = plan.save(out)
        written.update(write_report(plan, out))
        progress("save", 1.0)
        progress("explain", 0.0)
        market = _plan_market(scenario) if plan.objective == "revenue" else None
        why = why_here(plan, scenario, market=market)
        from .._io import atomic_path, write_json

        with atomic_path(out / "why_here.csv") as tmp:
            why.to_csv(tmp, index=False)
        written["why_here.csv"] = out / "why_here.csv"
        web.mkdir(parents=True, exist_ok=True)
        write_json(web / "map.json", results.map_layers(plan, scenario.areas, scenario.rivals))
        write_json(web / "cards.json", results.store_cards(plan, why))
        payload = {
            "name": job.name,
            "scenario": plan.scenario_name,
            "objective": plan.objective,
            "headline": results.headline(plan),
            "years": results.year_table(plan),
            "comparison": results.comparison_row(plan, job.name),
            "charts": sorted(
                str(Path(p).relative_to(out)) for p in written.values() if str(p).endswith(".png")
            ),
            "notes": list(plan.notes),
            "n_sites": int(len(scenario.sites)),
        }
        write_json(web / "summary.json", payload)
        progress("explain", 1.0)
        files = sorted(str(Path(p).relative_to(out)) for p in written.values())
        store.finish(job_id, "done", outputs=files, summary=payload["comparison"])
    except StoreplanError as exc:
        store.finish(job_id, "failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded, never shown as a traceback
        (root / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        store.finish(job_id, "failed", error=f"internal error ({type(exc).__name__}): {exc}")
    finally:
        logger.removeHandler(handler)
        handler.close()


class JobRunner:
    """Starts queued jobs in worker processes, at most ``max_runs`` at once.

    A daemon thread polls every ``poll_s`` seconds: it reaps finished processes (a process
    that died without finishing its job marks it failed) and starts queued jobs in order.
    """

    def __init__(self, store: JobStore, data_dir: Path, *, max_runs: int = 1, poll_s: float = 0.2) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.max_runs = max(1, int(max_runs))
        self.poll_s = poll_s
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[str, Any] = {}
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
            free = self.max_runs - len(self._procs)
        if free <= 0:
            return
        for job in self.store.queued()[:free]:
            proc = self._ctx.Process(
                target=run_job,
                args=(str(self.store.path), str(self.data_dir), job.id),
                name=f"storeplan-job-{job.id}",
                daemon=True,
            )
            # mark it running before the process starts so no second tick picks it up
            self.store.update(job.id, status="running", started=time.time())
            proc.start()
            self.store.update(job.id, pid=proc.pid)
            with self._lock:
                self._procs[job.id] = proc
