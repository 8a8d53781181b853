"""``storeplan serve``: the local web app where an expansion team plans, explores and
compares store networks on a map.

FastAPI + uvicorn (``pip install "storeplan[web]"``), jobs in SQLite in the data dir,
solves in worker processes, and a front end bundled in the package (Leaflet included,
no CDN, no tile server: the basemap is drawn from the bundled province polygons).

>>> from storeplan.web import serve
>>> serve(data_dir="storeplan-data")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["create_app", "serve", "WebSettings"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "WebSettings"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: str | Path = "storeplan-data",
    *,
    max_runs: int = 1,
    max_upload_mb: float = 200.0,
    announce: Any = print,
) -> None:
    """Run the web app until interrupted (binds ``127.0.0.1`` unless told otherwise).

    ``announce`` is called with the URL once the server listens.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError('the web app needs FastAPI and uvicorn: pip install "storeplan[web]"') from exc
    from .app import WebSettings, create_app

    settings = WebSettings(data_dir=Path(data_dir), max_runs=max_runs, max_upload_mb=max_upload_mb)
    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}/"

    original = server.startup

    async def startup(sockets=None):
        await original(sockets=sockets)
        if server.started:
            announce(url)

    server.startup = startup  # type: ignore[method-assign]
    server.run()
