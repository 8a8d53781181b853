"""Atomic output: single files (temporary file + rename) and whole output sets.

An interrupted run (Ctrl-C, crash, full disk) therefore never leaves a half-written
``plan.csv`` or ``report.html`` behind: either the old file or the complete new one.

:func:`output_set` goes one step further for a run's folder of files: the whole set is
written into a temporary sibling folder and swapped in for the target folder at the end
(an atomic exchange of the two folders where the OS has one), so the target always
holds one run's complete set, or the previous one untouched. :func:`check_output_folder`
checks the target before any work starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import OutputFolderError

__all__ = [
    "atomic_path",
    "atomic_open",
    "write_text",
    "write_json",
    "check_output_folder",
    "output_set",
    "MANIFEST",
]

#: The file that marks a folder as one storeplan run's output set (run id, file list).
MANIFEST = ".storeplan-run.json"
# files that mark an older storeplan output folder (before the manifest existed)
_OLD_MARKERS = ("summary.json", "comparison.csv")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    Use it with writers that want a file name (``DataFrame.to_parquet``,
    ``matplotlib.figure.Figure.savefig``, ``folium.Map.save``). On any exception
    the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.",
        suffix=suffix if suffix is not None else ".tmp" + target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the usual permissions (0666 & ~umask)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; rename it onto ``path`` on close."""
    if "w" not in mode:
        raise ValueError("atomic_open only supports write modes")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, compact: bool = False) -> Path:
    """Atomically write ``obj`` as indented JSON (NaN written as null); ``compact``: on
    one line without spaces (files only programs read, e.g. the web app's payloads)."""
    if compact:
        text = json.dumps(_jsonable(obj), separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False)
    return write_text(path, text + "\n")


def _jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays and non-finite floats to plain JSON values."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------- output sets


def _is_output_set(folder: Path) -> bool:
    return any((folder / m).exists() for m in (MANIFEST, *_OLD_MARKERS))


def check_output_folder(path: str | os.PathLike, *, label: str = "--out") -> Path:
    """Check that ``path`` can receive an output set; return it as an absolute path.

    ``path`` may be missing (it is created, with its parents), an empty folder, or the
    folder of an earlier storeplan run (replaced as a whole at the end of the new run).

    Raises
    ------
    OutputFolderError
        ``path`` is a file, lies under a file, holds files that are not a storeplan
        output set, or its parent folder cannot be written.
    """
    out = Path(os.path.abspath(os.fspath(path)))
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{label} {path}: is a file, not a folder")
    parent = out.parent
    for anc in (out, *out.parents):
        if anc.exists():
            if not anc.is_dir():
                raise OutputFolderError(f"{label} {path}: {anc} is a file, so no folder can be made under it")
            break
    if out.is_dir():
        try:
            entries = [e.name for e in out.iterdir()]
        except OSError as exc:
            why = exc.strerror or exc
            raise OutputFolderError(f"{label} {path}: cannot list the folder: {why}") from None
        if entries and not _is_output_set(out):
            shown = ", ".join(sorted(entries)[:3])
            raise OutputFolderError(
                f"{label} {path}: the folder holds files that are not a storeplan output ({shown}); "
                "choose a new or empty folder (a run replaces the whole folder)"
            )
    existing = next(a for a in (parent, *parent.parents) if a.exists())
    try:  # the real test: can a folder be made there (permissions, read-only disks)
        probe = tempfile.mkdtemp(prefix=".storeplan-probe-", dir=existing)
    except OSError as exc:
        why = exc.strerror or exc
        raise OutputFolderError(f"{label} {path}: cannot write in {existing}: {why}") from None
    os.rmdir(probe)
    return out


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold SIGINT back (main thread only) for a few system calls that must run together."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def output_set(path: str | os.PathLike, *, label: str = "--out") -> Iterator[Path]:
    """Yield a fresh temporary sibling folder of ``path``; swap it in on success.

    Write every file of the set into the yielded folder. When the block ends normally,
    a manifest (:data:`MANIFEST`: run id and file list) is written and the folder
    replaces ``path`` (with an atomic exchange where the OS has one; the old set is then
    deleted). On any exception, Ctrl-C included, the temporary folder is removed and
    ``path`` is left exactly as it was.
    """
    out = check_output_folder(path, label=label)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:12]
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{run_id}-", dir=out.parent))
    except OSError as exc:
        why = exc.strerror or exc
        raise OutputFolderError(f"{label} {path}: cannot write in {out.parent}: {why}") from None
    try:
        yield tmp
        files = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file())
        write_json(tmp / MANIFEST, {"run_id": run_id, "files": files})
        os.chmod(tmp, 0o777 & ~_umask())
        with _no_interrupt():
            old = None
            if out.exists():
                if _exchange(tmp, out):
                    old = tmp  # tmp now holds the previous set
                else:
                    old = out.parent / f".{out.name}.old-{run_id}"
                    os.replace(out, old)
                    os.replace(tmp, out)
            else:
                os.replace(tmp, out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
