"""Uploaded scenarios: size- and type-checked, kept inside the data dir.

An upload is a scenario file (TOML) with its tables (CSV / GeoJSON / Parquet /
GeoPackage), sent as one zip or as several files. Every name that comes with a request
is checked before it touches the file system: only plain relative names of allowed
types, no ``..``, no absolute paths, no links; zip members are checked the same way and
extracted by streaming with a running byte count, so a zip bomb (a member that inflates
far beyond its compressed size, or more bytes in all than allowed) is stopped before it
fills the disk. The folder is then validated with :meth:`Scenario.from_toml`, whose
error names the file, column and rows exactly as ``storeplan validate`` does.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import InputError, StoreplanError

__all__ = [
    "UploadError",
    "UploadTooLargeError",
    "ALLOWED_SUFFIXES",
    "safe_name",
    "safe_join",
    "save_upload",
    "upload_scenario_path",
    "UploadLimits",
]

#: File types an upload may contain (lower-case suffixes).
ALLOWED_SUFFIXES = (".toml", ".csv", ".geojson", ".json", ".parquet", ".gpkg", ".txt", ".md")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{12}$")


class UploadError(InputError):
    """An upload was refused (bad name, type, size or archive)."""


class UploadTooLargeError(UploadError):
    """An upload is larger than the server allows."""


@dataclass(frozen=True)
class UploadLimits:
    """``max_bytes``: most bytes received (all files together); ``max_unpacked_bytes``: most
    bytes a zip may unpack to; ``max_ratio``: most unpacked/compressed size of one member;
    ``max_files``: most files."""

    max_bytes: int = 200 * 1024 * 1024
    max_unpacked_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    max_files: int = 200


def safe_name(name: str, *, allow_dirs: bool = False) -> str:
    """A checked relative name (``/``-separated); raises :class:`UploadError` otherwise."""
    if not name or "\x00" in name or "\\" in name:
        raise UploadError(f"refused file name {name!r}: empty, or with a backslash or NUL")
    p = PurePosixPath(name)
    if p.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"refused file name {name!r}: absolute paths are not allowed")
    parts = p.parts
    if not allow_dirs and len(parts) != 1:
        raise UploadError(f"refused file name {name!r}: folders are not allowed here")
    for part in parts:
        if part in ("..", ".") or not _NAME.match(part):
            raise UploadError(
                f"refused file name {name!r}: use letters, digits, '.', '_', '-' and spaces (no '..')"
            )
    if p.suffix.lower() not in ALLOWED_SUFFIXES:
        raise UploadError(
            f"refused file {name!r}: type {p.suffix or '(none)'} is not allowed; "
            f"expected one of {', '.join(ALLOWED_SUFFIXES)} (or a .zip of them)"
        )
    return str(p)


def safe_join(root: Path, name: str) -> Path:
    """``root / name`` when it stays inside ``root`` and no part of it is a link."""
    root_r = Path(root).resolve()
    target = root_r.joinpath(*PurePosixPath(name).parts)
    cur = root_r
    for part in PurePosixPath(name).parts:
        cur = cur / part
        if cur.is_symlink():
            raise UploadError(f"refused path {name!r}: links are not followed")
    if not target.resolve().is_relative_to(root_r):
        raise UploadError(f"refused path {name!r}: outside the data folder")
    return target


def _check_content(name: str, head: bytes) -> None:
    """The first bytes must match the type the name claims."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".parquet" and not head.startswith(b"PAR1"):
        raise UploadError(f"{name}: not a Parquet file (no PAR1 header)")
    if suffix == ".gpkg" and not head.startswith(b"SQLite format 3\x00"):
        raise UploadError(f"{name}: not a GeoPackage (SQLite) file")
    if suffix in (".toml", ".csv", ".geojson", ".json", ".txt", ".md"):
        if head.startswith(b"PK\x03\x04") or b"\x00" in head[:4096]:
            raise UploadError(f"{name}: a {suffix} file must be text (UTF-8), this one is binary")
        try:
            head[:4096].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head[:4096]) - 4:  # a cut multi-byte character at the end is fine
                raise UploadError(f"{name}: a {suffix} file must be UTF-8 text") from None


def upload_dir(data_dir: Path, upload_id: str) -> Path:
    if not _UPLOAD_ID.match(upload_id or ""):
        raise UploadError(f"unknown upload {upload_id!r}")
    return safe_join(Path(data_dir) / "uploads", upload_id)


def upload_scenario_path(data_dir: Path, upload_id: str) -> Path:
    """The scenario file of an upload (the one ``.toml`` at its top)."""
    folder = upload_dir(data_dir, upload_id)
    if not folder.is_dir():
        raise UploadError(f"unknown upload {upload_id!r}")
    tomls = sorted(p for p in folder.rglob("*.toml") if p.is_file() and not p.is_symlink())
    if not tomls:
        raise UploadError("the upload has no scenario file (.toml)")
    if len(tomls) > 1:
        top = [p for p in tomls if p.parent == folder]
        if len(top) != 1:
            raise UploadError(
                "the upload has several scenario files ("
                + ", ".join(str(p.relative_to(folder)) for p in tomls[:5])
                + "); send one"
            )
        return top[0]
    return tomls[0]


def _write_stream(
    src: BinaryIO | io.BufferedIOBase, dst: Path, budget: list[int], name: str, limit: int
) -> int:
    n = 0
    with open(dst, "wb") as fh:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise UploadTooLargeError(f"{name}: the upload unpacks to more than {limit:,} bytes")
            fh.write(chunk)
    return n


def _extract_zip(data: BinaryIO, folder: Path, limits: UploadLimits, zip_name: str) -> list[str]:
    try:
        zf = zipfile.ZipFile(data)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UploadError(f"{zip_name}: not a readable zip archive ({exc})") from None
    members = [i for i in infos if not i.is_dir()]
    if len(members) > limits.max_files:
        raise UploadError(f"{zip_name}: {len(members)} files; at most {limits.max_files} are allowed")
    names: list[str] = []
    chosen: list[tuple[str, zipfile.ZipInfo]] = []
    declared = 0
    for info in members:
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode):
            raise UploadError(f"{zip_name}: member {info.filename!r} is a link; links are not allowed")
        base = PurePosixPath(info.filename).name
        if base.startswith(".") or info.filename.startswith("__MACOSX/"):
            continue  # editor / OS metadata
        name = safe_name(info.filename, allow_dirs=True)
        declared += info.file_size
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) and info.file_size > 1 << 20:
            raise UploadError(
                f"{zip_name}: member {name!r} inflates {info.file_size / max(info.compress_size, 1):,.0f}x; "
                "refused as a zip bomb"
            )
        names.append(name)
        chosen.append((name, info))
    if declared > limits.max_unpacked_bytes:
        raise UploadTooLargeError(
            f"{zip_name}: unpacks to {declared:,} bytes; at most {limits.max_unpacked_bytes:,} are allowed"
        )
    budget = [limits.max_unpacked_bytes]
    for name, info in chosen:
        target = safe_join(folder, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src:
                head = src.read(8192)
                _check_content(name, head)
                with open(target, "wb") as fh:
                    fh.write(head)
                budget[0] -= len(head)
                with open(target, "ab") as fh:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        budget[0] -= len(chunk)
                        if budget[0] < 0:
                            raise UploadTooLargeError(
                                f"{zip_name}: unpacks to more than {limits.max_unpacked_bytes:,} bytes; "
                                "refused as a zip bomb"
                            )
                        fh.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise UploadError(f"{zip_name}: member {name!r} cannot be read ({exc})") from None
    return names


def save_upload(
    data_dir: Path, files: Iterable[tuple[str, BinaryIO]], limits: UploadLimits = UploadLimits()
) -> tuple[str, list[str]]:
    """Store the uploaded files (each ``(name, stream)``; a ``.zip`` is unpacked) in a new
    folder of the data dir; returns ``(upload_id, names)``. Nothing is kept on error."""
    upload_id = uuid.uuid4().hex[:12]
    folder = Path(data_dir) / "uploads" / upload_id
    folder.mkdir(parents=True)
    try:
        names: list[str] = []
        received = [limits.max_bytes]
        items = list(files)
        if not items:
            raise UploadError("no file was sent")
        if len(items) > limits.max_files:
            raise UploadError(f"{len(items)} files; at most {limits.max_files} are allowed")
        for raw_name, stream in items:
            base = (
                PurePosixPath(str(raw_name or "")).name if "/" not in str(raw_name or "") else str(raw_name)
            )
            if base.lower().endswith(".zip"):
                if not _NAME.match(base):
                    raise UploadError(f"refused file name {raw_name!r}")
                tmp = folder / f".{uuid.uuid4().hex}.zip"
                _write_stream(stream, tmp, received, base, limits.max_bytes)
                with open(tmp, "rb") as fh:
                    if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                        raise UploadError(f"{base}: not a zip archive")
                    fh.seek(0)
                    names += _extract_zip(fh, folder, limits, base)
                tmp.unlink()
                continue
            name = safe_name(base)
            target = safe_join(folder, name)
            head = stream.read(8192)
            _check_content(name, head)
            received[0] -= len(head)
            if received[0] < 0:
                raise UploadTooLargeError(f"the upload is larger than {limits.max_bytes:,} bytes")
            with open(target, "wb") as fh:
                fh.write(head)
            with open(target, "ab") as fh:
                while True:
                    chunk = stream.read(1 << 20)
                    if not chunk:
                        break
                    received[0] -= len(chunk)
                    if received[0] < 0:
                        raise UploadTooLargeError(f"the upload is larger than {limits.max_bytes:,} bytes")
                    fh.write(chunk)
            names.append(name)
        upload_scenario_path(Path(data_dir), upload_id)  # exactly one scenario file
        return upload_id, names
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, StoreplanError | KeyboardInterrupt):
            raise
        if isinstance(exc, OSError):
            raise UploadError(f"the upload could not be stored: {exc.strerror or exc}") from None
        raise
