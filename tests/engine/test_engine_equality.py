"""One engine, whatever runs it: threads and a Dask cluster give the same results, and so do blocks
of any shape and one block for the whole array.

Everything here runs on synthetic data written in tmp_path, so it runs on every machine. Tables:
pixel counts identical, areas and everything derived to 1e-12 relative. Rasters (and their
overviews): identical pixel for pixel, NaN where NaN.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rio_cogeo.cogeo import cog_validate

from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.blocks import count_blocks
from geocarbon.runs.change import ChangeConfig, run_change
from geocarbon.runs.stock import StockConfig, run_stock
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import write_raster

GEOGRAPHIC_CRS = "EPSG:4326"  # pixel areas change from row to row: areas are not all alike
PIXEL_DEG = 0.0005
GRID_TRANSFORM = Affine(PIXEL_DEG, 0.0, 110.0, 0.0, -PIXEL_DEG, 35.0)
GRID_SHAPE = (900, 800)
NODATA = 0  # china-clcd codes are 1-9
#: Many blocks, several Dask chunks, partial ones at the right and bottom edges.
BLOCK_SHAPE = (40, 64)
YEARS = (2000, 2010, 2020)
REGION_IDS = (110101, 110102, 120103, 120104, 120105, 130106)
MONTE_CARLO = MonteCarlo(draws=200, seed=7)
VALUATION = Valuation(43.0, -7.1, 2.8)


# -- synthetic inputs --------------------------------------------------------------------------


def patchy_codes(rng: np.random.Generator, shape: tuple[int, int], patch_px: int) -> np.ndarray:
    """Patches of CLCD codes 1-9 (patch sides not aligned with blocks), 5 % salt of any code."""
    coarse = rng.integers(1, 10, (shape[0] // patch_px + 1, shape[1] // patch_px + 1))
    codes = np.repeat(np.repeat(coarse, patch_px, 0), patch_px, 1)[: shape[0], : shape[1]]
    salt = rng.random(shape) < 0.05
    codes[salt] = rng.integers(1, 10, int(salt.sum()))
    return codes.astype(np.uint8)


def synthetic_dates(seed: int = 11) -> list[np.ndarray]:
    """Three dates: each changes about a fifth of the previous one's patches, and some pixels.

    Nodata: scattered pixels, a rectangle missing from every date (NaN in every raster) and one
    missing from the middle date only (across block and chunk edges)."""
    rng = np.random.default_rng(seed)
    first = patchy_codes(rng, GRID_SHAPE, 37)
    dates = [first]
    for _ in YEARS[1:]:
        patches = (GRID_SHAPE[0] // 37 + 1, GRID_SHAPE[1] // 37 + 1)
        changed = np.repeat(np.repeat(rng.random(patches) < 0.2, 37, 0), 37, 1)
        changed = changed[: GRID_SHAPE[0], : GRID_SHAPE[1]] | (rng.random(GRID_SHAPE) < 0.02)
        following = dates[-1].copy()
        following[changed] = patchy_codes(rng, GRID_SHAPE, 23)[changed]
        dates.append(following)
    for codes in dates:
        codes[rng.random(GRID_SHAPE) < 0.01] = NODATA
        codes[300:420, 500:777] = NODATA
    dates[1][250:260, 90:760] = NODATA
    return dates


def synthetic_regions() -> gpd.GeoDataFrame:
    """Six regions in two parents, none aligned with pixels: a disc and a triangle that overlap, a
    ring crossing chunk edges, a strip partly off the grid, a region smaller than a pixel and a
    region wholly off the grid."""
    x0, y0 = GRID_TRANSFORM.c, GRID_TRANSFORM.f

    def at(col: float, row: float) -> tuple[float, float]:
        return (x0 + col * PIXEL_DEG, y0 - row * PIXEL_DEG)

    disc = shapely.Point(at(240.3, 330.7)).buffer(180 * PIXEL_DEG, quad_segs=32)
    triangle = shapely.Polygon([at(200.2, 90.9), at(680.6, 400.1), at(120.5, 610.3)])
    ring = shapely.Point(at(560.1, 650.4)).buffer(170.3 * PIXEL_DEG)
    ring = ring.difference(shapely.Point(at(552.8, 641.2)).buffer(72.6 * PIXEL_DEG))
    strip = shapely.box(*at(700.4, 960.2), *at(900.7, 560.9))
    speck = shapely.box(*at(10.2, 20.9), *at(10.7, 20.4))
    away = shapely.box(*at(-300.0, -100.0), *at(-200.0, -50.0))
    return gpd.GeoDataFrame(
        {
            "adcode": list(REGION_IDS),
            "name": ["Disc", "Triangle", "Ring", "Edge strip", "Speck", "Away"],
            "parent": [110000, 110000, 120000, 120000, 120000, 130000],
        },
        geometry=[disc, triangle, ring, strip, speck, away],
        crs=GEOGRAPHIC_CRS,
    )


class Inputs:
    """Paths of the synthetic land covers (one per year) and regions."""

    def __init__(self, folder: Path) -> None:
        self.landcovers = tuple(
            write_raster(
                folder / f"landcover_{year}.tif",
                codes,
                crs=GEOGRAPHIC_CRS,
                transform=GRID_TRANSFORM,
                nodata=NODATA,
                tiled=True,
                blockxsize=256,
                blockysize=256,
            )
            for year, codes in zip(YEARS, synthetic_dates(), strict=True)
        )
        self.regions = folder / "regions.gpkg"
        synthetic_regions().to_file(self.regions, layer="regions", driver="GPKG")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    return Inputs(tmp_path_factory.mktemp("inputs"))


def test_the_grid_makes_many_blocks_and_several_partial_chunks():
    """Guards the premise of the equality tests below: there are chunks to get wrong."""
    from geocarbon.engine.dask import BLOCKS_PER_CHUNK_SIDE as side

    rows, cols = BLOCK_SHAPE
    chunk_shape = (rows * side, cols * side)
    assert count_blocks(GRID_SHAPE, BLOCK_SHAPE) >= 100
    assert count_blocks(GRID_SHAPE, chunk_shape) >= 6
    assert GRID_SHAPE[0] % chunk_shape[0] and GRID_SHAPE[1] % chunk_shape[1]


# -- comparisons -------------------------------------------------------------------------------


def assert_same_table(threads: pd.DataFrame, dask: pd.DataFrame) -> None:
    """Same columns, rows and text; integers identical; floats to 1e-12 of the column's scale."""
    assert list(dask.columns) == list(threads.columns)
    assert len(dask) == len(threads)
    for column in threads.columns:
        expected, actual = threads[column], dask[column]
        if isinstance(expected, gpd.GeoSeries):
            missing = expected.isna()
            assert (actual.isna() == missing).all(), column
            assert expected[~missing].geom_equals_exact(actual[~missing], tolerance=0).all()
        elif pd.api.types.is_float_dtype(expected):
            values = expected.to_numpy(float)
            scale = np.nanmax(np.abs(values), initial=0.0)
            np.testing.assert_allclose(
                actual.to_numpy(float), values, rtol=1e-12, atol=1e-12 * scale, err_msg=column
            )
        else:
            assert actual.dtype == expected.dtype, column
            assert actual.tolist() == expected.tolist(), column


def assert_same_raster(threads: Path, dask: Path) -> None:
    """Same georeferencing, labels and COG layout; every pixel of every overview level equal."""
    assert cog_validate(dask)[0], dask.name
    with rasterio.open(threads) as a, rasterio.open(dask) as b:
        assert (b.crs, b.transform, b.shape, b.dtypes) == (a.crs, a.transform, a.shape, a.dtypes)
        assert (b.descriptions, b.units) == (a.descriptions, a.units), dask.name
        assert np.isnan(b.nodata) and np.isnan(a.nodata)
        assert b.block_shapes == a.block_shapes and b.overviews(1) == a.overviews(1)
        np.testing.assert_array_equal(b.read(1), a.read(1), err_msg=dask.name)
        levels = len(a.overviews(1))
    for level in range(levels):
        with (
            rasterio.open(threads, overview_level=level) as a,
            rasterio.open(dask, overview_level=level) as b,
        ):
            np.testing.assert_array_equal(b.read(1), a.read(1), err_msg=f"{dask.name} {level}")


def assert_same_folders(threads: Path, dask: Path, n_rasters: int) -> None:
    """The same files (no chunk or scratch left behind), and the same rasters."""
    names = sorted(path.name for path in threads.iterdir())
    assert sorted(path.name for path in dask.iterdir()) == names
    rasters = [name for name in names if name.endswith(".tif")]
    assert len(rasters) == n_rasters
    for name in rasters:
        assert_same_raster(threads / name, dask / name)


def quietly(run, config):
    """Run without the expected warnings (overlapping and empty regions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return run(config)


# -- threads vs Dask ---------------------------------------------------------------------------


def test_stock_on_a_cluster_equals_threads(inputs, dask_scheduler, tmp_path):
    """The per-class table, the summary's totals and the 5 density COGs equal."""
    options = dict(
        landcover=inputs.landcovers[0],
        densities="china-clcd",
        block_shape=BLOCK_SHAPE,
        progress=False,
    )
    threads = run_stock(StockConfig(**options, out_dir=tmp_path / "threads", threads=2))
    dask = run_stock(StockConfig(**options, out_dir=tmp_path / "dask", dask=dask_scheduler))
    assert_same_table(threads.classes, dask.classes)
    assert threads.classes["pixel_count"].sum() > 0.9 * np.prod(GRID_SHAPE)
    assert dask.summary["totals"] == pytest.approx(threads.summary["totals"], rel=1e-12)
    assert_same_folders(tmp_path / "threads", tmp_path / "dask", n_rasters=5)


@pytest.mark.parametrize("coverage", ["centre", "all-touched", "exact"])
def test_zonal_on_a_cluster_equals_threads(inputs, dask_scheduler, tmp_path, coverage):
    """Overlapping, holed, off-grid and sub-pixel regions, with parents: every table equal."""
    options = dict(
        landcover=inputs.landcovers[2],
        regions=inputs.regions,
        densities="china-clcd",
        id_field="adcode",
        name_field="name",
        parent_field="parent",
        coverage=coverage,
        block_shape=BLOCK_SHAPE,
        progress=False,
    )
    threads = quietly(run_zonal, ZonalConfig(**options, out_dir=tmp_path / "threads", threads=2))
    dask = quietly(
        run_zonal, ZonalConfig(**options, out_dir=tmp_path / "dask", dask=dask_scheduler)
    )
    assert_same_table(threads.regions, dask.regions)
    assert_same_table(threads.by_class, dask.by_class)
    assert threads.parents is not None and dask.parents is not None
    assert_same_table(threads.parents, dask.parents)
    counted = threads.regions.set_index("region_id")["pixel_count"]
    assert (counted.drop(["110106", "130106"], errors="ignore") > 0).sum() >= 4
    assert_same_folders(tmp_path / "threads", tmp_path / "dask", n_rasters=0)


@pytest.mark.parametrize("by_region", [False, True], ids=["whole-grid", "by-region"])
def test_change_on_a_cluster_equals_threads(inputs, dask_scheduler, tmp_path, by_region):
    """Three dates, valued, with uncertainty and change rasters; over the whole grid also every
    date's density rasters (as --date-rasters), by region the region tables: all equal. Sink
    accounting on (forest growth by age, soil moving over 20 years): its per-pixel state is
    carried the same on workers as on threads."""
    options = dict(
        landcovers=inputs.landcovers,
        years=YEARS,
        densities="china-clcd",
        growth="china-clcd",
        initial_age=0,
        valuation=VALUATION,
        monte_carlo=MONTE_CARLO,
        date_rasters=not by_region,
        block_shape=BLOCK_SHAPE,
        progress=False,
    )
    if by_region:
        options.update(regions=inputs.regions, id_field="adcode", name_field="name")
    threads = quietly(run_change, ChangeConfig(**options, out_dir=tmp_path / "threads", threads=2))
    dask = quietly(
        run_change, ChangeConfig(**options, out_dir=tmp_path / "dask", dask=dask_scheduler)
    )
    assert_same_table(threads.change, dask.change)
    assert_same_table(threads.transitions, dask.transitions)
    assert_same_table(threads.series, dask.series)
    assert (threads.regions is None) == (dask.regions is None) == (not by_region)
    if by_region:
        assert_same_table(threads.regions, dask.regions)
    assert len(threads.transitions) > 50
    assert threads.change["growth_remaining_total_mg"].sum() > 0
    assert (threads.change["soil_legacy_mg"] != 0).any()
    # 3 periods x (5 change bands + NPV), and 3 dates x 5 density bands without regions
    assert_same_folders(tmp_path / "threads", tmp_path / "dask", n_rasters=18 if by_region else 33)


# -- blocks vs one block (threads) -------------------------------------------------------------

SMALL_CODES = st.sampled_from([1, 2, 5, 9, NODATA])


@st.composite
def small_grids(draw, n_dates: int) -> tuple[list[np.ndarray], tuple[int, int]]:
    """``n_dates`` land covers of one random small shape, and a block shape within it."""
    height, width = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    dates = [
        draw(hnp.arrays(np.uint8, (height, width), elements=SMALL_CODES)) for _ in range(n_dates)
    ]
    block_shape = draw(st.tuples(st.integers(1, height), st.integers(1, width)))
    return dates, block_shape


#: Rectangles in pixel units (column, row, width, height), off the pixel lines and overlapping.
small_rectangles = st.lists(
    st.tuples(st.floats(-2, 11), st.floats(-2, 11), st.floats(0.2, 8), st.floats(0.2, 8)),
    min_size=1,
    max_size=4,
)


def small_regions_file(folder: Path, rectangles: list[tuple[float, ...]]) -> Path:
    x0, y0 = GRID_TRANSFORM.c, GRID_TRANSFORM.f
    frame = gpd.GeoDataFrame(
        {"code": [f"R{k}" for k in range(len(rectangles))]},
        geometry=[
            shapely.box(
                x0 + col * PIXEL_DEG,
                y0 - (row + height) * PIXEL_DEG,
                x0 + (col + width) * PIXEL_DEG,
                y0 - row * PIXEL_DEG,
            )
            for col, row, width, height in rectangles
        ],
        crs=GEOGRAPHIC_CRS,
    )
    path = folder / "regions.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def small_landcovers(folder: Path, dates: list[np.ndarray]) -> tuple[Path, ...]:
    return tuple(
        write_raster(
            folder / f"landcover_{k}.tif",
            codes,
            crs=GEOGRAPHIC_CRS,
            transform=GRID_TRANSFORM,
            nodata=NODATA,
        )
        for k, codes in enumerate(dates)
    )


def whole_and_blocks(run, config_class, folder: Path, shape, block_shape, **options):
    """One run with one block (one thread), one with ``block_shape`` blocks on two threads."""
    whole = quietly(
        run,
        config_class(**options, block_shape=shape, threads=1, out_dir=folder / "whole"),
    )
    parts = quietly(
        run,
        config_class(**options, block_shape=block_shape, threads=2, out_dir=folder / "blocks"),
    )
    return whole, parts


@settings(max_examples=20)
@given(small_grids(1))
def test_stock_in_blocks_equals_one_block(grid):
    (codes,), block_shape = grid
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (landcover,) = small_landcovers(folder, [codes])
        whole, parts = whole_and_blocks(
            run_stock,
            StockConfig,
            folder,
            codes.shape,
            block_shape,
            landcover=landcover,
            densities="china-clcd",
            progress=False,
        )
        assert_same_table(whole.classes, parts.classes)
        assert whole.classes["pixel_count"].sum() == np.count_nonzero(codes != NODATA)
        assert_same_folders(folder / "whole", folder / "blocks", n_rasters=5)


@settings(max_examples=40)
@given(small_grids(1), small_rectangles, st.sampled_from(["centre", "all-touched", "exact"]))
@example(  # the second region's edge is 0.2 px into column 0: it does not touch column 1
    grid=([np.ones((2, 2), np.uint8)], (1, 1)),
    rectangles=[(0.0, 0.0, 2.0, 1.5), (-0.8016314776534681, 1.0355605961501486, 1.0, 1.0)],
    coverage="exact",
)
def test_zonal_in_blocks_equals_one_block(grid, rectangles, coverage):
    (codes,), block_shape = grid
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (landcover,) = small_landcovers(folder, [codes])
        whole, parts = whole_and_blocks(
            run_zonal,
            ZonalConfig,
            folder,
            codes.shape,
            block_shape,
            landcover=landcover,
            regions=small_regions_file(folder, rectangles),
            densities="china-clcd",
            id_field="code",
            coverage=coverage,
            progress=False,
        )
        assert_same_table(whole.regions, parts.regions)
        assert_same_table(whole.by_class, parts.by_class)


@settings(max_examples=10)
@given(small_grids(3), small_rectangles | st.none())
def test_change_in_blocks_equals_one_block(grid, rectangles):
    dates, block_shape = grid
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        options: dict = dict(
            landcovers=small_landcovers(folder, dates),
            years=YEARS,
            densities="china-clcd",
            valuation=VALUATION,
            monte_carlo=MONTE_CARLO,
            date_rasters=True,
            progress=False,
        )
        if rectangles is not None:
            options.update(regions=small_regions_file(folder, rectangles), id_field="code")
        whole, parts = whole_and_blocks(
            run_change, ChangeConfig, folder, dates[0].shape, block_shape, **options
        )
        for table in ("change", "transitions", "series"):
            assert_same_table(getattr(whole, table), getattr(parts, table))
        if rectangles is not None:
            assert_same_table(whole.regions, parts.regions)
        assert_same_folders(folder / "whole", folder / "blocks", n_rasters=33)


# -- test dependencies -------------------------------------------------------------------------


def test_a_missing_test_dependency_fails_in_ci_and_skips_elsewhere(monkeypatch):
    import conftest

    missing = "geocarbon_no_such_module"
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=f"{missing} is not importable in CI"):
        conftest.require(missing)
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match=f"{missing} not installed"):
        conftest.require(missing)
    assert conftest.require("numpy") is np
