"""Options shared by the commands, defined once (rasterio's ``rio/options.py`` style); every
default comes from :mod:`geocarbon.config`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from geocarbon.choices import (
    AREA_METHODS,
    LANGUAGES,
    UNKNOWN_MODES,
)
from geocarbon.config import (
    ALL_THREADS,
    DEFAULT_AREA_METHOD,
    DEFAULT_LANGUAGE,
    DEFAULT_MEMORY_MB,
    DEFAULT_UNKNOWN,
    MIN_MEMORY_MB,
    check_threads,
    default_threads,
)
from geocarbon.errors import ConfigError


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


parent_field_option = click.option(
    "--parent-field",
    help="Parent id field (e.g. a prefecture's province code): adds parents.csv, the regions' "
    "totals added up per parent.",
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

creation_option = click.option(
    "--co",
    "creation_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="GDAL COG creation option for the rasters, as gdal_translate -co (repeatable): "
    "COMPRESS=ZSTD, LEVEL=9, PREDICTOR=2, or COMPRESS=LERC_ZSTD with MAX_Z_ERROR=0.01. "
    "Default: COMPRESS=DEFLATE LEVEL=1 (read by every GDAL and QGIS).",
)


def creation_options_of(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--co KEY=VALUE`` items as the run configs take them (checked, one line if bad)."""
    from geocarbon.outputs.creation_options import parse_creation_options

    return tuple(parse_creation_options(items).items())


def lang_option(help_text: str) -> Callable[[Any], Any]:
    """``--lang en|zh``: the language of maps, figures and reports."""
    return click.option(
        "--lang",
        type=click.Choice(LANGUAGES, case_sensitive=False),
        default=DEFAULT_LANGUAGE,
        show_default=True,
        help=help_text,
    )


class RegionsSource(click.ParamType):
    """``--regions``: a vector file, or a PostGIS database (``PG:...``, ``postgresql://...``)
    kept as text (a :class:`~pathlib.Path` would fold a URL's ``//``)."""

    name = "PATH|PG:CONNECTION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from geocarbon.inputs.postgis import is_postgis

        return value if isinstance(value, Path) or is_postgis(value) else Path(value)


REGIONS_SOURCE = RegionsSource()
REGIONS_SOURCE_HELP = (
    'a PostGIS table: PG:"host=... dbname=..." or postgresql://user@host:port/db with --layer '
    "TABLE or SCHEMA.TABLE"
)


def postgis_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--to-postgis``, ``--postgis-schema`` and ``--postgis-prefix``: the run's regions layer
    also written as a PostGIS table."""
    for option in reversed(
        (
            click.option(
                "--to-postgis",
                metavar="CONNECTION",
                help='Also write the regions layer as a PostGIS table: PG:"host=... dbname=..." '
                "or postgresql://user@host:port/db (an existing table needs --overwrite).",
            ),
            click.option(
                "--postgis-schema",
                metavar="SCHEMA",
                help="Schema of the --to-postgis tables (default: public).",
            ),
            click.option(
                "--postgis-prefix",
                default="",
                metavar="PREFIX",
                help="Prefix of the --to-postgis table names, e.g. zonal_2020_ for the table "
                "zonal_2020_regions.",
            ),
        )
    ):
        command = option(command)
    return command
