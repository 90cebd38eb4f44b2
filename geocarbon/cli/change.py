"""``geocarbon change``: stock change between land-cover dates."""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.choices import (
    CORRELATIONS,
    COVERAGE_MODES,
    DISTRIBUTIONS,
)
from geocarbon.cli.map import run_map_options, write_run_pages
from geocarbon.cli.options import (
    COVERAGE_HELP,
    REGIONS_SOURCE,
    REGIONS_SOURCE_HELP,
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
    parent_field_option,
    postgis_options,
    quiet_option,
    scheme_option,
    threads_option,
    unknown_option,
)
from geocarbon.config import (
    DEFAULT_CARBON_FRACTION,
    DEFAULT_CORRELATION,
    DEFAULT_COVERAGE,
    DEFAULT_DISCOUNT_RATE_PCT,
    DEFAULT_DISTRIBUTION,
    DEFAULT_DRAWS,
    DEFAULT_PRICE_CHANGE_PCT,
    DEFAULT_SEED,
    DEFAULT_SOIL_TRANSITION_YEARS,
)


@click.command()
@click.argument("landcovers", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--years",
    multiple=True,
    type=int,
    required=True,
    help="Year of each land cover, in order: --years 2000 2020.",
)
@densities_option
@out_option
@click.option(
    "--regions",
    type=REGIONS_SOURCE,
    help=f"Region polygons (any vector format, or {REGIONS_SOURCE_HELP}): change by region.",
)
@click.option("--id-field", help="Unique region id field (also a density table's region_id).")
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
@click.option(
    "--align-to",
    help="Resample (nearest) dates on other grids onto this one: 'first' or a raster path. Without it, "
    "dates must share a grid.",
)
@click.option("--price", type=float, help="Carbon price per Mg C (valuation; InVEST's formula).")
@click.option(
    "--discount-rate",
    type=float,
    default=DEFAULT_DISCOUNT_RATE_PCT,
    show_default=True,
    help="Annual discount rate (%).",
)
@click.option(
    "--price-change",
    type=float,
    default=DEFAULT_PRICE_CHANGE_PCT,
    show_default=True,
    help="Annual change in the carbon price (%).",
)
@click.option(
    "--draws",
    type=click.IntRange(0),
    default=DEFAULT_DRAWS,
    show_default=True,
    help="Monte Carlo draws; 0 for none.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=DEFAULT_SEED,
    show_default=True,
    help="Random seed of the draws.",
)
@click.option(
    "--distribution",
    type=click.Choice(DISTRIBUTIONS),
    default=DEFAULT_DISTRIBUTION,
    show_default=True,
    help="Density distribution between low and high, peaking at central: triangular, or "
    "Beta-PERT (less weight on the tails).",
)
@click.option(
    "--correlation",
    type=click.Choice(CORRELATIONS),
    default=DEFAULT_CORRELATION,
    show_default=True,
    help="'pool': one draw per pool shared by all classes (systematic error).",
)
@scheme_option
@unknown_option
@area_option
@nodata_option
@creation_option
@encoding_option
@click.option("--no-rasters", is_flag=True, help="Only the tables.")
@click.option(
    "--date-rasters",
    is_flag=True,
    help="Also write each date's density per pool and total (density_YEAR_POOL_mg_per_ha.tif).",
)
@click.option(
    "--growth",
    help="Growth rates of land that stays in its class (gain-loss): a CSV class_code,pool,"
    "rate_mg_per_ha_yr [,region_id,age_min,age_max,rate_low,rate_high], or a built-in table "
    "(china-clcd).",
)
@click.option(
    "--age",
    "age_raster",
    type=click.Path(path_type=Path),
    help="Raster of ages (years) at the first date, on the land-cover grid; growth rates by age "
    "class follow it. Without it, converted land starts at age 0.",
)
@click.option(
    "--initial-age",
    type=click.FloatRange(0),
    help="Age at the first date of land with no age of its own. Without it: older than every "
    "age class of --growth.",
)
@click.option(
    "--soil-transition-years",
    type=click.FloatRange(0),
    default=DEFAULT_SOIL_TRANSITION_YEARS,
    show_default=True,
    help="After a conversion, soil carbon moves linearly to the new class's over this many years "
    "(IPCC default 20); 0 changes it at once, as InVEST does.",
)
@click.option(
    "--density-raster",
    "density_rasters",
    multiple=True,
    metavar="POOL[@YEAR]=PATH",
    help="Take a pool's density (Mg C/ha) from a map instead of the table, where the map has "
    "data; repeatable, per year allowed (soil=soc.tif, above@2020=agb2020.tif).",
)
@click.option(
    "--carbon-fraction",
    type=float,
    help=f"The density rasters hold biomass (Mg/ha): multiply by this carbon fraction (IPCC "
    f"default {DEFAULT_CARBON_FRACTION}).",
)
@click.option(
    "--density-factors",
    type=click.Path(path_type=Path),
    help="CSV class_code,factor[,pool]: per-class multipliers of density-raster values (IPCC "
    "F_LU x F_MG x F_I).",
)
@click.option(
    "--ipcc-categories",
    type=click.Path(path_type=Path),
    help="CSV class_code,ipcc_category overriding the scheme's IPCC land category of classes.",
)
@run_map_options
@dask_option
@memory_option
@threads_option
@postgis_options
@overwrite_option
@quiet_option
def change(
    landcovers: tuple[Path, ...],
    years: tuple[int, ...],
    densities: str,
    out_dir: Path,
    regions: Path | str | None,
    id_field: str | None,
    name_field: str | None,
    parent_field: str | None,
    layer: str | None,
    coverage: str,
    align_to: str | None,
    price: float | None,
    discount_rate: float,
    price_change: float,
    draws: int,
    seed: int,
    distribution: str,
    correlation: str,
    scheme: str | None,
    unknown: str,
    area_method: str,
    nodata: int | None,
    creation_options: tuple[str, ...],
    encoding: str | None,
    no_rasters: bool,
    date_rasters: bool,
    growth: str | None,
    age_raster: Path | None,
    initial_age: float | None,
    soil_transition_years: float,
    density_rasters: tuple[str, ...],
    carbon_fraction: float | None,
    density_factors: Path | None,
    ipcc_categories: Path | None,
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
    """Stock change between land-cover dates: rasters, transitions, rates, value and uncertainty.

    LANDCOVERS are one raster per --years, on one grid, each any raster GDAL reads (GeoTIFF, COG,
    VRT, a /vsi path), an http(s)://, s3:// or gs:// URL, or a STAC item (.json file or URL;
    #ASSET picks its asset). With regions and no rasters to write, only the blocks meeting the
    regions' bounding boxes are read.
    """
    from geocarbon.accounts.uncertainty import MonteCarlo
    from geocarbon.accounts.valuation import Valuation
    from geocarbon.outputs.postgis import run_target
    from geocarbon.runs.change import ChangeConfig, run_change

    target = run_target(
        "change",
        to_postgis,
        schema=postgis_schema,
        prefix=postgis_prefix,
        overwrite=overwrite,
        regions=regions is not None,
    )

    config = ChangeConfig(
        landcovers=landcovers,
        years=years,
        densities=densities,
        out_dir=out_dir,
        regions=regions,
        id_field=id_field,
        name_field=name_field,
        parent_field=parent_field,
        layer=layer,
        coverage=coverage,
        align_to=align_to,
        valuation=None if price is None else Valuation(price, discount_rate, price_change),
        monte_carlo=None if draws == 0 else MonteCarlo(draws, seed, distribution, correlation),
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        nodata=nodata,
        creation_options=creation_options_of(creation_options),
        encoding=encoding,
        write_rasters=not no_rasters,
        date_rasters=date_rasters,
        growth=growth,
        ages=age_raster,
        initial_age=initial_age,
        soil_transition_years=soil_transition_years,
        density_rasters=density_rasters,
        carbon_fraction=carbon_fraction,
        density_factors=density_factors,
        ipcc_categories=ipcc_categories,
        dask=dask,
        memory_mb=memory_mb,
        threads=threads,
        overwrite=overwrite,
        progress=False if quiet else None,
        to_postgis=target,
    )
    result = run_change(config)
    if not quiet:
        for label, period in result.summary["periods"].items():
            click.echo(
                f"{label}: net {period['net_change_mg'] / 1e6:+.6g} Tg C "
                f"(gains {period['gross_gain_mg'] / 1e6:.6g}, losses {period['gross_loss_mg'] / 1e6:.6g} Tg C; "
                f"{period['annual_net_change_tg_per_yr']:+.6g} Tg C/yr)."
            )
            parts = period["decomposition_mg"]
            if any(parts[name] for name in ("growth_remaining", "growth_converted", "soil_legacy")):
                click.echo(
                    "  of which "
                    + ", ".join(
                        f"{name.replace('_', ' ')} {value / 1e6:+.6g}"
                        for name, value in parts.items()
                    )
                    + " Tg C"
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
