"""Land-cover inputs that used to give silently wrong numbers or a traceback: each is refused (or
read correctly) with one line naming the file and the fix."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from geocarbon import zonal_stocks
from geocarbon.area import pixel_area
from geocarbon.blocks import Block
from geocarbon.cli import main
from geocarbon.engine import PassPlan, StreamOptions, run_pass
from geocarbon.errors import InputFileError, RasterFormatError
from geocarbon.inputs.landcover import (
    WindowReader,
    landcover_from_array,
    open_landcover,
)
from geocarbon.inputs.nodata import nodata_class_conflict, undeclared_nodata_hint
from geocarbon.lookup import build_class_lookup
from tests.conftest import EQUAL_AREA_CRS, LANDCOVER_4X4, ONE_HA_TRANSFORM, write_raster

LOCAL_CS = 'LOCAL_CS["arbitrary",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'


def cli_error(capsys, landcover, pools_csv, out: Path, *extra: str) -> str:
    """Run ``geocarbon stock``; assert it fails with one line and no traceback, writes nothing."""
    code = main(["stock", str(landcover), "-d", str(pools_csv), "--out", str(out), "-q", *extra])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


def write_vrt(
    path: Path, tiles: list[tuple[str, int, int]], *, size=(4, 8), extra: str = ""
) -> Path:
    """A VRT of 4x4 Byte tiles placed at (col, row) offsets, sources relative to the VRT."""
    height, width = size
    sources = "".join(
        f'<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename><SourceBand>1</SourceBand>'
        f'<SrcRect xOff="0" yOff="0" xSize="4" ySize="4"/><DstRect xOff="{col}" yOff="{row}" xSize="4" ySize="4"/>'
        "</SimpleSource>"
        for name, col, row in tiles
    )
    t = ONE_HA_TRANSFORM
    path.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{EQUAL_AREA_CRS}</SRS>'
        f"<GeoTransform>{t.c}, {t.a}, 0, {t.f}, 0, {t.e}</GeoTransform>"
        f'<VRTRasterBand dataType="Byte" band="1">{extra}{sources}</VRTRasterBand></VRTDataset>'
    )
    return path


# 1. Georeferencing -------------------------------------------------------------------------


def test_raster_with_a_crs_but_no_geotransform_is_refused(tmp_path, pools_csv, capsys):
    path = tmp_path / "no_transform.tif"
    profile = dict(driver="GTiff", height=4, width=4, count=1, dtype="uint8", crs="EPSG:4326")
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(LANDCOVER_4X4, 1)
    line = cli_error(capsys, path, pools_csv, tmp_path / "out")
    assert "no_transform.tif" in line and "no geotransform" in line
    assert "gdal_translate -a_ullr" in line and "-a_srs" in line and "world file" in line


def test_gcp_only_raster_must_be_warped(tmp_path, pools_csv, capsys):
    path = tmp_path / "gcps.tif"
    profile = dict(driver="GTiff", height=4, width=4, count=1, dtype="uint8")
    gcps = [GroundControlPoint(0, 0, 100, 40), GroundControlPoint(0, 4, 101, 40)]
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(LANDCOVER_4X4, 1)
            dataset.gcps = (gcps + [GroundControlPoint(4, 0, 100, 39)], CRS.from_epsg(4326))
    line = cli_error(capsys, path, pools_csv, tmp_path / "out")
    assert "gcps.tif" in line and "ground control points" in line and "gdalwarp" in line


def test_degenerate_geotransform_is_refused(tmp_path, landcover_tif):
    vrt = tmp_path / "flat.vrt"
    write_vrt(vrt, [(landcover_tif.name, 0, 0)], size=(4, 4))
    vrt.write_text(vrt.read_text().replace(f", 0, {ONE_HA_TRANSFORM.e}<", ", 0, 0<"))
    with pytest.raises(RasterFormatError, match=r"flat.vrt.*degenerate geotransform"):
        open_landcover(vrt)


def test_rotated_projected_grid_has_the_area_of_its_pixels(raster_factory):
    # 100 m pixels turned by 30 degrees in an equal-area CRS are still 1 ha each.
    rotated = ONE_HA_TRANSFORM * Affine.rotation(30)
    source = open_landcover(raster_factory("rotated.tif", LANDCOVER_4X4, transform=rotated))
    area = pixel_area(source.grid)
    assert area.method == "equal-area"
    assert area.total_ha(source.grid.shape) == pytest.approx(16.0, rel=1e-12)


def test_rotated_geographic_grid_is_refused_naming_the_file(
    tmp_path, raster_factory, pools_csv, capsys
):
    transform = Affine(0.01, 0.002, 100.0, 0.002, -0.01, 40.0)
    path = raster_factory("turned.tif", LANDCOVER_4X4, crs="EPSG:4326", transform=transform)
    line = cli_error(capsys, path, pools_csv, tmp_path / "out")
    assert "turned.tif" in line and "rotated" in line and "gdalwarp" in line


# 2. Engineering CRS ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wkt",
    [
        LOCAL_CS,
        'ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],'
        'AXIS["y",north,LENGTHUNIT["metre",1]]]',
    ],
)
def test_engineering_crs_is_one_line_and_planar_reads_metres(
    tmp_path, raster_factory, pools_csv, capsys, wkt
):
    path = raster_factory("local.tif", LANDCOVER_4X4, crs=CRS.from_wkt(wkt))
    line = cli_error(capsys, path, pools_csv, tmp_path / "out")
    assert "local.tif" in line and "engineering (local) CRS" in line
    assert "--area planar" in line and "gdalwarp" in line
    out = tmp_path / "planar"
    code = main(
        ["stock", str(path), "-d", str(pools_csv), "--out", str(out), "-q", "--area", "planar"]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "stock_summary.json").read_text())
    assert summary["area_method"] == "planar"
    assert summary["nominal_pixel_area_ha"] == pytest.approx(1.0)


# 3. VRTs and tile folders ------------------------------------------------------------------


def test_vrt_with_a_missing_tile_names_tile_and_vrt_up_front(
    tmp_path, raster_factory, pools_csv, capsys
):
    raster_factory("west.tif", LANDCOVER_4X4)
    vrt = write_vrt(tmp_path / "mosaic.vrt", [("west.tif", 0, 0), ("east.tif", 4, 0)])
    with pytest.raises(InputFileError, match=r"VRT .*mosaic.vrt.* tile .*east.tif.*does not exist"):
        open_landcover(vrt)
    line = cli_error(capsys, vrt, pools_csv, tmp_path / "out")
    assert "east.tif" in line and "mosaic.vrt" in line and "gdalbuildvrt" in line


def test_vrt_with_a_corrupt_tile_names_it(tmp_path, raster_factory):
    raster_factory("west.tif", LANDCOVER_4X4)
    (tmp_path / "east.tif").write_bytes(b"II*\x00 this is not a tiff")
    vrt = write_vrt(tmp_path / "mosaic.vrt", [("west.tif", 0, 0), ("east.tif", 4, 0)])
    with pytest.raises(InputFileError, match=r"mosaic.vrt.*east.tif.*GDAL cannot open"):
        open_landcover(vrt)


def test_tile_folder_with_a_corrupt_tile_names_it(tmp_path, pools_csv, capsys):
    folder = tmp_path / "tiles"
    folder.mkdir()
    write_raster(folder / "a.tif", LANDCOVER_4X4)
    (folder / "b.tif").write_bytes(b"not a raster at all")
    line = cli_error(capsys, folder, pools_csv, tmp_path / "out")
    assert "b.tif" in line and "cannot be opened by GDAL" in line


def test_a_file_that_is_no_raster_gets_one_sentence_from_gdal_and_the_fix(
    tmp_path, pools_csv, capsys
):
    """GDAL's own message is a clause of ours: one line, its full stop not doubled, the fix after."""
    bogus = tmp_path / "landcover.json"
    bogus.write_text("{not json\n\nnor a raster")
    code = main(["stock", str(bogus), "-d", str(pools_csv), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("Error: "), err
    assert "landcover.json" in err and "not recognized as being in a supported file format" in err
    assert ".." not in err and err.rstrip().endswith("(gdalinfo shows what GDAL sees).")


def test_truncated_tile_fails_naming_the_tile(tmp_path):
    folder = tmp_path / "tiles"
    folder.mkdir()
    codes = np.random.default_rng(0).integers(1, 4, (512, 512)).astype(np.uint8)
    write_raster(folder / "a.tif", codes, tiled=True, blockxsize=256, blockysize=256)
    tile = folder / "b.tif"
    transform = ONE_HA_TRANSFORM * Affine.translation(512, 0)
    write_raster(tile, codes, transform=transform, tiled=True, blockxsize=256, blockysize=256)
    tile.write_bytes(tile.read_bytes()[: tile.stat().st_size // 2])
    source = open_landcover(folder)
    with WindowReader(source) as reader, pytest.raises(InputFileError, match=r"b\.tif") as error:
        reader.read(Block(0, 0, 512, 1024))
    message = str(error.value)  # rows inclusive, GDAL's reason one clause, the fix after it
    assert "Reading rows 0-511 of " in message and "\n" not in message
    assert ".." not in message and message.endswith("gdalinfo -checksum shows it.")


# 4. GDAL virtual paths ---------------------------------------------------------------------


def test_vsizip_path_is_read(tmp_path, landcover_tif, pools_csv, capsys):
    archive = tmp_path / "landcover.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(landcover_tif, "maps/landcover.tif")
    name = f"/vsizip/{archive}/maps/landcover.tif"  # /vsizip//tmp/... for an absolute path
    for given in (name, Path(name)):  # pathlib folds the double slash; it is put back
        source = open_landcover(given)
        with WindowReader(source) as reader:
            np.testing.assert_array_equal(reader.read(Block(0, 0, 4, 4))[0], LANDCOVER_4X4)
    out = tmp_path / "out"
    code = main(["stock", name, "-d", str(pools_csv), "--out", str(out), "-q", "--no-rasters"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "stock_summary.json").read_text())
    assert summary["pixel_count"]["nodata"] == 1
    with pytest.raises(InputFileError, match=r"/vsizip/.*missing.tif.*cannot be opened by GDAL"):
        open_landcover(f"/vsizip/{archive}/maps/missing.tif")


def test_vsicurl_url_folded_by_pathlib_is_put_back():
    # Port 9 on this machine refuses at once: no network is reached.
    url = "/vsicurl/http://127.0.0.1:9/landcover.tif"
    with pytest.raises(
        InputFileError, match=r"'/vsicurl/http://127\.0\.0\.1:9/landcover.tif' cannot"
    ):
        open_landcover(Path(url))


def test_vsimem_path_is_read():
    with MemoryFile() as memory:
        with memory.open(
            driver="GTiff",
            height=4,
            width=4,
            count=1,
            dtype="uint8",
            crs=EQUAL_AREA_CRS,
            transform=ONE_HA_TRANSFORM,
            nodata=255,
        ) as dataset:
            dataset.write(LANDCOVER_4X4, 1)
        source = open_landcover(memory.name)
        assert source.nodata == 255 and source.grid.shape == (4, 4)


# 5. Undeclared nodata ----------------------------------------------------------------------


def framed(code: int) -> np.ndarray:
    """Classes 1..3 inside a two-pixel frame of ``code`` (an undeclared nodata ring)."""
    codes = np.full((10, 12), code, np.uint8)
    codes[2:-2, 2:-2] = np.resize(LANDCOVER_4X4[:2].ravel(), (6, 8))
    return codes


def test_undeclared_nodata_frame_is_named_with_the_fix(raster_factory):
    path = raster_factory("framed.tif", framed(0), nodata=None)
    source = open_landcover(path)
    hint = undeclared_nodata_hint(source, {0: 72})
    assert "0 (a usual nodata value and 100% of the raster's border)" in hint
    assert "--unknown zero" in hint and f"gdal_edit.py -a_nodata 0 {path}" in hint
    assert "--nodata 0" in hint
    # A code inside the map that is no usual nodata value is not suspected.
    assert undeclared_nodata_hint(source, {2: 24}) == ""


def test_nodata_override_excludes_the_frame(raster_factory):
    path = raster_factory("framed.tif", framed(200), nodata=None)
    table_codes = np.array([1, 2, 3], np.int64)

    def counts(source):
        lookup = build_class_lookup(table_codes, dtype=source.dtype)
        options = StreamOptions((4, 12), threads=1, progress=False, unknown_is_fatal=False)
        histogram = run_pass(
            PassPlan((source,), (lookup,), pixel_area(source.grid)), options
        ).totals.dates[0]
        return histogram.pixel_count[0], histogram.unknown_codes(lookup)

    assert "200 (100% of the raster's border)" in undeclared_nodata_hint(
        open_landcover(path), [200]
    )
    pixels, unknown = counts(open_landcover(path))
    assert unknown == {200: 72}
    pixels, unknown = counts(open_landcover(path, nodata=200))
    assert unknown == {} and pixels[-1] == 72 and pixels[:3].sum() == 48
    with pytest.raises(RasterFormatError, match=r"Nodata 300 cannot occur in .*framed.tif.*uint8"):
        open_landcover(path, nodata=300)


# 6. Arrays with masks or NaN ---------------------------------------------------------------


@pytest.fixture
def one_region() -> gpd.GeoDataFrame:
    t = ONE_HA_TRANSFORM
    box = shapely.box(t.c, t.f - 400, t.c + 400, t.f)
    return gpd.GeoDataFrame({"id": ["all"]}, geometry=[box], crs=EQUAL_AREA_CRS)


def region_counts(landcover, one_region, pools_csv, **kwargs) -> dict:
    regions = zonal_stocks(
        landcover,
        one_region,
        pools_csv,
        id_field="id",
        transform=ONE_HA_TRANSFORM,
        crs=EQUAL_AREA_CRS,
        progress=False,
        **kwargs,
    )
    row = regions.iloc[0]
    return {key: row[key] for key in ("pixel_count", "nodata_area_ha", "stock_total_mg")}


def test_masked_array_cells_are_nodata(one_region, pools_csv):
    expected = region_counts(LANDCOVER_4X4, one_region, pools_csv, nodata=255)
    assert expected["pixel_count"] == 15 and expected["nodata_area_ha"] == pytest.approx(1.0)
    masked = np.ma.masked_equal(LANDCOVER_4X4.astype(np.int16), 255)
    masked.data[2, 3] = 1  # the value under the mask must not count
    assert region_counts(masked, one_region, pools_csv) == expected


def test_float_array_with_nan_holding_whole_codes(one_region, pools_csv):
    expected = region_counts(LANDCOVER_4X4, one_region, pools_csv, nodata=255)
    codes = np.where(LANDCOVER_4X4 == 255, np.nan, LANDCOVER_4X4).astype(np.float32)
    assert region_counts(codes, one_region, pools_csv) == expected


def test_float_array_with_fractions_is_refused(one_region, pools_csv):
    codes = LANDCOVER_4X4.astype(np.float64)
    codes[0, 0] = 1.5
    with pytest.raises(RasterFormatError, match=r"1 non-integral values \(e.g. 1.5\)"):
        region_counts(codes, one_region, pools_csv)


# 7. Nodata equal to a class ----------------------------------------------------------------


def test_nodata_equal_to_a_class_is_named(raster_factory):
    source = open_landcover(raster_factory("grass_nodata.tif", LANDCOVER_4X4, nodata=2))
    text = nodata_class_conflict(source, [1, 2, 3], ["Forest", "Grass", "Urban"])
    assert "Nodata 2 of" in text and "grass_nodata.tif" in text and "class 2 (Grass)" in text
    assert "gdal_edit.py -a_nodata" in text
    assert nodata_class_conflict(source, [1, 3]) is None
    assert (
        nodata_class_conflict(open_landcover(raster_factory("ok.tif", LANDCOVER_4X4)), [1]) is None
    )


# 8. Siblings -------------------------------------------------------------------------------


def test_nodata_the_dtype_cannot_hold_is_named(tmp_path, landcover_tif):
    vrt = write_vrt(
        tmp_path / "minus.vrt",
        [(landcover_tif.name, 0, 0)],
        size=(4, 4),
        extra="<NoDataValue>-9999</NoDataValue>",
    )
    with pytest.warns(UserWarning, match=r"minus.vrt.*nodata -9999.*uint8.*no pixel is nodata"):
        source = open_landcover(vrt)
    assert source.nodata is None


@pytest.mark.parametrize(
    ("array", "profile", "expected"),
    [
        (LANDCOVER_4X4 + np.float32(0.5), {}, "float32 values; class codes must be integers"),
        (np.stack([LANDCOVER_4X4, LANDCOVER_4X4]), {}, "2 bands"),
        (LANDCOVER_4X4, {"crs": None}, "has no CRS"),
    ],
)
def test_unusable_rasters_are_one_line(tmp_path, pools_csv, capsys, array, profile, expected):
    path = write_raster(tmp_path / "bad map.tif", array, **profile)
    line = cli_error(capsys, path, pools_csv, tmp_path / "out")
    assert "bad map.tif" in line and expected in line


def test_empty_raster_is_one_line(tmp_path, landcover_tif, pools_csv, capsys):
    vrt = write_vrt(tmp_path / "empty.vrt", [], size=(0, 0))
    line = cli_error(capsys, vrt, pools_csv, tmp_path / "out")
    assert "empty.vrt" in line


def test_non_ascii_paths_with_spaces(tmp_path, pools_csv, capsys):
    folder = tmp_path / "土地 覆盖"
    folder.mkdir()
    path = write_raster(folder / "浙江 2020.tif", LANDCOVER_4X4)
    out = tmp_path / "输出 结果"
    code = main(["stock", str(path), "-d", str(pools_csv), "--out", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "stock_summary.json").read_text())["pixel_count"]["nodata"] == 1
    source = open_landcover(folder)  # the same file as a folder of one tile (read via VRT XML)
    with WindowReader(source) as reader:
        np.testing.assert_array_equal(reader.read(Block(0, 0, 4, 4))[0], LANDCOVER_4X4)


def test_directory_without_tiles_is_one_line(tmp_path, pools_csv, capsys):
    (tmp_path / "maps" / "2020").mkdir(parents=True)
    line = cli_error(capsys, tmp_path / "maps", pools_csv, tmp_path / "out")
    assert "maps" in line and "no .tif" in line


def test_int64_codes_above_2_53_keep_their_exact_nodata(tmp_path):
    big = 2**53 + 1  # a double cannot hold it: it reads as 2**53
    codes = np.array([[big, big + 2], [big + 4, big + 3]], np.int64)
    tif = write_raster(tmp_path / "big.tif", codes, nodata=None)
    vrt = tmp_path / "big.vrt"
    vrt.write_text(
        f'<VRTDataset rasterXSize="2" rasterYSize="2"><SRS>{EQUAL_AREA_CRS}</SRS>'
        f"<GeoTransform>0, 100, 0, 200, 0, -100</GeoTransform>"
        f'<VRTRasterBand dataType="Int64" band="1"><NoDataValue>{big}</NoDataValue><SimpleSource>'
        f'<SourceFilename relativeToVRT="1">{tif.name}</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    assert open_landcover(vrt).nodata == big
    lookup = build_class_lookup(np.array([big + 2, big + 3], np.int64), dtype="int64")
    options = StreamOptions((2, 2), threads=1, progress=False, unknown_is_fatal=False)
    source = open_landcover(vrt)
    histogram = run_pass(
        PassPlan((source,), (lookup,), pixel_area(source.grid)), options
    ).totals.dates[0]
    assert histogram.pixel_count[0].tolist() == [1, 1, 1, 1]  # big+2, big+3, unknown big+4, nodata
    assert histogram.unknown_codes(lookup) == {big + 4: 1}


def test_array_source_keeps_the_mask_in_blocks():
    masked = np.ma.masked_equal(LANDCOVER_4X4, 3)
    source = landcover_from_array(masked, transform=ONE_HA_TRANSFORM, crs=EQUAL_AREA_CRS)
    with WindowReader(source) as reader:
        codes, valid = reader.read(Block(2, 0, 2, 4))
    assert valid.tolist() == [[False, False, True, True], [False, False, True, True]]
