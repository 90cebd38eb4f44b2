"""Read and validate carbon-density tables into a :class:`CarbonTable`.

Two CSV shapes are accepted:

- InVEST's carbon pools table, ``lucode,c_above,c_below,c_soil,c_dead`` (any column case; extra
  columns such as ``LULC_Name`` are ignored, a name column is used for class names);
- a long form with uncertainty, ``class_code,class_name,pool,low,central,high`` (one row per
  class and pool; ``low``/``high`` optional, a blank one meaning "same as central").

Densities are Mg C/ha. Every problem in a table is collected and reported at once, naming the
file, the CSV line and the column. Built-in tables (``china-clcd``) live in ``geocarbon/data``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.errors import InputFileError, SchemeError, TableSchemaError
from geocarbon.schemes import get_scheme
from geocarbon.units import LEVELS, POOLS

INVEST_COLUMNS = ("lucode", "c_above", "c_below", "c_soil", "c_dead")
LONG_REQUIRED = ("class_code", "pool", "central")
NAME_COLUMNS = ("class_name", "lulc_name", "lulc_desc", "name", "description")
#: Built-in tables: name -> (file in geocarbon/data/densities, class scheme of its codes).
BUILTIN_TABLES = {"china-clcd": ("china_clcd.csv", "clcd")}
#: Optional column keying rows to one region (blank: the national row every region falls back to).
REGION_COLUMN = "region_id"
LINE = "__line__"


@dataclass(frozen=True, eq=False)
class CarbonTable:
    """Carbon density per class, pool and level.

    ``density_mg_per_ha[i, p, l]`` is the density (Mg C/ha) of class ``codes[i]``, pool
    ``POOLS[p]``, level ``LEVELS[l]`` (low, central, high); tables without ranges repeat the
    central value. ``scheme`` names the class scheme of the codes when it is known.
    ``regional`` maps a region id to its own (n_classes, pools, levels) densities, NaN where the
    region falls back to the national row.
    """

    source: str
    codes: NDArray[np.int64]
    names: tuple[str, ...]
    density_mg_per_ha: NDArray[np.float64]
    scheme: str | None = None
    regional: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

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

    def density_for(self, region_id: str) -> NDArray[np.float64]:
        """(n_classes, pools, levels) densities of a region: its own rows, else the national ones."""
        own = self.regional.get(region_id)
        if own is None:
            return self.density_mg_per_ha
        return np.where(np.isnan(own), self.density_mg_per_ha, own)

    def name_of(self, code: int) -> str:
        index = np.flatnonzero(self.codes == code)
        return self.names[index[0]] if len(index) else ""


def load_density_table(spec: str | Path) -> CarbonTable:
    """Read a density table from a CSV path, or a built-in table by name (``china-clcd``).

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read as CSV.
    TableSchemaError
        Anything wrong inside it; every problem is listed.
    """
    if isinstance(spec, str) and spec.lower() in BUILTIN_TABLES:
        filename, scheme = BUILTIN_TABLES[spec.lower()]
        with resources.as_file(
            resources.files("geocarbon") / "data" / "densities" / filename
        ) as path:
            table = read_density_csv(path)
        return CarbonTable(
            spec.lower(), table.codes, table.names, table.density_mg_per_ha, scheme, table.regional
        )
    path = Path(spec)
    if not path.is_file():
        raise InputFileError(
            f"Density table {str(path)!r} does not exist. Give a CSV path or a built-in table "
            f"({', '.join(BUILTIN_TABLES)})."
        )
    return read_density_csv(path)


def read_density_csv(path: Path) -> CarbonTable:
    """Read one CSV in either accepted shape (see the module docstring)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"Density table {str(path)!r} cannot be read as CSV: {exc}") from exc
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    frame = frame.apply(lambda column: column.str.strip())
    # CSV line numbers: the header is line 1, so data row i is on line i + 2.
    frame[LINE] = np.arange(2, len(frame) + 2)
    if set(LONG_REQUIRED) <= set(frame.columns):
        parse = _read_long
    elif "lucode" in frame.columns or any(column.startswith("c_") for column in frame.columns):
        parse = _read_invest
    else:
        raise TableSchemaError(
            f"Density table {str(path)!r} has columns {list(frame.columns)[:-1]}, which match neither "
            f"accepted shape. Expected InVEST's {', '.join(INVEST_COLUMNS)} or the long form "
            "class_code, class_name, pool, low, central, high (either with an optional region_id)."
        )
    if frame.empty:
        raise _schema_error(path, ["the table has no rows"])
    regions = (
        frame[REGION_COLUMN].map(lambda v: region_key(v) if v else "")
        if REGION_COLUMN in frame
        else None
    )
    national_rows = frame if regions is None else frame[regions == ""]
    problems: list[str] = []
    national = parse(national_rows, problems)
    regional: dict[str, NDArray[np.float64]] = {}
    if regions is not None:
        for region in sorted(set(regions) - {""}):
            own = parse(frame[regions == region], problems)
            if national is not None and own is not None:
                regional[region] = _align_regional(national, own, region, problems)
    if problems or national is None:
        raise _schema_error(path, problems or ["no national rows (blank region_id)"])
    return CarbonTable(
        str(path), national.codes, national.names, national.density_mg_per_ha, None, regional
    )


def _read_invest(frame: pd.DataFrame, problems: list[str]) -> CarbonTable | None:
    missing = _missing_columns(frame, INVEST_COLUMNS)
    if missing:
        problems.extend(missing)
        return None
    before = len(problems)
    lines = frame[LINE].tolist()
    codes = [
        _parse_code(value, line, "lucode", problems)
        for line, value in zip(lines, frame["lucode"], strict=True)
    ]
    _check_duplicates(codes, lines, "lucode", problems)
    density = np.full((len(frame), len(POOLS), len(LEVELS)), math.nan)
    for pool_index, pool in enumerate(POOLS):
        column = f"c_{pool}"
        for row, (line, value) in enumerate(zip(lines, frame[column], strict=True)):
            density[row, pool_index, :] = _parse_density(value, line, column, problems)
    if len(problems) > before:
        return None
    return CarbonTable("", np.asarray(codes, np.int64), _names(frame), density)


def _read_long(frame: pd.DataFrame, problems: list[str]) -> CarbonTable | None:
    before = len(problems)
    has_name = "class_name" in frame.columns
    cells: dict[tuple[int, int], tuple[float, float, float]] = {}
    first_line: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    for row, line in enumerate(frame[LINE].tolist()):
        record = frame.iloc[row]
        code = _parse_code(record["class_code"], line, "class_code", problems)
        pool = record["pool"].lower()
        if pool not in POOLS:
            problems.append(
                f"line {line}, column 'pool': {record['pool']!r} is not one of {', '.join(POOLS)}"
            )
        central = _parse_density(record["central"], line, "central", problems)
        low = _parse_density(record.get("low", ""), line, "low", problems, blank=central)
        high = _parse_density(record.get("high", ""), line, "high", problems, blank=central)
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
        name = record["class_name"] if has_name else ""
        if names.setdefault(code, name) != name:
            problems.append(
                f"line {line}, column 'class_name': {name!r} differs from {names[code]!r} "
                f"for class {code}"
            )
    codes = sorted(names)
    for code in codes:
        missing = [pool for index, pool in enumerate(POOLS) if (code, index) not in cells]
        if missing:
            problems.append(f"class {code} has no row for pool(s) {', '.join(missing)}")
    if len(problems) > before:
        return None
    density = np.array(
        [[cells[(code, p)] for p in range(len(POOLS))] for code in codes], np.float64
    )
    return CarbonTable("", np.asarray(codes, np.int64), tuple(names[c] for c in codes), density)


def crosswalk_table(table: CarbonTable, scheme_name: str) -> CarbonTable:
    """Express ``table`` (in its own scheme) in the codes of ``scheme_name`` via the CLCD crosswalk.

    Each class of the target scheme takes the densities of the CLCD class it maps to, so the
    China CLCD default serves WorldCover, IGBP, GlobeLand30, CNLUCC or CCI maps.
    """
    scheme = get_scheme(scheme_name)
    if table.scheme is None or scheme.name == table.scheme:
        return table
    if table.scheme != "clcd":
        raise SchemeError(
            f"No crosswalk from scheme {scheme.name!r} to {table.scheme!r}; crosswalks lead to 'clcd'. "
            "Give a density table in the raster's own class codes instead."
        )
    row_of = {int(code): index for index, code in enumerate(table.codes)}
    targets = scheme.crosswalk_to_clcd()
    codes = np.asarray(scheme.codes, np.int64)
    rows = [row_of[targets[int(code)]] for code in codes]
    names = tuple(
        f"{scheme.name_of(int(code))} (as {table.names[row]})"
        for code, row in zip(codes, rows, strict=True)
    )
    return CarbonTable(
        f"{table.source} via {scheme.name}->clcd",
        codes,
        names,
        table.density_mg_per_ha[rows],
        scheme.name,
    )


def _align_regional(
    national: CarbonTable, own: CarbonTable, region: str, problems: list[str]
) -> NDArray[np.float64]:
    """A region's densities on the national class axis, NaN where the national row applies."""
    row_of = {int(code): index for index, code in enumerate(national.codes)}
    aligned = np.full_like(national.density_mg_per_ha, np.nan)
    orphans = [int(code) for code in own.codes if int(code) not in row_of]
    if orphans:
        problems.append(
            f"region {region!r} has rows for class(es) {', '.join(map(str, orphans))} with no national "
            "row (blank region_id); add national rows, used by every other region"
        )
    for index, code in enumerate(own.codes):
        if int(code) in row_of:
            aligned[row_of[int(code)]] = own.density_mg_per_ha[index]
    return aligned


def region_key(value: object) -> str:
    """Region ids as text, so 330000, 330000.0 and "330000" match (CSV vs vector attributes)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and "e" not in text.lower() else text


def _missing_columns(frame: pd.DataFrame, required: tuple[str, ...]) -> list[str]:
    missing = [column for column in required if column not in frame.columns]
    return (
        [f"missing column(s) {', '.join(missing)} (found {', '.join(frame.columns)})"]
        if missing
        else []
    )


def _parse_code(value: str, line: int, column: str, problems: list[str]) -> int | None:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        problems.append(f"line {line}, column {column!r}: {value!r} is not an integer class code")
        return None
    return int(number)


def _parse_density(
    value: str, line: int, column: str, problems: list[str], *, blank: float | None = None
) -> float:
    if value == "" and blank is not None:
        return blank
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        problems.append(f"line {line}, column {column!r}: {value!r} is not a number (Mg C/ha)")
    elif number < 0:
        problems.append(
            f"line {line}, column {column!r}: {number} is negative; densities are >= 0 Mg C/ha"
        )
    return number


def _check_duplicates(
    codes: list[int | None], lines: list[int], column: str, problems: list[str]
) -> None:
    lines_by_code: dict[int, list[int]] = {}
    for line, code in zip(lines, codes, strict=True):
        if code is not None:
            lines_by_code.setdefault(code, []).append(line)
    for code, lines in lines_by_code.items():
        if len(lines) > 1:
            problems.append(
                f"column {column!r}: code {code} is duplicated on lines {', '.join(map(str, lines))}"
            )


def _names(frame: pd.DataFrame) -> tuple[str, ...]:
    for column in NAME_COLUMNS:
        if column in frame.columns:
            return tuple(frame[column].tolist())
    return ("",) * len(frame)


def _schema_error(path: Path, problems: list[str]) -> TableSchemaError:
    listing = "\n  - ".join(problems)
    return TableSchemaError(
        f"Density table {str(path)!r} has {len(problems)} problem(s):\n  - {listing}\n"
        "Fix these rows or columns and run again."
    )
