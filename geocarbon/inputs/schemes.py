"""Built-in land-cover class schemes, their crosswalks to CLCD and their IPCC land categories.

This module owns the catalogue of class schemes geocarbon knows (codes, English names, legend
colours) and, for each scheme, the CLCD class every code maps to, so that the China default
density table (keyed by CLCD codes 1-9) can serve rasters from other products, and the IPCC land
category of every code (one of :data:`IPCC_KEYS`), so that stock change can be reported by land
category. The tables live in ``geocarbon/data/schemes/<name>.csv`` (columns
``code,name,color,clcd,ipcc`` and, where the product publishes a Chinese legend, ``name_zh``);
their sources and the reasoning behind each crosswalk and
category judgement are in ``SOURCES.md`` next to them.

It must not read rasters or density tables, and it holds no state beyond a cache of the
read-only package data.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

from geocarbon.errors import SchemeError

CSV_COLUMNS = ("code", "name", "color", "clcd", "ipcc")
#: Optional last column: the class's name in the product's published Chinese legend (blank where
#: the product publishes none).
NAME_ZH_COLUMN = "name_zh"
#: Short keys of the six IPCC land categories (2006 IPCC Guidelines, Vol. 4, Ch. 3, section 3.2),
#: in the reporting order of the UNFCCC tables 4.A-4.F; the ``ipcc`` column holds one of them.
#: :mod:`geocarbon.inputs.categories` gives their full names.
IPCC_KEYS = ("forest", "cropland", "grassland", "wetlands", "settlements", "other")
#: CLCD class codes; every class of another scheme must map to one of them.
CLCD_CODES = tuple(range(1, 10))

#: (name, title, short citation, the product's nodata/fill code, which is never a class).
_REGISTRY: tuple[tuple[str, str, str, int | None], ...] = (
    (
        "clcd",
        "CLCD annual China Land Cover Dataset, 30 m",
        "Yang & Huang 2021, ESSD 13:3907, doi:10.5194/essd-13-3907-2021",
        0,
    ),
    (
        "cnlucc",
        "CNLUCC / RESDC China land use and land cover, two-digit codes",
        "Xu et al. 2018, doi:10.12078/2018070201; Liu et al. 2014, doi:10.1007/s11442-014-1082-6",
        None,
    ),
    (
        "esa-cci",
        "ESA CCI-LC / C3S global land cover, 300 m (LCCS legend)",
        "ESA 2017, Land Cover CCI Product User Guide v2.0; C3S, doi:10.24381/cds.006f2c9a",
        0,
    ),
    (
        "esa-worldcover",
        "ESA WorldCover 10 m (2020 v100, 2021 v200)",
        "Zanaga et al. 2021/2022, doi:10.5281/zenodo.5571936, doi:10.5281/zenodo.7254221",
        0,
    ),
    (
        "globeland30",
        "GlobeLand30 global land cover, 30 m",
        "Chen et al. 2015, ISPRS J. 103:7-27, doi:10.1016/j.isprsjprs.2014.09.002",
        255,
    ),
    (
        "modis-igbp",
        "MODIS MCD12Q1/MCD12C1 LC_Type1 (IGBP)",
        "Friedl & Sulla-Menashe 2019, doi:10.5067/MODIS/MCD12Q1.006, doi:10.5067/MODIS/MCD12C1.006",
        255,
    ),
)
_ALIASES = {
    "worldcover": "esa-worldcover",
    "igbp": "modis-igbp",
    "modis": "modis-igbp",
    "resdc": "cnlucc",
    "cci": "esa-cci",
    "glc30": "globeland30",
}


@dataclass(frozen=True)
class ClassScheme:
    """One land-cover class scheme: its classes, legend colours, crosswalk to CLCD and IPCC
    land categories.

    ``codes``, ``names``, ``colors`` (``#rrggbb``), ``to_clcd`` and ``ipcc`` are aligned and
    sorted by code. ``to_clcd`` holds the CLCD code (1-9) of each class, and ``None`` only in the
    CLCD scheme itself. ``ipcc`` holds the IPCC land category of each class, as one of
    :data:`IPCC_KEYS`. ``nodata`` is the product's conventional fill code; it is never a class.
    """

    name: str
    title: str
    source: str
    nodata: int | None
    codes: tuple[int, ...]
    names: tuple[str, ...]
    colors: tuple[str, ...]
    to_clcd: tuple[int | None, ...]
    ipcc: tuple[str, ...]
    #: Chinese names from the product's published legend, aligned with ``codes`` ("" where none)
    names_zh: tuple[str, ...] = ()

    def _index(self, code: int) -> int:
        try:
            return self.codes.index(int(code))
        except ValueError:
            known = ", ".join(str(c) for c in self.codes)
            raise SchemeError(
                f"Class code {code} is not in class scheme {self.name!r} ({self.title}). "
                f"Known codes: {known}. Check that the raster really uses this scheme."
            ) from None

    def name_of(self, code: int) -> str:
        """English name of class ``code``; raises :class:`SchemeError` if it is not a class."""
        return self.names[self._index(code)]

    def name_zh_of(self, code: int) -> str | None:
        """Published Chinese name of class ``code``, or None where the product has none."""
        index = self._index(code)
        return (self.names_zh[index] if index < len(self.names_zh) else "") or None

    def color_of(self, code: int) -> str:
        """Legend colour (``#rrggbb``) of class ``code``; raises :class:`SchemeError` if absent."""
        return self.colors[self._index(code)]

    def category_of(self, code: int) -> str:
        """IPCC land category of class ``code`` (one of :data:`IPCC_KEYS`); raises
        :class:`SchemeError` if it is not a class."""
        return self.ipcc[self._index(code)]

    def crosswalk_to_clcd(self) -> dict[int, int]:
        """Map every class code to its CLCD code (1-9); the identity for CLCD itself."""
        if self.name == "clcd":
            return {code: code for code in self.codes}
        return {c: t for c, t in zip(self.codes, self.to_clcd, strict=True) if t is not None}


def scheme_names() -> tuple[str, ...]:
    """Canonical names of the built-in class schemes, sorted."""
    return tuple(sorted(entry[0] for entry in _REGISTRY))


def get_scheme(name: str) -> ClassScheme:
    """Return a built-in class scheme by name.

    Parameters
    ----------
    name
        Canonical name (see :func:`scheme_names`) or alias (``worldcover``, ``igbp``,
        ``modis``, ``resdc``, ``cci``, ``glc30``); case and surrounding spaces are ignored.

    Returns
    -------
    ClassScheme
        The scheme, read once from package data and cached.

    Raises
    ------
    SchemeError
        The name is unknown (the message lists the known names and aliases).
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in scheme_names():
        aliases = ", ".join(f"{alias}->{target}" for alias, target in sorted(_ALIASES.items()))
        raise SchemeError(
            f"Unknown class scheme {name!r}. Known schemes: {', '.join(scheme_names())} "
            f"(aliases: {aliases})."
        )
    return _load_scheme(key)


def schemes_containing(codes: set[int]) -> tuple[str, ...]:
    """Names of the built-in schemes that have a class for every code in ``codes``."""
    return tuple(
        name
        for name in scheme_names()
        if codes <= set(get_scheme(name).codes) | {get_scheme(name).nodata}
    )


@functools.cache
def _load_scheme(name: str) -> ClassScheme:
    """Read and check ``data/schemes/<name>.csv``; ``name`` must be canonical."""
    _, title, source, nodata = next(entry for entry in _REGISTRY if entry[0] == name)
    resource = resources.files("geocarbon") / "data" / "schemes" / f"{name}.csv"
    rows = list(csv.DictReader(io.StringIO(resource.read_text(encoding="utf-8"))))
    columns = tuple(rows[0]) if rows else ()
    problems = (
        []
        if columns in (CSV_COLUMNS, (*CSV_COLUMNS, NAME_ZH_COLUMN))
        else [f"columns must be {CSV_COLUMNS} (and optionally {NAME_ZH_COLUMN})"]
    )
    codes = tuple(int(row["code"]) for row in rows)
    to_clcd = tuple(int(row["clcd"]) if row["clcd"].strip() else None for row in rows)
    if name != "clcd":
        unmapped = [c for c, t in zip(codes, to_clcd, strict=True) if t not in CLCD_CODES]
        if unmapped:
            problems.append(f"classes {unmapped} have no CLCD target in 1-9")
    ipcc = tuple((row.get("ipcc") or "").strip().lower() for row in rows)
    uncategorised = [c for c, key in zip(codes, ipcc, strict=True) if key not in IPCC_KEYS]
    if uncategorised:
        problems.append(f"classes {uncategorised} have no IPCC category in {', '.join(IPCC_KEYS)}")
    if list(codes) != sorted(set(codes)) or nodata in codes:
        problems.append(f"codes must be unique, sorted and exclude nodata {nodata}")
    if problems:
        # Package data is ours, so this is a geocarbon bug, not a user error; say where.
        raise SchemeError(f"Built-in scheme file {resource} is invalid: {'; '.join(problems)}.")
    return ClassScheme(
        name=name,
        title=title,
        source=source,
        nodata=nodata,
        codes=codes,
        names=tuple(row["name"] for row in rows),
        colors=tuple(row["color"].lower() for row in rows),
        to_clcd=to_clcd,
        ipcc=ipcc,
        names_zh=tuple((row.get(NAME_ZH_COLUMN) or "").strip() for row in rows),
    )
