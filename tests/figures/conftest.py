"""Runs whose outputs the figure tests draw: the Python API on the bundled synthetic sample
(six regions, CLCD classes, 2000 and 2020), once per test package, in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

import geocarbon

N_REGIONS = 6
REGION_OPTIONS = dict(id_field="adcode", name_field="name", progress=False)


@pytest.fixture(scope="package")
def zonal_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    out_dir = tmp_path_factory.mktemp("zonal")
    geocarbon.zonal_stocks(
        sample.landcover[1], sample.regions, "china-clcd", out_dir=out_dir, **REGION_OPTIONS
    )
    return out_dir


def _change_dir(
    factory: pytest.TempPathFactory, landcovers: list[Path], years: list[int], regions: Path
) -> Path:
    out_dir = factory.mktemp(f"change-{len(years)}-dates")
    geocarbon.stock_change(
        landcovers,
        years,
        "china-clcd",
        regions=regions,
        out_dir=out_dir,
        write_rasters=False,
        monte_carlo=geocarbon.MonteCarlo(draws=200, seed=1),
        **REGION_OPTIONS,
    )
    return out_dir


@pytest.fixture(scope="package")
def change_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    return _change_dir(tmp_path_factory, list(sample.landcover), [2000, 2020], sample.regions)


@pytest.fixture(scope="package")
def change3_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """Three dates; 2010 repeats 2020, so 2010-2020 has no change and 2000-2020 all of it."""
    landcovers = [sample.landcover[0], sample.landcover[1], sample.landcover[1]]
    return _change_dir(tmp_path_factory, landcovers, [2000, 2010, 2020], sample.regions)


@pytest.fixture(scope="package")
def stock_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    from geocarbon.runs.stock import StockConfig, run_stock

    out_dir = tmp_path_factory.mktemp("stock")
    run_stock(
        StockConfig(
            landcover=sample.landcover[1],
            densities="china-clcd",
            out_dir=out_dir,
            write_rasters=False,
            progress=False,
        )
    )
    return out_dir
