"""The FastAPI application of ``storeplan serve``.

Routes (JSON unless said otherwise; every error is ``{"error": <kind>, "message": <our
error's message>}``, never a traceback):

- ``GET /``: the page; ``/static/...``: its scripts and styles (Leaflet included);
- ``GET /api/schema``: the run form generated from the scenario schema, phases, scenarios;
- ``GET /api/scenarios/{source}/knobs``: a scenario's settings as the form shows them;
- ``POST /api/uploads``: a scenario with its tables (zip or files), validated;
- ``POST /api/jobs``: queue a run; ``GET /api/jobs``: every run; ``GET /api/jobs/{id}``;
- ``GET /api/jobs/{id}/events``: live progress (server-sent events);
- ``POST /api/jobs/{id}/cancel``; ``POST /api/jobs/{id}/replan``: pin / ban sites, re-plan;
- ``GET /api/jobs/{id}/summary | map.bin | map | stores/{store_id}``: what the page shows
  (``map.bin``: the map layers as compact binary, ``map``: the same as JSON);
- ``GET /api/jobs/{id}/files/{name}``, ``/archive.zip``: the output files and report;
- ``GET /api/compare?ids=a,b``, ``/api/compare/chart.png``: the comparison of runs;
- ``GET /api/basemap``: province and country outlines.
"""

import asyncio
import hashlib
import json
import logging
import threading
import tomllib
import zipfile
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import StoreplanError, UnknownOptionError
from .runner import PHASE_LABELS, JobRunner, deep_merge, job_dir, scenario_overrides, scenario_path
from .store import FINISHED, Job, JobStore
from .uploads import UploadLimits, UploadTooLargeError, safe_join, save_upload, upload_dir

__all__ = ["create_app", "WebSettings"]

log = logging.getLogger(__name__)


class WebSettings(BaseModel):
    """Settings of the web app.

    ``data_dir``: jobs database, uploads and run outputs; ``max_runs``: runs at once
    (others queue); ``max_upload_mb``: largest upload (all files together), MB;
    ``max_unpacked_mb``: most a zip may unpack to, MB; ``spare_worker``: keep one
    worker process started ahead of the next run (its imports done), so a run or a
    re-plan starts at once.
    """

    model_config = ConfigDict(frozen=True)

    data_dir: Path
    max_runs: int = Field(1, ge=1, le=64)
    max_upload_mb: float = Field(200.0, gt=0)
    max_unpacked_mb: float = Field(1024.0, gt=0)
    spare_worker: bool = True

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(
            max_bytes=int(self.max_upload_mb * 1024 * 1024),
            max_unpacked_bytes=int(self.max_unpacked_mb * 1024 * 1024),
        )


class JobRequest(BaseModel):
    """A run: which scenario, the settings changed in the form, sites pinned and banned."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = "bundled:three-years"
    name: str | None = Field(None, max_length=120)
    overrides: dict[str, Any] = Field(default_factory=dict)
    pins: list[str] = Field(default_factory=list, max_length=10_000)
    bans: list[str] = Field(default_factory=list, max_length=10_000)


class ReplanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pins: list[str] = Field(default_factory=list, max_length=10_000)
    bans: list[str] = Field(default_factory=list, max_length=10_000)
    unpin: list[str] = Field(default_factory=list, max_length=10_000)
    name: str | None = Field(None, max_length=120)


_STATIC = Path(str(resources.files("storeplan") / "web" / "static"))
_LEAFLET = Path(str(resources.files("storeplan") / "report" / "static" / "leaflet-1.9.4"))

#: Sections a run may override (the rest of the scenario file stays as written).
OVERRIDABLE = ("areas", "objective", "formats", "constraints", "options", "rollout", "name")


def _bundled() -> list[dict[str, str]]:
    from ..bundled import DEMO_SCENARIOS, demo_scenario_path

    out = []
    for name in DEMO_SCENARIOS:
        raw = tomllib.loads(demo_scenario_path(name).read_text(encoding="utf-8"))
        out.append(
            {
                "source": f"bundled:{name}",
                "name": str(raw.get("name", name)),
                "description": str(raw.get("description", "")),
            }
        )
    return out


def _error(status: int, kind: str, message: str):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": kind, "message": message}, status_code=status)


class _UploadSizeLimit:
    """ASGI middleware: refuse an upload body above the limit while it streams in (413)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != "/api/uploads":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        message = f"the upload is larger than the server allows ({self.limit / 1024 / 1024:,.0f} MB)"
        if declared is not None and declared.isdigit() and int(declared) > self.limit + 64 * 1024:
            return await _error(413, "UploadTooLargeError", message)(scope, receive, send)
        seen = 0
        too_big = False

        async def counted():
            nonlocal seen, too_big
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit + 64 * 1024:
                    too_big = True
                    return {"type": "http.disconnect"}
            return msg

        started = False

        async def guarded_send(msg):
            nonlocal started
            if too_big and not started:
                started = True
                resp = _error(413, "UploadTooLargeError", message)
                await resp(scope, receive, send)
                return
            if not too_big:
                started = started or msg["type"] == "http.response.start"
                await send(msg)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_big:
                raise
        if too_big and not started:
            await _error(413, "UploadTooLargeError", message)(scope, receive, send)


def create_app(settings: WebSettings, *, start_runner: bool = True):
    """Build the app. The job runner starts with the app (lifespan) and stops with it."""
    try:
        from fastapi import FastAPI, File, HTTPException, Request, UploadFile
        from fastapi.exceptions import RequestValidationError
        from fastapi.middleware.gzip import GZipMiddleware
        from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
        from fastapi.staticfiles import StaticFiles
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError('the web app needs FastAPI and uvicorn: pip install "storeplan[web]"') from exc

    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(data_dir / "jobs.sqlite")  # recovers runs cut by a restart
    runner = JobRunner(store, data_dir, max_runs=settings.max_runs, spare=settings.spare_worker)

    @asynccontextmanager
    async def lifespan(app):
        if start_runner:
            runner.start()
            # build the basemap cache now, not on the first page load
            threading.Thread(target=_warm_basemap, args=(data_dir / "cache",), daemon=True).start()
        yield
        runner.stop()

    app = FastAPI(title="storeplan", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.runner = runner
    # JSON and text are compressed (quickly: a local server); the map's binary columns and
    # PNG charts are sent as they are (little to gain, and it would hold up the page)
    app.add_middleware(
        GZipMiddleware,
        minimum_size=2048,
        compresslevel=5,
        exclude_content_types=("text/event-stream", "application/octet-stream", "image/png"),
    )
    app.add_middleware(_UploadSizeLimit, limit=settings.upload_limits.max_bytes)

    # ------------------------------------------------------------------ errors
    @app.exception_handler(StoreplanError)
    async def _storeplan_error(request: Request, exc: StoreplanError):
        status = 413 if isinstance(exc, UploadTooLargeError) else 422
        return _error(status, type(exc).__name__, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        kind = {404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict", 413: "TooLarge"}.get(
            exc.status_code, "HTTPError"
        )
        return _error(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _request_error(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        return _error(422, "InvalidRequest", "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "InternalError", f"internal error ({type(exc).__name__}); see the server log")

    # ------------------------------------------------------------------ helpers
    def get_job(job_id: str) -> Job:
        job = store.get(job_id) if len(job_id) <= 32 and job_id.isalnum() else None
        if job is None:
            raise HTTPException(404, f"no run with id {job_id!r}")
        return job

    def web_file(job: Job, name: str) -> Path:
        if job.status != "done":
            raise HTTPException(409, f"run {job.id} is {job.status}; its results are not ready")
        path = safe_join(job_dir(data_dir, job.id) / "web", name)
        if not path.is_file():
            raise HTTPException(404, f"run {job.id} has no {name}")
        return path

    def scenario_file(source: str) -> Path:
        kind, _, name = source.partition(":")
        if kind not in ("bundled", "upload") or not name:
            raise UnknownOptionError(f"unknown scenario {source!r}: expected bundled:NAME or upload:ID")
        return scenario_path(data_dir, {"scenario": source})

    def check_overrides(source: str, inputs: dict[str, Any]) -> None:
        """Validate the scenario file with the run's settings (schema only, fast)."""
        from ..scenario import Scenario

        unknown = sorted(set(inputs.get("overrides", {})) - set(OVERRIDABLE))
        if unknown:
            raise UnknownOptionError(
                f"cannot override {', '.join(unknown)}; expected {', '.join(OVERRIDABLE)}"
            )
        path = scenario_file(source)
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        Scenario.spec_from_dict(deep_merge(raw, scenario_overrides(inputs)), source=path.name)

    # ------------------------------------------------------------------ pages
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(_STATIC / "index.html", media_type="text/html")

    app.mount("/static/leaflet", StaticFiles(directory=_LEAFLET, follow_symlink=False), name="leaflet")
    app.mount("/static", StaticFiles(directory=_STATIC, follow_symlink=False), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    @app.get("/api/health")
    async def health():
        return {"ok": True, "version": _version(), "running": runner.running}

    @app.get("/api/schema")
    def schema():  # not async: the first call imports the scenario schema (off the event loop)
        from .schema import form_schema

        return {
            **form_schema(),
            "phases": [{"key": k, "label": v} for k, v in PHASE_LABELS.items()],
            "max_upload_mb": settings.max_upload_mb,
            "max_runs": settings.max_runs,
        }

    @app.get("/api/scenarios")
    def scenarios():
        uploads = []
        root = data_dir / "uploads"
        if root.is_dir():
            for d in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
                meta = d / ".meta.json"
                if d.is_dir() and not d.is_symlink() and meta.is_file():
                    uploads.append(json.loads(meta.read_text(encoding="utf-8")))
        return {"bundled": _bundled(), "uploads": uploads}

    @app.get("/api/scenarios/{source}/knobs")
    def knobs(source: str):
        from .schema import knob_values

        return knob_values(scenario_file(source))

    @app.post("/api/uploads", status_code=201)
    def upload(files: list[UploadFile] = File(...)):  # noqa: B008 - FastAPI idiom
        from ..scenario import Scenario
        from .schema import knob_values

        upload_id, names = save_upload(
            data_dir, [(f.filename or "", f.file) for f in files], settings.upload_limits
        )
        folder = upload_dir(data_dir, upload_id)
        try:
            path = scenario_file(f"upload:{upload_id}")
            scn = Scenario.from_toml(path)  # every check `storeplan validate` makes
            summary = scn.summary()
            meta = {
                "source": f"upload:{upload_id}",
                "name": scn.name,
                "description": scn.description,
                "files": names,
                "summary": summary,
            }
            (folder / ".meta.json").write_text(json.dumps(meta, default=str), encoding="utf-8")
            return {**meta, "knobs": knob_values(path)}
        except BaseException:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            raise

    # ------------------------------------------------------------------ jobs
    @app.post("/api/jobs", status_code=201)
    def create_job(req: JobRequest):
        inputs = {"scenario": req.scenario, "overrides": req.overrides, "pins": req.pins, "bans": req.bans}
        check_overrides(req.scenario, inputs)
        name = req.name or _default_name(req.scenario, req.overrides)
        job = store.create(name=name, source=req.scenario, inputs=inputs)
        runner.wake()
        return job.to_dict()

    @app.get("/api/jobs")
    def list_jobs():
        return {"jobs": [j.to_dict() for j in store.list()], "running": runner.running}

    @app.get("/api/jobs/{job_id}")
    def read_job(job_id: str):
        return get_job(job_id).to_dict()

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str):
        job = get_job(job_id)
        if job.status in FINISHED:
            raise HTTPException(409, f"run {job_id} has already finished ({job.status})")
        runner.cancel(job_id)
        return get_job(job_id).to_dict()

    @app.post("/api/jobs/{job_id}/replan", status_code=201)
    def replan(job_id: str, req: ReplanRequest):
        parent = get_job(job_id)
        inputs = json.loads(json.dumps(parent.inputs))
        pins = (set(inputs.get("pins") or []) | set(req.pins)) - set(req.bans) - set(req.unpin)
        bans = (set(inputs.get("bans") or []) | set(req.bans)) - set(req.pins)
        inputs["pins"], inputs["bans"] = sorted(pins), sorted(bans)
        inputs["warm_start"] = parent.id
        check_overrides(parent.source, inputs)
        name = req.name or f"{parent.name} (re-plan: {len(pins)} pinned, {len(bans)} banned)"
        job = store.create(name=name, source=parent.source, inputs=inputs, parent_id=parent.id)
        runner.wake()
        return job.to_dict()

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request):
        get_job(job_id)

        async def stream():
            last = None
            while True:
                job = await asyncio.to_thread(store.get, job_id)
                if job is None:
                    break
                d = job.to_dict()
                view = {k: d[k] for k in ("id", "status", "phase", "progress", "timings", "error", "seconds")}
                key = json.dumps({k: v for k, v in view.items() if k != "seconds"}, sort_keys=True)
                if key != last:
                    last = key
                    yield f"event: progress\ndata: {json.dumps(view)}\n\n"
                if job.status in FINISHED:
                    yield f"event: end\ndata: {json.dumps(view)}\n\n"
                    break
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.25)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/jobs/{job_id}/summary")
    def job_summary(job_id: str):
        job = get_job(job_id)
        return JSONResponse(json.loads(web_file(job, "summary.json").read_text(encoding="utf-8")))

    def map_file(job: Job) -> Path:
        """A run's ``map.bin`` (written once from the ``map.json`` of runs made before it)."""
        web = job_dir(data_dir, job.id) / "web"
        if job.status == "done" and not (web / "map.bin").is_file() and (web / "map.json").is_file():
            from .._io import atomic_path
            from .results import map_binary

            payload = map_binary(json.loads((web / "map.json").read_text(encoding="utf-8")))
            with atomic_path(web / "map.bin", suffix=".tmp.bin") as tmp:
                Path(tmp).write_bytes(payload)
        return web_file(job, "map.bin")

    @app.get("/api/jobs/{job_id}/map.bin")
    def job_map_binary(job_id: str):
        """The map layers as the page reads them (see results.map_binary)."""
        return FileResponse(map_file(get_job(job_id)), media_type="application/octet-stream")

    @app.get("/api/jobs/{job_id}/map")
    def job_map(job_id: str):
        """The same layers as JSON (one array per field)."""
        from .results import map_from_binary

        return JSONResponse(map_from_binary(map_file(get_job(job_id)).read_bytes()))

    @lru_cache(maxsize=8)
    def _cards(path: str, mtime: float) -> dict[str, Any]:
        return json.loads(Path(path).read_text(encoding="utf-8"))

    @app.get("/api/jobs/{job_id}/stores/{store_id}")
    def store_card(job_id: str, store_id: str):
        job = get_job(job_id)
        path = web_file(job, "cards.json")
        cards = _cards(str(path), path.stat().st_mtime)
        if store_id not in cards:
            raise HTTPException(404, f"run {job_id} has no store {store_id!r}")
        card = dict(cards[store_id])
        card["pinned"] = store_id in set(job.inputs.get("pins") or [])
        return card

    @app.get("/api/jobs/{job_id}/files/{name:path}")
    def job_file(job_id: str, name: str):
        job = get_job(job_id)
        if name not in set(job.outputs):
            raise HTTPException(404, f"run {job_id} has no output file {name!r}")
        path = safe_join(job_dir(data_dir, job.id) / "out", name)
        if not path.is_file():
            raise HTTPException(404, f"run {job_id}: {name} is missing on disk")
        inline = name.endswith((".html", ".png", ".json", ".csv", ".geojson", ".pdf"))
        return FileResponse(
            path, filename=Path(name).name, content_disposition_type="inline" if inline else "attachment"
        )

    @app.get("/api/jobs/{job_id}/archive.zip")
    def job_archive(job_id: str):
        job = get_job(job_id)
        if job.status != "done":
            raise HTTPException(409, f"run {job_id} is {job.status}; it has no outputs")
        out = job_dir(data_dir, job.id) / "out"
        cache = job_dir(data_dir, job.id) / "archive.zip"
        if not cache.is_file():
            from .._io import atomic_path

            with (
                atomic_path(cache, suffix=".tmp.zip") as tmp,
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf,
            ):
                for name in job.outputs:
                    p = safe_join(out, name)
                    if p.is_file():
                        zf.write(p, arcname=name)
        return FileResponse(cache, filename=f"storeplan-{job.id}.zip", media_type="application/zip")

    # ------------------------------------------------------------------ compare
    def _compared(ids: str) -> list[Job]:
        wanted = [i for i in ids.split(",") if i]
        if len(wanted) < 2:
            raise HTTPException(422, "compare needs at least two run ids (ids=a,b)")
        jobs = [get_job(i) for i in wanted[:12]]
        for j in jobs:
            if j.status != "done":
                raise HTTPException(409, f"run {j.id} is {j.status}; only finished runs can be compared")
        return jobs

    @app.get("/api/compare")
    def compare(ids: str):
        from .results import comparison_columns

        jobs = _compared(ids)
        rows = []
        for j in jobs:
            row = dict(j.summary or {})
            row["name"] = j.name
            row["id"] = j.id
            rows.append(row)
        return {"columns": comparison_columns(), "rows": rows}

    @app.get("/api/compare/chart.png")
    def compare_chart(ids: str):
        import pandas as pd

        from ..engine import COLUMNS, comparison_chart

        jobs = _compared(ids)
        key = hashlib.sha256(",".join(f"{j.id}:{j.finished}" for j in jobs).encode()).hexdigest()[:16]
        path = data_dir / "cache" / f"compare-{key}.png"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            # the runs' comparison rows are `storeplan compare`'s rows (engine.comparison_row)
            rows = [{**dict.fromkeys(COLUMNS), **(j.summary or {}), "name": j.name} for j in jobs]
            table = pd.DataFrame(rows, columns=list(COLUMNS))
            for col in ("coverage_share", "npv_currency", "revenue_full_ramp_currency_per_year"):
                table[col] = pd.to_numeric(table[col], errors="coerce")
            comparison_chart(table, path)
        return Response(path.read_bytes(), media_type="image/png")

    @app.get("/api/basemap")
    def basemap_route():
        from .basemap import basemap

        return JSONResponse(basemap(data_dir / "cache"))

    return app


def _warm_basemap(cache: Path) -> None:
    """Build the basemap cache and the run form now, not on the first page load."""
    from .basemap import basemap
    from .schema import form_schema

    try:
        basemap(cache)
        form_schema()
    except Exception:  # noqa: BLE001 - the page asks again and then reports the error
        log.exception("could not build the basemap or the run form")


def _default_name(source: str, overrides: dict[str, Any]) -> str:
    base = source.partition(":")[2] or source
    obj = overrides.get("objective") or {}
    bits = [f"{k}={v}" for k, v in obj.items() if k in ("kind", "stores", "budget") and v is not None]
    prov = (overrides.get("areas") or {}).get("provinces")
    if prov:
        bits.append("+".join(prov))
    return base + (f" ({', '.join(bits)})" if bits else "")


def _version() -> str:
    from .. import __version__

    return __version__
