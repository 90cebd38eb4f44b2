"""Date-specific densities (the IPCC stock-difference method): a density table's ``year`` column.

Either CSV shape may carry an optional ``year`` column (see :mod:`geocarbon.inputs.densities`):

- a blank year is a static row, as in a table without the column; a row with a year gives its
  class's densities in that year (a whole calendar year, 1900 to 2200);
- per region, class and pool, the density in year ``y`` is interpolated linearly between the two
  nearest listed years, and held constant before the first and after the last one; low, central
  and high are each interpolated. A (class, pool) without year rows keeps its static row;
- the most specific row wins: a region's year rows, then its static rows, then the national
  (blank ``region_id``) year rows, then the national static rows;
- the table's classes are those of its national rows, static or dated; a class may have year rows
  only, and runs without a date then take its latest listed year. In the long shape a year may
  list some pools of a class only, but each class needs all four pools in some row of its region
  (static or dated);
- the same region, year, class and pool listed twice is an error naming both lines.

Rows are grouped by (region, year) and each group is read by the shape's own row reader; this
module parses the years, merges the groups onto one class axis and interpolates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from geocarbon.inputs.csv_text import TableRows
from geocarbon.units import LEVELS, POOLS

YEAR_COLUMN = "year"
FIRST_YEAR, LAST_YEAR = 1900, 2200
#: Whole numbers in digits; ``2020.0`` (a pandas float column) is 2020, as for class codes.
_YEAR = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_CENTRAL = LEVELS.index("central")

#: Rows of one region ("" national) in one year (None: the static rows).
GroupKey = tuple[str, int | None]


class ParsedRows(Protocol):
    """What a shape's row reader returns for one group (a CarbonTable)."""

    @property
    def codes(self) -> NDArray[np.int64] | NDArray[np.uint64]: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def density_mg_per_ha(self) -> NDArray[np.float64]: ...


class RowReader(Protocol):
    """A shape's row reader; ``whole_classes`` asks for all four pools of each class it lists."""

    def __call__(
        self, rows: TableRows, problems: list[str], *, whole_classes: bool
    ) -> ParsedRows | None: ...


@dataclass(frozen=True)
class MergedTable:
    """A table's rows on its national class axis (``codes`` in order, as Python ints)."""

    codes: list[int]
    names: tuple[str, ...]
    static_mg_per_ha: NDArray[np.float64]
    regional: dict[str, NDArray[np.float64]]
    yearly: dict[str, dict[int, NDArray[np.float64]]]


def read_groups(
    rows: TableRows, regions: list[str], read: RowReader, problems: list[str]
) -> tuple[dict[GroupKey, ParsedRows], set[str]]:
    """Each (region, year) group read by ``read``; also the regions of which a group failed.

    Problems are prefixed with the group they belong to (``region '33' year 2000: ...``); the
    national static rows keep no prefix.
    """
    years = [parse_year(value, line, problems) for line, value in _year_cells(rows)]
    indices_by_group: dict[GroupKey, list[int]] = {}
    for index, (region, year) in enumerate(zip(regions, years, strict=True)):
        if year is False:  # an unreadable year: still report the row's other cells, once
            row_problems: list[str] = []
            read(rows.take([index]), row_problems, whole_classes=False)
            problems += [problem for problem in row_problems if problem not in problems]
        else:
            indices_by_group.setdefault((region, year), []).append(index)
    dated_regions = {region for region, year in indices_by_group if year is not None}
    groups: dict[GroupKey, ParsedRows] = {}
    failed: set[str] = set()
    for key in sorted(indices_by_group, key=_group_order):
        region, year = key
        group_problems: list[str] = []
        parsed = read(
            rows.take(indices_by_group[key]),
            group_problems,
            whole_classes=region not in dated_regions,
        )
        label = " ".join(
            ([f"region {region!r}"] if region else [])
            + ([f"year {year}"] if year is not None else [])
        )
        problems += [f"{label}: {problem}" if label else problem for problem in group_problems]
        if parsed is None:
            failed.add(region)
        else:
            groups[key] = parsed
    return groups, failed


def parse_year(value: str, line: int, problems: list[str]) -> int | None | bool:
    """A row's year: None when blank (a static row), False (and a problem) when unreadable."""
    if not value:
        return None
    year = int(value.partition(".")[0]) if _YEAR.fullmatch(value) else None
    if year is None:
        problems.append(
            f"line {line}, column {YEAR_COLUMN!r}: {value!r} is not a year; write the calendar "
            "year in digits, such as 2020, or leave the cell blank for a row used in every year"
        )
        return False
    if not FIRST_YEAR <= year <= LAST_YEAR:
        problems.append(
            f"line {line}, column {YEAR_COLUMN!r}: {year} is outside {FIRST_YEAR}-{LAST_YEAR}; "
            "write the calendar year, such as 2020"
        )
        return False
    return year


def merge_groups(
    groups: Mapping[GroupKey, ParsedRows],
    failed: set[str],
    *,
    sort_codes: bool,
    problems: list[str],
) -> MergedTable | None:
    """Every group on the national class axis; None when the national rows are missing or bad."""
    national = [key for key in sorted(groups, key=_group_order) if key[0] == ""]
    if "" in failed or not national:
        return None
    names_by_code: dict[int, str] = {}
    for key in national:
        for code, name in zip(groups[key].codes.tolist(), groups[key].names, strict=True):
            if not names_by_code.get(code):
                names_by_code[code] = name
    codes = sorted(names_by_code) if sort_codes else list(names_by_code)
    row_of = {code: row for row, code in enumerate(codes)}
    n_classes = len(codes)
    static = np.full((n_classes, len(POOLS), len(LEVELS)), np.nan)
    regional: dict[str, NDArray[np.float64]] = {}
    yearly: dict[str, dict[int, NDArray[np.float64]]] = {}
    for region in sorted({key[0] for key in groups}):
        keys = [key for key in groups if key[0] == region]
        aligned = {key[1]: _align(groups[key], row_of) for key in keys}
        orphans = sorted(
            {code for key in keys for code in groups[key].codes.tolist()} - set(row_of)
        )
        if orphans:
            problems.append(
                f"region {region!r} has rows for class(es) {', '.join(map(str, orphans))} with no "
                "national row (blank region_id); add national rows, used by every other region"
            )
        if region not in failed:
            _check_whole_classes(list(aligned.values()), codes, region, problems)
        by_year = {year: rows for year, rows in aligned.items() if year is not None}
        filled = _fill_from_latest(aligned.get(None, np.full_like(static, np.nan)), by_year)
        if by_year:
            yearly[region] = dict(sorted(by_year.items()))
        if region:
            regional[region] = filled
        else:
            static = filled
    names = tuple(names_by_code[code] for code in codes)
    return MergedTable(codes, names, static, regional, yearly)


@dataclass(frozen=True, eq=False)
class YearSeries:
    """One region's year rows, ready to interpolate at any year.

    ``filled_mg_per_ha[k]`` holds every (class, pool, level) with year rows at ``years[k]``: its
    own value where that year lists it, else interpolated between (or held from) its nearest
    listed years; NaN where it has no year row at all. Between two of these years every value
    is linear, so interpolating between neighbouring ``filled`` slices is the interpolation
    between each value's own listed years.
    """

    years: NDArray[np.int64]
    filled_mg_per_ha: NDArray[np.float64]

    @classmethod
    def from_rows(cls, by_year: Mapping[int, NDArray[np.float64]]) -> YearSeries:
        years = np.array(sorted(by_year), np.int64)
        stack = np.stack([by_year[int(year)] for year in years])
        before_value, before_year = _carry(stack, years)
        after_value, after_year = _carry(stack[::-1], years[::-1])
        after_value, after_year = after_value[::-1], after_year[::-1]
        span = after_year - before_year
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = (years.reshape(-1, 1, 1, 1) - before_year) / span
        between = _lerp(before_value, after_value, weight)
        filled = np.where(
            np.isnan(before_value),
            after_value,
            np.where(np.isnan(after_value) | (span == 0), before_value, between),
        )
        return cls(years, filled)

    def at(self, year: int) -> NDArray[np.float64]:
        """(n_classes, pools, levels) in ``year``: NaN where no year row applies."""
        years, filled = self.years, self.filled_mg_per_ha
        if year <= years[0]:
            return filled[0]
        if year >= years[-1]:
            return filled[-1]
        after = int(np.searchsorted(years, year))
        if years[after] == year:
            return filled[after]
        weight = (year - years[after - 1]) / (years[after] - years[after - 1])
        return _lerp(filled[after - 1], filled[after], np.float64(weight))


def dated_density(
    *,
    national_static: NDArray[np.float64],
    own_static: NDArray[np.float64] | None,
    national: YearSeries | None,
    own: YearSeries | None,
    year: int,
) -> NDArray[np.float64]:
    """A region's densities in ``year``: its year rows, its static rows, national year rows,
    national static rows, the first that has the (class, pool)."""
    density = national_static
    for layer in (
        None if national is None else national.at(year),
        own_static,
        None if own is None else own.at(year),
    ):
        if layer is not None:
            density = np.where(np.isnan(layer), density, layer)
    return density


def _year_cells(rows: TableRows) -> zip[tuple[int, str]]:
    return zip(rows.lines, rows.column(YEAR_COLUMN), strict=True)


def _group_order(key: GroupKey) -> tuple[bool, str, bool, int]:
    """National before regional, static before dated, years ascending."""
    region, year = key
    return (region != "", region, year is not None, year or 0)


def _align(parsed: ParsedRows, row_of: Mapping[int, int]) -> NDArray[np.float64]:
    """A group's densities on the national class axis, NaN where it has no row."""
    aligned = np.full((len(row_of), len(POOLS), len(LEVELS)), np.nan)
    for index, code in enumerate(parsed.codes.tolist()):
        if code in row_of:
            aligned[row_of[code]] = parsed.density_mg_per_ha[index]
    return aligned


def _check_whole_classes(
    aligned: list[NDArray[np.float64]], codes: list[int], region: str, problems: list[str]
) -> None:
    """Each class listed by a region's rows has every pool in one of them (static or dated)."""
    # (groups, n_classes, pools) -> (n_classes, pools): listed by any group
    has_pool: NDArray[np.bool_] = np.any(
        [~np.isnan(rows[:, :, _CENTRAL]) for rows in aligned], axis=0
    )
    for row in np.flatnonzero(has_pool.any(axis=1) & ~has_pool.all(axis=1)):
        missing = ", ".join(pool for pool, has in zip(POOLS, has_pool[row], strict=True) if not has)
        prefix = f"region {region!r}: " if region else ""
        problems.append(
            f"{prefix}class {codes[row]} has no row for pool(s) {missing} (static or in any year)"
        )


def _fill_from_latest(
    static: NDArray[np.float64], by_year: Mapping[int, NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Static densities, with the latest listed year where a (class, pool) has no static row."""
    filled = static
    for year in sorted(by_year, reverse=True):
        filled = np.where(np.isnan(filled), by_year[year], filled)
    return filled


def _carry(
    stack: NDArray[np.float64], years: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At each position of ``stack``, the last listed value so far and its year (NaN: none)."""
    values = np.empty_like(stack)
    value_years = np.empty_like(stack)
    last_value = np.full_like(stack[0], np.nan)
    last_year = np.full_like(stack[0], np.nan)
    for index, year in enumerate(years):
        listed = ~np.isnan(stack[index])
        last_value = np.where(listed, stack[index], last_value)
        last_year = np.where(listed, float(year), last_year)
        values[index], value_years[index] = last_value, last_year
    return values, value_years


def _lerp(
    start: NDArray[np.float64], end: NDArray[np.float64], weight: NDArray[np.float64] | np.float64
) -> NDArray[np.float64]:
    """Linear interpolation, clipped to its two ends (rounding never leaves that range)."""
    with np.errstate(invalid="ignore"):
        value = start + (end - start) * weight
    return np.clip(value, np.fmin(start, end), np.fmax(start, end))
