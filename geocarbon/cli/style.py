"""``geocarbon style``: the QGIS style (``.qml``) of a land-cover raster's classes.

The classes come from a built-in scheme (``--scheme``, or the scheme's name as the argument) or
from a density table (``--densities``, crosswalked to ``--scheme`` as the runs do); the style is
written by :mod:`geocarbon.outputs.qml`. Given a raster, the default output is the style QGIS
loads with it, ``<raster stem>.qml`` beside it; an existing file is replaced only with
``--overwrite``, and the raster itself never.
"""

from __future__ import annotations

from pathlib import Path

import click

from geocarbon.cli.options import (
    encoding_option,
    lang_option,
    overwrite_option,
    quiet_option,
    scheme_option,
)


@click.command()
@click.argument("landcover_or_scheme", metavar="LANDCOVER_OR_SCHEME")
@scheme_option
@click.option(
    "--densities",
    "-d",
    help="Density table CSV (InVEST pools or long form) or a built-in table (china-clcd) whose "
    "classes (codes and names) the style lists, instead of a whole scheme.",
)
@encoding_option
@lang_option("Language of the class names: zh uses the scheme's published Chinese names.")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="The .qml file to write (default: beside LANDCOVER, with its stem, so QGIS loads it).",
)
@overwrite_option
@quiet_option
def style(
    landcover_or_scheme: str,
    scheme: str | None,
    densities: str | None,
    encoding: str | None,
    lang: str,
    out: Path | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Write the QGIS style of a land cover's classes (codes, names, legend colours).

    LANDCOVER_OR_SCHEME is a land-cover raster (the style goes beside it), a remote one (a URL,
    STAC item or /vsi path; give -o) or the name of a built-in scheme (see `geocarbon schemes`;
    give -o). Examples: `geocarbon style
    lc_2020.tif --scheme clcd`, `geocarbon style clcd --lang zh -o clcd_zh.qml`.
    """
    from geocarbon.inputs.landcover import open_landcover
    from geocarbon.inputs.schemes import get_scheme
    from geocarbon.outputs.qml import paletted_qml, scheme_palette, table_palette
    from geocarbon.outputs.staging import StagedOutputs
    from geocarbon.runs.common import prepare_table

    raster = Path(landcover_or_scheme) if Path(landcover_or_scheme).is_file() else None
    if raster is not None or _remote(landcover_or_scheme):
        open_landcover(landcover_or_scheme)  # a land cover GDAL reads: one band of class codes
        if scheme is None and densities is None:
            raise click.UsageError(
                f"Say what the classes of {landcover_or_scheme!r} are: --scheme NAME (see "
                "`geocarbon schemes`) or --densities TABLE."
            )
    else:
        scheme = _scheme_argument(landcover_or_scheme, scheme)
    out = _out_path(out, raster)
    if densities is not None:
        classes = table_palette(prepare_table(densities, scheme, encoding=encoding), lang=lang)
        origin = f"density table {densities}"
    else:
        assert scheme is not None
        classes = scheme_palette(get_scheme(scheme), lang=lang)
        origin = f"scheme {get_scheme(scheme).name}"
    with StagedOutputs([out], overwrite=overwrite) as staged:
        staged.temp(out).write_text(paletted_qml(classes), "utf-8")
    if not quiet:
        click.echo(f"Wrote the style of {len(classes)} classes ({origin}) to {out}")


def _remote(argument: str) -> bool:
    """A land cover read over the network (a URL, a STAC item, a /vsi path): its style needs -o."""
    from geocarbon.inputs.remote import remote_name

    return remote_name(argument) is not None or argument.startswith("/vsi")


def _scheme_argument(argument: str, scheme: str | None) -> str:
    """The built-in scheme named by the argument (not a file); ``--scheme`` may only repeat it."""
    from geocarbon.errors import SchemeError
    from geocarbon.inputs.schemes import get_scheme, scheme_names

    try:
        named = get_scheme(argument).name
    except SchemeError:
        raise click.BadParameter(
            f"{argument!r} is neither a land-cover raster file nor a built-in scheme "
            f"({', '.join(scheme_names())}).",
            param_hint="LANDCOVER_OR_SCHEME",
        ) from None
    if scheme is not None and get_scheme(scheme).name != named:
        raise click.BadParameter(
            f"{scheme!r} differs from the scheme {argument!r} given as the argument; give one.",
            param_hint="--scheme",
        )
    return named


def _out_path(out: Path | None, raster: Path | None) -> Path:
    """The style to write: ``out``, or ``<raster stem>.qml`` beside ``raster``; never the raster."""
    from geocarbon.outputs.qml import STYLE_SUFFIX, style_path

    if out is None:
        if raster is None:
            raise click.UsageError("Give the style file to write: -o OUT.qml.")
        out = style_path(raster)
    if raster is not None and out.resolve() == raster.resolve():
        raise click.BadParameter(f"{str(out)!r} is the land cover itself.", param_hint="-o/--out")
    if out.suffix.lower() != STYLE_SUFFIX:
        raise click.BadParameter(
            f"{str(out)!r} does not end in {STYLE_SUFFIX}; QGIS loads a raster's style from "
            f"<raster stem>{STYLE_SUFFIX} beside it.",
            param_hint="-o/--out",
        )
    return out
