"""A run's output folder: owned, locked, never an input, and left clean whatever happens.

:class:`OutputFolder` is the one way a run writes files. Entering it refuses an output that is an
input (resolved through symlinks; a GDAL ``/vsi`` path is the local archive it reads) and an
``--out`` that is a file or a tile folder, takes the folder's lock (``.geocarbon.lock``, an OS lock
held for the whole run, taken over from a dead run), removes the scratch of dead runs, refuses to
replace outputs, or a previous run's output set, without ``overwrite``, and yields the run's
:class:`~geocarbon.outputs.staging.StagedOutputs`. On success the manifest
(``.geocarbon-manifest.json``) lists what the run wrote; with ``overwrite``, the previous run's own
files (those its manifest lists) that this run did not rewrite are removed, never anything else.
Write failures (disk full, read-only folder, permission denied) become one line naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from geocarbon._version import __version__
from geocarbon.errors import ConfigError, GeoCarbonError, OutputExistsError, OutputWriteError, said
from geocarbon.inputs.remote import is_remote
from geocarbon.outputs.staging import STAGED_NAME, StagedOutputs, refuse_existing

LOCK_NAME = ".geocarbon.lock"
MANIFEST_NAME = ".geocarbon-manifest.json"
#: Messages of write failures from GDAL, SQLite and Arrow that mean the disk or folder refused.
_FULL_DISK = ("no space left", "disk space", "disk is full", "file too large", "quota")
_REFUSED = ("read-only file system", "permission denied", "attempt to write a readonly")


def local_path(name: str | Path) -> Path | None:
    """The local file or folder that ``name`` reads: itself, or for a GDAL ``/vsi`` path (``/vsizip/``,
    ``/vsitar/``, ``/vsigzip/``) the archive it reads; None for remote paths (URLs, ``/vsicurl/``)."""
    text = str(name)
    if "://" in text or text[:3].upper() == "PG:":
        return None
    if text.startswith("/vsi"):
        if is_remote(text) or text.startswith("/vsimem/"):
            return None
        rest = text[1:].partition("/")[2]
        candidate = Path("/" + rest.lstrip("/"))
        for parent in (candidate, *candidate.parents):
            if parent.is_file():
                return parent
        return candidate
    return Path(text)


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_not_inputs(
    outputs: Iterable[Path], inputs: Iterable[object], *, out_dir: Path | None = None
) -> None:
    """Refuse any output that is an input (resolved through symlinks), and an output folder that
    is an input folder (a folder of land-cover tiles would read the outputs as tiles)."""
    flat: list[object] = []
    for item in inputs:
        flat += list(item) if isinstance(item, list | tuple) else [item]
    local = [local_path(item) for item in flat if isinstance(item, str | Path) and str(item)]
    sources = {_resolved(path): path for path in local if path is not None}
    for output in outputs:
        clash = sources.get(_resolved(output))
        if clash is not None:
            raise ConfigError(
                f"Output {str(output)!r} is the input {str(clash)!r}; writing it would destroy the "
                "input. Choose another output folder (--out)."
            )
    if out_dir is not None:
        folder = _resolved(out_dir)
        for resolved, path in sources.items():
            if resolved == folder and path.is_dir():
                raise ConfigError(
                    f"Output folder {str(out_dir)!r} is the input folder {str(path)!r}; its outputs "
                    "would be read as inputs by the next run. Choose another output folder (--out)."
                )


class FolderLock:
    """An OS lock on ``folder/.geocarbon.lock`` held while a run writes into ``folder``.

    The OS releases it when the process dies, so a lock file left by a killed run is simply
    taken over. The file names the holder (host, pid, start time) for the error message.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._handle: Any = None

    def acquire(self) -> None:
        while True:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
            if not _try_lock(handle):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise OutputExistsError(
                    f"Output folder {str(self.path.parent)!r} is in use by another geocarbon run "
                    f"({holder}); wait for it to finish or choose another output folder."
                )
            # The holder may have removed the file between our open and lock: retry on a new one.
            try:
                same = os.path.samestat(os.fstat(handle.fileno()), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"host {socket.gethostname()}, pid {os.getpid()}, started "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is None:
            return
        self.path.unlink(missing_ok=True)
        self._handle.close()
        self._handle = None


def _try_lock(handle: Any) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale_scratch(folder: Path) -> list[Path]:
    """Remove temporaries and scratch that dead runs left in ``folder`` (call with its lock held)."""
    removed = []
    for path in folder.iterdir():
        if STAGED_NAME.match(path.name):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of the run that last wrote ``folder``, or None."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def manifest_files(folder: Path) -> list[Path]:
    """The files the last run into ``folder`` wrote (those that still exist)."""
    document = read_manifest(folder) or {}
    entries = [entry for entry in document.get("files", []) if isinstance(entry, dict)]
    names = [str(entry["name"]) for entry in entries if _plain_name(entry.get("name"))]
    return [folder / name for name in names if (folder / name).exists()]


def _plain_name(name: object) -> bool:
    """A file name inside the folder (no separators, no '..'): a manifest never reaches outside."""
    return (
        isinstance(name, str) and bool(name) and Path(name).name == name and name not in {".", ".."}
    )


class OutputFolder:
    """Own ``out_dir`` for one run; ``with OutputFolder(...) as staged:`` yields its
    :class:`StagedOutputs`. With ``out_dir`` None (an in-memory run) only stages nothing."""

    def __init__(
        self,
        out_dir: Path | None,
        finals: Sequence[Path],
        *,
        inputs: Iterable[object] = (),
        overwrite: bool = False,
        command: str = "",
    ) -> None:
        self.out_dir = out_dir
        self.finals = list(finals)
        self.overwrite = overwrite
        self.command = command
        self._inputs = list(inputs)
        self._lock: FolderLock | None = None
        self._staged: StagedOutputs | None = None
        self._previous: list[Path] = []
        self.check()

    def check(self) -> None:
        """The checks that need no lock (run at construction, so before any input is read)."""
        folder = self.out_dir
        if folder is None:
            return
        check_not_inputs(
            [*self.finals, folder / LOCK_NAME, folder / MANIFEST_NAME],
            self._inputs,
            out_dir=folder,
        )
        if folder.exists() and not folder.is_dir():
            raise ConfigError(
                f"Output folder {str(folder)!r} is a file; give a folder (it is created if missing)."
            )
        refuse_existing(self.finals, overwrite=self.overwrite)

    def __enter__(self) -> StagedOutputs:
        if self.out_dir is None:
            self._staged = StagedOutputs([], overwrite=True)
            return self._staged.__enter__()
        folder = self.out_dir
        self.check()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = FolderLock(folder)
            lock.acquire()
        except OSError as exc:
            if isinstance(exc, GeoCarbonError):
                raise
            raise _write_error(exc, folder) from None
        self._lock = lock
        try:
            remove_stale_scratch(folder)
            refuse_existing(self.finals, overwrite=self.overwrite)
            self._previous = manifest_files(folder)
            if self._previous and not self.overwrite:
                raise OutputExistsError(
                    f"Output folder {str(folder)!r} holds the outputs of an earlier geocarbon run "
                    f"({', '.join(p.name for p in self._previous[:5])}"
                    f"{', ...' if len(self._previous) > 5 else ''}). Use --overwrite "
                    "(overwrite=True) to replace that run's outputs, or choose another folder."
                )
            self._staged = StagedOutputs(self.finals, overwrite=self.overwrite)
            return self._staged.__enter__()
        except BaseException:
            self._release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._staged is not None
        try:
            try:
                self._staged.__exit__(exc_type, exc, tb)
                if exc_type is None and self.out_dir is not None:
                    self._commit(self.out_dir)
            except OSError as error:
                if exc_type is None and not isinstance(error, GeoCarbonError):
                    raise _write_error(error, self.out_dir) from None
                raise
        finally:
            self._release()
        if isinstance(exc, Exception) and not isinstance(exc, GeoCarbonError):
            if _is_write_failure(exc, self.out_dir):
                raise _write_error(exc, self.out_dir) from None

    def _commit(self, folder: Path) -> None:
        """Remove the previous run's own files this run did not rewrite; write the manifest."""
        written = {final.resolve() for final in self.finals}
        for path in self._previous:
            if path.resolve() not in written:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        document = {
            "geocarbon_version": __version__,
            "command": self.command,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": [
                {"name": final.name, "bytes": final.stat().st_size}
                for final in self.finals
                if final.exists() and final.parent.resolve() == folder.resolve()
            ],
        }
        temp = folder / f".geocarbon-manifest.{uuid.uuid4().hex[:8]}.partial.json"
        temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        os.replace(temp, folder / MANIFEST_NAME)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def add_to_manifest(folder: Path, paths: Sequence[Path]) -> None:
    """Record files derived from a run's outputs (a map, figures) in ``folder``'s manifest, so that
    the next run replacing that output set removes them too. No manifest: nothing to record."""
    document = read_manifest(folder)
    if document is None:
        return
    names = {entry.get("name") for entry in document.get("files", []) if isinstance(entry, dict)}
    for path in paths:
        if path.parent.resolve() == folder.resolve() and path.name not in names:
            document["files"].append({"name": path.name, "derived": True})
    temp = folder / f".geocarbon-manifest.{uuid.uuid4().hex[:8]}.partial.json"
    temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(temp, folder / MANIFEST_NAME)


#: Less free space than this under the output folder makes a failed write a full disk (GDAL and
#: libtiff report it as "write error at scanline ...", without the cause).
NEARLY_FULL_BYTES = 16 * 2**20
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (GDAL's messages hide in the chain)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _text(exc: BaseException) -> str:
    return " ".join(str(item).lower() for item in _chain(exc))


def _disk_full(folder: Path | None) -> bool:
    if folder is None or not folder.exists():
        return False
    return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES


def _is_write_failure(exc: BaseException, folder: Path | None = None) -> bool:
    if any(isinstance(item, OSError) and item.errno in _WRITE_ERRNOS for item in _chain(exc)):
        return True
    text = _text(exc)
    if any(marker in text for marker in (*_FULL_DISK, *_REFUSED)):
        return True
    io_failure = "write" in text or "read error" in text or isinstance(exc, OSError)
    return io_failure and _disk_full(folder)


def _write_error(exc: BaseException, folder: Path | None) -> GeoCarbonError:
    """One line for a write the disk or folder refused."""
    where = str(folder) if folder is not None else "the output folder"
    text = _text(exc)
    errnos = {item.errno for item in _chain(exc) if isinstance(item, OSError)}
    name = getattr(exc, "filename", None)
    culprit = f" writing {str(name)!r}" if name else ""
    if (
        errnos & {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
        or any(marker in text for marker in _FULL_DISK)
        or _disk_full(folder)
    ):
        free = shutil.disk_usage(folder).free if folder is not None and folder.exists() else None
        left = f" ({free / 2**20:,.0f} MB free)" if free is not None else ""
        return OutputWriteError(
            f"The disk under {where!r} is full{left}{culprit}; nothing was written. Free some "
            "space or choose an output folder on another disk (--out)."
        )
    if errnos & {errno.EROFS, errno.EACCES, errno.EPERM} or any(m in text for m in _REFUSED):
        return OutputWriteError(
            f"Cannot write into {where!r}{culprit}: the folder is read-only or not yours "
            f"({exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}). Choose a "
            "writable output folder (--out)."
        )
    return OutputWriteError(f"Writing into {where!r}{culprit} failed: {said(exc)}.")
