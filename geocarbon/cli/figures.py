"""``geocarbon figures``: figures of finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.options import lang_option, overwrite_option, quiet_option
from geocarbon.config import DEFAULT_DPI

FORMATS = ("png", "svg", "pdf")


@click.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "figures_dir",
    type=click.Path(path_type=Path),
    help="Folder (default: RESULTS/figures).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(FORMATS, case_sensitive=False),
    multiple=True,
    help="Image format; repeat for several (default: png and svg). SVG and PDF keep the text "
    "editable.",
)
@click.option(
    "--dpi",
    type=click.FloatRange(min=1.0),
    default=float(DEFAULT_DPI),
    show_default=True,
    help="Resolution of PNG figures (dots per inch).",
)
@lang_option("Language of titles, axes, legends and class names (zh: Chinese).")
@click.option(
    "--maritime-lines",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lines (GeoJSON, GeoPackage...) to draw on maps of regions that cover China, e.g. the "
    "maritime boundary lines; the South China Sea inset is drawn either way.",
)
@click.option(
    "--annual",
    "annual_map",
    is_flag=True,
    help="Map a change run's annual net change (Tg C/yr, the annual sink) instead of its net "
    "change over the period.",
)
@overwrite_option
@quiet_option
def figures(
    results: Path,
    figures_dir: Path | None,
    formats: tuple[str, ...],
    dpi: float,
    lang: str,
    maritime_lines: Path | None,
    annual_map: bool,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Figures (PNG and SVG, or --format) of the outputs of stock, zonal or change in RESULTS."""
    from geocarbon.figures import DEFAULT_FORMATS, write_figures

    written = write_figures(
        results,
        figures_dir=figures_dir,
        formats=tuple(f.lower() for f in formats) or DEFAULT_FORMATS,
        dpi=dpi,
        lang=lang.lower(),
        maritime_lines=maritime_lines,
        annual_map=annual_map,
        overwrite=overwrite,
    )
    if not quiet:
        for path in written:
            click.echo(f"wrote {path}")
