"""The tables figures are drawn from, read through the output contract.

:func:`read_figure_tables` finds the tables a stock, zonal or change run wrote in its folder (through
:func:`geocarbon.outputs.find.find_outputs`, so a stale table of an earlier run is never read),
reads region ids as text, takes the leading quote off spreadsheet-formula-like cells and checks
that each table has the columns its figure needs. No matplotlib here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from geocarbon.errors import InputFileError
from geocarbon.outputs.spreadsheet import restore_formulas
from geocarbon.units import POOLS

if TYPE_CHECKING:
    import geopandas as gpd

#: The output tables figures are drawn from, as the zonal and change commands name them.
INPUT_NAMES = (
    "stock_summary.csv",
    "regions.csv",
    "series.csv",
    "change.csv",
    "transitions.csv",
)
CLASS_COLUMNS = ("class_code", "class_name", *(f"stock_{pool}_mg" for pool in POOLS))
STOCK_COLUMNS = ("region_id", "region_name", *(f"stock_{pool}_mg" for pool in POOLS))
CHANGE_COLUMNS = ("region_id", "region_name", "period", "years", "net_change_mg")
TRANSITION_COLUMNS = ("region_id", "period", "class_from", "class_to", "name_from", "name_to")
SERIES_COLUMNS = (*STOCK_COLUMNS, "year", "stock_total_mg")


@dataclass(frozen=True)
class FigureTables:
    """The output tables found in a folder; None where a table is absent.

    ``stocks`` holds per-region pool stocks: series.csv (every year) after a change run,
    otherwise regions.csv of a zonal run. ``classes`` is stock_summary.csv of a stock run (per
    class). ``scheme`` is the built-in class scheme the run's summary names (its colours and
    Chinese class names), None if it names none. ``run`` is the kind of run (stock, zonal,
    change). ``regions`` is the run's regions layer (regions.gpkg), for the map.
    """

    run: str
    scheme: str | None
    regions: gpd.GeoDataFrame | None
    classes: pd.DataFrame | None
    stocks: pd.DataFrame | None
    change: pd.DataFrame | None
    transitions: pd.DataFrame | None
    series: pd.DataFrame | None


def read_figure_tables(out_dir: Path) -> FigureTables:
    """Read the tables the run in ``out_dir`` wrote, found through the output spec
    (:func:`geocarbon.outputs.find.find_outputs`: a stale table of an earlier run is not read);
    raise if there is none."""
    from geocarbon.outputs.find import find_outputs

    outputs = find_outputs(out_dir)
    found = {name: outputs.path(name) for name in INPUT_NAMES}
    if not any(found.values()):
        raise InputFileError(
            f"No geocarbon outputs to draw in {str(out_dir)!r}: its {outputs.run} run wrote none "
            f"of {', '.join(INPUT_NAMES)}. Pass the --out folder of a `geocarbon stock`, "
            "`geocarbon zonal` or `geocarbon change` run."
        )
    series = _read_table(found["series.csv"], SERIES_COLUMNS)
    # A change run's regions.csv holds change, not stocks by pool: its stocks are series.csv.
    stocks = series if outputs.run == "change" else _read_table(found["regions.csv"], STOCK_COLUMNS)
    scheme = outputs.summary.get("scheme")
    return FigureTables(
        run=outputs.run,
        scheme=str(scheme) if scheme else None,
        regions=_read_layer(outputs.path("regions.gpkg")),
        classes=_read_table(found["stock_summary.csv"], CLASS_COLUMNS, text=("class_code",)),
        stocks=stocks,
        change=_read_table(found["change.csv"], CHANGE_COLUMNS),
        transitions=_read_table(found["transitions.csv"], TRANSITION_COLUMNS),
        series=series,
    )


def _read_layer(path: Path | None) -> gpd.GeoDataFrame | None:
    """The regions layer a run wrote (region ids as text), None if it wrote none."""
    if path is None:
        return None
    import geopandas as gpd

    layer = gpd.read_file(path, layer="regions")
    layer["region_id"] = layer["region_id"].astype(str)
    return layer


def _read_table(
    path: Path | None, columns: Sequence[str], *, text: Sequence[str] = ("region_id",)
) -> pd.DataFrame | None:
    """Read one output table (ids in ``text`` columns as text, never via float) and check it has
    ``columns``; None if absent."""
    if path is None:
        return None
    # text cells a spreadsheet would run as formulas were written with a leading ' (spreadsheet.py)
    frame = restore_formulas(pd.read_csv(path, dtype=dict.fromkeys(text, str)))
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputFileError(
            f"{str(path)!r} lacks the column(s) {', '.join(missing)} needed for figures. Was it "
            "written by this version of geocarbon? Run the zonal or change command again."
        )
    return frame
