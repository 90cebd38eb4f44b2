"""Static figures (PNG, SVG, PDF) drawn from the tables a stock, zonal or change run wrote.

The package owns six figures: stock by pool per land-cover class (stock runs) and per region,
net change per region with its Monte Carlo interval, the land-cover conversions behind the
change, the stock series, and a map of the regions. Each ``*_figure`` function takes
DataFrames (or the regions layer) shaped like geocarbon's outputs and returns a matplotlib
:class:`~matplotlib.figure.Figure` drawn on an Agg canvas: no display, no pyplot state, nothing
written. :func:`write_figures` is the I/O edge: it reads the run's tables, renders every figure
they allow and writes the images under temporary names, renamed on success.

Names (regions, classes) are drawn as typed: no text of a figure is read as mathtext or LaTeX.
Figures only select rows, convert Mg C to Tg C and sort; every number comes from the tables,
never from pixels. matplotlib is imported inside the functions that draw, so importing
geocarbon does not pay for it. ``unassigned`` (land outside every region) is left out of the
per-region figures: it is not a region.

Why a package, one module per reason to change:

- :mod:`~geocarbon.figures.tables`, the reading side, tied to the output contract (which tables
  a run wrote, found through :mod:`geocarbon.outputs.find`, and the columns each figure needs,
  which ``tests/outputs/test_outputs_spec.py`` checks against the spec); no matplotlib.
- :mod:`~geocarbon.figures.charts`, the bar and line charts (colours, sizes); never reads a file.
- :mod:`~geocarbon.figures.maps`, the map: projection, the South China Sea inset, scale bar
  and north arrow; reads only the lines it is given.
- :mod:`~geocarbon.figures.labels`, every word of the figures in English and Chinese, and the
  scheme's Chinese class names and colours.
- :mod:`~geocarbon.figures.fonts`, the CJK fallback font and the editable-text settings of SVG
  and PDF.

:func:`write_figures` joins them and writes the files, so it lives here, the one name the
command line and the notebooks import. The column tuples are exported here too, as the columns
figures read from the output contract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from geocarbon.config import DEFAULT_DPI, DEFAULT_LANGUAGE
from geocarbon.errors import ConfigError
from geocarbon.figures.charts import figure_builders
from geocarbon.figures.fonts import figure_rc, has_cjk
from geocarbon.figures.labels import labels_for
from geocarbon.figures.maps import map_value_for, read_lines, region_map_figure
from geocarbon.figures.tables import (
    CHANGE_COLUMNS,
    SERIES_COLUMNS,
    STOCK_COLUMNS,
    TRANSITION_COLUMNS,
    FigureTables,
    read_figure_tables,
)
from geocarbon.outputs.staging import StagedOutputs

__all__ = [
    "CHANGE_COLUMNS",
    "SERIES_COLUMNS",
    "STOCK_COLUMNS",
    "TRANSITION_COLUMNS",
    "write_figures",
]

DEFAULT_FORMATS = ("png", "svg")


def write_figures(
    out_dir: str | Path,
    *,
    figures_dir: str | Path | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    dpi: float = DEFAULT_DPI,
    lang: str = DEFAULT_LANGUAGE,
    maritime_lines: str | Path | None = None,
    annual_map: bool = False,
    overwrite: bool = False,
) -> list[Path]:
    """Draw every figure the outputs in ``out_dir`` allow and write each in every format.

    Figures (file stem: content):

    - ``stock_by_class``: stock per land-cover class (Tg C), stacked by pool, with low-high
      whiskers when the table has them (stock_summary.csv of a stock run).
    - ``stock_by_pool``: stock per region (Tg C), stacked by pool; the last year of series.csv
      after a change run, else regions.csv of a zonal run.
    - ``net_change``: net change per region (Tg C) over the first-to-last period of change.csv,
      with 5-95 % whiskers when the Monte Carlo columns exist.
    - ``transitions``: area (ha) converted from each class to the others over the first-to-last
      period, all regions together.
    - ``stock_series``: total stock per region over time (Tg C), when series.csv has more than
      two years, with the 5-95 % band when present.
    - ``map``: the regions coloured by mean density (zonal) or net change over the
      first-to-last period (change), with a colour bar, scale bar and north arrow; regions that
      cover China get the South China Sea inset and ``maritime_lines``.

    Parameters
    ----------
    out_dir
        The ``--out`` folder of a ``geocarbon stock``, ``zonal`` or ``change`` run.
    figures_dir
        Where to write the images; default ``out_dir / "figures"``.
    formats
        Image formats matplotlib can write, as file suffixes (default PNG and SVG). SVG keeps
        every text a ``<text>`` element and PDF embeds TrueType fonts, so words stay editable.
    dpi
        Resolution of raster formats (PNG), dots per inch; default 300.
    lang
        Language of the figures' words: ``en`` or ``zh`` (Chinese; class names from the
        scheme's ``name_zh`` where it has one). Chinese text, in labels or names, is drawn with
        Noto Sans CJK; a :class:`~geocarbon.figures.fonts.MissingFontWarning` says when it is
        not installed.
    maritime_lines
        A vector file of lines (the maritime boundary lines) drawn on the map when the regions
        cover China; the package bundles none.
    annual_map
        Map the annual net change (Tg C/yr; positive: an annual sink) of a change run instead
        of its net change over the period.
    overwrite
        Replace existing figure files; by default they are refused.

    Returns
    -------
    list of pathlib.Path
        The files written, figure by figure, in the order of ``formats``.

    Raises
    ------
    InputFileError
        ``out_dir`` holds no geocarbon run, its run (as its manifest or summary says) wrote none
        of regions.csv, series.csv, change.csv, transitions.csv, or one of them lacks the
        columns a figure needs.
    OutputExistsError
        A figure file exists and ``overwrite`` is False; nothing is written.
    ConfigError
        A format matplotlib cannot write, a resolution that is not positive or an unknown
        language.
    """
    import matplotlib

    out_dir = Path(out_dir)
    suffixes = _check_formats(formats)
    labels = labels_for(lang)
    if not dpi > 0:
        raise ConfigError(f"Figure resolution must be a positive number of dpi, got {dpi!r}.")
    tables = read_figure_tables(out_dir)
    builders, needs_cjk = figure_set(
        tables, lang=labels.lang, maritime_lines=maritime_lines, annual_map=annual_map
    )
    target = out_dir / "figures" if figures_dir is None else Path(figures_dir)
    paths = {
        (name, suffix): target / f"{name}.{suffix}" for name in builders for suffix in suffixes
    }
    with (
        StagedOutputs(list(paths.values()), overwrite=overwrite) as staged,
        matplotlib.rc_context(figure_rc(needs_cjk=needs_cjk)),
    ):
        for name, build in builders.items():
            figure = build()
            for suffix in suffixes:
                figure.savefig(
                    staged.temp(paths[name, suffix]),
                    format=suffix,
                    dpi=dpi,
                    bbox_inches="tight",
                )
    return list(paths.values())


def figure_set(
    tables: FigureTables,
    *,
    lang: str = DEFAULT_LANGUAGE,
    maritime_lines: str | Path | None = None,
    annual_map: bool = False,
) -> tuple[dict[str, Callable[[], Any]], bool]:
    """The figures a run's ``tables`` allow, by name (each a function drawing it), and whether
    their text needs the CJK font: what :func:`write_figures` writes and the report embeds."""
    labels = labels_for(lang)
    builders = figure_builders(tables, labels)
    lines = None if maritime_lines is None else read_lines(maritime_lines)
    if tables.regions is not None:
        value = map_value_for(tables.regions, labels, annual=annual_map)
        if value is not None:
            builders["map"] = partial(
                region_map_figure, tables.regions, value, labels=labels, maritime_lines=lines
            )
    return builders, labels.lang == "zh" or has_cjk(_table_texts(tables))


def _table_texts(tables: FigureTables) -> list[str]:
    """The names the figures may draw: region and class names of every table."""
    columns = ("region_name", "class_name", "name_from", "name_to")
    frames = (tables.classes, tables.stocks, tables.change, tables.transitions, tables.series)
    return [
        str(value)
        for frame in frames
        if frame is not None
        for column in columns
        if column in frame.columns
        for value in frame[column].dropna().unique()
    ]


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    from matplotlib.backend_bases import FigureCanvasBase

    suffixes = (formats,) if isinstance(formats, str) else tuple(formats)
    supported = FigureCanvasBase.get_supported_filetypes()
    unknown = [suffix for suffix in suffixes if suffix not in supported]
    if unknown or not suffixes:
        raise ConfigError(
            f"Cannot write figures as {unknown or 'no format'}; choose among {', '.join(sorted(supported))}."
        )
    return suffixes
