"""Stock change on real data: InVEST's Willamette sample and New Guinea 2001 -> 2015."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio

from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.api import stock_change

from test_change import invest_valuation_constant

# New Guinea's classes (IPCC, from the files' .aux.xml): illustrative tropical densities for the
# test, Mg C/ha (above, below, dead, soil); low and high are central x (1 -/+ spread).
NEW_GUINEA = {
    1: ("Agriculture", (5, 1.5, 0, 45)),
    2: ("Forest", (150, 37, 10, 70)),
    3: ("Grassland", (3, 8, 1, 50)),
    5: ("Settlement", (1, 0.5, 0, 20)),
    6: ("Shrubland", (20, 10, 2, 55)),
    7: ("Sparse vegetation", (2, 1, 0, 25)),
    9: ("Water", (0, 0, 0, 0)),
}


def new_guinea_table(path, spread):
    rows = ["class_code,class_name,pool,low,central,high"]
    for code, (name, pools) in NEW_GUINEA.items():
        for pool, central in zip(("above", "below", "dead", "soil"), pools, strict=True):
            rows.append(
                f"{code},{name},{pool},{central * (1 - spread)},{central},{central * (1 + spread)}"
            )
    path.write_text("\n".join(rows) + "\n")
    return path


def test_willamette_change_and_npv_match_invest(shared_data, tmp_path):
    folder = shared_data / "landcover" / "invest_willamette"
    current, future = folder / "lulc_current_willamette.tif", folder / "lulc_future_willamette.tif"
    pools = folder / "carbon_pools_willamette.csv"
    # independent arithmetic, pixel by pixel as InVEST does it (0.09 ha pixels)
    table = (
        pd.read_csv(pools)
        .set_index("lucode")[["C_above", "C_below", "C_soil", "C_dead"]]
        .sum(axis=1)
    )
    lookup = np.full(256, np.nan)
    lookup[table.index.to_numpy()] = table.to_numpy()
    with rasterio.open(current) as a, rasterio.open(future) as b:
        start, end = a.read(1).astype(np.int64), b.read(1).astype(np.int64)
        valid = (start != a.nodata) & (end != b.nodata)
    expected_mg = float(np.sum(lookup[end[valid]] - lookup[start[valid]]) * 0.09)
    result = stock_change(
        [current, future],
        [2016, 2030],
        pools,
        area_method="planar",
        progress=False,
        monte_carlo=None,
        valuation=Valuation(43, -7.1, 2.8),
        out_dir=tmp_path / "out",
        date_rasters=True,
        soil_transition_years=0,  # InVEST changes soil carbon at once
    )
    row = result.change.iloc[0]
    assert row["net_change_mg"] == pytest.approx(expected_mg, rel=1e-9)
    assert row["npv"] == pytest.approx(
        expected_mg * invest_valuation_constant(43, -7.1, 2.8, 2016, 2030), rel=1e-6
    )
    # the NPV raster holds the same value per pixel (per ha x 0.09 ha), summed
    with rasterio.open(tmp_path / "out" / "npv_2016-2030_per_ha.tif") as dataset:
        npv = dataset.read(1).astype(np.float64)
    assert np.nansum(npv) * 0.09 == pytest.approx(row["npv"], rel=1e-5)
    # each date's total density is InVEST's tot_c per pixel / 0.09 ha; their difference is the change
    totals = {}
    for year, codes in ((2016, start), (2030, end)):
        with rasterio.open(tmp_path / "out" / f"density_{year}_total_mg_per_ha.tif") as dataset:
            totals[year] = dataset.read(1).astype(np.float64)
        on_date = codes != (a.nodata if year == 2016 else b.nodata)
        np.testing.assert_allclose(totals[year][on_date], lookup[codes[on_date]], rtol=1e-6)
        assert np.isnan(totals[year][~on_date]).all()
    with rasterio.open(tmp_path / "out" / "change_2016-2030_total_mg_per_ha.tif") as dataset:
        change = dataset.read(1).astype(np.float64)
    np.testing.assert_allclose(change[valid], (totals[2030] - totals[2016])[valid], atol=1e-4)


@pytest.fixture
def new_guinea(shared_data):
    folder = shared_data / "landcover" / "motif_new_guinea"
    return [folder / "landcover2001.tif", folder / "landcover2015.tif"]


def run_new_guinea(dates, table, seed=11):
    return stock_change(
        dates,
        [2001, 2015],
        table,
        progress=False,
        write_rasters=False,
        monte_carlo=MonteCarlo(1000, seed=seed, distribution="pert"),
    ).change.iloc[0]


def test_new_guinea_uncertainty_contains_central_and_narrows(new_guinea, tmp_path):
    wide = run_new_guinea(new_guinea, new_guinea_table(tmp_path / "wide.csv", 0.4))
    narrow = run_new_guinea(new_guinea, new_guinea_table(tmp_path / "narrow.csv", 0.1))
    for row in (wide, narrow):
        assert row["net_change_mg_p5"] <= row["net_change_mg"] <= row["net_change_mg_p95"]
        assert row["annual_net_change_mg_per_yr_p5"] == pytest.approx(row["net_change_mg_p5"] / 14)
    assert narrow["net_change_mg"] == pytest.approx(
        wide["net_change_mg"], rel=1e-12
    )  # same centrals
    assert (narrow["net_change_mg_p95"] - narrow["net_change_mg_p5"]) < 0.5 * (
        wide["net_change_mg_p95"] - wide["net_change_mg_p5"]
    )
    # forest is where the carbon is, and where its change is most uncertain
    assert wide["top_variance_class"] == 2 and 0 < wide["top_variance_share"] <= 1
    # 2001 -> 2015: forest 8,071,478 -> 8,122,776 px, agriculture down: a net gain here
    assert wide["net_change_mg"] > 0


def test_new_guinea_same_seed_same_intervals(new_guinea, tmp_path):
    table = new_guinea_table(tmp_path / "t.csv", 0.3)
    first, second = run_new_guinea(new_guinea, table), run_new_guinea(new_guinea, table)
    bounds = [c for c in first.index if c.endswith(("_p5", "_p50", "_p95"))]
    assert len(bounds) == 6
    assert all(first[c] == second[c] for c in bounds)
