"""``geocarbon zonal``: carbon stocks by region in one pass."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.choices import (
    COVERAGE_MODES,
)
from geocarbon.cli.map import run_map_options, write_run_pages
from geocarbon.cli.options import (
    COVERAGE_HELP,
    REGIONS_SOURCE,
    REGIONS_SOURCE_HELP,
    area_option,
    dask_option,
    densities_option,
    encoding_option,
    memory_option,
    nodata_option,
    out_option,
    overwrite_option,
    parent_field_option,
    postgis_options,
    quiet_option,
    scheme_option,
    threads_option,
    unknown_option,
)
from geocarbon.config import (
    DEFAULT_COVERAGE,
)


@click.command()
@click.argument("landcover", type=click.Path(path_type=Path))
@click.option(
    "--regions",
    type=REGIONS_SOURCE,
    required=True,
    help=f"Region polygons: any vector format, or {REGIONS_SOURCE_HELP}.",
)
@click.option(
    "--id-field", required=True, help="Unique region id field (also a density table's region_id)."
)
@click.option("--name-field", help="Region name field.")
@parent_field_option
@click.option("--layer", help="Layer of the vector file (default: its first) or PostGIS table.")
@click.option(
    "--coverage",
    type=click.Choice(COVERAGE_MODES),
    default=DEFAULT_COVERAGE,
    show_default=True,
    help=COVERAGE_HELP,
)
@densities_option
@out_option
@scheme_option
@unknown_option
@area_option
@nodata_option
@encoding_option
@run_map_options
@dask_option
@memory_option
@threads_option
@postgis_options
@overwrite_option
@quiet_option
def zonal(
    landcover: Path,
    regions: Path | str,
    id_field: str,
    name_field: str | None,
    parent_field: str | None,
    layer: str | None,
    coverage: str,
    densities: str,
    out_dir: Path,
    scheme: str | None,
    unknown: str,
    area_method: str,
    nodata: int | None,
    encoding: str | None,
    with_map: bool,
    with_report: bool,
    lang: str,
    dask: str | None,
    memory_mb: int,
    threads: int,
    to_postgis: str | None,
    postgis_schema: str | None,
    postgis_prefix: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Carbon stocks by region (province, prefecture, reserve) in one pass over the land cover.

    LANDCOVER is any raster GDAL reads (GeoTIFF, COG, VRT, a /vsi path), an http(s)://, s3:// or
    gs:// URL, or a STAC item (.json file or URL; #ASSET picks its asset). Only the blocks meeting
    the regions' bounding boxes are read, over the network by byte range.
    """
    from geocarbon.outputs.postgis import run_target
    from geocarbon.runs.zonal import ZonalConfig, run_zonal

    target = run_target(
        "zonal",
        to_postgis,
        schema=postgis_schema,
        prefix=postgis_prefix,
        overwrite=overwrite,
        regions=True,
    )

    config = ZonalConfig(
        landcover=landcover,
        regions=regions,
        densities=densities,
        id_field=id_field,
        out_dir=out_dir,
        name_field=name_field,
        parent_field=parent_field,
        layer=layer,
        coverage=coverage,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        nodata=nodata,
        encoding=encoding,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=threads,
        progress=False if quiet else None,
        dask=dask,
        to_postgis=target,
    )
    result = run_zonal(config)
    if not quiet:
        area, totals = result.summary["area_ha"], result.summary["totals"]
        click.echo(
            f"{result.summary['n_regions']} regions hold {totals['stock_total_tg']:.6g} Tg C "
            f"on {area['regions_valid']:.6g} ha; outside every region (not included): "
            f"{totals['stock_total_tg_unassigned']:.6g} Tg C on {area['unassigned_valid']:.6g} ha "
            f"(coverage {result.summary['coverage']}, area method {result.summary['area_method']})."
        )
        if result.summary.get("pixels_outside_extent"):
            click.echo(
                f"  {result.summary['area_outside_extent_ha']:.6g} ha beyond the regions' bounding boxes "
                f"not read ({result.summary['blocks_read']} of {result.summary['blocks_total']} "
                "blocks read)."
            )
        for path in result.outputs:
            click.echo(f"  wrote {path}")
    for table in result.postgis_tables:
        if not quiet:
            click.echo(f"  wrote PostGIS table {table}")
    write_run_pages(
        out_dir,
        with_map=with_map,
        with_report=with_report,
        lang=lang,
        overwrite=overwrite,
        quiet=quiet,
    )
