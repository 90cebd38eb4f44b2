"""``geocarbon report``: one self-contained HTML page describing a finished run."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.options import lang_option, overwrite_option, quiet_option


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_html",
    type=click.Path(path_type=Path),
    help="The HTML page to write (default: OUT_DIR/report.html).",
)
@lang_option("Language of the report's headings and labels: English or Chinese.")
@overwrite_option
@quiet_option
def report(out_dir: Path, out_html: Path | None, lang: str, overwrite: bool, quiet: bool) -> None:
    """Write OUT_DIR/report.html (or --out): what a stock, zonal or change run did and found."""
    from geocarbon.report import write_report

    written = write_report(out_dir, out_html=out_html, lang=lang, overwrite=overwrite)
    if not quiet:
        click.echo(f"wrote {written}")
