"""Read and validate carbon-density tables into a :class:`CarbonTable`.

Two CSV shapes are accepted:

- InVEST's carbon pools table, ``lucode,c_above,c_below,c_soil,c_dead`` (any column case; extra
  columns such as ``LULC_Name`` are ignored, a name column is used for class names);
- a long form with uncertainty, ``class_code,class_name,pool,low,central,high`` (one row per
  class and pool; ``low``/``high`` optional, a blank one meaning "same as central").

Densities are Mg C/ha. Every problem in a table is collected and reported at once, in one line
naming the file, the physical line (header = line 1, blank and comment lines counted) and the
column. Built-in tables (``china-clcd``) live in ``geocarbon/data``. Either shape may key rows to
a region (``region_id``) and to a year (``year``, date-specific densities: see
:mod:`geocarbon.inputs.yearly`).

How the text itself is read (encodings, separators, codes and densities written as text) is
:mod:`geocarbon.inputs.csv_text`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import EncodingGuessWarning as EncodingGuessWarning  # importable from here
from geocarbon.errors import InputFileError, SchemeError, TableSchemaError, said
from geocarbon.inputs.csv_text import (
    INT64_MAX,
    TableRows,
    decode_text,
    parse_code,
    parse_density,
    schema_error,
    split_rows,
)
from geocarbon.inputs.schemes import get_scheme
from geocarbon.inputs.yearly import YearSeries, dated_density, merge_groups, read_groups
from geocarbon.units import LEVELS, POOLS

INVEST_COLUMNS = ("lucode", "c_above", "c_below", "c_soil", "c_dead")
LONG_REQUIRED = ("class_code", "pool", "central")
NAME_COLUMNS = ("class_name", "lulc_name", "lulc_desc", "name", "description")
#: Built-in tables: name -> (file in geocarbon/data/densities, class scheme of its codes).
BUILTIN_TABLES = {"china-clcd": ("china_clcd.csv", "clcd")}
#: Optional column keying rows to one region (blank: the national row every region falls back to).
REGION_COLUMN = "region_id"
#: The accepted headers, as an empty table's message names them.
EXPECTED_HEADERS = (
    f"InVEST's {', '.join(INVEST_COLUMNS)} or the long form class_code, class_name, pool, low, "
    "central, high"
)


@dataclass(frozen=True, eq=False)
class CarbonTable:
    """Carbon density per class, pool and level.

    ``density_mg_per_ha[i, p, l]`` is the density (Mg C/ha) of class ``codes[i]``, pool
    ``POOLS[p]``, level ``LEVELS[l]`` (low, central, high); tables without ranges repeat the
    central value. ``codes`` are int64, or uint64 when a code exceeds the int64 range.
    ``scheme`` names the class scheme of the codes when it is known.
    ``regional`` maps a region id to its own (n_classes, pools, levels) densities, NaN where the
    region falls back to the national row. ``yearly`` maps a region id ("" national) to its
    densities by year, on the same axes, NaN where that year has no row (see
    :mod:`geocarbon.inputs.yearly`); a (class, pool) with year rows only takes its latest year in
    ``density_mg_per_ha`` and ``regional``, the densities of runs without a date.
    """

    source: str
    codes: NDArray[np.int64] | NDArray[np.uint64]
    names: tuple[str, ...]
    density_mg_per_ha: NDArray[np.float64]
    scheme: str | None = None
    regional: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    yearly: Mapping[str, Mapping[int, NDArray[np.float64]]] = field(default_factory=dict)
    _series: dict[str, YearSeries | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def n_classes(self) -> int:
        return len(self.codes)

    @property
    def central_mg_per_ha(self) -> NDArray[np.float64]:
        """(n_classes, n_pools) central densities."""
        return self.density_mg_per_ha[:, :, LEVELS.index("central")]

    @property
    def has_ranges(self) -> bool:
        return bool(np.any(self.density_mg_per_ha[:, :, 0] != self.density_mg_per_ha[:, :, 2]))

    @property
    def years(self) -> tuple[int, ...]:
        """Every year listed anywhere in the table, ascending; () for a static table."""
        return tuple(sorted({year for by_year in self.yearly.values() for year in by_year}))

    def density_for(self, region_id: str, year: int | None = None) -> NDArray[np.float64]:
        """(n_classes, pools, levels) densities of a region: its own rows, else the national ones.

        With a ``year``, each (class, pool) comes from the region's year rows (interpolated), else
        its static rows, else the national year rows, else the national static rows.
        """
        own = self.regional.get(region_id)
        if year is not None and self.yearly:
            return dated_density(
                national_static=self.density_mg_per_ha,
                own_static=own,
                national=self._year_series(""),
                own=self._year_series(region_id) if region_id else None,
                year=year,
            )
        if own is None:
            return self.density_mg_per_ha
        return np.where(np.isnan(own), self.density_mg_per_ha, own)

    def _year_series(self, region_id: str) -> YearSeries | None:
        if region_id not in self._series:
            by_year = self.yearly.get(region_id)
            self._series[region_id] = YearSeries.from_rows(by_year) if by_year else None
        return self._series[region_id]

    def name_of(self, code: int) -> str:
        # Python ints compare exactly; a NumPy int64 against uint64 codes would go through float.
        codes = self.codes.tolist()
        return self.names[codes.index(int(code))] if int(code) in codes else ""


def load_density_table(spec: str | Path, *, encoding: str | None = None) -> CarbonTable:
    """Read a density table from a CSV path, or a built-in table by name (``china-clcd``).

    ``encoding`` is the CSV's text encoding (a Python codec name such as ``gb18030`` or
    ``cp1252``); None reads UTF-8 (BOM or not) or UTF-16 with a BOM, and falls back to GB18030
    with an :class:`EncodingGuessWarning`. Built-in tables ignore it.

    Raises
    ------
    InputFileError
        The file does not exist, is not text in the encoding, or is a workbook or binary file.
    TableSchemaError
        Anything wrong inside it; every problem is listed.
    """
    if isinstance(spec, str) and spec.lower() in BUILTIN_TABLES:
        filename, scheme = BUILTIN_TABLES[spec.lower()]
        with resources.as_file(
            resources.files("geocarbon") / "data" / "densities" / filename
        ) as path:
            table = _read_csv(path, "utf-8")
        return replace(table, source=spec.lower(), scheme=scheme)
    path = Path(spec)
    if path.is_dir():
        raise InputFileError(
            f"Density table {str(path)!r} is a folder; give the CSV file inside it, or a built-in "
            f"table ({', '.join(BUILTIN_TABLES)})."
        )
    if not path.is_file():
        raise InputFileError(
            f"Density table {str(path)!r} does not exist. Give a CSV path or a built-in table "
            f"({', '.join(BUILTIN_TABLES)})."
        )
    return _read_csv(path, encoding)


def read_density_csv(path: str | Path, *, encoding: str | None = None) -> CarbonTable:
    """Read one CSV in either accepted shape (see the module docstring and ``load_density_table``)."""
    return _read_csv(Path(path), encoding)


def _read_csv(path: Path, encoding: str | None) -> CarbonTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"Density table {str(path)!r} cannot be read: {said(exc)}.") from exc
    rows = split_rows(path, decode_text(path, data, encoding), expected=EXPECTED_HEADERS)
    if set(LONG_REQUIRED) <= set(rows.columns):
        parse = _read_long
    elif "lucode" in rows.columns or any(column.startswith("c_") for column in rows.columns):
        parse = _read_invest
    else:
        raise TableSchemaError(
            f"Density table {str(path)!r} has columns {list(rows.columns)}, which match neither "
            f"accepted shape. Expected InVEST's {', '.join(INVEST_COLUMNS)} or the long form "
            "class_code, class_name, pool, low, central, high (either with an optional region_id)"
            + (
                "; separate the columns with commas (or semicolons or tabs)."
                if len(rows.columns) == 1
                else "."
            )
        )
    if not rows.lines:
        raise schema_error(path, ["the table has no rows under its header; add one per class"])
    if parse is _read_invest and (missing := _missing_columns(rows, INVEST_COLUMNS)):
        raise schema_error(path, missing)  # once, not once per region and year
    regions = [region_key(v) if v else "" for v in rows.column(REGION_COLUMN)]
    problems: list[str] = []
    groups, failed = read_groups(rows, regions, parse, problems)
    merged = merge_groups(groups, failed, sort_codes=parse is _read_long, problems=problems)
    codes = None if merged is None else _code_array(merged.codes, problems)
    if problems or merged is None or codes is None:
        raise schema_error(path, problems or ["no national rows (blank region_id)"])
    return CarbonTable(
        str(path),
        codes,
        merged.names,
        merged.static_mg_per_ha,
        None,
        merged.regional,
        merged.yearly,
    )


def _read_invest(
    rows: TableRows, problems: list[str], *, whole_classes: bool = True
) -> CarbonTable | None:
    """One group of InVEST rows (each row gives all four pools: ``whole_classes`` is moot)."""
    before = len(problems)
    lines = rows.lines
    codes = [
        parse_code(value, line, "lucode", problems)
        for line, value in zip(lines, rows.cells["lucode"], strict=True)
    ]
    _check_duplicates(codes, lines, "lucode", problems)
    density = np.full((len(lines), len(POOLS), len(LEVELS)), math.nan)
    for pool_index, pool in enumerate(POOLS):
        column = f"c_{pool}"
        for row, (line, value) in enumerate(zip(lines, rows.cells[column], strict=True)):
            density[row, pool_index, :] = parse_density(value, line, column, problems)
    code_array = _code_array([code for code in codes if code is not None], problems)
    if len(problems) > before or code_array is None:
        return None
    return CarbonTable("", code_array, _names(rows), density)


def _read_long(
    rows: TableRows, problems: list[str], *, whole_classes: bool = True
) -> CarbonTable | None:
    """One group of long rows; without ``whole_classes`` a class may list some pools (NaN others)."""
    before = len(problems)
    cells: dict[tuple[int, int], tuple[float, float, float]] = {}
    first_line: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    columns = zip(
        rows.lines,
        rows.cells["class_code"],
        rows.cells["pool"],
        rows.column("low"),
        rows.cells["central"],
        rows.column("high"),
        rows.column("class_name"),
        strict=True,
    )
    for line, code_text, pool_text, low_text, central_text, high_text, name in columns:
        code = parse_code(code_text, line, "class_code", problems)
        pool = pool_text.lower()
        if pool not in POOLS:
            problems.append(
                f"line {line}, column 'pool': {pool_text!r} is not one of {', '.join(POOLS)}"
            )
        central = parse_density(central_text, line, "central", problems)
        low = parse_density(low_text, line, "low", problems, blank=central)
        high = parse_density(high_text, line, "high", problems, blank=central)
        if low > central or central > high:
            problems.append(
                f"line {line}, columns 'low','central','high': {low} / {central} / {high} is not "
                "in the order low <= central <= high"
            )
        if code is None or pool not in POOLS:
            continue
        key = (code, POOLS.index(pool))
        if key in first_line:
            problems.append(
                f"line {line}: class {code} pool {pool!r} repeats line {first_line[key]}"
            )
            continue
        first_line[key], cells[key] = line, (low, central, high)
        if names.setdefault(code, name) != name:
            problems.append(
                f"line {line}, column 'class_name': {name!r} differs from {names[code]!r} "
                f"for class {code}"
            )
    codes = sorted(names)
    for code in codes:
        missing = [pool for index, pool in enumerate(POOLS) if (code, index) not in cells]
        if missing and whole_classes:
            problems.append(f"class {code} has no row for pool(s) {', '.join(missing)}")
    code_array = _code_array(codes, problems)
    if len(problems) > before or code_array is None:
        return None
    unlisted = (math.nan,) * len(LEVELS)
    density = np.array(
        [[cells.get((code, p), unlisted) for p in range(len(POOLS))] for code in codes], np.float64
    )
    return CarbonTable("", code_array, tuple(names[c] for c in codes), density)


def crosswalk_table(table: CarbonTable, scheme_name: str) -> CarbonTable:
    """Express ``table`` (in its own scheme) in the codes of ``scheme_name`` via the CLCD crosswalk.

    Each class of the target scheme takes the densities of the CLCD class it maps to, so the
    China CLCD default serves WorldCover, IGBP, GlobeLand30, CNLUCC or CCI maps.
    """
    scheme = get_scheme(scheme_name)
    if table.scheme is None:  # a table in the raster's own codes: the user names its scheme
        return dataclasses.replace(table, scheme=scheme.name)
    if scheme.name == table.scheme:
        return table
    if table.scheme != "clcd":
        raise SchemeError(
            f"No crosswalk from scheme {scheme.name!r} to {table.scheme!r}; crosswalks lead to 'clcd'. "
            "Give a density table in the raster's own class codes instead."
        )
    row_of = {code: index for index, code in enumerate(table.codes.tolist())}
    targets = scheme.crosswalk_to_clcd()
    codes = np.asarray(scheme.codes, np.int64)
    rows = [row_of[targets[int(code)]] for code in codes]
    names = tuple(
        f"{scheme.name_of(int(code))} (as {table.names[row]})"
        for code, row in zip(codes, rows, strict=True)
    )
    national_years = table.yearly.get("", {})
    return CarbonTable(
        f"{table.source} via {scheme.name}->clcd",
        codes,
        names,
        table.density_mg_per_ha[rows],
        scheme.name,
        yearly={"": {year: density[rows] for year, density in national_years.items()}}
        if national_years
        else {},
    )


def region_key(value: object) -> str:
    """Region ids as text, compared as text.

    Numbers become their digits (330000 and 330000.0 give "330000", as a vector attribute may be
    stored as either), and so does text written like a float with a zero fraction ("330000.0").
    Any other text is kept as written, leading zeros included: "0101" stays "0101".
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    match = re.fullmatch(r"([+-]?[0-9]+)\.0*", text)
    return match.group(1) if match else text


def _missing_columns(rows: TableRows, required: tuple[str, ...]) -> list[str]:
    missing = [column for column in required if column not in rows.columns]
    return (
        [f"missing column(s) {', '.join(missing)} (found {', '.join(rows.columns)})"]
        if missing
        else []
    )


def _code_array(
    codes: list[int], problems: list[str]
) -> NDArray[np.int64] | NDArray[np.uint64] | None:
    """int64 codes, or uint64 when a code is above the int64 range (no dtype holds both signs)."""
    if not codes or max(codes) <= INT64_MAX:
        return np.array(codes, np.int64)
    if min(codes) >= 0:
        return np.array(codes, np.uint64)
    problems.append(
        f"codes {min(codes)} and {max(codes)} cannot share a raster: no integer type holds both a "
        f"negative code and one above {INT64_MAX}; split the table by raster"
    )
    return None


def _check_duplicates(
    codes: list[int | None], lines: list[int], column: str, problems: list[str]
) -> None:
    lines_by_code: dict[int, list[int]] = {}
    for line, code in zip(lines, codes, strict=True):
        if code is not None:
            lines_by_code.setdefault(code, []).append(line)
    for code, code_lines in lines_by_code.items():
        if len(code_lines) > 1:
            problems.append(
                f"column {column!r}: code {code} is duplicated on lines "
                f"{', '.join(map(str, code_lines))}"
            )


def _names(rows: TableRows) -> tuple[str, ...]:
    for column in NAME_COLUMNS:
        if column in rows.columns:
            return tuple(rows.cells[column])
    return ("",) * len(rows.lines)
