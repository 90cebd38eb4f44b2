"""Shared fixtures: a hand-checkable 4x4 land cover, on disk, and a factory for other rasters."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, settings

# Timing is the benchmarks' business: no per-example deadline (machines here are noisy).
# HYPOTHESIS_PROFILE=nightly runs twenty times the examples.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", parent=settings.get_profile("default"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"

# LAEA Europe (equal-area). 100 m pixels are exactly 1 ha, so Mg C/ha equals Mg C per pixel.
EQUAL_AREA_CRS = "EPSG:3035"
ONE_HA_TRANSFORM = Affine(100.0, 0.0, 4_321_000.0, 0.0, -100.0, 3_210_000.0)

#: Classes 1, 2, 3 and one nodata pixel (255).
LANDCOVER_4X4 = np.array(
    [
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [3, 3, 2, 255],
        [3, 3, 1, 1],
    ],
    dtype=np.uint8,
)

#: InVEST-style pools (Mg C/ha): class 1 = 15 + 10 + 60 + 1 = 86, class 2 = 5 + 3 + 20 + 0 = 28,
#: class 3 = 2 + 1 + 5 + 0 = 8.
POOLS_CSV = """lucode,LULC_Name,C_above,C_below,C_soil,C_dead
1,Forest,15,10,60,1
2,Grass,5,3,20,0
3,Urban,2,1,5,0
"""


def write_raster(
    path: Path,
    array: np.ndarray,
    *,
    crs: str = EQUAL_AREA_CRS,
    transform: Affine = ONE_HA_TRANSFORM,
    nodata: float | None = 255,
    **profile,
) -> Path:
    """Write ``array`` (2-D, or 3-D for several bands) as a GeoTIFF and return its path."""
    bands = array if array.ndim == 3 else array[None]
    options = {
        "driver": "GTiff",
        "height": bands.shape[1],
        "width": bands.shape[2],
        "count": bands.shape[0],
        "dtype": bands.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    options.update(profile)
    with rasterio.open(path, "w", **options) as dataset:
        dataset.write(bands)
    return path


@pytest.fixture
def landcover_4x4() -> np.ndarray:
    return LANDCOVER_4X4.copy()


@pytest.fixture
def landcover_tif(tmp_path: Path, landcover_4x4: np.ndarray) -> Path:
    return write_raster(tmp_path / "landcover.tif", landcover_4x4)


@pytest.fixture
def pools_csv(tmp_path: Path) -> Path:
    path = tmp_path / "pools.csv"
    path.write_text(POOLS_CSV)
    return path


@pytest.fixture
def raster_factory(tmp_path: Path):
    """Write arbitrary arrays as GeoTIFFs in ``tmp_path``: factory(name, array, **write_raster kwargs)."""

    def make(name: str, array: np.ndarray, **kwargs) -> Path:
        return write_raster(tmp_path / name, array, **kwargs)

    return make


@pytest.fixture
def shared_data() -> Path:
    """The real public data beside the repository; skipped where absent, a failure in CI."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing in CI; the real-data tests must run there.")
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """The project's synthetic sample, generated afresh (unit tests never read rasters/ or vectors/)."""
    from geocarbon.sample import make_sample

    folder = tmp_path_factory.mktemp("sample")
    return make_sample(folder / "rasters", folder / "vectors")


def require(module_name: str) -> ModuleType:
    """Import ``module_name`` for a test: skipped where it is not installed, a failure in CI.

    CI installs every test dependency (requirements-dev.txt), so a missing one there is a broken
    install that a skip would hide. Use instead of ``pytest.importorskip``, in a test or at a
    module's top.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(
                f"{module_name} is not importable in CI ({exc}); requirements-dev.txt must "
                "install it.",
                pytrace=False,
            )
        pytest.skip(f"{module_name} not installed ({exc})", allow_module_level=True)


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address (tcp://127.0.0.1:PORT) of one Dask LocalCluster of two single-threaded worker
    processes on loopback, shared by every test of the session that asks for it.

    Its scheduler's HTTP server takes a free loopback port: ``dashboard_address=None`` would
    still bind 8787, and a second cluster then warns that the port is in use."""
    distributed = require("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


# -- runs whose outputs the figure tests draw (the bundled sample, once per session) --------

N_REGIONS = 6
REGION_OPTIONS = dict(id_field="adcode", name_field="name", progress=False)


@pytest.fixture(scope="session")
def zonal_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    out_dir = tmp_path_factory.mktemp("zonal")
    from geocarbon import zonal_stocks

    zonal_stocks(
        sample.landcover[1], sample.regions, "china-clcd", out_dir=out_dir, **REGION_OPTIONS
    )
    return out_dir


def _change_dir(
    factory: pytest.TempPathFactory, landcovers: list[Path], years: list[int], regions: Path
) -> Path:
    out_dir = factory.mktemp(f"change-{len(years)}-dates")
    from geocarbon import MonteCarlo, stock_change

    stock_change(
        landcovers,
        years,
        "china-clcd",
        regions=regions,
        out_dir=out_dir,
        write_rasters=False,
        monte_carlo=MonteCarlo(draws=200, seed=1),
        **REGION_OPTIONS,
    )
    return out_dir


@pytest.fixture(scope="session")
def change_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    return _change_dir(tmp_path_factory, list(sample.landcover), [2000, 2020], sample.regions)


@pytest.fixture(scope="session")
def change3_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """Three dates; 2010 repeats 2020, so 2010-2020 has no change and 2000-2020 all of it."""
    landcovers = [sample.landcover[0], sample.landcover[1], sample.landcover[1]]
    return _change_dir(tmp_path_factory, landcovers, [2000, 2010, 2020], sample.regions)


@pytest.fixture(scope="session")
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
