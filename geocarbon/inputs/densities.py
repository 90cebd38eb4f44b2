"""Read and validate carbon-density tables into a :class:`CarbonTable`.

Two CSV shapes are accepted:

- InVEST's carbon pools table, ``lucode,c_above,c_below,c_soil,c_dead`` (any column case; extra
  columns such as ``LULC_Name`` are ignored, a name column is used for class names);
- a long form with uncertainty, ``class_code,class_name,pool,low,central,high`` (one row per
  class and pool; ``low``/``high`` optional, a blank one meaning "same as central").

Densities are Mg C/ha. Every problem in a table is collected and reported at once, in one line
naming the file, the physical line (header = line 1, blank and comment lines counted) and the
column. Built-in tables (``china-clcd``) live in ``geocarbon/data``.

What the reader takes:

- text in UTF-8 (with or without BOM), UTF-16 with a BOM, or, when it is not UTF-8, GB18030
  (a superset of GBK) with an :class:`EncodingGuessWarning`; ``encoding=`` names another one.
  Excel workbooks and other binary files are refused with how to save them as CSV;
- comma-, semicolon- or tab-separated values (the header line decides); blank lines, rows whose
  cells are all empty, and lines starting with ``#`` are skipped; cells are stripped; an unnamed
  empty last column (a trailing comma) is ignored;
- class codes as whole numbers written in digits, exactly, over the whole int64 and uint64
  range (never through float); ``7.0`` (as pandas writes float columns) is read as 7, while
  ``7.5``, ``1e3`` and ``1,000`` are errors;
- densities as plain decimal numbers (point decimal, no thousands separator), finite, >= 0;
- region ids and class names as text, exactly as written (``0101`` stays ``0101``).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import (  # EncodingGuessWarning stays importable from here
    EncodingGuessWarning,
    InputFileError,
    SchemeError,
    TableSchemaError,
    warn,
)
from geocarbon.inputs.schemes import get_scheme
from geocarbon.units import LEVELS, POOLS

INVEST_COLUMNS = ("lucode", "c_above", "c_below", "c_soil", "c_dead")
LONG_REQUIRED = ("class_code", "pool", "central")
NAME_COLUMNS = ("class_name", "lulc_name", "lulc_desc", "name", "description")
#: Built-in tables: name -> (file in geocarbon/data/densities, class scheme of its codes).
BUILTIN_TABLES = {"china-clcd": ("china_clcd.csv", "clcd")}
#: Optional column keying rows to one region (blank: the national row every region falls back to).
REGION_COLUMN = "region_id"
#: How to turn a workbook or a file in another encoding into what geocarbon reads best.
SAVE_AS_CSV = "save it as CSV UTF-8 in Excel (File > Save As > CSV UTF-8)"
#: Problems listed in an error message; the rest are counted.
MAX_LISTED_PROBLEMS = 25
INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
UINT64_MAX = int(np.iinfo(np.uint64).max)

_CODE = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED_DIGITS = re.compile(r"[0-9][,\s'’][0-9]")


@dataclass(frozen=True, eq=False)
class CarbonTable:
    """Carbon density per class, pool and level.

    ``density_mg_per_ha[i, p, l]`` is the density (Mg C/ha) of class ``codes[i]``, pool
    ``POOLS[p]``, level ``LEVELS[l]`` (low, central, high); tables without ranges repeat the
    central value. ``codes`` are int64, or uint64 when a code exceeds the int64 range.
    ``scheme`` names the class scheme of the codes when it is known.
    ``regional`` maps a region id to its own (n_classes, pools, levels) densities, NaN where the
    region falls back to the national row.
    """

    source: str
    codes: NDArray[np.int64] | NDArray[np.uint64]
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
        # Python ints compare exactly; a NumPy int64 against uint64 codes would go through float.
        codes = self.codes.tolist()
        return self.names[codes.index(int(code))] if int(code) in codes else ""


@dataclass(frozen=True)
class _Rows:
    """A CSV table's cells by lower-case column name, with the physical line of each row."""

    columns: tuple[str, ...]
    lines: list[int]
    cells: dict[str, list[str]]

    def take(self, indices: list[int]) -> _Rows:
        return _Rows(
            self.columns,
            [self.lines[i] for i in indices],
            {name: [values[i] for i in indices] for name, values in self.cells.items()},
        )

    def column(self, name: str) -> list[str]:
        return self.cells.get(name, [""] * len(self.lines))


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
        return CarbonTable(
            spec.lower(), table.codes, table.names, table.density_mg_per_ha, scheme, table.regional
        )
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
        raise InputFileError(f"Density table {str(path)!r} cannot be read: {exc}.") from exc
    rows = _split_rows(path, _decode(path, data, encoding))
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
        raise _schema_error(path, ["the table has no rows under its header; add one per class"])
    regions = [region_key(v) if v else "" for v in rows.column(REGION_COLUMN)]
    indices_by_region: dict[str, list[int]] = {"": []}
    for index, region in enumerate(regions):
        indices_by_region.setdefault(region, []).append(index)
    problems: list[str] = []
    national = parse(rows.take(indices_by_region.pop("")), problems)
    regional: dict[str, NDArray[np.float64]] = {}
    for region in sorted(indices_by_region):
        region_problems: list[str] = []
        own = parse(rows.take(indices_by_region[region]), region_problems)
        problems += [f"region {region!r}: {problem}" for problem in region_problems]
        if national is not None and own is not None:
            regional[region] = _align_regional(national, own, region, problems)
    if problems or national is None:
        raise _schema_error(path, problems or ["no national rows (blank region_id)"])
    return CarbonTable(
        str(path), national.codes, national.names, national.density_mg_per_ha, None, regional
    )


def _decode(path: Path, data: bytes, encoding: str | None) -> str:
    """The file's text: see the module docstring for what is read and what is refused."""
    kind = _binary_kind(data)
    if kind:
        raise InputFileError(
            f"Density table {str(path)!r} is {kind}, not a CSV text file: open it and {SAVE_AS_CSV}."
        )
    if encoding is not None:
        return _decode_as(path, data, encoding)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(path, data, "utf-16")
    if b"\x00" in data:
        raise InputFileError(
            f"Density table {str(path)!r} holds NUL bytes (line {data[: data.index(0)].count(10) + 1})"
            f": it is UTF-16 without a byte-order mark or not a text file. Give its encoding "
            f"(encoding='utf-16-le', --encoding utf-16-le), or {SAVE_AS_CSV}."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        where = (
            f"byte 0x{data[utf8_error.start]:02x} on line {data[: utf8_error.start].count(10) + 1}"
        )
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise InputFileError(
                f"Density table {str(path)!r} is neither UTF-8 ({where} is not) nor GB18030 text. "
                f"Give its encoding (encoding='cp1252', --encoding cp1252, ...), or {SAVE_AS_CSV}."
            ) from None
    warn(
        f"Density table {str(path)!r} is not UTF-8 ({where}); read it as GB18030 (GBK). If its "
        f"class names look wrong, give its encoding (--encoding), or {SAVE_AS_CSV}.",
        EncodingGuessWarning,
    )
    return text


def _decode_as(path: Path, data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InputFileError(
            f"Unknown text encoding {encoding!r} for density table {str(path)!r}: give a codec "
            f"name such as utf-8, gb18030, utf-16 or cp1252, or {SAVE_AS_CSV}."
        ) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"Density table {str(path)!r} is not {encoding} text: byte 0x{data[exc.start]:02x} "
            f"(line {_line_of(data, exc.start, encoding)}) cannot be decoded. Give the file's real "
            f"encoding, or {SAVE_AS_CSV}."
        ) from None
    if "\x00" in text:
        raise InputFileError(
            f"Density table {str(path)!r} read as {encoding} holds NUL characters: it is in another "
            f"encoding (UTF-16?) or not a text file. Give the file's real encoding, or {SAVE_AS_CSV}."
        )
    return text.removeprefix("\ufeff")


def _line_of(data: bytes, offset: int, encoding: str) -> int:
    """The line holding byte ``offset`` of text in ``encoding`` (newline bytes differ: UTF-16)."""
    return data[:offset].decode(encoding, errors="replace").count("\n") + 1


def _binary_kind(data: bytes) -> str | None:
    """What a spreadsheet or archive saved under a .csv name really is (None: maybe text)."""
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an Excel 97-2003 workbook (.xls)"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        names = []
    if any(name.startswith("xl/") for name in names):
        return "an Excel workbook (.xlsx)"
    if "content.xml" in names:
        return "an OpenDocument spreadsheet (.ods)"
    return "a ZIP archive"


def _split_rows(path: Path, text: str) -> _Rows:
    """Cells by column, and each row's physical line; header and row-shape problems raise."""
    records: list[tuple[int, list[str]]] = []
    delimiter, first_line_is_hint = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line_after = 1 if first_line_is_hint and next(reader, None) is not None else 0
    try:
        for cells in reader:
            line, line_after = line_after + 1, reader.line_num
            values = [cell.strip() for cell in cells]
            if any(values) and not values[0].startswith("#"):
                records.append((line, values))
    except csv.Error as exc:
        raise InputFileError(
            f"Density table {str(path)!r} cannot be read as CSV at line {reader.line_num}: {exc}. "
            "Check the quotes on that line."
        ) from None
    if not records:
        raise TableSchemaError(
            f"Density table {str(path)!r} is empty: no header line. Expected InVEST's "
            f"{', '.join(INVEST_COLUMNS)} or the long form class_code, class_name, pool, low, "
            "central, high."
        )
    (header_line, header), body = records[0], records[1:]
    named = [index for index, name in enumerate(header) if name]
    problems = _header_problems(header, header_line)
    problems += _row_shape_problems(header, header_line, body)
    if problems:
        raise _schema_error(path, problems)
    return _Rows(
        tuple(header[index].lower() for index in named),
        [line for line, _ in body],
        {header[index].lower(): [values[index] for _, values in body] for index in named},
    )


def _delimiter(text: str) -> tuple[str, bool]:
    """The separator, and whether the first line is Excel's ``sep=X`` hint naming it.

    Without a hint: comma, else semicolon, else tab, whichever separates the header's names.
    """
    lines = text.splitlines()
    hint = re.fullmatch(r"sep=(.)", lines[0].strip(), re.IGNORECASE) if lines else None
    if hint:
        return hint.group(1), True
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            return next((mark for mark in ",;\t" if mark in line), ","), False
    return ",", False


def _header_problems(header: list[str], header_line: int) -> list[str]:
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        if name:
            positions.setdefault(name.lower(), []).append(index)
    problems = []
    for indices in positions.values():
        if len(indices) < 2:
            continue
        names = [header[index] for index in indices]
        where = f"(line {header_line}, columns {', '.join(str(i + 1) for i in indices)})"
        if len(set(names)) == 1:
            problems.append(f"column {names[0]!r} appears {len(names)} times {where}; keep one")
        else:
            listing = " and ".join(repr(name) for name in names)
            problems.append(f"columns {listing} differ only in case {where}; keep one")
    return problems


def _row_shape_problems(
    header: list[str], header_line: int, body: list[tuple[int, list[str]]]
) -> list[str]:
    """Rows shorter than the named columns, and values under no column name."""
    needed = max(index for index, name in enumerate(header) if name) + 1
    short = [line for line, values in body if len(values) < needed]
    unnamed: dict[int, list[int]] = {}
    for line, values in body:
        for index, value in enumerate(values):
            if value and (index >= len(header) or not header[index]):
                unnamed.setdefault(index, []).append(line)
    problems = []
    if short:
        problems.append(
            f"{_lines(short)} {'has' if len(short) == 1 else 'have'} fewer cells than the "
            f"{needed} named columns of the header (line {header_line}); add the missing cells"
        )
    for index, lines in sorted(unnamed.items()):
        problems.append(
            f"column {index + 1} has no name in the header (line {header_line}) but holds values "
            f"on {_lines(lines)}; name it, or delete the values or separators there"
        )
    return problems


def _lines(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(map(str, lines[:5]))
    return f"lines {shown}" + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")


def _read_invest(rows: _Rows, problems: list[str]) -> CarbonTable | None:
    missing = _missing_columns(rows, INVEST_COLUMNS)
    if missing:
        problems.extend(missing)
        return None
    before = len(problems)
    lines = rows.lines
    codes = [
        _parse_code(value, line, "lucode", problems)
        for line, value in zip(lines, rows.cells["lucode"], strict=True)
    ]
    _check_duplicates(codes, lines, "lucode", problems)
    density = np.full((len(lines), len(POOLS), len(LEVELS)), math.nan)
    for pool_index, pool in enumerate(POOLS):
        column = f"c_{pool}"
        for row, (line, value) in enumerate(zip(lines, rows.cells[column], strict=True)):
            density[row, pool_index, :] = _parse_density(value, line, column, problems)
    code_array = _code_array([code for code in codes if code is not None], problems)
    if len(problems) > before or code_array is None:
        return None
    return CarbonTable("", code_array, _names(rows), density)


def _read_long(rows: _Rows, problems: list[str]) -> CarbonTable | None:
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
        code = _parse_code(code_text, line, "class_code", problems)
        pool = pool_text.lower()
        if pool not in POOLS:
            problems.append(
                f"line {line}, column 'pool': {pool_text!r} is not one of {', '.join(POOLS)}"
            )
        central = _parse_density(central_text, line, "central", problems)
        low = _parse_density(low_text, line, "low", problems, blank=central)
        high = _parse_density(high_text, line, "high", problems, blank=central)
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
        if missing:
            problems.append(f"class {code} has no row for pool(s) {', '.join(missing)}")
    code_array = _code_array(codes, problems)
    if len(problems) > before or code_array is None:
        return None
    density = np.array(
        [[cells[(code, p)] for p in range(len(POOLS))] for code in codes], np.float64
    )
    return CarbonTable("", code_array, tuple(names[c] for c in codes), density)


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
    row_of = {code: index for index, code in enumerate(table.codes.tolist())}
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
    row_of = {code: index for index, code in enumerate(national.codes.tolist())}
    aligned = np.full_like(national.density_mg_per_ha, np.nan)
    orphans = [code for code in own.codes.tolist() if code not in row_of]
    if orphans:
        problems.append(
            f"region {region!r} has rows for class(es) {', '.join(map(str, orphans))} with no national "
            "row (blank region_id); add national rows, used by every other region"
        )
    for index, code in enumerate(own.codes.tolist()):
        if code in row_of:
            aligned[row_of[code]] = own.density_mg_per_ha[index]
    return aligned


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


def _missing_columns(rows: _Rows, required: tuple[str, ...]) -> list[str]:
    missing = [column for column in required if column not in rows.columns]
    return (
        [f"missing column(s) {', '.join(missing)} (found {', '.join(rows.columns)})"]
        if missing
        else []
    )


def _parse_code(value: str, line: int, column: str, problems: list[str]) -> int | None:
    """A class code from its digits (no float on the way, so 64-bit codes stay exact)."""
    if _CODE.fullmatch(value):
        code = int(value.partition(".")[0])
        if INT64_MIN <= code <= UINT64_MAX:
            return code
        problems.append(
            f"line {line}, column {column!r}: {value} is beyond the 64-bit codes a raster can hold "
            f"({INT64_MIN} to {UINT64_MAX})"
        )
        return None
    if not value:
        hint = "the cell is empty; give the class code"
    elif _DECIMAL.fullmatch(value) and "e" in value.lower():
        hint = "write the code in full digits, not scientific notation (format the column as Text in Excel)"
    else:
        hint = "codes are whole numbers written in digits, such as 7 (7.0 is read as 7)"
    problems.append(
        f"line {line}, column {column!r}: {value!r} is not an integer class code; {hint}"
    )
    return None


def _parse_density(
    value: str, line: int, column: str, problems: list[str], *, blank: float | None = None
) -> float:
    if value == "" and blank is not None:
        return blank
    number = float(value) if _DECIMAL.fullmatch(value) else math.nan
    if not math.isfinite(number):
        problems.append(
            f"line {line}, column {column!r}: {value!r} is not a number (Mg C/ha); "
            f"{_number_hint(value)}"
        )
    elif number < 0:
        problems.append(
            f"line {line}, column {column!r}: {number} is negative; densities are >= 0 Mg C/ha"
        )
    return number


def _number_hint(value: str) -> str:
    if not value:
        return "the cell is empty; write 0 if the pool holds no carbon"
    if _GROUPED_DIGITS.search(value):
        return "write a decimal point and no thousands separators, such as 1234.5"
    if any(char.isdigit() and not char.isascii() for char in value):
        return "write the digits 0-9 (this cell has full-width or other non-ASCII digits)"
    if _DECIMAL.fullmatch(value):
        return "it is too large; densities are finite"
    return "write a finite number >= 0, or 0 if the pool holds no carbon"


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


def _names(rows: _Rows) -> tuple[str, ...]:
    for column in NAME_COLUMNS:
        if column in rows.columns:
            return tuple(rows.cells[column])
    return ("",) * len(rows.lines)


def _schema_error(path: Path, problems: list[str]) -> TableSchemaError:
    """One line: every problem (the first MAX_LISTED_PROBLEMS, then a count) and the fix."""
    listing = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    if more > 0:
        listing += f"; and {more} more"
    return TableSchemaError(
        f"Density table {str(path)!r} has {len(problems)} problem(s): {listing}. "
        "Fix these rows or columns and run again."
    )
