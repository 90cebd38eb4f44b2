"""Library errors quoted inside geocarbon's one-line messages."""

from __future__ import annotations

import pytest

from geocarbon.errors import said


@pytest.mark.parametrize(
    ("error", "clause"),
    [
        (
            OSError("'/x.tif' not recognized as being in a supported file format."),
            "'/x.tif' not recognized as being in a supported file format",
        ),
        (ValueError("line one.\nline  two...\n"), "line one. line two"),
        (RuntimeError(""), "RuntimeError"),
        (KeyError("band"), "'band'"),
        (
            OSError("Range downloading not supported by this server!"),
            "Range downloading not supported by this server",
        ),
    ],
)
def test_said_is_one_line_without_its_closing_full_stop(error, clause):
    assert said(error) == clause
