"""IPCC land categories of land-cover classes: the six categories, the table a user gives to set
or override them, and the category of every class of a density table.

Stock change is reported by the six IPCC land categories (2006 IPCC Guidelines, Vol. 4, Ch. 3,
section 3.2), laid out like the UNFCCC tables 4.A-4.F (:mod:`geocarbon.accounts.ipcc`). A class
gets its category from, in order:

1. the user's category table (``--ipcc-categories TABLE.csv``), a CSV with the columns
   ``class_code,ipcc_category``; the category is a short key (``forest``) or the full name
   (``Forest land``), in any case;
2. the class scheme of the codes: a built-in density table crosswalked to a scheme knows it
   (``CarbonTable.scheme``), and a user's table is in the scheme the user names (``--scheme``).
   The scheme's ``ipcc`` column gives the category (``geocarbon/data/schemes/SOURCES.md``).

A class with neither has no category, and the caller then leaves the category table out and
says why (:func:`missing_category_reason`). The text of the CSV is read like a density table's
(encodings, separators, codes as exact integers: :mod:`geocarbon.inputs.csv_text`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import (
    InputFileError,
    TableSchemaError,
    said,
)
from geocarbon.inputs.csv_text import (
    MAX_LISTED_PROBLEMS,
    decode_text,
    parse_code,
    split_rows,
)
from geocarbon.inputs.schemes import IPCC_KEYS as IPCC_KEYS  # the short keys, importable here
from geocarbon.inputs.schemes import get_scheme

#: Full names of the six IPCC land categories, aligned with :data:`IPCC_KEYS`; a category index
#: is a position in both.
IPCC_CATEGORIES = ("Forest land", "Cropland", "Grassland", "Wetlands", "Settlements", "Other land")
#: The columns of a category table.
CATEGORY_COLUMNS = ("class_code", "ipcc_category")
#: The command-line option that gives a category table.
CATEGORY_OPTION = "--ipcc-categories"
#: Codes listed in a message; the rest are counted.
MAX_LISTED_CODES = 20

_TABLE = "IPCC category table"
_ACCEPTED = (
    f"one of {', '.join(IPCC_KEYS)}, or a full name such as 'Forest land' or 'Other land' "
    "(any case)"
)
_INDEX_OF_TEXT = {
    **{key: index for index, key in enumerate(IPCC_KEYS)},
    **{name.lower(): index for index, name in enumerate(IPCC_CATEGORIES)},
}


def category_index(text: str) -> int | None:
    """Index into :data:`IPCC_CATEGORIES` of a short key or full name (any case); None if neither."""
    return _INDEX_OF_TEXT.get(re.sub(r"\s+", " ", text.strip()).lower())


def read_category_table(path: str | Path, *, encoding: str | None = None) -> dict[int, int]:
    """Read a category table: ``class_code,ipcc_category`` -> {class code: category index}.

    ``encoding`` is the CSV's text encoding (a Python codec name); None reads UTF-8 (BOM or not)
    or UTF-16 with a BOM, and falls back to GB18030 with an
    :class:`~geocarbon.errors.EncodingGuessWarning`. Other columns are ignored.

    Raises
    ------
    InputFileError
        The file does not exist, is a folder, or is not text in the encoding.
    TableSchemaError
        Anything wrong inside it; every problem is listed in one line, each naming its line and
        column.
    """
    path = Path(path)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise InputFileError(
            f"{_TABLE} {str(path)!r} {state}. Give {CATEGORY_OPTION} a CSV file with the columns "
            f"{', '.join(CATEGORY_COLUMNS)}."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{_TABLE} {str(path)!r} cannot be read: {said(exc)}.") from exc
    rows = split_rows(
        path,
        decode_text(path, data, encoding, what=_TABLE),
        expected=f"the columns {', '.join(CATEGORY_COLUMNS)}",
        what=_TABLE,
    )
    missing = [column for column in CATEGORY_COLUMNS if column not in rows.columns]
    if missing:
        raise _schema_error(
            path, [f"missing column(s) {', '.join(missing)} (found {', '.join(rows.columns)})"]
        )
    if not rows.lines:
        raise _schema_error(path, ["the table has no rows under its header; add one per class"])
    problems: list[str] = []
    categories: dict[int, int] = {}
    first_line: dict[int, int] = {}
    cells = zip(rows.lines, rows.cells["class_code"], rows.cells["ipcc_category"], strict=True)
    for line, code_text, category_text in cells:
        code = parse_code(code_text, line, "class_code", problems)
        index = category_index(category_text)
        if index is None:
            problems.append(
                f"line {line}, column 'ipcc_category': {_category_problem(category_text)}"
            )
        if code is None:
            continue
        if code in first_line:
            problems.append(
                f"line {line}, column 'class_code': class {code} repeats line {first_line[code]}; "
                "keep one row per class"
            )
            continue
        first_line[code] = line
        if index is not None:
            categories[code] = index
    if problems:
        raise _schema_error(path, problems)
    return categories


def category_of_classes(
    codes: NDArray[np.int64] | NDArray[np.uint64],
    scheme: str | None,
    override: Mapping[int, int] | None,
) -> NDArray[np.int8] | None:
    """The category index (into :data:`IPCC_CATEGORIES`) of each class code, or None.

    Parameters
    ----------
    codes
        The class codes of a density table (``CarbonTable.codes``), int64 or uint64.
    scheme
        The class scheme of the codes (``CarbonTable.scheme``, or the scheme the user names);
        None when the codes are in no built-in scheme.
    override
        A user's categories by code (:func:`read_category_table`); they win over the scheme's.

    Returns
    -------
    numpy.ndarray or None
        int8 category indices aligned with ``codes``; None when some class has none, and then
        :func:`missing_category_reason` says which and how to give them.

    Raises
    ------
    SchemeError
        ``scheme`` names no built-in scheme.
    """
    found = _categories(codes, scheme, override)
    if any(index is None for index in found):
        return None
    return np.array(found, dtype=np.int8)


def uncategorised_codes(
    codes: NDArray[np.int64] | NDArray[np.uint64],
    scheme: str | None,
    override: Mapping[int, int] | None,
) -> list[int]:
    """The class codes that neither ``override`` nor ``scheme`` gives a category, in table order."""
    found = _categories(codes, scheme, override)
    return [code for code, index in zip(codes.tolist(), found, strict=True) if index is None]


def missing_category_reason(
    codes: NDArray[np.int64] | NDArray[np.uint64],
    scheme: str | None,
    override: Mapping[int, int] | None,
    *,
    source: str = "the density table",
) -> str | None:
    """One line saying which classes have no IPCC category and how to give them; None if all do.

    ``source`` names the density table (its path or built-in name) in the message.
    """
    missing = uncategorised_codes(codes, scheme, override)
    if not missing:
        return None
    listed = ", ".join(str(code) for code in missing[:MAX_LISTED_CODES])
    if len(missing) > MAX_LISTED_CODES:
        listed += f" and {len(missing) - MAX_LISTED_CODES} more"
    where = (
        f"class scheme {get_scheme(scheme).name!r} has no such class"
        if scheme
        else "no class scheme is known for the table's codes"
    )
    plural = "es" if len(missing) > 1 else ""
    return (
        f"IPCC land-category table left out: class{plural} {listed} of {source} "
        f"{'have' if plural else 'has'} no IPCC land category ({where}). Give them with "
        f"{CATEGORY_OPTION} TABLE.csv, a CSV with the columns {','.join(CATEGORY_COLUMNS)} "
        f"(categories {', '.join(IPCC_KEYS)})"
        + ("" if scheme else ", or name the raster's class scheme with --scheme")
        + "."
    )


def _categories(
    codes: NDArray[np.int64] | NDArray[np.uint64],
    scheme: str | None,
    override: Mapping[int, int] | None,
) -> list[int | None]:
    """Each code's category index: the override's, else the scheme's, else None."""
    known = dict(override or {})
    for index in known.values():
        if not 0 <= index < len(IPCC_CATEGORIES):
            raise ValueError(f"category index {index} is not in 0-{len(IPCC_CATEGORIES) - 1}")
    by_scheme: dict[int, int] = {}
    if scheme is not None:
        built_in = get_scheme(scheme)
        by_scheme = {
            code: IPCC_KEYS.index(key)
            for code, key in zip(built_in.codes, built_in.ipcc, strict=True)
        }
    # Python ints compare exactly: uint64 codes above the int64 range stay themselves.
    return [known.get(code, by_scheme.get(code)) for code in codes.tolist()]


def _category_problem(text: str) -> str:
    if not text:
        return f"the cell is empty; write {_ACCEPTED}"
    stem = text.strip().lower().rstrip("s")
    near = [key for key in IPCC_KEYS if key.rstrip("s") == stem]
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"{text!r} is not an IPCC land category; {hint}write {_ACCEPTED}"


def _schema_error(path: Path, problems: list[str]) -> TableSchemaError:
    """One line: every problem (the first MAX_LISTED_PROBLEMS, then a count) and the fix."""
    listing = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        listing += f"; and {len(problems) - MAX_LISTED_PROBLEMS} more"
    return TableSchemaError(
        f"{_TABLE} {str(path)!r} ({CATEGORY_OPTION}) has {len(problems)} problem(s): {listing}. "
        "Fix these rows or columns and run again."
    )
