"""CSV tables meant for spreadsheets: text that a spreadsheet would run as a formula is neutralised.

Excel, LibreOffice and WPS treat a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a
formula, and so do cells beginning with a tab or a carriage return (they strip it and read on):
a region named ``=HYPERLINK("http://x","y")`` in a CSV becomes a live link or worse when a planner
opens the file ("CSV injection"). Following OWASP's advice, :func:`neutralise_formulas` puts a
single quote ``'`` before every such text cell: spreadsheets show the text as typed (the quote
marks it as text), and a reader who parses the CSV sees the quote and can strip it.

Only text cells change (columns of object or string dtype). Numeric columns are never touched, so
negative numbers such as ``-12.5`` stay numbers; a text cell that merely looks like a negative
number (``-2``) is quoted like any other text starting with ``-``. Only the CSV tables carry the
quote: GeoPackage, GeoParquet and JSON outputs keep every name exactly as given, since no
spreadsheet evaluates them and programs read them.

geocarbon's own readers of its CSV tables (figures, maps) take the quote off again with
:func:`restore_formulas`. That is exact except for text that itself began with ``'`` followed by
a formula character (``'=x`` reads back as ``=x``); a name such as ``'s-Hertogenbosch`` is kept.
"""

from __future__ import annotations

import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells starting with a formula character begin with ``'``.

    Parameters
    ----------
    frame
        A table about to be written as CSV. It is not modified.

    Returns
    -------
    pandas.DataFrame
        The same columns, dtypes and index; in object and string columns (categorical ones
        become object), each ``str`` value starting with one of :data:`FORMULA_STARTS` is
        prefixed with ``'``, and so is such a column name. Missing values, numbers and other
        cells are unchanged.
    """
    out = frame.copy()
    for position, dtype in enumerate(frame.dtypes):
        column = frame.iloc[:, position]
        if isinstance(dtype, pd.CategoricalDtype):  # two categories may become one: plain text
            out.isetitem(position, column.astype(object).map(_neutralise, na_action="ignore"))
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            out.isetitem(position, column.map(_neutralise, na_action="ignore").astype(dtype))
    out.columns = [_neutralise(label) for label in frame.columns]
    return out


def neutralise_text(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _neutralise(value: object) -> object:
    return neutralise_text(value) if isinstance(value, str) else value


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` on a CSV table read back: a copy of ``frame`` whose text
    cells (and column names) starting with ``'`` and then a formula character lose the ``'``."""
    out = frame.copy()
    for position, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            column = frame.iloc[:, position]
            out.isetitem(position, column.map(_restore, na_action="ignore").astype(dtype))
    out.columns = [_restore(label) for label in frame.columns]
    return out


def _restore(value: object) -> object:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
