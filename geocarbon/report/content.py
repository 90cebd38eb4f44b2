"""What a run report says, gathered from a finished run's folder as plain values.

Everything is read through :func:`geocarbon.outputs.find.find_outputs` (the run's manifest and
summary JSON, never a globbed name): the facts of the run, its inputs and their SHA-256, its
warnings, headline totals (with low/high and p5/p95 columns when the run wrote them), the
per-region and per-class tables and the figures, drawn into memory by :mod:`geocarbon.figures`.
Texts here are plain strings; :mod:`geocarbon.report.page` escapes every one of them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from geocarbon.errors import InputFileError, said
from geocarbon.outputs.find import RunOutputs
from geocarbon.outputs.folder import manifest_files, read_manifest
from geocarbon.report.labels import label

#: Suffixes of a quantity's uncertainty columns, in the order they are shown.
BOUND_SUFFIXES = ("low", "high", "p5", "p50", "p95")
#: Per-region columns the report shows, in this order, when the run wrote them.
REGION_COLUMNS = (
    "region_id",
    "region_name",
    "period",
    "valid_area_ha",
    "stock_total_mg",
    "density_mean_mg_per_ha",
    "stock_start_mg",
    "stock_end_mg",
    "net_change_mg",
    "annual_net_change_mg_per_yr",
)
CLASS_COLUMNS = ("class_code", "class_name", "area_ha", "stock_total_mg")
#: Columns holding identifiers: shown as text, never as numbers.
TEXT_COLUMNS = {"region_id", "region_name", "period", "class_code", "class_name"}
MAP_NAME = "map.html"
_HASH_CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, and the exact number behind it (None for text)."""

    text: str
    number: float | None = None


@dataclass(frozen=True)
class Table:
    """A table to show: a caption, column headings and rows of cells."""

    caption: str
    headings: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A figure drawn into memory: its name and a ``data:`` URI of its SVG."""

    name: str
    data_uri: str


@dataclass(frozen=True)
class ReportContent:
    """Everything a report page shows, in the report's language."""

    lang: str
    title: str
    facts: tuple[tuple[str, str], ...]
    inputs: Table
    warnings: tuple[str, ...]
    totals: tuple[Table, ...]
    tables: tuple[Table, ...]
    figures: tuple[Figure, ...]
    map_href: str | None
    files: Table


def gather(outputs: RunOutputs, *, lang: str, page_dir: Path | None = None) -> ReportContent:
    """The content of the report of the run ``outputs`` found, in ``lang``, for a page written
    into ``page_dir`` (default: the run's folder; the link to the run's map is relative to it)."""
    summary = outputs.summary
    manifest = read_manifest(outputs.folder) or {}
    tables = [_regions_table(outputs, lang), _classes_table(summary, lang)]
    return ReportContent(
        lang=lang,
        title=f"{label(lang, 'title')}: {outputs.folder.name}",
        facts=tuple(_facts(outputs, manifest, lang)),
        inputs=_inputs_table(summary, lang),
        warnings=tuple(_warnings(summary, lang)),
        totals=tuple(_totals(summary, lang)),
        tables=tuple(table for table in tables if table is not None),
        figures=tuple(_figures(outputs.folder, lang)),
        map_href=_map_href(outputs.folder, page_dir) if _has_map(outputs.folder) else None,
        files=_files_table(manifest, lang),
    )


def format_number(value: float) -> str:
    """A number for people: thousands separators, about six significant digits."""
    if value != value:  # NaN
        return "-"
    size = abs(value)
    if size >= 1000 or value == int(value):
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:,.3f}"
    return f"{value:.4g}"


def _cell(value: object, *, as_text: bool = False) -> Cell:
    if isinstance(value, bool) or as_text or not isinstance(value, int | float):
        return Cell("" if value is None or value != value else str(value))
    return Cell(format_number(float(value)), float(value))


def _facts(outputs: RunOutputs, manifest: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    summary = outputs.summary
    command = summary.get("command_line") or summary.get("command")
    if not command:
        command = f"geocarbon {manifest.get('command') or outputs.run}"
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    facts = [
        (label(lang, "command"), str(command)),
        (label(lang, "run_kind"), label(lang, f"run_{outputs.run}")),
        (
            label(lang, "version"),
            str(summary.get("geocarbon_version") or manifest.get("geocarbon_version") or ""),
        ),
        (label(lang, "finished"), str(manifest.get("finished") or "")),
    ]
    for key in ("densities", "scheme", "area_method", "coverage", "crs", "unknown_mode"):
        if summary.get(key) not in (None, "", []):
            facts.append((label(lang, key), str(summary[key])))
    if isinstance(summary.get("shape"), list):
        facts.append((label(lang, "shape"), " x ".join(str(n) for n in summary["shape"])))
    if summary.get("years"):
        facts.append((label(lang, "years"), ", ".join(str(y) for y in summary["years"])))
    monte_carlo = summary.get("monte_carlo")
    if isinstance(monte_carlo, dict):
        text = ", ".join(f"{label(lang, key)} {value}" for key, value in monte_carlo.items())
        facts.append((label(lang, "monte_carlo"), text))
    return [(name, value) for name, value in facts if value]


def _inputs_table(summary: Mapping[str, Any], lang: str) -> Table:
    recorded = summary.get("inputs")
    rows = []
    if isinstance(recorded, list) and recorded:
        for item in recorded:
            if isinstance(item, dict):
                role = str(item.get("role") or item.get("kind") or "")
                checksum = str(item.get("sha256") or "")
                note = label(lang, "sha256_recorded") if checksum else ""
                rows.append(
                    (Cell(role), Cell(str(item.get("path", ""))), Cell(checksum), Cell(note))
                )
    else:
        for role, path in _input_paths(summary):
            checksum, note = _checksum_now(path, lang)
            rows.append((Cell(label(lang, role)), Cell(path), Cell(checksum), Cell(note)))
    headings = (label(lang, "input"), label(lang, "path"), label(lang, "sha256"), "")
    return Table(label(lang, "inputs"), headings, tuple(rows))


def _input_paths(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(role, path) of every input the summary names."""
    paths = []
    landcovers = summary.get("landcovers") or [summary.get("landcover")]
    paths += [("landcover", str(path)) for path in landcovers if path]
    for role in ("densities", "regions"):
        if summary.get(role):
            paths.append((role, str(summary[role])))
    for path in summary.get("regional_densities") or []:
        paths.append(("regional_densities", str(path)))
    return paths


def _checksum_now(name: str, lang: str) -> tuple[str, str]:
    """SHA-256 of the file ``name`` (as the run was given it), and a note saying where it came from."""
    path = Path(name)
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest(), label(lang, "sha256_now")
    if path.suffix == "" and "/" not in name and "\\" not in name:
        return "", label(lang, "built_in")
    return "", label(lang, "sha256_missing")


def _warnings(summary: Mapping[str, Any], lang: str) -> list[str]:
    recorded = summary.get("warnings")
    found = [str(text) for text in recorded] if isinstance(recorded, list) else []
    for key in ("unknown_classes", "overlapping_regions", "empty_regions", "resampled"):
        values = summary.get(key)
        if isinstance(values, list) and values:
            found.append(f"{label(lang, key)}: {', '.join(_plain(value) for value in values)}")
    return found


def _plain(value: object) -> str:
    if isinstance(value, list | tuple):
        return " / ".join(_plain(item) for item in value)
    return str(value)


def _totals(summary: Mapping[str, Any], lang: str) -> list[Table]:
    """The headline totals: a stock or zonal run's, or each period's of a change run."""
    tables = []
    if isinstance(summary.get("totals"), dict):
        tables.append(_quantities_table(label(lang, "totals"), summary["totals"], lang))
    for period, values in (summary.get("periods") or {}).items():
        if not isinstance(values, dict):
            continue
        flat = {k: v for k, v in values.items() if isinstance(v, int | float)}
        for part, amount in (values.get("decomposition_mg") or {}).items():
            flat[part] = amount
        caption = f"{label(lang, 'totals')}, {label(lang, 'period')} {period}"
        tables.append(_quantities_table(caption, flat, lang))
    areas = summary.get("area_ha")
    if isinstance(areas, dict):
        named = {f"area_{key}": value for key, value in areas.items()}
        tables.append(_quantities_table(label(lang, "areas"), named, lang))
    return tables


def _quantities_table(caption: str, values: Mapping[str, Any], lang: str) -> Table:
    """One row per quantity; its low/high and p5/p50/p95 values in their own columns."""
    numbers = {
        k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    bases = [key for key in numbers if _split_bound(key)[1] is None]
    bounds = [s for s in BOUND_SUFFIXES if any(f"{b}_{s}" in numbers for b in bases)]
    headings = (label(lang, "quantity"), label(lang, "value"), *(label(lang, s) for s in bounds))
    rows = []
    for base in bases:
        cells = [Cell(label(lang, base)), _cell(numbers[base])]
        cells += [_cell(numbers.get(f"{base}_{s}")) for s in bounds]
        rows.append(tuple(cells))
    return Table(caption, headings, tuple(rows))


def _split_bound(key: str) -> tuple[str, str | None]:
    for suffix in BOUND_SUFFIXES:
        if key.endswith(f"_{suffix}"):
            return key[: -len(suffix) - 1], suffix
    return key, None


def _regions_table(outputs: RunOutputs, lang: str) -> Table | None:
    from geocarbon.outputs.spreadsheet import restore_formulas

    path = outputs.path("regions.csv")
    if path is None:
        return None
    try:
        frame = restore_formulas(pd.read_csv(path, dtype={"region_id": str, "region_name": str}))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InputFileError(
            f"Cannot read {str(path)!r} for the report ({said(error)}). Run geocarbon again to "
            "rewrite it."
        ) from None
    columns = _with_bounds(REGION_COLUMNS, frame.columns)
    return _frame_table(label(lang, "regions_table"), frame, columns, lang)


def _classes_table(summary: Mapping[str, Any], lang: str) -> Table | None:
    classes = summary.get("classes")
    if not isinstance(classes, list) or not classes:
        return None
    frame = pd.DataFrame([row for row in classes if isinstance(row, dict)])
    columns = _with_bounds(CLASS_COLUMNS, frame.columns)
    return _frame_table(label(lang, "classes_table"), frame, columns, lang)


def _with_bounds(wanted: Sequence[str], present: Iterable[str]) -> list[str]:
    """``wanted`` columns present, each followed by its uncertainty columns present."""
    present = list(present)
    columns = []
    for column in wanted:
        if column in present:
            columns.append(column)
            columns += [f"{column}_{s}" for s in BOUND_SUFFIXES if f"{column}_{s}" in present]
    return columns


def _frame_table(caption: str, frame: pd.DataFrame, columns: Sequence[str], lang: str) -> Table:
    headings = tuple(_column_label(column, lang) for column in columns)
    rows = []
    for record in frame[list(columns)].itertuples(index=False):
        rows.append(
            tuple(
                _cell(_python(value), as_text=column in TEXT_COLUMNS)
                for column, value in zip(columns, record, strict=True)
            )
        )
    return Table(caption, headings, tuple(rows))


def _python(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _column_label(column: str, lang: str) -> str:
    base, suffix = _split_bound(column)
    return label(lang, column) if suffix is None else f"{label(lang, base)} {label(lang, suffix)}"


def _figures(folder: Path, lang: str) -> list[Figure]:
    """Every figure :mod:`geocarbon.figures` draws from the run's tables (as ``geocarbon figures
    --lang`` would, map included), as SVG in memory. Text becomes glyph outlines, so the page
    shows the same figures whatever fonts its reader has (Chinese names included)."""
    import matplotlib

    from geocarbon.figures import figure_set
    from geocarbon.figures.fonts import figure_rc
    from geocarbon.figures.tables import read_figure_tables

    try:
        tables = read_figure_tables(folder)
    except InputFileError:
        return []  # the run wrote no table to draw
    builders, needs_cjk = figure_set(tables, lang=lang)
    figures = []
    with matplotlib.rc_context({**figure_rc(needs_cjk=needs_cjk), "svg.fonttype": "path"}):
        for name, build in builders.items():
            buffer = io.BytesIO()
            build().savefig(buffer, format="svg", bbox_inches="tight")
            encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
            figures.append(Figure(name, f"data:image/svg+xml;base64,{encoded}"))
    return figures


def _map_href(folder: Path, page_dir: Path | None) -> str:
    """The run's map as a relative URL from the report's folder (``map.html`` beside it)."""
    if page_dir is None:
        return MAP_NAME
    target = os.path.realpath(folder / MAP_NAME)
    try:
        return quote(Path(os.path.relpath(target, os.path.realpath(page_dir))).as_posix())
    except ValueError:  # another drive on Windows: no relative path exists
        return Path(target).as_uri()


def _has_map(folder: Path) -> bool:
    listed = any(path.name == MAP_NAME for path in manifest_files(folder))
    return listed or (folder / MAP_NAME).is_file()


def _files_table(manifest: Mapping[str, Any], lang: str) -> Table:
    rows = []
    for entry in manifest.get("files", []):
        if isinstance(entry, dict) and entry.get("name"):
            size = entry.get("bytes")
            rows.append((Cell(str(entry["name"])), _cell(size) if size is not None else Cell("")))
    return Table(label(lang, "files"), (label(lang, "file"), label(lang, "bytes")), tuple(rows))
