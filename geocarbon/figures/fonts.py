"""Fonts and output settings of the figures: a CJK fallback font and editable text in SVG/PDF.

:func:`figure_rc` gives the matplotlib settings every figure is built and saved under: the font
families (DejaVu Sans for Latin text, then Noto Sans CJK from Debian's ``fonts-noto-cjk`` for
Chinese region and class names), text kept as text in SVG (``svg.fonttype: none``) and TrueType
fonts embedded in PDF (``pdf.fonttype: 42``), so an editor can change the words of a figure.
It never changes matplotlib's global settings: callers enter ``matplotlib.rc_context``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geocarbon.errors import MissingFontWarning, warn

#: The Latin font first (matplotlib's own, always there), then the CJK fallback.
LATIN_FAMILY = "DejaVu Sans"
#: Noto Sans CJK family names, the Simplified Chinese one first (its glyph shapes are the ones
#: mainland readers expect); every one covers the CJK Unified Ideographs.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK HK",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
)
#: The font files of fonts-noto-cjk, looked for among the system fonts when matplotlib's font
#: cache predates the package's installation.
CJK_FILE_PREFIX = "NotoSansCJK"
INSTALL_HINT = (
    "Install Noto Sans CJK (Debian/Ubuntu: apt-get install fonts-noto-cjk) to draw Chinese "
    "names; without it they are drawn as empty boxes."
)


def cjk_family() -> str | None:
    """The name of an installed Noto Sans CJK family, registering its files with matplotlib's
    font manager if its cache does not know them yet; None if none is installed."""
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    found = next((family for family in CJK_FAMILIES if family in known), None)
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        if Path(path).name.startswith(CJK_FILE_PREFIX):
            font_manager.fontManager.addfont(path)
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


def font_families(*, needs_cjk: bool) -> list[str]:
    """Font families for the figures' text, with the CJK fallback when one is installed.

    Warns once (:class:`MissingFontWarning`, naming the package to install) when ``needs_cjk``
    and no CJK font is installed.
    """
    family = cjk_family()
    if family is None:
        if needs_cjk:
            warn(INSTALL_HINT, MissingFontWarning)
        return [LATIN_FAMILY]
    return [LATIN_FAMILY, family]


def figure_rc(*, needs_cjk: bool) -> dict[Any, Any]:
    """matplotlib settings to build and save figures under (``matplotlib.rc_context``)."""
    return {
        "font.family": font_families(needs_cjk=needs_cjk),
        "svg.fonttype": "none",  # text stays <text>, editable
        "pdf.fonttype": 42,  # TrueType embedded, text editable and searchable
        "text.usetex": False,
    }


def has_cjk(texts: list[str]) -> bool:
    """Whether any of ``texts`` holds a CJK character (ideographs, punctuation, full-width)."""
    return any(_is_cjk(character) for text in texts for character in text)


def _is_cjk(character: str) -> bool:
    code = ord(character)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, punctuation, kana, ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x3134F  # extension ideographs
    )
