"""Per-class factor tables for density rasters: ``class_code,factor`` (optional ``pool``), or
IPCC stock-change factors ``f_lu,f_mg,f_i`` multiplied (SOC_ref x F_LU x F_MG x F_I).

Read as density tables are (:mod:`geocarbon.inputs.csv_text`): exact integer codes, any
encoding, every problem in one :class:`TableSchemaError` line naming file, line and column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import InputFileError, TableSchemaError
from geocarbon.inputs.csv_text import TableRows, decode_text, parse_code, schema_error, split_rows
from geocarbon.units import POOLS

#: Factor-table columns multiplied into one factor (IPCC land use, management, input factors).
IPCC_FACTOR_COLUMNS = ("f_lu", "f_mg", "f_i")
_FACTOR = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def read_factor_table(
    path: str | Path, table_codes: Sequence[int] | np.ndarray, *, encoding: str | None = None
) -> NDArray[np.float64]:
    """(n_classes, pools) multipliers per class of ``table_codes``, 1 where not given, from a CSV:
    ``class_code`` (exact integers in ``table_codes``), optional ``pool`` (blank: every pool), one
    ``factor`` or any of the IPCC ``f_lu``, ``f_mg``, ``f_i`` (multiplied: SOC_ref x F_LU x F_MG x
    F_I), numbers >= 0; read as density tables are, every problem in one TableSchemaError."""
    path = Path(path)
    try:
        text = decode_text(path, path.read_bytes(), encoding, what="Factor table")
        rows = split_rows(
            path,
            text,
            expected="class_code, pool, factor (or f_lu, f_mg, f_i)",
            what="Factor table",
        )
        return _factors(path, rows, np.asarray(table_codes).tolist())
    except (InputFileError, TableSchemaError):
        raise
    except OSError as exc:
        raise InputFileError(f"Factor table {str(path)!r}: {exc.strerror}.") from None


def _factors(path: Path, rows: TableRows, table_codes: list[int]) -> NDArray[np.float64]:
    ipcc = [column for column in IPCC_FACTOR_COLUMNS if column in rows.columns]
    columns = ["factor"] if "factor" in rows.columns else ipcc
    problems = [] if "class_code" in rows.columns else ["no 'class_code' column"]
    if not columns or ("factor" in rows.columns and ipcc):
        problems.append(
            f"give one 'factor' column or the IPCC columns {', '.join(IPCC_FACTOR_COLUMNS)} "
            f"(multiplied), not {'both' if ipcc else 'neither'} (found {', '.join(rows.columns)})"
        )
    problems += [] if rows.lines else ["the table has no rows under its header; add one per class"]
    row_of = {code: index for index, code in enumerate(table_codes)}
    factors = np.ones((len(row_of), len(POOLS)))
    first_line: dict[tuple[int, int], int] = {}
    unknown: dict[int, int] = {}
    for index, line in enumerate(rows.lines if not problems else []):
        code = parse_code(rows.cells["class_code"][index], line, "class_code", problems)
        pools = _factor_pools(rows.column("pool")[index], line, problems)
        factor = math.prod(_parse_factor(rows.cells[c][index], line, c, problems) for c in columns)
        if code is not None and code not in row_of:
            unknown.setdefault(code, line)
        if code is None or code not in row_of:
            continue
        for pool in pools:
            if (code, pool) in first_line:
                problems.append(
                    f"line {line}: class {code} pool {POOLS[pool]!r} repeats line "
                    f"{first_line[code, pool]} (a blank pool means every pool)"
                )
                break
            first_line[code, pool], factors[row_of[code], pool] = line, factor
    if unknown:
        listing = ", ".join(f"{code} (line {line})" for code, line in unknown.items())
        problems.append(f"class code(s) {listing} are not in the density table; remove them")
    if problems:
        raise schema_error(path, problems, what="Factor table")
    return factors


def _factor_pools(text: str, line: int, problems: list[str]) -> Sequence[int]:
    if not text or text.lower() in POOLS:
        return [POOLS.index(text.lower())] if text else range(len(POOLS))
    problems.append(f"line {line}, column 'pool': {text!r} is not one of {', '.join(POOLS)}")
    return ()


def _parse_factor(value: str, line: int, column: str, problems: list[str]) -> float:
    number = float(value) if _FACTOR.fullmatch(value) else math.nan
    if not math.isfinite(number) or number < 0:
        shown = "the cell is empty" if not value else f"{value!r} is not a number >= 0"
        problems.append(f"line {line}, column {column!r}: {shown}; write a factor such as 1.1")
    return number
