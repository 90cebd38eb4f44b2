"""Read and validate growth-rate tables (the gain-loss method) into a :class:`GrowthTable`.

A growth table says how fast carbon accumulates on land that stays in its class: one row per
class, pool and (optionally) region and stand-age interval, in Mg C/ha/yr::

    class_code,pool,rate_mg_per_ha_yr            (required)
    region_id,age_min,age_max,rate_low,rate_high  (optional)
    class_name,source                             (optional text, not used)

- ``pool`` is one of ``above``, ``below``, ``dead``, ``soil`` (any case).
- ``region_id`` blank: the national row; otherwise the row applies to that region only (ids
  compared as text, see :func:`geocarbon.inputs.densities.region_key`). A region with rows of
  its own for a class and pool uses only those; every other region uses the national rows.
- ``age_min`` (inclusive, blank = 0) and ``age_max`` (exclusive, blank = no upper limit) are
  stand ages in years. Intervals of one region, class and pool must not overlap; gaps between
  them are allowed and mean a rate of 0 at those ages. A class with no row grows at rate 0.
- ``rate_low`` / ``rate_high`` bracket the central rate (blank = the central rate), with
  low <= central <= high. Rates may be negative (a declining pool) but must be finite.

Every problem in a table is collected and reported at once, in one line naming the file, the
physical line (header = line 1, blank and comment lines counted) and the column. The text itself
(encodings such as GBK, separators, BOMs, codes written as digits) is read as for density tables,
by :mod:`geocarbon.inputs.csv_text`. Built-in tables (``china-clcd``) live in
``geocarbon/data/growth``; their rows and sources are described in its ``SOURCES.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import InputFileError, SchemeError, TableSchemaError, said
from geocarbon.inputs.csv_text import (
    INT64_MAX,
    MAX_LISTED_PROBLEMS,
    TableRows,
    decode_text,
    parse_code,
    split_rows,
)
from geocarbon.inputs.densities import REGION_COLUMN, region_key
from geocarbon.inputs.schemes import get_scheme
from geocarbon.units import POOLS

#: Built-in tables: name -> (file in geocarbon/data/growth, class scheme of its codes).
BUILTIN_GROWTH = {"china-clcd": ("china_clcd.csv", "clcd")}
REQUIRED_COLUMNS = ("class_code", "pool", "rate_mg_per_ha_yr")
EXPECTED_HEADER = (
    "class_code, pool, rate_mg_per_ha_yr (optional: region_id, age_min, age_max, rate_low, "
    "rate_high, class_name, source)"
)

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, eq=False)
class GrowthTable:
    """Growth rates (Mg C/ha/yr) by region, class, pool and stand-age interval, one per row.

    ``rate_mg_per_ha_yr[i]`` holds the low, central and high rate of row ``i``, which applies
    to class ``code[i]``, pool ``POOLS[pool[i]]``, region ``region[i]`` ("" national) and stand
    ages ``age_min[i] <= age < age_max[i]`` (years). Ages not covered by any row grow at 0.
    ``origin[i]`` is the row of the table as read that row ``i`` copies (a crosswalk gives one
    published rate to several classes: their uncertainty is one, not several independent ones).
    """

    source: str
    scheme: str | None
    region: tuple[str, ...]
    code: NDArray[np.int64]
    pool: NDArray[np.int8]
    age_min: NDArray[np.float64]
    age_max: NDArray[np.float64]
    rate_mg_per_ha_yr: NDArray[np.float64]
    origin: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.code)

    @property
    def origins(self) -> NDArray[np.int64]:
        """Each row's row in the table as read (itself, unless crosswalked)."""
        return np.arange(len(self.code)) if self.origin is None else self.origin


@dataclass(frozen=True)
class _Row:
    line: int
    region: str
    code: int
    pool: int
    age_min: float
    age_max: float
    rates: tuple[float, float, float]


def load_growth_table(
    spec: str | Path, *, encoding: str | None = None, scheme: str | None = None
) -> GrowthTable:
    """Read a growth table from a CSV path, or a built-in table by name (``china-clcd``).

    ``encoding`` is the CSV's text encoding (None: UTF-8, UTF-16 with a BOM, else GB18030 with
    a warning); built-in tables ignore it. ``scheme`` names the class scheme of the land-cover
    raster: a table in another known scheme (the built-ins are CLCD) is crosswalked to it, each
    class taking the rows of the CLCD class it maps to. A user table (scheme unknown) is
    returned as is.

    Raises
    ------
    InputFileError
        The file does not exist, is a folder, is not text in the encoding, or is a workbook.
    TableSchemaError
        Anything wrong inside it; every problem is listed.
    SchemeError
        ``scheme`` is unknown.
    """
    if isinstance(spec, str) and spec.strip().lower() in BUILTIN_GROWTH:
        name = spec.strip().lower()
        filename, table_scheme = BUILTIN_GROWTH[name]
        with resources.as_file(resources.files("geocarbon") / "data" / "growth" / filename) as path:
            table = _read_csv(path, "utf-8", source=name, scheme=table_scheme)
    else:
        path = Path(spec)
        if path.is_dir():
            raise InputFileError(
                f"Growth table {str(path)!r} is a folder; give the CSV file inside it, or a "
                f"built-in table ({', '.join(BUILTIN_GROWTH)})."
            )
        if not path.is_file():
            raise InputFileError(
                f"Growth table {str(path)!r} does not exist. Give a CSV path or a built-in table "
                f"({', '.join(BUILTIN_GROWTH)})."
            )
        table = _read_csv(path, encoding, source=str(path), scheme=None)
    if scheme is None:
        return table
    return crosswalk_growth(table, scheme)


def crosswalk_growth(table: GrowthTable, scheme_name: str) -> GrowthTable:
    """Express ``table`` (in its own scheme) in the codes of ``scheme_name`` via the CLCD crosswalk.

    Each class of the target scheme takes every row (regions, pools, ages) of the CLCD class it
    maps to; a table whose scheme is unknown (None) or already the target is returned as is.
    """
    target = get_scheme(scheme_name)
    if table.scheme is None or table.scheme == target.name:
        return table
    if table.scheme != "clcd":
        raise SchemeError(
            f"No crosswalk from scheme {target.name!r} to {table.scheme!r}; crosswalks lead to "
            "'clcd'. Give a growth table in the raster's own class codes instead."
        )
    rows_of: dict[int, list[int]] = {}
    for index, code in enumerate(table.code.tolist()):
        rows_of.setdefault(code, []).append(index)
    codes: list[int] = []
    taken: list[int] = []
    for code, clcd_code in sorted(target.crosswalk_to_clcd().items()):
        rows = rows_of.get(clcd_code, [])
        codes += [code] * len(rows)
        taken += rows
    return GrowthTable(
        f"{table.source} via {target.name}->clcd",
        target.name,
        tuple(table.region[i] for i in taken),
        np.array(codes, np.int64),
        table.pool[taken],
        table.age_min[taken],
        table.age_max[taken],
        table.rate_mg_per_ha_yr[taken].reshape(len(taken), 3),
        table.origins[taken],
    )


def _read_csv(path: Path, encoding: str | None, *, source: str, scheme: str | None) -> GrowthTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"Growth table {str(path)!r} cannot be read: {said(exc)}.") from exc
    rows = split_rows(
        path,
        decode_text(path, data, encoding, what="Growth table"),
        expected=EXPECTED_HEADER,
        what="Growth table",
    )
    missing = [column for column in REQUIRED_COLUMNS if column not in rows.columns]
    if missing:
        raise _schema_error(
            path,
            [
                f"line 1: missing column(s) {', '.join(missing)} (found {', '.join(rows.columns)}); "
                f"expected {EXPECTED_HEADER}"
            ],
        )
    if not rows.lines:
        raise _schema_error(path, ["the table has no rows under its header; add one per class"])
    problems: list[str] = []
    parsed = [row for row in _parse_rows(rows, problems) if row is not None]
    _check_overlaps(parsed, problems)
    if problems:
        raise _schema_error(path, problems)
    return GrowthTable(
        source,
        scheme,
        tuple(row.region for row in parsed),
        np.array([row.code for row in parsed], np.int64),
        np.array([row.pool for row in parsed], np.int8),
        np.array([row.age_min for row in parsed], np.float64),
        np.array([row.age_max for row in parsed], np.float64),
        np.array([row.rates for row in parsed], np.float64).reshape(len(parsed), 3),
    )


def _parse_rows(rows: TableRows, problems: list[str]) -> list[_Row | None]:
    columns = zip(
        rows.lines,
        rows.column(REGION_COLUMN),
        rows.cells["class_code"],
        rows.cells["pool"],
        rows.column("age_min"),
        rows.column("age_max"),
        rows.column("rate_low"),
        rows.cells["rate_mg_per_ha_yr"],
        rows.column("rate_high"),
        strict=True,
    )
    return [_parse_row(cells, problems) for cells in columns]


def _parse_row(
    cells: tuple[int, str, str, str, str, str, str, str, str], problems: list[str]
) -> _Row | None:
    line, region_text, code_text, pool_text, min_text, max_text, low_text, rate_text, high_text = (
        cells
    )
    before = len(problems)
    code = parse_code(code_text, line, "class_code", problems)
    if code is not None and code > INT64_MAX:
        problems.append(
            f"line {line}, column 'class_code': {code} is above the largest growth-table code "
            f"({INT64_MAX})"
        )
    pool = pool_text.strip().lower()
    if pool not in POOLS:
        problems.append(
            f"line {line}, column 'pool': {pool_text!r} is not a pool; use one of {', '.join(POOLS)}"
        )
    age_min = _parse_number(min_text, line, "age_min", "years", problems, blank=0.0)
    age_max = _parse_number(max_text, line, "age_max", "years", problems, blank=math.inf)
    if age_min < 0:
        problems.append(
            f"line {line}, column 'age_min': {age_min:g} is negative; stand ages start at 0 years"
        )
    if age_min >= age_max:
        problems.append(
            f"line {line}, columns 'age_min','age_max': {age_min:g} >= {age_max:g}; age_min "
            "(inclusive) must be below age_max (exclusive), or leave age_max blank for no limit"
        )
    rate = _parse_number(rate_text, line, "rate_mg_per_ha_yr", "Mg C/ha/yr", problems)
    low = _parse_number(low_text, line, "rate_low", "Mg C/ha/yr", problems, blank=rate)
    high = _parse_number(high_text, line, "rate_high", "Mg C/ha/yr", problems, blank=rate)
    if low > rate or rate > high:
        problems.append(
            f"line {line}, columns 'rate_low','rate_mg_per_ha_yr','rate_high': {low:g} / {rate:g} "
            f"/ {high:g} is not in the order low <= central <= high"
        )
    if len(problems) > before or code is None:
        return None
    region = region_key(region_text) if region_text else ""
    return _Row(line, region, code, POOLS.index(pool), age_min, age_max, (low, rate, high))


def _parse_number(
    value: str,
    line: int,
    column: str,
    unit: str,
    problems: list[str],
    *,
    blank: float | None = None,
) -> float:
    """A finite decimal number (any sign); ``blank`` stands in for an empty cell when given."""
    if value == "" and blank is not None:
        return blank
    number = float(value) if _DECIMAL.fullmatch(value) else math.nan
    if math.isfinite(number):
        return number
    if not value:
        hint = "the cell is empty; write a number"
    elif _DECIMAL.fullmatch(value):
        hint = "it is too large; write a finite number"
    else:
        hint = "write a plain decimal number with a point and no thousands separators, such as 1.25"
    problems.append(f"line {line}, column {column!r}: {value!r} is not a number ({unit}); {hint}")
    return math.nan


def _check_overlaps(rows: list[_Row], problems: list[str]) -> None:
    """Rows of one region, class and pool whose age intervals repeat or overlap."""
    groups: dict[tuple[str, int, int], list[_Row]] = {}
    for row in rows:
        groups.setdefault((row.region, row.code, row.pool), []).append(row)
    for (region, code, pool), group in groups.items():
        where = f"class {code} pool {POOLS[pool]!r}" + (f" region {region!r}" if region else "")
        for index, row in enumerate(group):
            for earlier in group[:index]:
                if (row.age_min, row.age_max) == (earlier.age_min, earlier.age_max):
                    problems.append(
                        f"line {row.line}: {where} ages {_ages(row)} repeats line {earlier.line}; "
                        "keep one of them"
                    )
                elif max(row.age_min, earlier.age_min) < min(row.age_max, earlier.age_max):
                    problems.append(
                        f"line {row.line}: {where} ages {_ages(row)} overlap ages {_ages(earlier)} "
                        f"of line {earlier.line}; make the age intervals disjoint (age_max is "
                        "exclusive)"
                    )


def _ages(row: _Row) -> str:
    return f"[{row.age_min:g}, {row.age_max:g})"


def _schema_error(path: Path, problems: list[str]) -> TableSchemaError:
    listing = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        listing += f"; and {len(problems) - MAX_LISTED_PROBLEMS} more"
    return TableSchemaError(
        f"Growth table {str(path)!r} has {len(problems)} problem(s): {listing}. "
        "Fix these rows or columns and run again."
    )
