"""The text of a density table: its bytes decoded, its rows and cells read as written.

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

Every message names the file and the physical line (header = line 1, blank and comment lines
counted); :func:`geocarbon.inputs.densities.load_density_table` is the reader built on these.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geocarbon.errors import EncodingGuessWarning, InputFileError, TableSchemaError, said, warn

#: How to turn a workbook or a file in another encoding into what geocarbon reads best.
SAVE_AS_CSV = "save it as CSV UTF-8 in Excel (File > Save As > CSV UTF-8)"
#: Problems listed in an error message; the rest are counted.
MAX_LISTED_PROBLEMS = 25
INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
UINT64_MAX = int(np.iinfo(np.uint64).max)

_CODE = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUPED_DIGITS = re.compile(r"[0-9][,\s'’][0-9]")


@dataclass(frozen=True)
class TableRows:
    """A CSV table's cells by lower-case column name, with the physical line of each row."""

    columns: tuple[str, ...]
    lines: list[int]
    cells: dict[str, list[str]]

    def take(self, indices: list[int]) -> TableRows:
        return TableRows(
            self.columns,
            [self.lines[i] for i in indices],
            {name: [values[i] for i in indices] for name, values in self.cells.items()},
        )

    def column(self, name: str) -> list[str]:
        return self.cells.get(name, [""] * len(self.lines))


def decode_text(
    path: Path, data: bytes, encoding: str | None, *, what: str = "Density table"
) -> str:
    """The file's text: see the module docstring for what is read and what is refused."""
    kind = _binary_kind(data)
    if kind:
        raise InputFileError(
            f"{what} {str(path)!r} is {kind}, not a CSV text file: open it and {SAVE_AS_CSV}."
        )
    if encoding is not None:
        return _decode_as(path, data, encoding, what)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(path, data, "utf-16", what)
    if b"\x00" in data:
        raise InputFileError(
            f"{what} {str(path)!r} holds NUL bytes (line {data[: data.index(0)].count(10) + 1})"
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
                f"{what} {str(path)!r} is neither UTF-8 ({where} is not) nor GB18030 text. "
                f"Give its encoding (encoding='cp1252', --encoding cp1252, ...), or {SAVE_AS_CSV}."
            ) from None
    warn(
        f"{what} {str(path)!r} is not UTF-8 ({where}); read it as GB18030 (GBK). If its "
        f"class names look wrong, give its encoding (--encoding), or {SAVE_AS_CSV}.",
        EncodingGuessWarning,
    )
    return text


def _decode_as(path: Path, data: bytes, encoding: str, what: str) -> str:
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InputFileError(
            f"Unknown text encoding {encoding!r} for {_in_sentence(what)} {str(path)!r}: give a codec "
            f"name such as utf-8, gb18030, utf-16 or cp1252, or {SAVE_AS_CSV}."
        ) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{what} {str(path)!r} is not {encoding} text: byte 0x{data[exc.start]:02x} "
            f"(line {_line_of(data, exc.start, encoding)}) cannot be decoded. Give the file's real "
            f"encoding, or {SAVE_AS_CSV}."
        ) from None
    if "\x00" in text:
        raise InputFileError(
            f"{what} {str(path)!r} read as {encoding} holds NUL characters: it is in another "
            f"encoding (UTF-16?) or not a text file. Give the file's real encoding, or {SAVE_AS_CSV}."
        )
    return text.removeprefix("\ufeff")


def _in_sentence(what: str) -> str:
    """ "Density table" as the middle of a sentence writes it; "IPCC ..." stays."""
    return what if what[:2].isupper() else what[0].lower() + what[1:]


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


def split_rows(path: Path, text: str, *, expected: str, what: str = "Density table") -> TableRows:
    """Cells by column, and each row's physical line; header and row-shape problems raise.

    ``expected`` names the accepted headers, for the message about a table without one.
    """
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
            f"{what} {str(path)!r} cannot be read as CSV at line {reader.line_num}: {said(exc)}. "
            "Check the quotes on that line."
        ) from None
    if not records:
        raise TableSchemaError(
            f"{what} {str(path)!r} is empty: no header line. Expected {expected}."
        )
    (header_line, header), body = records[0], records[1:]
    named = [index for index, name in enumerate(header) if name]
    problems = _header_problems(header, header_line)
    problems += _row_shape_problems(header, header_line, body)
    if problems:
        raise schema_error(path, problems, what=what)
    return TableRows(
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


def parse_code(value: str, line: int, column: str, problems: list[str]) -> int | None:
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


def parse_density(
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


def schema_error(
    path: Path, problems: list[str], *, what: str = "Density table"
) -> TableSchemaError:
    """One line: every problem (the first MAX_LISTED_PROBLEMS, then a count) and the fix."""
    listing = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    more = len(problems) - MAX_LISTED_PROBLEMS
    if more > 0:
        listing += f"; and {more} more"
    return TableSchemaError(
        f"{what} {str(path)!r} has {len(problems)} problem(s): {listing}. "
        "Fix these rows or columns and run again."
    )
