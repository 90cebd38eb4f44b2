"""``geocarbon map`` and ``geocarbon web-assets``: interactive web maps of finished runs.

Also the ``--map``, ``--report`` and ``--lang`` options of stock, zonal and change
(:func:`run_map_options`) and the step that writes ``map.html`` and ``report.html`` into their
output folder after the run (:func:`write_run_pages`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from geocarbon.cli.options import lang_option, overwrite_option, quiet_option


def run_map_options(function: Any) -> Any:
    """``--map``, ``--report`` and ``--lang`` for a run command."""
    function = lang_option(
        "Language of the map and report (with --map, --report): English or Chinese."
    )(function)
    function = click.option(
        "--report",
        "with_report",
        is_flag=True,
        help="Also write report.html (what was run and found) into the output folder.",
    )(function)
    return click.option(
        "--map", "with_map", is_flag=True, help="Also write map.html into the output folder."
    )(function)


def write_run_pages(
    out_dir: Path, *, with_map: bool, with_report: bool, lang: str, overwrite: bool, quiet: bool
) -> None:
    """After a run: ``out_dir/map.html`` (progress on stderr unless ``quiet``), then
    ``out_dir/report.html``, which links the map."""
    written = []
    if with_map:
        from geocarbon.web.map import write_map

        written.append(
            write_map(
                out_dir,
                out_dir / "map.html",
                overwrite=overwrite,
                lang=lang,
                progress=_progress(quiet),
            )
        )
    if with_report:
        from geocarbon.report import write_report

        written.append(write_report(out_dir, lang=lang, overwrite=overwrite))
    if not quiet:
        for path in written:
            click.echo(f"  wrote {path}")


def _progress(quiet: bool) -> Callable[[str], None] | None:
    return None if quiet else (lambda step: click.echo(f"map: {step}", err=True))


@click.command(name="map")
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_html",
    type=click.Path(path_type=Path),
    required=True,
    help="The HTML page to write.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Copy the page's JavaScript and CSS beside it (see `web-assets`).",
)
@click.option(
    "--assets",
    type=click.Path(path_type=Path),
    help="Folder of fetched web assets (default: the cache).",
)
@lang_option("Language of every label, legend, layer name, tooltip and popup.")
@click.option(
    "--tiles",
    help="A base map of your own: an XYZ URL template (https://.../{z}/{x}/{y}.png) or a local "
    "folder of {z}/{x}/{y}.png tiles. The map is in WGS 84: tiles in GCJ-02 (Amap/Gaode, "
    "Tencent) or BD-09 (Baidu) are offset from it.",
)
@overwrite_option
@quiet_option
def map_command(
    results: Path,
    out_html: Path,
    offline: bool,
    assets: Path | None,
    lang: str,
    tiles: str | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """An interactive web map of the outputs of stock, zonal or change in RESULTS."""
    from geocarbon.web.map import write_map

    written = write_map(
        results,
        out_html,
        offline=offline,
        assets=assets,
        overwrite=overwrite,
        lang=lang,
        tiles=tiles,
        progress=_progress(quiet),
    )
    if not quiet:
        click.echo(f"wrote {written}")


@click.command(name="web-assets")
@click.option(
    "-o",
    "--out",
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    help="Folder to install into (default: the cache).",
)
@quiet_option
def web_assets(folder: Path | None, quiet: bool) -> None:
    """Fetch the JavaScript and CSS offline maps need from the npm registry (once)."""
    from geocarbon.web.assets import default_assets_dir, fetch_assets, required_packages
    from geocarbon.web.map import empty_map_html

    target = folder or default_assets_dir()
    packages = required_packages(empty_map_html())
    fetch_assets(packages, target)
    if not quiet:
        click.echo(
            f"installed {', '.join(f'{n}@{v}' for n, v in sorted(packages.items()))} into {target}"
        )
