"""Staged writes: every output is written under a hidden temporary name, renamed into place
only when the whole run succeeded.

:class:`StagedOutputs` hands out the temporaries (``.<stem>.<8 hex>.partial<suffix>``, the final
suffix kept for GDAL's drivers) and scratch files and folders beside them; on success the
temporaries replace the finals, on failure they and the scratch are removed and the previous
outputs are left as they were. :func:`refuse_existing` refuses to replace existing outputs
without ``overwrite``. The output folder itself (lock, manifest, inputs never replaced, scratch
of dead runs removed) is owned by :class:`geocarbon.outputs.folder.OutputFolder`.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from geocarbon.errors import OutputExistsError

#: Names of staged temporaries and scratch: ``.<stem>.<8 hex>.partial[...]``.
STAGED_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.partial(\..*)?$")


def final_name(path: Path) -> str:
    """The name a staged temporary will be renamed to (``.a.0123abcd.partial.gpkg`` -> ``a.gpkg``)."""
    match = re.match(r"^\.(.+)\.[0-9a-f]{8}\.partial(\.[^.]*)?$", path.name)
    return match.group(1) + (match.group(2) or "") if match else path.name


def refuse_existing(paths: Sequence[Path], *, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` naming every existing output unless ``overwrite``; an
    output path that is a folder is refused whatever ``overwrite`` says."""
    folders = [str(path) for path in paths if path.is_dir()]
    if folders:
        raise OutputExistsError(
            f"Output path(s) {', '.join(folders)} are folders, not files; remove or rename them, "
            "or choose another output folder."
        )
    existing = [str(path) for path in paths if path.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"Output(s) already exist: {', '.join(existing)}. Use --overwrite (overwrite=True) to "
            "replace them, or choose another output folder."
        )


class StagedOutputs:
    """Temporary paths for a set of final outputs, renamed into place on success.

    >>> with StagedOutputs([Path("out/a.tif")], overwrite=False) as staged:  # doctest: +SKIP
    ...     write(staged.temp(Path("out/a.tif")))
    """

    def __init__(self, finals: Sequence[Path], *, overwrite: bool) -> None:
        refuse_existing(finals, overwrite=overwrite)
        token = uuid.uuid4().hex[:8]
        # Hidden, unmistakably partial, and with the final suffix (GDAL drivers look at it).
        self._temps = {
            final: final.with_name(f".{final.stem}.{token}.partial{final.suffix}")
            for final in finals
        }
        self._extra: list[Path] = []
        self._folders: list[Path] = []

    @property
    def finals(self) -> tuple[Path, ...]:
        return tuple(self._temps)

    def temp(self, final: Path) -> Path:
        return self._temps[final]

    def scratch(self, final: Path, suffix: str) -> Path:
        """Another temporary file beside ``final`` (intermediate), removed whatever happens."""
        path = self._temps[final].with_name(f"{self._temps[final].stem}.scratch{suffix}")
        self._extra.append(path)
        return path

    def scratch_folder(self, final: Path) -> Path:
        """A temporary folder beside ``final`` (intermediate files), removed whatever happens."""
        path = self._temps[final].with_name(f"{self._temps[final].stem}.scratch")
        path.mkdir()
        self._folders.append(path)
        return path

    def __enter__(self) -> StagedOutputs:
        for final in self._temps:
            final.parent.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard_scratch()
        if exc_type is None:
            for final, temp in self._temps.items():
                if temp.exists():
                    os.replace(temp, final)
        else:
            for temp in self._temps.values():
                temp.unlink(missing_ok=True)

    def discard_scratch(self) -> None:
        for path in self._extra:
            path.unlink(missing_ok=True)
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)


#: Pages written after a run (``map.html``, ``report.html``): the only files of a run folder a
#: page may replace.
PAGE_SUFFIXES = (".html", ".htm")


def refuse_run_files(targets: Sequence[Path], results: Path) -> None:
    """Refuse a page (map, report) written over a file of the run in ``results`` or an input it
    read: ``--overwrite`` replaces an earlier page, never the tables, rasters or land cover that
    the page is drawn from. Raises :class:`~geocarbon.errors.ConfigError` naming both."""
    from geocarbon.errors import ConfigError
    from geocarbon.outputs.find import find_outputs
    from geocarbon.outputs.folder import MANIFEST_NAME, local_path

    outputs = find_outputs(results)
    summary = outputs.summary
    read: list[Path] = [
        found.path for found in outputs.files if found.path.suffix not in PAGE_SUFFIXES
    ]
    read.append(results / MANIFEST_NAME)
    named = [summary.get("landcover"), summary.get("densities"), *(summary.get("landcovers") or [])]
    read += [path for name in named if name for path in [local_path(str(name))] if path is not None]
    protected = {os.path.realpath(path): path for path in read}
    for target in targets:
        clash = protected.get(os.path.realpath(target))
        if clash is not None:
            raise ConfigError(
                f"Output {str(target)!r} is {str(clash)!r}, which the run in {str(results)!r} wrote "
                "or read; writing it would destroy it. Choose another --out: a new .html page."
            )
