"""Density maps as pool sources: real GeoTIFFs in tmp_path read block by block on a land-cover
grid, every error path one line naming the file, and the factor table.

The land-cover grid is 40 x 50 pixels of 250 m in UTM 33N (EPSG:32633); maps are written on it,
beside it, finer or coarser, or in EPSG:4326.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.enums import Resampling

from geocarbon.blocks import Block, iter_blocks
from geocarbon.errors import (
    ConfigError,
    GeoCarbonError,
    GridMismatchError,
    InputFileError,
    RasterFormatError,
    TableSchemaError,
)
from geocarbon.grid import GridSpec
from geocarbon.inputs.density_rasters import (
    DensityRasterSpec,
    date_weights,
    open_density_rasters,
    parse_density_raster,
)
from geocarbon.inputs.factors import read_factor_table
from geocarbon.units import POOLS
from tests.conftest import write_raster

ABOVE, SOIL = POOLS.index("above"), POOLS.index("soil")
UTM = "EPSG:32633"
GRID_TRANSFORM = Affine(250.0, 0.0, 500_000.0, 0.0, -250.0, 5_020_000.0)
GRID = GridSpec(CRS.from_user_input(UTM), GRID_TRANSFORM, 40, 50, name="landcover.tif")
WHOLE = Block(0, 0, GRID.height, GRID.width)
#: 0.01 degree pixels (about 780 x 1110 m here) over the whole land cover and well beyond.
GEOGRAPHIC_TRANSFORM = Affine(0.01, 0.0, 14.9, 0.0, -0.01, 45.4)


def ramp(shape: tuple[int, int], start: float = 10.0) -> np.ndarray:
    """Distinct float32 densities start, start + 0.5, ... row-major."""
    return (start + 0.5 * np.arange(shape[0] * shape[1]).reshape(shape)).astype(np.float32)


def read_blocks(rasters, block_shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Every pool on the whole grid, assembled from blocks of ``block_shape``."""
    out = {p: np.full((len(rasters.years), *GRID.shape), -1.0, np.float32) for p in rasters.pools}
    with rasters.reader() as reader:
        for block in iter_blocks(GRID.shape, block_shape):
            for pool, values in reader.read(block).items():
                assert values.dtype == np.float32
                assert values.shape == (len(rasters.years), block.height, block.width)
                out[pool][(slice(None), *block.slices)] = values
    return out


def one_line_error(error_type, call, *paths: Path) -> str:
    """``call()`` raises ``error_type`` in one line naming every path; no file was added or
    changed beside them (GDAL writes no .aux.xml)."""
    folder = paths[0].parent
    before = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(error_type) as caught:
        call()
    message = str(caught.value)
    assert isinstance(caught.value, GeoCarbonError) and "\n" not in message, message
    for path in paths:
        assert path.name in message, message
    assert {p: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    return message


# 1. CLI text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("above=agb.tif", DensityRasterSpec(ABOVE, None, Path("agb.tif"))),
        ("soil@2020=soc.tif", DensityRasterSpec(SOIL, 2020, Path("soc.tif"))),
        ("Dead=maps/stack.tif", DensityRasterSpec(2, None, Path("maps/stack.tif"))),
        ("below@2010=a=b.tif", DensityRasterSpec(1, 2010, Path("a=b.tif"))),
        (
            "above=/vsizip//d/cci.zip/agb.tif",
            DensityRasterSpec(ABOVE, None, "/vsizip//d/cci.zip/agb.tif"),
        ),
        ('soil=NETCDF:"soc.nc":ocs', DensityRasterSpec(SOIL, None, 'NETCDF:"soc.nc":ocs')),
    ],
)
def test_cli_text_gives_pool_year_path_and_band(text, expected):
    assert parse_density_raster(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("agb.tif", "it is not"),
        ("trunk=agb.tif", "'trunk' is not a pool"),
        ("above@20x0=agb.tif", "it is not"),
        ("above=", "it is not"),
        ("above:2=agb.tif", "it is not"),
    ],
)
def test_cli_text_in_another_form_is_one_line_naming_it(text, reason):
    with pytest.raises(ConfigError) as caught:
        parse_density_raster(text)
    message = str(caught.value)
    assert "\n" not in message and repr(text) in message and reason in message
    assert "POOL=PATH or POOL@YEAR=PATH" in message and "soil@2020=soc.tif" in message


# 2. Reading onto the land-cover grid ----------------------------------------------------------


def test_map_on_the_land_cover_grid_reads_back_exactly(tmp_path):
    values = ramp(GRID.shape)
    path = write_raster(
        tmp_path / "agb.tif", values, crs=UTM, transform=GRID_TRANSFORM, nodata=None
    )
    rasters = open_density_rasters([f"above={path}"], GRID, (2000, 2020))
    assert rasters.pools == (ABOVE,) and rasters.maps[0].resampling == Resampling.nearest
    read = read_blocks(rasters, (7, 9))[ABOVE]
    np.testing.assert_array_equal(read, np.stack([values, values]))


def test_map_on_the_same_grid_shifted_by_whole_pixels_reads_exactly_and_nan_beyond(tmp_path):
    # The map starts 3 columns right of and 2 rows above the land cover: land-cover pixel
    # (row, col) is map pixel (row + 2, col - 3); land-cover columns 0-2 lie beyond the map.
    values = ramp((60, 60), start=1.0)
    transform = GRID_TRANSFORM * Affine.translation(3, -2)
    path = write_raster(tmp_path / "soc.tif", values, crs=UTM, transform=transform, nodata=None)
    rasters = open_density_rasters([f"soil={path}"], GRID, (2000,))
    assert rasters.maps[0].resampling == Resampling.nearest
    read = read_blocks(rasters, (16, 16))[SOIL][0]
    assert np.isnan(read[:, :3]).all()
    np.testing.assert_array_equal(read[:, 3:], values[2:42, :47])


@pytest.fixture(scope="module")
def geographic_map(tmp_path_factory) -> Path:
    """A coarser map in EPSG:4326 (0.01 degree) over the UTM land cover, with a nodata patch."""
    values = ramp((30, 40), start=50.0)
    values[12:14, 10:13] = -9999.0
    folder = tmp_path_factory.mktemp("geographic")
    return write_raster(
        folder / "cci_agb.tif",
        values,
        crs="EPSG:4326",
        transform=GEOGRAPHIC_TRANSFORM,
        nodata=-9999,
    )


@pytest.fixture(scope="module")
def geographic_whole(geographic_map):
    rasters = open_density_rasters([f"above={geographic_map}"], GRID, (2010,))
    return rasters, read_blocks(rasters, GRID.shape)[ABOVE]


@given(rows=st.integers(1, 40), cols=st.integers(1, 50))
def test_coarser_map_in_another_crs_read_by_blocks_equals_the_whole_grid(
    geographic_whole, rows, cols
):
    rasters, whole = geographic_whole
    assert rasters.maps[0].resampling == Resampling.bilinear
    np.testing.assert_array_equal(read_blocks(rasters, (rows, cols))[ABOVE], whole)


def test_coarser_map_in_another_crs_reads_its_densities_and_nan_at_its_nodata(geographic_whole):
    _, whole = geographic_whole
    # Bilinear values lie between the map's values (50 ... 50 + 0.5 x 1199); nodata is NaN.
    assert np.isnan(whole).any() and (~np.isnan(whole)).sum() > 0.9 * whole.size
    assert np.nanmin(whole) >= 50.0 and np.nanmax(whole) <= 50.0 + 0.5 * 1199


def test_finer_map_is_averaged_per_land_cover_pixel(tmp_path):
    # 25 m map pixels: each 250 m land-cover pixel is the mean of its 10 x 10 map pixels.
    values = ramp((400, 500), start=0.0)
    transform = Affine(25.0, 0.0, 500_000.0, 0.0, -25.0, 5_020_000.0)
    path = write_raster(tmp_path / "agb25.tif", values, crs=UTM, transform=transform, nodata=None)
    rasters = open_density_rasters([f"above={path}"], GRID, (2010,))
    assert rasters.maps[0].resampling == Resampling.average
    expected = values.astype(np.float64).reshape(40, 10, 50, 10).mean(axis=(1, 3))
    by_blocks = read_blocks(rasters, (13, 17))[ABOVE][0]
    np.testing.assert_allclose(by_blocks, expected, rtol=1e-6)
    np.testing.assert_array_equal(by_blocks, read_blocks(rasters, GRID.shape)[ABOVE][0])


def test_coarser_map_in_the_same_crs_is_bilinear_between_pixel_centres(tmp_path):
    # 500 m map pixels whose density rises 10 per map column: bilinear is the same plane on
    # the 250 m grid, 10 per 500 m = 5 per land-cover column, away from the map's edges.
    values = np.tile(np.arange(30, dtype=np.float32) * 10 + 100, (25, 1))
    transform = Affine(500.0, 0.0, 500_000.0, 0.0, -500.0, 5_020_000.0)
    path = write_raster(tmp_path / "agb500.tif", values, crs=UTM, transform=transform, nodata=None)
    rasters = open_density_rasters([f"above={path}"], GRID, (2010,))
    assert rasters.maps[0].resampling == Resampling.bilinear
    read = read_blocks(rasters, (10, 10))[ABOVE][0]
    # land-cover column c has its centre at map column (c + 0.5) / 2, value 100 + 10 x (that - 0.5)
    expected = 100 + 10 * ((np.arange(50) + 0.5) / 2 - 0.5)
    np.testing.assert_allclose(read[5:35, 2:48], np.tile(expected[2:48], (30, 1)), rtol=1e-6)


def test_nodata_nan_negative_and_outside_the_map_read_as_nan(tmp_path):
    values = np.full((40, 30), 80.0, np.float32)  # covers land-cover columns 0-29 only
    values[0, 0] = -1.0  # nodata
    values[1, 1] = np.nan
    values[2, 2] = -5.0  # negative: no density
    values[3, 3] = 0.0  # zero is a density
    path = write_raster(tmp_path / "soc.tif", values, crs=UTM, transform=GRID_TRANSFORM, nodata=-1)
    read = read_blocks(open_density_rasters([f"soil={path}"], GRID, (2000,)), (8, 8))[SOIL][0]
    nan = np.zeros(GRID.shape, bool)
    nan[0, 0] = nan[1, 1] = nan[2, 2] = True
    nan[:, 30:] = True
    np.testing.assert_array_equal(np.isnan(read), nan)
    assert read[3, 3] == 0.0 and read[10, 10] == 80.0


def test_integer_map_without_nodata_keeps_every_value_and_nan_outside_it(tmp_path):
    values = np.full((20, 50), 7, np.uint8)  # the upper half of the land cover
    path = write_raster(
        tmp_path / "agb.tif", values, crs=UTM, transform=GRID_TRANSFORM, nodata=None
    )
    read = read_blocks(open_density_rasters([f"above={path}"], GRID, (2000,)), (6, 50))[ABOVE][0]
    assert (read[:20] == 7).all() and np.isnan(read[20:]).all()


def test_carbon_fraction_turns_biomass_into_carbon(tmp_path):
    values = np.full(GRID.shape, 200.0, np.float32)
    path = write_raster(
        tmp_path / "agb.tif", values, crs=UTM, transform=GRID_TRANSFORM, nodata=None
    )
    rasters = open_density_rasters([f"above={path}"], GRID, (2000,), carbon_fraction=0.47)
    # 200 Mg/ha of biomass x 0.47 = 94 Mg C/ha
    np.testing.assert_allclose(read_blocks(rasters, (20, 20))[ABOVE], 94.0, rtol=1e-6)


def test_declared_scale_and_offset_are_applied(tmp_path):
    # SoilGrids-like int16: stored 655 with scale 0.1 and offset 2 is 67.5 Mg C/ha.
    path = write_raster(
        tmp_path / "soc.tif",
        np.full(GRID.shape, 655, np.int16),
        crs=UTM,
        transform=GRID_TRANSFORM,
        nodata=-32768,
    )
    with rasterio.open(path, "r+") as dataset:
        dataset.scales, dataset.offsets = (0.1,), (2.0,)
    read = read_blocks(open_density_rasters([f"soil={path}"], GRID, (2000,)), (40, 50))[SOIL]
    np.testing.assert_allclose(read, 67.5, rtol=1e-6)


def test_two_years_are_interpolated_per_pixel_and_held_beyond(tmp_path):
    # pixel (0, 0): 100 in 2000, 120 in 2020; pixel (0, 1): 0 then 50; pixel (0, 2): NaN in 2020.
    early = np.full(GRID.shape, 100.0, np.float32)
    late = np.full(GRID.shape, 120.0, np.float32)
    early[0, 1], late[0, 1], late[0, 2] = 0.0, 50.0, np.nan
    profile = dict(crs=UTM, transform=GRID_TRANSFORM, nodata=None)
    a = write_raster(tmp_path / "agb2000.tif", early, **profile)
    b = write_raster(tmp_path / "agb2020.tif", late, **profile)
    years = (1990, 2000, 2010, 2015, 2020, 2030)
    rasters = open_density_rasters([f"above@2020={b}", f"above@2000={a}"], GRID, years)
    read = read_blocks(rasters, (9, 11))[ABOVE]
    np.testing.assert_allclose(read[:, 5, 5], [100, 100, 110, 115, 120, 120])
    np.testing.assert_allclose(read[:, 0, 1], [0, 0, 25, 37.5, 50, 50])
    # NaN in the 2020 map: NaN from the first date after 2000 on, 100 up to 2000
    np.testing.assert_array_equal(np.isnan(read[:, 0, 2]), [False, False, True, True, True, True])


def test_map_without_a_year_serves_every_date_and_pools_are_separate(tmp_path):
    profile = dict(crs=UTM, transform=GRID_TRANSFORM, nodata=None)
    soil = write_raster(tmp_path / "soc.tif", np.full(GRID.shape, 60.0, np.float32), **profile)
    agb = write_raster(tmp_path / "agb.tif", np.full(GRID.shape, 15.0, np.float32), **profile)
    rasters = open_density_rasters([f"soil={soil}", f"above@2005={agb}"], GRID, (2000, 2010))
    assert rasters.pools == (ABOVE, SOIL)
    read = read_blocks(rasters, (40, 25))
    assert (read[SOIL] == 60).all() and (read[ABOVE] == 15).all()


@pytest.mark.parametrize(
    ("map_years", "date", "expected"),
    [
        ((None,), 1990, (0, 0, 0.0)),
        ((2000, 2020), 1999, (0, 0, 0.0)),
        ((2000, 2020), 2000, (0, 0, 0.0)),
        ((2000, 2020), 2005, (0, 1, 0.25)),
        ((2000, 2020), 2020, (1, 1, 0.0)),
        ((2000, 2020), 2021, (1, 1, 0.0)),
        ((2000, 2010, 2020), 2015, (1, 2, 0.5)),
        ((2000, 2010, 2020), 2010, (1, 1, 0.0)),
    ],
)
def test_date_weights(map_years, date, expected):
    assert date_weights(map_years, date) == expected


def test_a_block_of_a_map_larger_than_memory_is_read_without_loading_it(tmp_path):
    # 60 000 x 60 000 float32 (13 GiB if loaded) stored sparse: one block reads in a moment.
    transform = Affine(25.0, 0.0, 500_000.0, 0.0, -25.0, 5_020_000.0)
    profile = dict(driver="GTiff", height=60_000, width=60_000, count=1, dtype="float32")
    path = tmp_path / "big.tif"
    with rasterio.open(
        path, "w", **profile, crs=UTM, transform=transform, nodata=-1, tiled=True, sparse_ok=True
    ) as dataset:
        dataset.write(np.full((1, 256, 256), 30.0, np.float32), window=((0, 256), (0, 256)))
    rasters = open_density_rasters([f"above={path}"], GRID, (2000,))
    with rasters.reader() as reader:
        read = reader.read(Block(0, 0, 4, 4))[ABOVE][0]
    assert rasters.maps[0].resampling == Resampling.average
    np.testing.assert_array_equal(read, np.full((4, 4), 30.0))


# 3. Pickling and threads ----------------------------------------------------------------------


def test_reader_pickles_before_and_after_reading_and_reads_after_unpickling(geographic_whole):
    rasters, whole = geographic_whole
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(rasters)).reader().read(WHOLE)[ABOVE], whole
    )
    with rasters.reader() as reader:
        reader.read(Block(0, 0, 5, 5))  # handles are open now
        copy = pickle.loads(pickle.dumps(reader))
    with copy:
        np.testing.assert_array_equal(copy.read(WHOLE)[ABOVE], whole)


def test_one_reader_serves_several_threads(geographic_whole):
    rasters, whole = geographic_whole
    blocks = list(iter_blocks(GRID.shape, (5, 50)))
    with rasters.reader() as reader, ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda block: reader.read(block)[ABOVE], blocks))
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


# 4. Every problem up front, in one line naming the file ----------------------------------------


def test_missing_file_and_folder_are_refused(tmp_path):
    (tmp_path / "maps").mkdir()
    missing = tmp_path / "agb.tif"
    message = one_line_error(
        InputFileError, lambda: open_density_rasters([f"above={missing}"], GRID, (2000,)), missing
    )
    assert "does not exist" in message and "above density map" in message
    folder = tmp_path / "maps"
    message = one_line_error(
        InputFileError, lambda: open_density_rasters([f"soil={folder}"], GRID, (2000,)), folder
    )
    assert "is a folder" in message


def test_file_gdal_cannot_open_is_refused(tmp_path):
    path = tmp_path / "agb.tif"
    path.write_text("not a raster")
    message = one_line_error(
        InputFileError, lambda: open_density_rasters([f"above={path}"], GRID, (2000,)), path
    )
    assert "cannot be read by GDAL" in message and "gdalinfo" in message


def test_multi_band_map_is_refused_naming_its_bands_and_how_to_extract_one(tmp_path):
    bands = np.zeros((3, 4, 4), np.float32)
    path = write_raster(tmp_path / "stack.tif", bands, crs=UTM, transform=GRID_TRANSFORM)
    with rasterio.open(path, "r+") as dataset:
        dataset.set_band_description(2, "agb")
    message = one_line_error(
        RasterFormatError, lambda: open_density_rasters([f"above={path}"], GRID, (2000,)), path
    )
    assert "has 3 bands (1, 2 agb, 3)" in message and "gdal_translate -b N" in message


def test_non_numeric_map_is_refused(tmp_path):
    values = np.zeros((4, 4), np.complex64)
    path = write_raster(
        tmp_path / "agb.tif", values, crs=UTM, transform=GRID_TRANSFORM, nodata=None
    )
    message = one_line_error(
        RasterFormatError, lambda: open_density_rasters([f"above={path}"], GRID, (2000,)), path
    )
    assert "complex64" in message and "-ot Float32" in message


def test_map_without_crs_or_geotransform_is_refused(tmp_path):
    values = np.ones((4, 4), np.float32)
    no_crs = write_raster(tmp_path / "no_crs.tif", values, crs=None, transform=GRID_TRANSFORM)
    message = one_line_error(
        RasterFormatError, lambda: open_density_rasters([f"soil={no_crs}"], GRID, (2000,)), no_crs
    )
    assert "no CRS" in message and "gdal_edit.py -a_srs" in message
    path = tmp_path / "no_transform.tif"
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        with rasterio.open(
            path, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32", crs=UTM
        ) as dataset:
            dataset.write(values, 1)
    message = one_line_error(
        RasterFormatError, lambda: open_density_rasters([f"soil={path}"], GRID, (2000,)), path
    )
    assert "has no geotransform" in message and "-a_ullr" in message


def test_map_beside_the_land_cover_is_refused(tmp_path):
    # A map over Greenland in EPSG:4326 and the land cover in Slovenia.
    transform = Affine(0.01, 0.0, -45.0, 0.0, -0.01, 70.0)
    values = np.ones((10, 10), np.float32)
    path = write_raster(tmp_path / "far.tif", values, crs="EPSG:4326", transform=transform)
    message = one_line_error(
        GridMismatchError, lambda: open_density_rasters([f"above={path}"], GRID, (2000,)), path
    )
    assert "do not overlap" in message and "landcover.tif" in message and "EPSG:4326" in message


def test_repeated_pool_and_year_and_mixed_dated_maps_are_refused_together(tmp_path):
    profile = dict(crs=UTM, transform=GRID_TRANSFORM)
    a, b, c = (write_raster(tmp_path / n, np.ones((4, 4), np.float32), **profile) for n in "abc")
    specs = [f"above@2000={a}", f"above@2000={b}", f"soil={c}", f"soil@2010={a}"]
    message = one_line_error(
        ConfigError, lambda: open_density_rasters(specs, GRID, (2000,)), a, b, c
    )
    assert "above@2000 density map" in message and "repeats" in message
    assert "pool 'soil' has a map for every date" in message and "[2010]" in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(carbon_fraction=47.0), "carbon fraction 47.0 is not in (0, 1]"),
        (dict(carbon_fraction=0.0), "(IPCC: 0.47)"),
        (dict(years=()), "the run's dates must be whole years"),
        (dict(specs=()), "no density maps were given"),
    ],
)
def test_run_options_out_of_range_are_refused(tmp_path, kwargs, expected):
    path = write_raster(
        tmp_path / "a.tif", np.ones((4, 4), np.float32), crs=UTM, transform=GRID_TRANSFORM
    )
    arguments = dict(specs=[f"above={path}"], years=(2000,)) | kwargs
    with pytest.raises(ConfigError) as caught:
        open_density_rasters(arguments.pop("specs"), GRID, arguments.pop("years"), **arguments)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


# 5. Factor table --------------------------------------------------------------------------------

CODES = np.array([1, 2, 3, 2**63 + 5], np.uint64)


def write_csv(tmp_path: Path, text: str, name: str = "factors.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_factor_column_per_class_and_pool_one_where_not_given(tmp_path):
    path = write_csv(tmp_path, "class_code,pool,factor\n1,,0.8\n2,soil,1.1\n2,above,0.5\n")
    factors = read_factor_table(path, CODES)
    np.testing.assert_array_equal(
        factors, [[0.8, 0.8, 0.8, 0.8], [0.5, 1, 1, 1.1], [1, 1, 1, 1], [1, 1, 1, 1]]
    )


def test_ipcc_factors_are_multiplied_and_64_bit_codes_are_exact(tmp_path):
    # F_LU 0.69 x F_MG 1.0 x F_I 0.92 = 0.6348 (IPCC cropland, long-term cultivated, low input)
    path = write_csv(tmp_path, f"class_code,pool,f_lu,f_mg,f_i\n{2**63 + 5},soil,0.69,1.0,0.92\n")
    factors = read_factor_table(path, CODES)
    assert factors[3, SOIL] == pytest.approx(0.6348) and (factors[:3] == 1).all()


def test_every_factor_table_problem_in_one_line_naming_file_line_and_column(tmp_path):
    path = write_csv(
        tmp_path,
        "class_code,pool,factor\n"
        "1,soil,abc\n"  # line 2: not a number
        "2,roots,1\n"  # line 3: no such pool
        "3,,-0.5\n"  # line 4: negative
        "1.5,soil,1\n"  # line 5: not an integer code
        "7,soil,1\n"  # line 6: not in the density table
        "2,,1\n2,soil,1.2\n",  # line 8 repeats line 7 for soil
    )
    message = one_line_error(TableSchemaError, lambda: read_factor_table(path, CODES), path)
    for part in (
        "Factor table",
        "line 2, column 'factor': 'abc' is not a number >= 0",
        "line 3, column 'pool': 'roots' is not one of above, below, dead, soil",
        "line 4, column 'factor': '-0.5'",
        "line 5, column 'class_code': '1.5' is not an integer class code",
        "class code(s) 7 (line 6) are not in the density table",
        "line 8: class 2 pool 'soil' repeats line 7",
    ):
        assert part in message, message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("class_code,factor,f_lu\n1,1,1\n", "not both"),
        ("class_code,pool\n1,soil\n", "not neither"),
        ("code,factor\n1,1\n", "no 'class_code' column"),
        ("class_code,factor\n", "no rows under its header"),
    ],
)
def test_factor_table_columns_are_checked(tmp_path, text, expected):
    path = write_csv(tmp_path, text)
    assert expected in one_line_error(
        TableSchemaError, lambda: read_factor_table(path, CODES), path
    )


def test_factor_table_that_is_a_workbook_or_missing_is_named_a_factor_table(tmp_path):
    path = tmp_path / "factors.csv"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    message = one_line_error(InputFileError, lambda: read_factor_table(path, CODES), path)
    assert message.startswith("Factor table") and "ZIP archive" in message
    missing = tmp_path / "none.csv"
    message = one_line_error(InputFileError, lambda: read_factor_table(missing, CODES), missing)
    assert "none.csv" in message and "No such file" in message


def test_open_density_rasters_reads_the_factor_table_against_the_table_codes(tmp_path):
    agb = write_raster(
        tmp_path / "agb.tif", np.ones((4, 4), np.float32), crs=UTM, transform=GRID_TRANSFORM
    )
    table = write_csv(tmp_path, "class_code,factor\n3,0.5\n")
    rasters = open_density_rasters(
        [f"above={agb}"], GRID, (2000,), factor_table=table, table_codes=[1, 3]
    )
    assert rasters.factors is not None
    np.testing.assert_array_equal(rasters.factors, [[1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5]])
    with pytest.raises(ConfigError, match="factors.csv"):
        open_density_rasters([f"above={agb}"], GRID, (2000,), factor_table=table)
