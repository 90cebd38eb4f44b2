"""Land covers given as NumPy arrays and rioxarray DataArrays, dask-backed ones chunk by chunk.

The real InVEST Willamette rasters (int16 and int8 GeoTIFFs, 1889 x 1325) are opened with
``rioxarray.open_rasterio(masked=True, chunks=...)``, as users open them: float32 with NaN for
nodata, lazy. Each run must give exactly what the same run on the file gives, tables and rasters,
while no dask compute ever asks for the whole array.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from geocarbon import carbon_stock, stock_change, zonal_stocks
from geocarbon.errors import ConfigError, RasterFormatError
from geocarbon.inputs.arrays import landcover_from_array
from geocarbon.runs.change import ChangeConfig, run_change
from geocarbon.runs.stock import StockConfig
from geocarbon.runs.zonal import ZonalConfig
from tests.conftest import EQUAL_AREA_CRS, LANDCOVER_4X4, ONE_HA_TRANSFORM, require, write_raster

dask = require("dask")
rioxarray = require("rioxarray")

CHUNKS = {"y": 512, "x": 512}
#: 16 MB keeps blocks at one 512 x 512 output tile: the array (1889 x 1325) is 12 such chunks.
SMALL_MEMORY = dict(memory_mb=16, progress=False)


@pytest.fixture
def willamette(shared_data) -> tuple[Path, Path, Path]:
    folder = shared_data / "landcover" / "invest_willamette"
    return (
        folder / "lulc_current_willamette.tif",
        folder / "lulc_future_willamette.tif",
        folder / "carbon_pools_willamette.csv",
    )


class ChunkWatch:
    """Counts how often each chunk of a watched dask array is computed, and the most chunks any
    single compute asked for: inside the ``with`` block every compute runs through a scheduler
    that runs it in the thread that asked (dask's synchronous one), counting per compute."""

    _local = threading.local()  # shared by every watch: the innermost scheduler counts

    def __init__(self, lazy):
        self.counts: Counter = Counter()
        self.largest_request = 0
        self._lock = threading.Lock()
        self.lazy = lazy.copy(data=lazy.data.map_blocks(self._count, dtype=lazy.dtype))
        self.n_chunks = self.lazy.data.npartitions

    def _count(self, chunk, block_info=None):
        self._local.chunks = getattr(self._local, "chunks", 0) + 1
        with self._lock:
            self.counts[tuple(block_info[0]["chunk-location"])] += 1
            self.largest_request = max(self.largest_request, self._local.chunks)
        return chunk

    def _get(self, graph, keys, **kwargs):
        outer = getattr(self._local, "chunks", None)
        self._local.chunks = 0  # this compute's chunks
        try:
            return dask.get(graph, keys, **kwargs)
        finally:
            self._local.chunks = outer

    def __enter__(self):
        self._scheduler = dask.config.set(scheduler=self._get)
        self._scheduler.__enter__()
        return self

    def __exit__(self, *args):
        self._scheduler.__exit__(*args)


def lazy(path: Path) -> object:
    return rioxarray.open_rasterio(path, masked=True, chunks=CHUNKS)


def regions_of(path: Path) -> gpd.GeoDataFrame:
    """West and east halves of the raster, in its CRS."""
    with rasterio.open(path) as dataset:
        left, bottom, right, top = dataset.bounds
        crs = dataset.crs
    middle = (left + right) / 2
    return gpd.GeoDataFrame(
        {"id": ["west", "east"]},
        geometry=[shapely.box(left, bottom, middle, top), shapely.box(middle, bottom, right, top)],
        crs=crs,
    )


def assert_rasters_equal_cogs(rasters: dict, out_dir: Path) -> None:
    """Every returned DataArray equals the COG a file run wrote, band by band, with its CRS,
    transform, nodata, units and description."""
    cogs = sorted(out_dir.glob("*.tif"))
    assert cogs and sorted(rasters) == [cog.stem for cog in cogs]
    for cog in cogs:
        array = rasters[cog.stem]
        with rasterio.open(cog) as dataset:
            np.testing.assert_array_equal(array.values, dataset.read(1))
            assert array.rio.crs == dataset.crs
            assert array.rio.transform() == dataset.transform
            assert np.isnan(array.rio.nodata) and np.isnan(dataset.nodata)
            assert array.attrs["units"] == dataset.units[0] == "Mg C/ha"
            assert array.attrs["long_name"] == dataset.descriptions[0]
            assert array.name == cog.stem


def test_masked_dataarray_reads_int16_codes_lazily(willamette):
    current, _, _ = willamette
    source = landcover_from_array(lazy(current))
    assert source.dtype == "int16" and source.nodata == 128  # as the file declares
    assert source.array is not None and source.array.lazy and source.has_mask
    assert source.path == current


def test_dask_zonal_is_chunk_by_chunk_and_equals_the_file_run(willamette):
    current, _, pools = willamette
    regions = regions_of(current)
    expected = zonal_stocks(current, regions, pools, id_field="id", **SMALL_MEMORY)
    watch = ChunkWatch(lazy(current))
    with watch:
        got = zonal_stocks(watch.lazy, regions, pools, id_field="id", **SMALL_MEMORY)
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(expected))
    assert watch.n_chunks == 12
    assert set(watch.counts) == {(0, i, j) for i in range(4) for j in range(3)}
    assert set(watch.counts.values()) == {1}  # one pass: every chunk read once
    assert 0 < watch.largest_request <= 1  # blocks are single chunks, never the whole array


def test_dask_stock_returns_lazy_rasters_equal_to_the_cogs(willamette, tmp_path):
    current, _, pools = willamette
    expected = carbon_stock(current, pools, out_dir=tmp_path / "files", **SMALL_MEMORY)
    watch = ChunkWatch(lazy(current))
    with watch:
        got = carbon_stock(watch.lazy, pools, **SMALL_MEMORY)
        assert all(array.chunks is not None for array in got.rasters.values())  # still lazy
        assert set(watch.counts.values()) == {1}  # the tables' pass only
        computed = dict(zip(got.rasters, dask.compute(*got.rasters.values()), strict=True))
    pd.testing.assert_frame_equal(got.classes, expected.classes)
    assert got.outputs == ()
    assert_rasters_equal_cogs(computed, tmp_path / "files")
    assert set(watch.counts.values()) == {2}  # and once more for the rasters, chunk by chunk
    assert watch.largest_request == 1  # each output chunk computes its one input chunk


def test_dask_change_returns_rasters_equal_to_the_cogs(willamette, tmp_path):
    current, future, pools = willamette
    options = dict(monte_carlo=None, **SMALL_MEMORY)
    expected = stock_change([current, future], [2020, 2050], pools, out_dir=tmp_path, **options)
    watches = [ChunkWatch(lazy(current)), ChunkWatch(lazy(future))]
    with watches[0], watches[1]:
        got = stock_change([w.lazy for w in watches], [2020, 2050], pools, **options)
        computed = dict(zip(got.rasters, dask.compute(*got.rasters.values()), strict=True))
    for watch in watches:  # the tables' pass, then the rasters: each chunk on its own
        assert set(watch.counts.values()) == {2} and watch.largest_request == 1
    pd.testing.assert_frame_equal(got.change, expected.change)
    pd.testing.assert_frame_equal(got.transitions, expected.transitions)
    pd.testing.assert_frame_equal(got.series, expected.series)
    assert expected.rasters == {} and got.outputs == ()
    assert_rasters_equal_cogs(computed, tmp_path)


def test_numpy_stock_rasters_are_numpy_with_grid_and_units(tmp_path, pools_csv, landcover_tif):
    expected = carbon_stock(landcover_tif, pools_csv, out_dir=tmp_path / "files", progress=False)
    got = carbon_stock(
        LANDCOVER_4X4,
        pools_csv,
        transform=ONE_HA_TRANSFORM,
        crs=EQUAL_AREA_CRS,
        nodata=255,
        progress=False,
    )
    pd.testing.assert_frame_equal(got.classes, expected.classes)
    assert all(isinstance(array.data, np.ndarray) for array in got.rasters.values())
    assert_rasters_equal_cogs(got.rasters, tmp_path / "files")
    assert got.rasters["density_total_mg_per_ha"].values[0].tolist() == [86, 86, 28, 28]


def count_passes(monkeypatch) -> list[int]:
    """A one-item list counting the engine passes run from now on."""
    from geocarbon.engine import run_pass
    from geocarbon.runs import arrays_out, common

    passes = [0]

    def counted(*args, **kwargs):
        passes[0] += 1
        return run_pass(*args, **kwargs)

    for module in (arrays_out, common):
        monkeypatch.setattr(module, "run_pass", counted)
    return passes


def test_numpy_change_rasters_equal_the_cogs(tmp_path, pools_csv, raster_factory, monkeypatch):
    start = raster_factory("a.tif", LANDCOVER_4X4)
    end_codes = np.where(LANDCOVER_4X4 == 1, 2, LANDCOVER_4X4).astype(np.uint8)
    end = raster_factory("b.tif", end_codes)
    options = dict(monte_carlo=None, progress=False)
    expected = stock_change(
        [start, end], [2000, 2020], pools_csv, out_dir=tmp_path / "o", **options
    )
    arrays = dict(transform=ONE_HA_TRANSFORM, crs=EQUAL_AREA_CRS, nodata=255)
    passes = count_passes(monkeypatch)
    got = stock_change([LANDCOVER_4X4, end_codes], [2000, 2020], pools_csv, **options, **arrays)
    assert passes == [1]  # the rasters are filled by the pass that counts the tables
    pd.testing.assert_frame_equal(got.change, expected.change)
    assert_rasters_equal_cogs(got.rasters, tmp_path / "o")
    total = got.rasters["change_2000-2020_total_mg_per_ha"].values
    assert total[0, 0] == pytest.approx(28 - 86)  # forest to grass, Mg C/ha (the walk: soil lags)
    skipped = stock_change(
        [LANDCOVER_4X4, end_codes],
        [2000, 2020],
        pools_csv,
        **options,
        **arrays,
        write_rasters=False,
    )
    assert skipped.rasters == {}


def test_non_whole_code_in_a_lazy_block_names_the_rows(tmp_path, pools_csv):
    codes = np.ones((1100, 300), np.float32)
    codes[700, 5] = 2.5
    path = write_raster(tmp_path / "fractions.tif", codes, nodata=-1.0)
    out = tmp_path / "out"
    with pytest.raises(RasterFormatError) as caught:
        carbon_stock(lazy(path), pools_csv, out_dir=out, **SMALL_MEMORY)
    message = str(caught.value)
    assert "\n" not in message and "fractions.tif" in message
    assert "rows 512-1023" in message and "2.5" in message and "NaN or a mask" in message
    assert not out.exists() or not any(out.iterdir())


def test_masked_float_geotiff_of_whole_codes_is_accepted_as_8_bit(tmp_path, pools_csv):
    path = write_raster(tmp_path / "lc.tif", LANDCOVER_4X4)  # uint8, nodata 255
    opened = rioxarray.open_rasterio(path, masked=True, chunks={"y": 2, "x": 2})
    assert opened.dtype == np.float32 and np.isnan(opened.rio.nodata)
    source = landcover_from_array(opened)
    assert source.dtype == "uint8"  # from the encoding rioxarray keeps: the 8-bit kernels run
    expected = carbon_stock(path, pools_csv, progress=False)
    got = carbon_stock(opened, pools_csv, block_shape=(2, 2), progress=False)
    pd.testing.assert_frame_equal(got.classes, expected.classes)
    undeclared = opened.copy()
    undeclared.encoding = {}
    assert landcover_from_array(undeclared).dtype == "int32"  # wide enough for any float32 code
    assert landcover_from_array(undeclared, dtype="uint8").dtype == "uint8"


def test_code_beyond_the_declared_dtype_is_refused_with_the_fix(tmp_path, pools_csv):
    codes = LANDCOVER_4X4.astype(np.float32)
    codes[3, 3] = 300
    path = write_raster(tmp_path / "wide.tif", codes, nodata=255)
    opened = rioxarray.open_rasterio(path, masked=True, chunks={"y": 2, "x": 4})
    with pytest.raises(RasterFormatError, match=r"wide.tif holds 300 in rows 2-3.*uint8.*dtype="):
        carbon_stock(opened, pools_csv, dtype="uint8", block_shape=(2, 4), progress=False)
    with pytest.raises(ConfigError, match=r"dtype= for land cover .* got 'float32'"):
        landcover_from_array(opened, dtype="float32")


def test_dask_backed_array_on_a_dask_cluster_is_refused(tmp_path, pools_csv, landcover_tif):
    opened = rioxarray.open_rasterio(landcover_tif, chunks=CHUNKS)
    one_region = regions_of(landcover_tif)
    with pytest.raises(ConfigError) as caught:
        zonal_stocks(opened, one_region, pools_csv, id_field="id", dask="local:1")
    message = str(caught.value)
    assert "landcover.tif" in message and "pass the raster's file path" in message
    with pytest.raises(ConfigError, match="dask-backed"):
        carbon_stock(opened, pools_csv, dask="local:1", out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    # The runs refuse it themselves, however their config was made.
    source = landcover_from_array(opened)
    config = ChangeConfig(
        landcovers=(source, source), years=(2000, 2020), densities=pools_csv, dask="local:1"
    )
    with pytest.raises(ConfigError, match="dask-backed"):
        run_change(config)


def test_one_row_dataarray_keeps_its_two_dimensions(pools_csv, landcover_tif):
    opened = rioxarray.open_rasterio(landcover_tif).isel(y=slice(0, 1))
    assert opened.shape == (1, 1, 4)
    got = carbon_stock(opened, pools_csv, progress=False)
    # as a run on the file: classes with no pixel are not listed
    assert got.classes.set_index("class_code")["pixel_count"].to_dict() == {1: 2, 2: 2}


def test_configs_take_str_paths(tmp_path, pools_csv, landcover_tif):
    stock = StockConfig(
        landcover=str(landcover_tif), densities=str(pools_csv), out_dir=str(tmp_path)
    )
    assert isinstance(stock.landcover, Path) and isinstance(stock.out_dir, Path)
    assert StockConfig(landcover=str(landcover_tif), densities="china-clcd").out_dir is None
    zonal = ZonalConfig(
        landcover=str(landcover_tif),
        regions=str(tmp_path / "r.gpkg"),
        densities=str(pools_csv),
        id_field="id",
        out_dir=str(tmp_path),
    )
    assert isinstance(zonal.landcover, Path) and isinstance(zonal.regions, Path)
    assert isinstance(zonal.out_dir, Path)
    change = ChangeConfig(
        landcovers=(str(landcover_tif), str(landcover_tif)),
        years=(2000, 2020),
        densities=str(pools_csv),
        ages=str(landcover_tif),
        out_dir=str(tmp_path),
        density_factors=str(pools_csv),
        ipcc_categories=str(pools_csv),
    )
    assert all(isinstance(item, Path) for item in change.landcovers)
    assert all(isinstance(p, Path) for p in (change.ages, change.density_factors, change.out_dir))
    result = carbon_stock(
        str(landcover_tif), str(pools_csv), out_dir=str(tmp_path / "s"), progress=False
    )
    assert result.outputs and all(path.exists() for path in result.outputs)


def test_dataarrays_without_crs_or_codes_say_what_is_missing_and_write_nothing(
    tmp_path, pools_csv, landcover_tif
):
    """A DataArray that lost its CRS is told to write one (its transform is there); text or
    all-NaN arrays; a second band: each one line naming what is wrong, and nothing written."""
    import xarray as xr

    opened = rioxarray.open_rasterio(landcover_tif)
    without_crs = opened.drop_vars("spatial_ref")  # where rioxarray keeps the CRS
    cases = {
        "write_crs": without_crs,
        "not class codes": opened.astype(str),
        "isel(band=0)": xr.concat([opened, opened], dim="band"),
    }
    for words, array in cases.items():
        out = tmp_path / words.replace(" ", "_").replace("(", "").replace(")", "")
        with pytest.raises(RasterFormatError) as caught:
            carbon_stock(array, pools_csv, out_dir=out, progress=False)
        message = str(caught.value)
        assert "\n" not in message and words in message and "Land cover" in message, message
        assert "transform=" not in message or words != "write_crs", message
        assert not out.exists()
