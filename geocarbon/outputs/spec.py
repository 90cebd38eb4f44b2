"""Every file a run writes, declared once (InVEST ``MODEL_SPEC`` style), for writers and readers.

Each run kind (stock, zonal, change) has a tuple of :class:`OutputFile` entries: a name pattern,
the kind of file, a description and units (for a raster, its band's description and ``units``
tag, exactly as written), the carbon bands a ``{pool}``/``{band}`` placeholder stands for, the
columns (keys of a JSON document) every run writes, and the run options the file depends on.
Writers ask :func:`stock_outputs`, :func:`zonal_outputs` and :func:`change_outputs` for the paths
of a run and :func:`raster_bands` for their band descriptions; readers ask
:func:`geocarbon.outputs.find.find_outputs`. Placeholders: ``{pool}`` (above, below, dead, soil),
``{band}`` (the pools and total), ``{year}`` (a date's year) and ``{period}`` (``"2000-2020"``).
Only the standard library and :mod:`geocarbon.units` are imported: any module imports it cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from geocarbon.outputs import columns
from geocarbon.outputs.columns import CARBON_BANDS
from geocarbon.units import POOLS

KINDS = ("raster", "style", "table", "vector", "json")
RUNS = ("stock", "zonal", "change")
DENSITY_UNITS = "Mg C/ha"
_PLACEHOLDER = re.compile(r"\{(pool|band|year|period)\}")


@dataclass(frozen=True)
class OutputFile:
    """One file (or family of files) a run writes.

    ``pattern`` is the file name with placeholders; ``description`` may hold the same ones (for
    a raster it is the band description written into the file). ``bands`` are the values of
    ``{pool}``/``{band}``; ``columns`` those every run writes (columns of a table or vector, keys
    of a JSON document; more may follow, such as per-class or uncertainty columns). The file is
    written when every run option named in ``condition`` is on. ``key`` is its key in the run's
    path dictionary (default: the file name). A ``style`` (QGIS ``.qml``) names in ``styles``
    the pattern of the raster it styles (same stem, same placeholders and condition).
    """

    pattern: str
    kind: str
    description: str
    units: str = ""
    bands: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    condition: tuple[str, ...] = ()
    key: str | None = None
    layer: str | None = None
    styles: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"OutputFile {self.pattern!r}: kind {self.kind!r} not in {KINDS}")

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.pattern))

    def name(self, **values: object) -> str:
        return self.pattern.format(**values)

    def describe(self, **values: object) -> str:
        return self.description.format(**values)

    def match(self, name: str) -> dict[str, str] | None:
        """The placeholder values of file name ``name``, or None when it is not this entry's."""
        found = re.fullmatch(_name_regex(self), name)
        return None if found is None else found.groupdict()


def _name_regex(entry: OutputFile) -> str:
    parts = []
    for literal, *rest in re.findall(r"([^{]*)(?:\{(\w+)\})?", entry.pattern):
        parts.append(re.escape(literal))
        placeholder = rest[0]
        if placeholder in ("pool", "band"):
            parts.append(f"(?P<{placeholder}>{'|'.join(map(re.escape, entry.bands))})")
        elif placeholder == "year":
            parts.append(r"(?P<year>-?\d+)")
        elif placeholder == "period":
            parts.append(r"(?P<period>.+)")
    return "".join(parts)


def _styled(entries: Sequence[OutputFile]) -> tuple[OutputFile, ...]:
    """``entries`` with each raster followed by its QGIS style (``.qml``, the raster's stem)."""
    styled = []
    for entry in entries:
        styled.append(entry)
        if entry.kind == "raster":
            styled.append(
                OutputFile(
                    entry.pattern.removesuffix(".tif") + ".qml",
                    "style",
                    f"QGIS style (colour ramp, labels in {entry.units}) of the {entry.description}",
                    entry.units,
                    bands=entry.bands,
                    condition=entry.condition,
                    key=None if entry.key is None else f"{entry.key}_style",
                    styles=entry.pattern,
                )
            )
    return tuple(styled)


_AREA_STOCK_UNITS = "ha, Mg C/ha, Mg C, Tg C (in each column's name)"
_REGIONS_LAYER = "Regions with their statistics (areas, stocks, mean density)"
_CHANGE_REGIONS = "Regions with their change over the first-to-last period"

STOCK_OUTPUTS: tuple[OutputFile, ...] = _styled(
    (
        OutputFile(
            "stock_summary.csv",
            "table",
            "Stock per land-cover class (area, density and stock per pool) and a TOTAL row",
            _AREA_STOCK_UNITS,
            columns=columns.STOCK_TABLE_COLUMNS,
            key="summary_csv",
        ),
        OutputFile(
            "stock_summary.json",
            "json",
            "The run's inputs, options, pixel counts, unknown classes, totals and per-class rows",
            columns=columns.STOCK_SUMMARY_KEYS,
            key="summary_json",
        ),
        OutputFile(
            "density_{pool}_mg_per_ha.tif",
            "raster",
            "carbon density, {pool} pool",
            DENSITY_UNITS,
            bands=POOLS,
            condition=("rasters",),
            key="{pool}",
        ),
        OutputFile(
            "density_total_mg_per_ha.tif",
            "raster",
            "carbon density, all pools",
            DENSITY_UNITS,
            condition=("rasters",),
            key="total",
        ),
    )
)

ZONAL_OUTPUTS: tuple[OutputFile, ...] = (
    OutputFile(
        "regions.gpkg",
        "vector",
        _REGIONS_LAYER,
        _AREA_STOCK_UNITS,
        columns=columns.ZONAL_COLUMNS,
        layer="regions",
    ),
    OutputFile(
        "regions.csv",
        "table",
        "One row per region, then land outside every region (unassigned); class_<code>_area_ha "
        "columns",
        _AREA_STOCK_UNITS,
        columns=columns.ZONAL_COLUMNS,
    ),
    OutputFile(
        "regions_columns.csv",
        "table",
        "What each class_<code>_area_ha column of regions.csv holds: class code, class name, unit",
        columns=("column", "class_code", "class_name", "unit"),
    ),
    OutputFile(
        "regions_by_class.csv",
        "table",
        "One row per region and land-cover class: area, share, density and stock per pool",
        _AREA_STOCK_UNITS,
        columns=columns.BY_CLASS_COLUMNS,
    ),
    OutputFile(
        "regions.parquet",
        "vector",
        f"{_REGIONS_LAYER}, as GeoParquet",
        _AREA_STOCK_UNITS,
        columns=columns.ZONAL_COLUMNS,
    ),
    OutputFile(
        "parents.csv",
        "table",
        "The regions' statistics added up per parent id",
        _AREA_STOCK_UNITS,
        columns=columns.PARENT_COLUMNS,
        condition=("parents",),
    ),
    OutputFile(
        "zonal_summary.json",
        "json",
        "The run's inputs, options, coverage, overlaps, empty regions, areas and totals",
        columns=columns.ZONAL_SUMMARY_KEYS,
    ),
)

CHANGE_OUTPUTS: tuple[OutputFile, ...] = _styled(
    (
        OutputFile(
            "change.csv",
            "table",
            "Change per region and period: stocks at start and end, net, gross gain and loss, "
            "annual rate, CO2e; npv with valuation, percentiles with Monte Carlo",
            _AREA_STOCK_UNITS,
            columns=columns.CHANGE_COLUMNS,
        ),
        OutputFile(
            "transitions.csv",
            "table",
            "Area and stock change per region, period and (class_from, class_to)",
            _AREA_STOCK_UNITS,
            columns=columns.TRANSITION_COLUMNS,
        ),
        OutputFile(
            "series.csv",
            "table",
            "Stock per region and date (percentiles with Monte Carlo)",
            _AREA_STOCK_UNITS,
            columns=columns.SERIES_COLUMNS,
        ),
        OutputFile(
            "ipcc_categories.csv",
            "table",
            "Area and carbon stock change per region, period and IPCC land category (remaining, "
            "and converted by origin), laid out like the UNFCCC LULUCF reporting tables",
            "ha, Mg C, Mg CO2 (emissions positive, removals negative)",
            columns=columns.IPCC_COLUMNS,
            condition=("categories",),
        ),
        OutputFile(
            "change_summary.json",
            "json",
            "The run's inputs, options and per-period totals",
            columns=columns.CHANGE_SUMMARY_KEYS,
        ),
        OutputFile(
            "regions.gpkg",
            "vector",
            _CHANGE_REGIONS,
            _AREA_STOCK_UNITS,
            columns=columns.CHANGE_COLUMNS,
            condition=("regions",),
            layer="regions",
        ),
        OutputFile(
            "regions.parquet",
            "vector",
            f"{_CHANGE_REGIONS}, as GeoParquet",
            _AREA_STOCK_UNITS,
            columns=columns.CHANGE_COLUMNS,
            condition=("regions",),
        ),
        OutputFile(
            "regions.csv",
            "table",
            f"{_CHANGE_REGIONS} (no geometry)",
            _AREA_STOCK_UNITS,
            columns=columns.CHANGE_COLUMNS,
            condition=("regions",),
        ),
        OutputFile(
            "parents.csv",
            "table",
            "Change per parent id and period: the regions' amounts added up, percentiles from "
            "the sum of the regions' Monte Carlo draws",
            _AREA_STOCK_UNITS,
            columns=columns.CHANGE_PARENT_COLUMNS,
            condition=("regions", "parents"),
        ),
        OutputFile(
            "density_{year}_{band}_mg_per_ha.tif",
            "raster",
            "carbon density {year}, {band}",
            DENSITY_UNITS,
            bands=CARBON_BANDS,
            condition=("rasters", "date_rasters"),
        ),
        OutputFile(
            "change_{period}_{band}_mg_per_ha.tif",
            "raster",
            "carbon density change {period}, {band}",
            DENSITY_UNITS,
            bands=CARBON_BANDS,
            condition=("rasters",),
        ),
        OutputFile(
            "npv_{period}_per_ha.tif",
            "raster",
            "net present value of the change {period}",
            "currency/ha",
            condition=("rasters", "valuation"),
        ),
    )
)

OUTPUTS: dict[str, tuple[OutputFile, ...]] = {
    "stock": STOCK_OUTPUTS,
    "zonal": ZONAL_OUTPUTS,
    "change": CHANGE_OUTPUTS,
}


def stock_outputs(out_dir: Path, *, rasters: bool) -> dict[str, Path]:
    """The files of a stock run, keyed as the run keys them (``summary_csv``, ``total``, ...)."""
    return _paths("stock", out_dir, {"rasters"} if rasters else set())


def zonal_outputs(out_dir: Path, *, parents: bool) -> dict[str, Path]:
    """The files of a zonal run, keyed by file name."""
    return _paths("zonal", out_dir, {"parents"} if parents else set())


def change_outputs(
    out_dir: Path,
    periods: Sequence[str],
    years: Sequence[int],
    *,
    rasters: bool,
    regions: bool,
    npv: bool,
    date_rasters: bool,
    categories: bool = False,
    parents: bool = False,
) -> dict[str, Path]:
    """The files of a change run over ``periods`` (labels, ``"2000-2020"``) of ``years``, keyed by
    file name: tables first, then each date's densities, then each period's change (and NPV)."""
    flags = (rasters, regions, npv, date_rasters, categories, parents)
    names = ("rasters", "regions", "valuation", "date_rasters", "categories", "parents")
    on = {name for name, value in zip(names, flags, strict=True) if value}
    return _paths("change", out_dir, on, years=years, periods=periods)


def raster_bands(run: str, paths: Mapping[str, Path]) -> dict[Path, tuple[str, str]]:
    """(description, units) of every raster among a run's ``paths``, in their order (the pass's
    band order: each date's densities, then each period's change and NPV)."""
    bands = {}
    for path in paths.values():
        found = identify(run, path.name)
        if found is not None and found[0].kind == "raster":
            entry, values = found
            bands[path] = (entry.describe(**values), entry.units)
    return bands


def identify(run: str, name: str) -> tuple[OutputFile, dict[str, str]] | None:
    """The entry of ``run`` that file name ``name`` belongs to, and its placeholder values."""
    for entry in OUTPUTS[run]:
        values = entry.match(name)
        if values is not None:
            return entry, values
    return None


def _instances(
    entries: Sequence[OutputFile], *, years: Sequence[object], periods: Sequence[str]
) -> list[tuple[OutputFile, dict[str, str]]]:
    """Every (entry, placeholder values) in write order: fixed names, then per date, per period."""

    def each(entry: OutputFile, **fixed: str) -> list[tuple[OutputFile, dict[str, str]]]:
        bands = [p for p in entry.placeholders if p in ("pool", "band")]
        if not bands:
            return [(entry, fixed)]
        return [(entry, {**fixed, bands[0]: band}) for band in entry.bands]

    found = [
        item
        for entry in entries
        if not {"year", "period"} & set(entry.placeholders)
        for item in each(entry)
    ]
    for placeholder, values in (("year", years), ("period", periods)):
        for value in values:
            for entry in entries:
                if placeholder in entry.placeholders:
                    found += each(entry, **{placeholder: str(value)})
    return found


def _paths(
    run: str,
    out_dir: Path,
    on: set[str],
    *,
    years: Sequence[object] = (),
    periods: Sequence[str] = (),
) -> dict[str, Path]:
    entries = [entry for entry in OUTPUTS[run] if set(entry.condition) <= on]
    return {
        (entry.key or entry.pattern).format(**values): out_dir / entry.name(**values)
        for entry, values in _instances(entries, years=years, periods=periods)
    }
