"""``geocarbon map`` and ``geocarbon web-assets``: interactive web maps of finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.options import overwrite_option, quiet_option


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
@overwrite_option
@quiet_option
def map_command(
    results: Path, out_html: Path, offline: bool, assets: Path | None, overwrite: bool, quiet: bool
) -> None:
    """An interactive web map of the outputs of stock, zonal or change in RESULTS."""
    from geocarbon.web.map import write_map

    written = write_map(results, out_html, offline=offline, assets=assets, overwrite=overwrite)
    if not quiet:
        click.echo(f"wrote {written}")


@click.command(name="web-assets")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    help="Where to install (default: the cache).",
)
def web_assets(folder: Path | None) -> None:
    """Fetch the JavaScript and CSS offline maps need from the npm registry (once)."""
    from geocarbon.web.assets import default_assets_dir, fetch_assets, required_packages
    from geocarbon.web.map import empty_map_html

    target = folder or default_assets_dir()
    packages = required_packages(empty_map_html())
    fetch_assets(packages, target)
    click.echo(
        f"installed {', '.join(f'{n}@{v}' for n, v in sorted(packages.items()))} into {target}"
    )
