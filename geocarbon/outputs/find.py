"""Read a finished run's folder back: which run wrote it and which of its declared files are there.

:func:`find_outputs` is how ``geocarbon map``, ``geocarbon figures`` and the tests find a run's
files, through the declarations of :mod:`geocarbon.outputs.spec`. Nothing here globs names: a
folder's manifest (``.geocarbon-manifest.json``, :mod:`geocarbon.outputs.folder`) lists what its
last run wrote, so a stale file of an earlier run is never read; a folder written before
manifests existed is read from its summary JSON, which names the run's periods and years.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geocarbon.errors import InputFileError, said
from geocarbon.outputs.folder import MANIFEST_NAME, manifest_files, read_manifest
from geocarbon.outputs.spec import (
    RUNS,
    OutputFile,
    change_outputs,
    identify,
    stock_outputs,
    zonal_outputs,
)

#: The summary document of each run kind (also how a folder without a manifest is recognised).
SUMMARY_NAMES = {
    "stock": "stock_summary.json",
    "zonal": "zonal_summary.json",
    "change": "change_summary.json",
}


def period_labels(years: Sequence[int]) -> list[str]:
    """The periods a change run over ``years`` reports: consecutive dates, then first-to-last
    when there are more than two (as :func:`geocarbon.accounts.change.periods_of`)."""
    pairs = list(zip(years, years[1:], strict=False))
    if len(years) > 2:
        pairs.append((years[0], years[-1]))
    return [f"{start}-{end}" for start, end in pairs]


@dataclass(frozen=True)
class FoundFile:
    """A declared file present in a results folder: its entry, path and placeholder values."""

    entry: OutputFile
    path: Path
    values: tuple[tuple[str, str], ...] = ()

    def value(self, placeholder: str) -> str | None:
        return dict(self.values).get(placeholder)

    @property
    def description(self) -> str:
        return self.entry.describe(**dict(self.values))

    @property
    def units(self) -> str:
        return self.entry.units


@dataclass(frozen=True)
class RunOutputs:
    """What :func:`find_outputs` found: the run kind, its summary document ({} when absent) and
    its declared files present in ``folder``; ``from_manifest`` says the manifest listed them."""

    folder: Path
    run: str
    summary: Mapping[str, Any]
    files: tuple[FoundFile, ...]
    from_manifest: bool

    def path(self, name: str) -> Path | None:
        """The file of a fixed-name entry (``"transitions.csv"``), if the run left it."""
        return next((f.path for f in self.files if f.entry.pattern == name), None)

    def matching(self, pattern: str, **values: str) -> list[FoundFile]:
        """The files of entry ``pattern`` whose placeholders have ``values``."""
        return [
            found
            for found in self.files
            if found.entry.pattern == pattern
            and all(found.value(k) == v for k, v in values.items())
        ]

    @property
    def density_raster(self) -> FoundFile | None:
        """A stock run's total carbon density raster."""
        return next(iter(self.matching("density_total_mg_per_ha.tif")), None)

    @property
    def change_rasters(self) -> dict[str, FoundFile]:
        """A change run's total density change raster of each period, by period label."""
        found = self.matching("change_{period}_{band}_mg_per_ha.tif", band="total")
        return {str(raster.value("period")): raster for raster in found}

    @property
    def regions_layer(self) -> FoundFile | None:
        """The regions with their statistics (GeoPackage; its layer is ``entry.layer``)."""
        return next(iter(self.matching("regions.gpkg")), None)

    @property
    def landcover(self) -> str | None:
        """The land cover the run read (a change run's last date)."""
        dates = self.summary.get("landcovers") or [None]
        value = self.summary.get("landcover") or dates[-1]
        return str(value) if value else None


def find_outputs(folder: Path) -> RunOutputs:
    """Which run (stock, zonal, change) wrote ``folder``, and which of its declared files are there.

    The folder's manifest names the run and the files it wrote: only those are returned, so a
    stale file left by an earlier run is ignored. A folder without a manifest (written by an
    older geocarbon) is recognised by its summary JSON, whose periods and years give the names.

    Raises
    ------
    InputFileError
        ``folder`` is missing, holds no geocarbon run, or its summary is not valid JSON.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(
            f"Results folder {str(folder)!r} does not exist; pass the --out folder of a "
            "geocarbon stock, zonal or change run."
        )
    command = (read_manifest(folder) or {}).get("command")
    if command in RUNS:
        names = [path.name for path in manifest_files(folder)]
        summary_name = SUMMARY_NAMES[command]
        summary = _read_summary(folder / summary_name) if summary_name in names else {}
        return _found(folder, command, summary, names, from_manifest=True)
    run = next((run for run in reversed(RUNS) if (folder / SUMMARY_NAMES[run]).is_file()), None)
    if run is None:
        raise InputFileError(
            f"{str(folder)!r} holds no geocarbon run: neither {MANIFEST_NAME} nor any of "
            f"{', '.join(SUMMARY_NAMES.values())}. Pass the --out folder of a geocarbon stock, "
            "zonal or change run."
        )
    summary = _read_summary(folder / SUMMARY_NAMES[run])
    names = [path.name for path in _declared(run, folder, summary).values() if path.is_file()]
    return _found(folder, run, summary, names, from_manifest=False)


def _declared(run: str, folder: Path, summary: Mapping[str, Any]) -> dict[str, Path]:
    """Every file a run described by ``summary`` may have written into ``folder``."""
    if run == "stock":
        return stock_outputs(folder, rasters=True)
    if run == "zonal":
        return zonal_outputs(folder, parents=True)
    years = summary.get("years")
    years = list(years) if isinstance(years, list) else []
    periods = summary.get("periods")
    labels = list(periods) if isinstance(periods, dict) else period_labels(years)
    return change_outputs(
        folder, labels, years, rasters=True, regions=True, npv=True, date_rasters=True
    )


def _found(
    folder: Path, run: str, summary: dict[str, Any], names: Sequence[str], *, from_manifest: bool
) -> RunOutputs:
    files = []
    for name in names:
        found = identify(run, name)
        if found is not None:
            entry, values = found
            files.append(FoundFile(entry, folder / name, tuple(values.items())))
    return RunOutputs(folder, run, summary, tuple(files), from_manifest)


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputFileError(
            f"Cannot read the run summary {str(path)!r} ({said(error)}). Run geocarbon again to "
            "rewrite it."
        ) from None
    if not isinstance(document, dict):
        raise InputFileError(
            f"The run summary {str(path)!r} is not a JSON object. Run geocarbon again to "
            "rewrite it."
        )
    return document
