"""The job store: every run of the web app is a row of an embedded SQLite database.

A job keeps its inputs (the scenario source and the settings the user changed), its
status (``queued -> running -> done | failed | cancelled``), its progress per phase, its
timings and the names of its output files. The database lives in the data dir
(``jobs.sqlite``), next to one folder per job (``jobs/<id>/``), so a restart of the
server loses nothing. A job that was ``running`` or ``queued`` when the server stopped
is marked ``failed`` ("interrupted by a server restart") when the store is opened again:
its worker process is gone and nothing will ever finish it.

The worker process writes its own progress into the same database (WAL mode, one short
transaction per update), so the server only reads.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Job", "JobStore", "STATUSES", "FINISHED", "INTERRUPTED_MESSAGE"]

#: Every status a job can have.
STATUSES = ("queued", "running", "done", "failed", "cancelled")
#: Statuses a job never leaves.
FINISHED = ("done", "failed", "cancelled")
#: The error of a job cut by a restart of the server.
INTERRUPTED_MESSAGE = "interrupted by a server restart; run it again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    source      TEXT NOT NULL,          -- 'bundled:<name>' or 'upload:<file name>'
    parent_id   TEXT,                   -- the job a re-plan started from
    inputs      TEXT NOT NULL,          -- JSON: scenario file (relative), overrides, pins, bans
    progress    TEXT NOT NULL,          -- JSON: {phase: fraction done}
    phase       TEXT,                   -- the phase running now
    error       TEXT,
    outputs     TEXT NOT NULL,          -- JSON: list of output file names (relative to out/)
    timings     TEXT NOT NULL,          -- JSON: {phase: seconds}
    summary     TEXT,                   -- JSON: headline numbers for the list and the comparison
    created     REAL NOT NULL,          -- POSIX seconds
    started     REAL,
    finished    REAL,
    pid         INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""


@dataclass(frozen=True)
class Job:
    """One run: a row of the ``jobs`` table (times in POSIX seconds, UTC)."""

    id: str
    name: str
    status: str
    source: str
    parent_id: str | None
    inputs: dict[str, Any]
    progress: dict[str, float]
    phase: str | None
    error: str | None
    outputs: list[str]
    timings: dict[str, float]
    summary: dict[str, Any] | None
    created: float
    started: float | None
    finished: float | None
    pid: int | None = field(default=None, repr=False)

    @property
    def seconds(self) -> float | None:
        """Wall seconds from start to finish (to now while running)."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (what the API returns)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "source": self.source,
            "parent_id": self.parent_id,
            "inputs": self.inputs,
            "progress": self.progress,
            "phase": self.phase,
            "error": self.error,
            "outputs": self.outputs,
            "timings": self.timings,
            "summary": self.summary,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
        }


_JSON_COLS = ("inputs", "progress", "outputs", "timings", "summary")


def _row_to_job(row: sqlite3.Row) -> Job:
    d = dict(row)
    for c in _JSON_COLS:
        d[c] = json.loads(d[c]) if d[c] is not None else None
    return Job(**d)


class JobStore:
    """SQLite-backed jobs of one data dir.

    Parameters
    ----------
    path : Path
        The database file (created with its tables when missing).
    recover : bool
        Mark jobs left ``queued`` / ``running`` by a previous server as failed
        (:data:`INTERRUPTED_MESSAGE`). The server does this once at start; a worker
        process opening the same database does not.
    """

    def __init__(self, path: str | Path, *, recover: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
        if recover:
            self.recover_interrupted()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ writes
    def create(
        self,
        *,
        name: str,
        source: str,
        inputs: dict[str, Any],
        parent_id: str | None = None,
    ) -> Job:
        """Insert a new ``queued`` job and return it."""
        job_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock, self._connect() as con:
            con.execute(
                "INSERT INTO jobs (id, name, status, source, parent_id, inputs, progress, outputs, timings,"
                " created) VALUES (?, ?, 'queued', ?, ?, ?, '{}', '[]', '{}', ?)",
                (job_id, name, source, parent_id, json.dumps(inputs), now),
            )
        job = self.get(job_id)
        assert job is not None  # just inserted
        return job

    def update(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job (JSON columns take Python objects)."""
        if not fields:
            return
        cols, vals = [], []
        for k, v in fields.items():
            if k not in Job.__dataclass_fields__ or k == "id":
                raise KeyError(k)
            cols.append(f"{k} = ?")
            vals.append(json.dumps(v) if k in _JSON_COLS and v is not None else v)
        with self._lock, self._connect() as con:
            con.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id = ?", (*vals, job_id))

    def mark_running(self, job_id: str) -> bool:
        """Set a job ``running`` (and its start time) unless it has already finished, e.g.
        been cancelled while it was being handed to a worker; True when it was set."""
        with self._lock, self._connect() as con:
            cur = con.execute(
                "UPDATE jobs SET status = 'running', started = ?"
                " WHERE id = ? AND status NOT IN ('done', 'failed', 'cancelled')",
                (time.time(), job_id),
            )
            return cur.rowcount > 0

    def set_progress(self, job_id: str, phase: str, fraction: float, seconds: float | None = None) -> None:
        """Record ``fraction`` (0..1) done of ``phase``, and its seconds when it ends."""
        with self._lock, self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT progress, timings FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                con.execute("ROLLBACK")
                return
            progress = json.loads(row["progress"])
            timings = json.loads(row["timings"])
            progress[phase] = round(float(fraction), 4)
            if seconds is not None:
                timings[phase] = round(float(seconds), 3)
            con.execute(
                "UPDATE jobs SET progress = ?, timings = ?, phase = ? WHERE id = ?",
                (json.dumps(progress), json.dumps(timings), phase, job_id),
            )
            con.execute("COMMIT")

    def finish(self, job_id: str, status: str, *, error: str | None = None, **fields: Any) -> bool:
        """Move a job to a finished status (with ``fields``, in the same transaction) unless it
        already has one; True when moved."""
        if status not in FINISHED:
            raise ValueError(f"not a finished status: {status}")
        cols, vals = ["status = ?", "error = ?", "finished = ?", "phase = NULL"], [status, error, time.time()]
        for k, v in fields.items():
            if k not in Job.__dataclass_fields__ or k in ("id", "status", "error", "finished", "phase"):
                raise KeyError(k)
            cols.append(f"{k} = ?")
            vals.append(json.dumps(v) if k in _JSON_COLS and v is not None else v)
        with self._lock, self._connect() as con:
            cur = con.execute(
                f"UPDATE jobs SET {', '.join(cols)}"
                " WHERE id = ? AND status NOT IN ('done', 'failed', 'cancelled')",
                (*vals, job_id),
            )
            return cur.rowcount > 0

    def recover_interrupted(self) -> int:
        """Mark every ``queued`` / ``running`` job failed (a restart cut them); returns how many."""
        with self._lock, self._connect() as con:
            cur = con.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished = ?, phase = NULL"
                " WHERE status IN ('queued', 'running')",
                (INTERRUPTED_MESSAGE, time.time()),
            )
            return cur.rowcount

    def delete(self, job_id: str) -> None:
        with self._lock, self._connect() as con:
            con.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # ------------------------------------------------------------------ reads
    def get(self, job_id: str) -> Job | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _row_to_job(row)

    def list(self, *, limit: int = 200) -> list[Job]:
        """Jobs, newest first."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_row_to_job(r) for r in rows]

    def queued(self) -> builtins.list[Job]:  # `list` here is the method above
        """Queued jobs, oldest first (the run order)."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY created").fetchall()
        return [_row_to_job(r) for r in rows]
