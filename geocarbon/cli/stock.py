"""``geocarbon stock`` and ``geocarbon demo``: carbon density rasters and a stock summary."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.map import run_map_options, write_run_pages
from geocarbon.cli.options import (
    area_option,
    creation_option,
    creation_options_of,
    dask_option,
    densities_option,
    encoding_option,
    memory_option,
    nodata_option,
    out_option,
    overwrite_option,
    quiet_option,
    scheme_option,
    threads_option,
    unknown_option,
)
from geocarbon.config import (
    DEMO_OUT_DIR,
    SAMPLE_DENSITIES,
    SAMPLE_LANDCOVER,
)


@click.command()
@click.argument("landcover", type=click.Path(path_type=Path))
@densities_option
@out_option
@scheme_option
@unknown_option
@area_option
@nodata_option
@creation_option
@encoding_option
@click.option("--no-rasters", is_flag=True, help="Only the summary tables.")
@run_map_options
@dask_option
@memory_option
@threads_option
@overwrite_option
@quiet_option
def stock(
    landcover: Path,
    densities: str,
    out_dir: Path,
    scheme: str | None,
    unknown: str,
    area_method: str,
    nodata: int | None,
    creation_options: tuple[str, ...],
    encoding: str | None,
    no_rasters: bool,
    with_map: bool,
    with_report: bool,
    lang: str,
    dask: str | None,
    memory_mb: int,
    threads: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Carbon density rasters (COG, Mg C/ha) per pool and total, and a stock summary per class.

    LANDCOVER is any raster GDAL reads (GeoTIFF, COG, VRT, a /vsi path), an http(s)://, s3:// or
    gs:// URL, or a STAC item (.json file or URL; #ASSET picks its asset).
    """
    from geocarbon.runs.stock import StockConfig, run_stock

    config = StockConfig(
        landcover=landcover,
        densities=densities,
        out_dir=out_dir,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        nodata=nodata,
        creation_options=creation_options_of(creation_options),
        encoding=encoding,
        write_rasters=not no_rasters,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=threads,
        progress=False if quiet else None,
        dask=dask,
    )
    _report_stock(run_stock(config), quiet)
    write_run_pages(
        out_dir,
        with_map=with_map,
        with_report=with_report,
        lang=lang,
        overwrite=overwrite,
        quiet=quiet,
    )


@click.command()
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=DEMO_OUT_DIR,
    show_default=True,
    help="Output folder.",
)
@overwrite_option
@quiet_option
def demo(out_dir: Path, overwrite: bool, quiet: bool) -> None:
    """Run `stock` on the bundled sample (rasters/clcd_2020.tif, China CLCD default densities)."""
    from geocarbon.runs.stock import StockConfig, run_stock

    if not SAMPLE_LANDCOVER.exists():
        raise click.UsageError(
            f"The sample {SAMPLE_LANDCOVER} is not here; run `geocarbon demo` from the root of a "
            "geocarbon checkout (or regenerate it: python -m geocarbon.sample --rasters rasters --vectors vectors)."
        )
    config = StockConfig(
        landcover=SAMPLE_LANDCOVER,
        densities=SAMPLE_DENSITIES,
        out_dir=out_dir,
        overwrite=overwrite,
        progress=False if quiet else None,
    )
    _report_stock(run_stock(config), quiet)


def _report_stock(result: object, quiet: bool) -> None:
    from geocarbon.runs.stock import StockResult

    assert isinstance(result, StockResult)
    totals = result.summary["totals"]
    area = result.summary["area_ha"]
    if not quiet:
        click.echo(
            f"Total stock {totals['stock_total_tg']:.6g} Tg C over {area['valid']:.6g} ha of valid land "
            f"(area method: {result.summary['area_method']}; nodata {result.summary['pixel_count']['nodata']} px)."
        )
        for path in result.outputs:
            click.echo(f"  wrote {path}")
