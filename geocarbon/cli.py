"""The ``geocarbon`` command line: parse options, build a config, call one pipeline function.

No raster arithmetic lives here. :class:`GeoCarbonError` becomes a one-line message and exit
code 1; anything else keeps its traceback, because it is a bug.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from geocarbon._version import __version__
from geocarbon.choices import (
    AREA_METHODS,
    CORRELATIONS,
    COVERAGE_MODES,
    DISTRIBUTIONS,
    UNKNOWN_MODES,
)
from geocarbon.config import (
    ALL_THREADS,
    DEFAULT_AREA_METHOD,
    DEFAULT_CORRELATION,
    DEFAULT_COVERAGE,
    DEFAULT_DISCOUNT_RATE_PCT,
    DEFAULT_DISTRIBUTION,
    DEFAULT_DRAWS,
    DEFAULT_MEMORY_MB,
    DEFAULT_PRICE_CHANGE_PCT,
    DEFAULT_SEED,
    DEFAULT_UNKNOWN,
    DEMO_OUT_DIR,
    MIN_MEMORY_MB,
    SAMPLE_DENSITIES,
    SAMPLE_LANDCOVER,
    check_threads,
    default_threads,
)
from geocarbon.errors import ConfigError, GeoCarbonError


class ThreadsType(click.ParamType):
    """``--threads N`` (N >= 1) or ``--threads all`` (one per CPU)."""

    name = f"N|{ALL_THREADS}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return check_threads(value)
        except ConfigError:
            self.fail(
                f"{value!r} is neither a whole number of at least 1 nor {ALL_THREADS!r}.",
                param,
                ctx,
            )


overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
quiet_option = click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress bar and no summary lines (warnings are still shown, one line each).",
)
memory_option = click.option(
    "--memory-mb",
    type=click.IntRange(MIN_MEMORY_MB),
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Memory budget for blocks in flight (MB); the raster is never read whole.",
)
threads_option = click.option(
    "--threads",
    type=ThreadsType(),
    metavar=ThreadsType.name,
    default=default_threads(),
    show_default=True,
    help=f"Worker threads: a number, or '{ALL_THREADS}' for one per CPU.",
)
densities_option = click.option(
    "--densities",
    "-d",
    required=True,
    help="Density table CSV (InVEST pools or long form) or a built-in table: china-clcd.",
)
out_option = click.option(
    "-o", "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder."
)
scheme_option = click.option(
    "--scheme",
    help="Class scheme of the raster (see `geocarbon schemes`); crosswalks built-in tables.",
)
unknown_option = click.option(
    "--unknown",
    type=click.Choice(UNKNOWN_MODES),
    default=DEFAULT_UNKNOWN,
    show_default=True,
    help="Codes missing from the table: fail, count as zero carbon, or treat as nodata.",
)
dask_option = click.option(
    "--dask",
    help="Run the pixel pass on a Dask cluster: a scheduler address (tcp://host:8786), or local:N "
    "worker processes. Inputs and the output folder must be reachable from every worker.",
)
nodata_option = click.option(
    "--nodata",
    type=int,
    help="Land-cover code that marks no data, replacing the raster's own (as gdal_edit.py "
    "-a_nodata would), e.g. an undeclared border of 0.",
)
encoding_option = click.option(
    "--encoding",
    help="Text encoding of the density table and the regions' attributes, e.g. GBK (default: "
    "UTF-8, with GBK/GB18030 detected and reported).",
)
area_option = click.option(
    "--area",
    "area_method",
    type=click.Choice(AREA_METHODS),
    default=DEFAULT_AREA_METHOD,
    show_default=True,
    help="Pixel-area method; 'planar' takes the nominal pixel area in any CRS (InVEST's way).",
)


COVERAGE_HELP = (
    "Pixel membership: centre point, all touched, or exact area fractions on boundaries."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="geocarbon")
def cli() -> None:
    """Carbon stocks and their change from land-cover maps and carbon-density tables."""


@cli.command()
@click.argument("landcover", type=click.Path(path_type=Path))
@densities_option
@out_option
@scheme_option
@unknown_option
@area_option
@nodata_option
@encoding_option
@click.option("--no-rasters", is_flag=True, help="Only the summary tables.")
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
    encoding: str | None,
    no_rasters: bool,
    dask: str | None,
    memory_mb: int,
    threads: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Carbon density rasters (COG, Mg C/ha) per pool and total, and a stock summary per class."""
    from geocarbon.pipeline import StockConfig, run_stock

    config = StockConfig(
        landcover=landcover,
        densities=densities,
        out_dir=out_dir,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        nodata=nodata,
        encoding=encoding,
        write_rasters=not no_rasters,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=threads,
        progress=False if quiet else None,
        dask=dask,
    )
    _report_stock(run_stock(config), quiet)


@cli.command()
@click.argument("landcover", type=click.Path(path_type=Path))
@click.option(
    "--regions",
    type=click.Path(path_type=Path),
    required=True,
    help="Region polygons (any vector format).",
)
@click.option(
    "--id-field", required=True, help="Unique region id field (also a density table's region_id)."
)
@click.option("--name-field", help="Region name field.")
@click.option(
    "--parent-field", help="Parent id field (e.g. a prefecture's province code): adds parents.csv."
)
@click.option("--layer", help="Layer of the vector file (default: its first).")
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
@click.option("--map", "with_map", is_flag=True, help="Also write map.html into the output folder.")
@dask_option
@memory_option
@threads_option
@overwrite_option
@quiet_option
def zonal(
    landcover: Path,
    regions: Path,
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
    dask: str | None,
    memory_mb: int,
    threads: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Carbon stocks by region (province, prefecture, reserve) in one pass over the land cover."""
    from geocarbon.zonal_pipeline import ZonalConfig, run_zonal

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
    )
    result = run_zonal(config)
    if with_map:
        from geocarbon.webmap import write_map

        write_map(out_dir, out_dir / "map.html", overwrite=overwrite)
    if not quiet:
        area, totals = result.summary["area_ha"], result.summary["totals"]
        click.echo(
            f"{result.summary['n_regions']} regions hold {totals['stock_total_tg']:.6g} Tg C "
            f"on {area['regions_valid']:.6g} ha; outside every region (not included): "
            f"{totals['stock_total_tg_unassigned']:.6g} Tg C on {area['unassigned_valid']:.6g} ha "
            f"(coverage {result.summary['coverage']}, area method {result.summary['area_method']})."
        )
        for path in result.outputs:
            click.echo(f"  wrote {path}")


@cli.command()
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
    "--regions", type=click.Path(path_type=Path), help="Region polygons: change by region."
)
@click.option("--id-field", help="Unique region id field (also a density table's region_id).")
@click.option("--name-field", help="Region name field.")
@click.option("--layer", help="Layer of the vector file (default: its first).")
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
@encoding_option
@click.option("--no-rasters", is_flag=True, help="Only the tables.")
@click.option(
    "--date-rasters",
    is_flag=True,
    help="Also write each date's density per pool and total (density_YEAR_POOL_mg_per_ha.tif).",
)
@dask_option
@memory_option
@threads_option
@overwrite_option
@quiet_option
def change(
    landcovers: tuple[Path, ...],
    years: tuple[int, ...],
    densities: str,
    out_dir: Path,
    regions: Path | None,
    id_field: str | None,
    name_field: str | None,
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
    encoding: str | None,
    no_rasters: bool,
    date_rasters: bool,
    dask: str | None,
    memory_mb: int,
    threads: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Stock change between land-cover dates: rasters, transitions, rates, value and uncertainty."""
    from geocarbon.change_pipeline import ChangeConfig, run_change
    from geocarbon.uncertainty import MonteCarlo
    from geocarbon.valuation import Valuation

    config = ChangeConfig(
        landcovers=landcovers,
        years=years,
        densities=densities,
        out_dir=out_dir,
        regions=regions,
        id_field=id_field,
        name_field=name_field,
        layer=layer,
        coverage=coverage,
        align_to=align_to,
        valuation=None if price is None else Valuation(price, discount_rate, price_change),
        monte_carlo=None if draws == 0 else MonteCarlo(draws, seed, distribution, correlation),
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        nodata=nodata,
        encoding=encoding,
        write_rasters=not no_rasters,
        date_rasters=date_rasters,
        dask=dask,
        memory_mb=memory_mb,
        threads=threads,
        overwrite=overwrite,
        progress=False if quiet else None,
    )
    result = run_change(config)
    if not quiet:
        for label, period in result.summary["periods"].items():
            click.echo(
                f"{label}: net {period['net_change_mg'] / 1e6:+.6g} Tg C "
                f"(gains {period['gross_gain_mg'] / 1e6:.6g}, losses {period['gross_loss_mg'] / 1e6:.6g} Tg C; "
                f"{period['annual_net_change_tg_per_yr']:+.6g} Tg C/yr)."
            )
        for path in result.outputs:
            click.echo(f"  wrote {path}")


@cli.command(name="map")
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
    from geocarbon.webmap import write_map

    written = write_map(results, out_html, offline=offline, assets=assets, overwrite=overwrite)
    if not quiet:
        click.echo(f"wrote {written}")


@cli.command()
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


@cli.command(name="web-assets")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    help="Where to install (default: the cache).",
)
def web_assets(folder: Path | None) -> None:
    """Fetch the JavaScript and CSS offline maps need from the npm registry (once)."""
    from geocarbon.webassets import default_assets_dir, fetch_assets, required_packages
    from geocarbon.webmap import empty_map_html

    target = folder or default_assets_dir()
    packages = required_packages(empty_map_html())
    fetch_assets(packages, target)
    click.echo(
        f"installed {', '.join(f'{n}@{v}' for n, v in sorted(packages.items()))} into {target}"
    )


@cli.command()
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
    from geocarbon.pipeline import StockConfig, run_stock

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


@cli.command()
@click.argument("name", required=False)
def schemes(name: str | None) -> None:
    """List the built-in class schemes, or the classes of one scheme with its CLCD crosswalk."""
    from geocarbon.schemes import get_scheme, scheme_names

    if name is None:
        for scheme_name in scheme_names():
            scheme = get_scheme(scheme_name)
            click.echo(f"{scheme.name:16} {len(scheme.codes):3d} classes  {scheme.title}")
        click.echo(
            "\nBuilt-in density tables: china-clcd (CLCD codes; other schemes via --scheme)."
        )
        return
    scheme = get_scheme(name)
    click.echo(f"{scheme.title}\nsource: {scheme.source}\n")
    for code, class_name, target in zip(scheme.codes, scheme.names, scheme.to_clcd, strict=True):
        arrow = f"-> CLCD {target}" if target is not None and scheme.name != "clcd" else ""
        click.echo(f"{code:5d}  {class_name:45} {arrow}")


def _report_stock(result: object, quiet: bool) -> None:
    from geocarbon.pipeline import StockResult

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


def _show_warning(
    message: Warning | str, category: type[Warning], *args: object, **kwargs: object
) -> None:
    # Users see what is wrong and how to fix it, not the source line that warned.
    click.echo(f"Warning: {message}", err=True)


def expand_years(argv: Sequence[str]) -> list[str]:
    """``--years 2000 2010 2020`` -> ``--years 2000 --years 2010 --years 2020`` for click.

    Every token after ``--years`` up to the next option is a year (``2016.5`` too, so that click
    names it as not a whole year instead of reporting ``--years`` missing).
    """
    expanded: list[str] = []
    in_years = False
    for token in argv:
        if token == "--years":
            in_years = True
            continue
        if in_years and not (token.startswith("-") and not _is_number(token)):
            expanded += ["--years", token]
            continue
        in_years = False
        expanded.append(token)
    return expanded


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP): unwind so that every run cleans up."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 bad input, 2 usage)."""
    warnings.showwarning = _show_warning
    _install_signal_handlers()
    # GDAL's and libtiff's own messages (logged by rasterio) would print raw lines around ours;
    # failures reach the user as geocarbon's one-line errors instead.
    logging.getLogger("rasterio").addHandler(logging.NullHandler())
    try:
        cli.main(
            args=expand_years(list(argv) if argv is not None else sys.argv[1:]),
            prog_name="geocarbon",
            standalone_mode=False,
        )
    except GeoCarbonError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted; no outputs were written.", err=True)
        return 130
    except Terminated as exc:
        click.echo(f"Stopped by {exc}; no outputs were written.", err=True)
        return 143
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
