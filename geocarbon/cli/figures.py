"""``geocarbon figures``: figures of finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.options import overwrite_option, quiet_option


@click.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "figures_dir",
    type=click.Path(path_type=Path),
    help="Folder (default: RESULTS/figures).",
)
@overwrite_option
@quiet_option
def figures(results: Path, figures_dir: Path | None, overwrite: bool, quiet: bool) -> None:
    """Figures (PNG and SVG) of the outputs of zonal or change in RESULTS."""
    from geocarbon.figures import write_figures

    written = write_figures(results, figures_dir=figures_dir, overwrite=overwrite)
    if not quiet:
        for path in written:
            click.echo(f"wrote {path}")
