"""The output spec: the names the pipelines write, the bands, units and columns their files hold
after real runs, and how a results folder is read back (manifest first, summary for old folders)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from geocarbon import figures
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.api import stock_change
from geocarbon.errors import InputFileError
from geocarbon.outputs.find import find_outputs, period_labels
from geocarbon.outputs.folder import MANIFEST_NAME, read_manifest
from geocarbon.outputs.spec import (
    OUTPUTS,
    RUNS,
    change_outputs,
    raster_bands,
    stock_outputs,
    zonal_outputs,
)
from geocarbon.runs.stock import StockConfig, run_stock
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM, write_raster

OUT = Path("some folder")
YEARS = [(2000, 2020), (2000, 2010, 2020), (1990, 2000, 2010, 2020)]
FLAGS = list(itertools.product([False, True], repeat=4))


def test_the_names_are_pinned():
    """The contract written out, so it holds once the pipelines call the spec themselves."""
    pools = ("above", "below", "dead", "soil")
    densities = [f"density_{band}_mg_per_ha" for band in pools]
    stock = stock_outputs(OUT, rasters=True)
    assert list(stock) == [
        "summary_csv",
        "summary_json",
        *pools,
        *(f"{pool}_style" for pool in pools),
        "total",
        "total_style",
    ]
    assert [path.name for path in stock.values()] == [
        "stock_summary.csv",
        "stock_summary.json",
        *(f"{name}.tif" for name in densities),
        *(f"{name}.qml" for name in densities),
        "density_total_mg_per_ha.tif",
        "density_total_mg_per_ha.qml",
    ]
    assert list(stock_outputs(OUT, rasters=False)) == ["summary_csv", "summary_json"]
    assert list(zonal_outputs(OUT, parents=True)) == [
        "regions.gpkg",
        "regions.csv",
        "regions_columns.csv",
        "regions_by_class.csv",
        "regions.parquet",
        "parents.csv",
        "zonal_summary.json",
    ]
    change = change_outputs(
        OUT, ["2000-2020"], [2000, 2020], rasters=True, regions=True, npv=True, date_rasters=True
    )
    bands = ("above", "below", "dead", "soil", "total")
    assert list(change) == [
        "change.csv",
        "transitions.csv",
        "series.csv",
        "change_summary.json",
        "regions.gpkg",
        "regions.parquet",
        "regions.csv",
        *(
            f"{name}_{band}_mg_per_ha.{suffix}"
            for name in ("density_2000", "density_2020", "change_2000-2020")
            for suffix in ("tif", "qml")
            for band in bands
        ),
        "npv_2000-2020_per_ha.tif",
        "npv_2000-2020_per_ha.qml",
    ]
    assert all(path == OUT / name for name, path in change.items())
    assert raster_bands("change", change)[OUT / "npv_2000-2020_per_ha.tif"] == (
        "net present value of the change 2000-2020",
        "currency/ha",
    )


def test_every_raster_is_declared_with_units_and_a_description():
    for run in RUNS:
        for entry in OUTPUTS[run]:
            assert entry.description
            if entry.kind == "raster":
                assert entry.units and entry.pattern.endswith(".tif")
            elif entry.kind == "style":  # a QGIS style beside its raster, on the same condition
                raster = next(e for e in OUTPUTS[run] if e.pattern == entry.styles)
                assert entry.pattern == raster.pattern.replace(".tif", ".qml")
                assert (entry.units, entry.bands, entry.condition) == (
                    raster.units,
                    raster.bands,
                    raster.condition,
                )
            else:
                assert entry.columns, entry.pattern


def test_figures_need_only_declared_columns():
    declared = {(run, e.pattern): set(e.columns) for run in RUNS for e in OUTPUTS[run]}
    assert set(figures.STOCK_COLUMNS) <= declared["zonal", "regions.csv"]
    assert set(figures.SERIES_COLUMNS) <= declared["change", "series.csv"]
    assert set(figures.CHANGE_COLUMNS) <= declared["change", "change.csv"]
    assert set(figures.TRANSITION_COLUMNS) <= declared["change", "transitions.csv"]


def test_the_spec_imports_no_heavy_dependency():
    code = (
        "import sys, geocarbon.outputs.spec; "
        "print(sorted({'numpy', 'pandas', 'rasterio', 'numba', 'geopandas'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, tuple[Path, ...]]]:
    """A stock, a zonal (with parents) and a change run (three dates, regions, date rasters,
    valuation, Monte Carlo) on 4x4 rasters of 1 ha pixels: folder and files each reported."""
    root = tmp_path_factory.mktemp("runs")
    start = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 2, 255], [3, 3, 1, 1]], np.uint8)
    end = start.copy()
    end[0, :2] = 2
    dates = [write_raster(root / f"lc_{k}.tif", a) for k, a in enumerate([start, end, end])]
    table = root / "pools.csv"
    table.write_text("lucode,C_above,C_below,C_soil,C_dead\n1,15,10,60,1\n2,5,3,20,0\n3,2,1,5,0\n")
    x, y = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f
    regions = gpd.GeoDataFrame(
        {"code": ["a", "b"], "name": ["West", "East"], "parent": ["p", "p"]},
        geometry=[shapely.box(x, y - 400, x + 200, y), shapely.box(x + 200, y - 400, x + 400, y)],
        crs=EQUAL_AREA_CRS,
    )
    regions.to_file(root / "regions.gpkg")
    common = dict(progress=False)
    stock = run_stock(
        StockConfig(landcover=dates[0], densities=table, out_dir=root / "stock", **common)
    )
    zonal = run_zonal(
        ZonalConfig(
            landcover=dates[0],
            regions=root / "regions.gpkg",
            densities=table,
            id_field="code",
            name_field="name",
            parent_field="parent",
            out_dir=root / "zonal",
            **common,
        )
    )
    change = stock_change(
        dates,
        [2000, 2010, 2020],
        table,
        regions=root / "regions.gpkg",
        id_field="code",
        name_field="name",
        out_dir=root / "change",
        valuation=Valuation(10.0, 3.0),
        monte_carlo=MonteCarlo(draws=20, seed=1),
        date_rasters=True,
        **common,
    )
    return {
        "stock": (root / "stock", stock.outputs),
        "zonal": (root / "zonal", zonal.outputs),
        "change": (root / "change", change.outputs),
    }


def declared(run: str, folder: Path) -> dict[str, Path]:
    if run == "stock":
        return stock_outputs(folder, rasters=True)
    if run == "zonal":
        return zonal_outputs(folder, parents=True)
    years = (2000, 2010, 2020)
    return change_outputs(
        folder, period_labels(years), years, rasters=True, regions=True, npv=True, date_rasters=True
    )


def columns_of(path: Path) -> list[str]:
    if path.suffix == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    if path.suffix == ".json":
        return list(json.loads(path.read_text(encoding="utf-8")))
    if path.suffix == ".parquet":
        return list(gpd.read_parquet(path).columns)
    return list(gpd.read_file(path, layer="regions").columns)


@pytest.mark.parametrize("run", RUNS)
def test_files_written_are_the_declared_ones_with_their_bands_and_columns(runs, run):
    folder, outputs = runs[run]
    assert outputs == tuple(declared(run, folder).values())
    found = find_outputs(folder)
    assert found.run == run and found.from_manifest
    manifest = {entry["name"] for entry in read_manifest(folder)["files"]}
    assert {file.path.name for file in found.files} == manifest == {p.name for p in outputs}
    bands = raster_bands(run, declared(run, folder))
    for file in found.files:
        if file.entry.kind == "raster":
            with rasterio.open(file.path) as dataset:
                assert dataset.descriptions == (file.description,), file.path.name
                assert dataset.units == (file.units,), file.path.name
                tags = dataset.tags()
                assert (tags["description"], tags["units"]) == (file.description, file.units)
            assert bands[file.path] == (file.description, file.units)
            assert file.path.with_suffix(".qml") in {found.path for found in found.files}
        elif file.entry.kind == "style":
            renderer = ElementTree.parse(file.path).getroot().find("pipe/rasterrenderer")
            assert renderer is not None and renderer.get("type") == "singlebandpseudocolor"
            assert (folder / file.entry.styles.format(**dict(file.values))).is_file()
        else:
            missing = set(file.entry.columns) - set(columns_of(file.path))
            assert not missing, (file.path.name, missing)
        if file.entry.layer is not None:
            assert gpd.list_layers(file.path)["name"].tolist() == [file.entry.layer]
    assert len(bands) == sum(file.entry.kind == "raster" for file in found.files)
    assert len(bands) == sum(file.entry.kind == "style" for file in found.files)


def test_change_run_offers_its_rasters_by_period(runs):
    folder, _ = runs["change"]
    found = find_outputs(folder)
    assert list(found.change_rasters) == ["2000-2010", "2010-2020", "2000-2020"]
    assert found.change_rasters["2000-2020"].path.name == "change_2000-2020_total_mg_per_ha.tif"
    assert found.density_raster is None
    assert found.regions_layer is not None and found.path("series.csv") == folder / "series.csv"
    assert found.landcover is not None and found.landcover.endswith("lc_2.tif")
    assert found.summary["years"] == [2000, 2010, 2020]


def test_stale_files_are_ignored_with_or_without_a_manifest(runs, tmp_path):
    folder = tmp_path / "change"
    shutil.copytree(runs["change"][0], folder)
    stale = ["change_1990-2000_total_mg_per_ha.tif", "density_total_mg_per_ha.tif", "x.csv"]
    for name in stale:
        shutil.copy(folder / "change_2000-2020_total_mg_per_ha.tif", folder / name)
    with_manifest = find_outputs(folder)
    (folder / "regions.csv").unlink()  # a listed file that is gone is not offered
    assert find_outputs(folder).path("regions.csv") is None
    (folder / MANIFEST_NAME).unlink()
    without = find_outputs(folder)
    assert not without.from_manifest and without.run == "change"
    names = {file.path.name for file in without.files}
    assert names == {file.path.name for file in with_manifest.files} - {"regions.csv"}
    assert not names & set(stale)


def test_an_older_folder_with_several_summaries_is_read_as_change(runs, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(runs["change"][0], folder)
    shutil.copy(runs["stock"][0] / "stock_summary.json", folder)
    (folder / MANIFEST_NAME).unlink()
    assert find_outputs(folder).run == "change"


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt summary", "summary not an object"])
def test_a_folder_that_is_no_run_is_named(case, tmp_path):
    folder = tmp_path / "results"
    if case != "missing":
        folder.mkdir()
    if case == "corrupt summary":
        (folder / "zonal_summary.json").write_text('{"scheme": ', encoding="utf-8")
    if case == "summary not an object":
        (folder / "stock_summary.json").write_text("[]", encoding="utf-8")
    before = sorted(folder.iterdir()) if folder.exists() else None
    with pytest.raises(InputFileError) as raised:
        find_outputs(folder)
    message = str(raised.value)
    assert "\n" not in message and str(folder) in message
    if "summary" in case:
        assert "_summary.json" in message and "again" in message
    else:
        assert "stock, zonal or change run" in message
    assert (sorted(folder.iterdir()) if folder.exists() else None) == before
