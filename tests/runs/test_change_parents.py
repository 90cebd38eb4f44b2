"""``change --parent-field``: every period's change per parent, checked against a run over the
regions dissolved to their parents (same pixels, same Monte Carlo draws)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geocarbon import stock_change
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.cli.main import main
from geocarbon.outputs.folder import read_manifest

AMOUNTS = [
    "compared_area_ha",
    "changed_area_ha",
    "stock_start_mg",
    "stock_end_mg",
    "net_change_mg",
    "gross_gain_mg",
    "gross_loss_mg",
    "annual_net_change_mg_per_yr",
    "growth_remaining_total_mg",
    "soil_legacy_mg",
]
BOUNDS = ["net_change_mg_p5", "net_change_mg_p50", "net_change_mg_p95"]


def change_run(sample, out: Path, regions: Path, id_field: str, *extra: str) -> None:
    args = [
        "change", *map(str, sample.landcover), str(sample.landcover[1]),
        "--years", "2000", "--years", "2010", "--years", "2020", "-d", "china-clcd",
        "--regions", str(regions), "--id-field", id_field, "--draws", "200", "--seed", "7",
        "--growth", "china-clcd", "-o", str(out), "-q", *extra,
    ]  # fmt: skip
    assert main(args) == 0


@pytest.fixture(scope="module")
def runs(sample, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("parents")
    regions = gpd.read_file(sample.regions)
    regions.to_file(folder / "regions.gpkg")
    dissolved = regions.dissolve(by="parent_adcode", as_index=False)[["parent_adcode", "geometry"]]
    dissolved.to_file(folder / "parents.gpkg")
    by_region, by_parent = folder / "by_region", folder / "by_parent"
    change_run(
        sample, by_region, folder / "regions.gpkg", "adcode", "--parent-field", "parent_adcode"
    )
    change_run(sample, by_parent, folder / "parents.gpkg", "parent_adcode")
    return by_region, by_parent


def test_parents_equal_a_run_over_the_dissolved_regions(runs):
    by_region, by_parent = runs
    parents = pd.read_csv(by_region / "parents.csv", encoding="utf-8-sig")
    dissolved = pd.read_csv(by_parent / "change.csv", encoding="utf-8-sig")
    dissolved = dissolved[dissolved["region_id"] != "unassigned"]
    dissolved["parent_id"] = dissolved["region_id"].astype(np.int64)
    assert parents["parent_id"].dtype == np.int64
    assert list(parents["period"].unique()) == ["2000-2010", "2010-2020", "2000-2020"]
    assert set(parents["n_regions"]) == {3}
    joined = parents.merge(dissolved, on=["parent_id", "period"], suffixes=("", "_dissolved"))
    assert len(joined) == len(parents) == 6
    for column in AMOUNTS + BOUNDS:
        np.testing.assert_allclose(
            joined[column], joined[f"{column}_dissolved"], rtol=1e-9, atol=1e-6, err_msg=column
        )
    assert (joined["net_change_mg_p95"] - joined["net_change_mg_p5"] > 0).all()


def test_parents_add_up_the_regions_of_change_csv(runs):
    by_region, _ = runs
    change = pd.read_csv(by_region / "change.csv", encoding="utf-8-sig", dtype={"region_id": str})
    parents = pd.read_csv(by_region / "parents.csv", encoding="utf-8-sig")
    change = change[change["region_id"] != "unassigned"]
    change["parent_id"] = change["region_id"].str[:4].astype(np.int64) * 100
    summed = change.groupby(["parent_id", "period"])[AMOUNTS].sum().reset_index()
    joined = parents.merge(summed, on=["parent_id", "period"], suffixes=("", "_sum"))
    assert len(joined) == len(parents)
    for column in AMOUNTS:
        np.testing.assert_allclose(joined[column], joined[f"{column}_sum"], rtol=1e-9)
    assert (parents["net_change_mg_p5"] <= parents["net_change_mg_p50"]).all()
    assert (parents["net_change_mg_p50"] <= parents["net_change_mg_p95"]).all()
    assert "parents.csv" in [e["name"] for e in read_manifest(by_region)["files"]]


def test_parent_field_without_regions_or_missing_is_one_line(sample, tmp_path, capsys):
    base = [
        "change", *map(str, sample.landcover), "--years", "2000", "--years", "2020",
        "-d", "china-clcd",
    ]  # fmt: skip
    assert main([*base, "--parent-field", "parent_adcode", "-o", str(tmp_path / "a")]) != 0
    assert "--parent-field" in capsys.readouterr().err
    args = [*base, "--regions", str(sample.regions), "--id-field", "adcode"]
    assert main([*args, "--parent-field", "province", "-o", str(tmp_path / "b")]) != 0
    error = capsys.readouterr().err.strip()
    assert "province" in error and "Traceback" not in error and error.count("\n") == 0
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_returns_the_parents_table(sample, runs):
    by_region, _ = runs
    result = stock_change(
        [*map(str, sample.landcover), str(sample.landcover[1])],
        [2000, 2010, 2020],
        "china-clcd",
        regions=str(by_region.parent / "regions.gpkg"),
        id_field="adcode",
        parent_field="parent_adcode",
        monte_carlo=MonteCarlo(draws=200, seed=7),
        growth="china-clcd",
        write_rasters=False,
        progress=False,
    )
    written = pd.read_csv(by_region / "parents.csv", encoding="utf-8-sig")
    assert result.parents is not None
    pd.testing.assert_frame_equal(
        result.parents.reset_index(drop=True), written, check_dtype=False, rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("run", ["zonal", "change"])
def test_hostile_parent_ids_are_written_as_typed_and_run_nothing(sample, tmp_path, run):
    """Parent ids are user text: parents.csv (for spreadsheets) keeps them as typed, a formula
    defused by a leading quote, templates and markup inert."""
    hostile = ["=1+1 {{7*7}}", "{# <script>alert(1)</script>", "@SUM(A1)"]
    regions = gpd.read_file(sample.regions)
    regions["parent"] = [hostile[k % 3] for k in range(len(regions))]
    path = tmp_path / "regions.gpkg"
    regions.to_file(path)
    out = tmp_path / "out"
    args = ["--regions", str(path), "--id-field", "adcode", "--parent-field", "parent"]
    if run == "zonal":
        argv = ["zonal", str(sample.landcover[0]), "-d", "china-clcd", *args, "-o", str(out), "-q"]
    else:
        argv = [
            "change", *map(str, sample.landcover), "--years", "2000", "--years", "2010",
            "-d", "china-clcd", *args, "--draws", "0", "-o", str(out), "-q",
        ]  # fmt: skip
    assert main(argv) == 0
    text = (out / "parents.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1 {{7*7}}" in text and "'@SUM(A1)" in text and "49" not in text.split(",")
    assert "{# <script>alert(1)</script>" in text
    parents = pd.read_csv(out / "parents.csv", encoding="utf-8-sig")
    assert set(parents["parent_id"]) == {
        "'=1+1 {{7*7}}",
        "{# <script>alert(1)</script>",
        "'@SUM(A1)",
    }
