"""The Dask distributed path gives the single-process histograms, on a real LocalCluster."""

from __future__ import annotations

import socket
import warnings

import numpy as np
import pytest
import rasterio

from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import require

# Skipped where Dask is not installed; in CI (which installs it) a failure, never a silent skip.
require("distributed")


@pytest.mark.parametrize("coverage", ["centre", "exact"])
def test_dask_equals_single_process_on_real_data(shared_data, dask_scheduler, coverage):
    """MODIS IGBP 2019 by province: counts identical, areas and stocks to 1e-12."""
    raster = next((shared_data / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    provinces = shared_data / "boundaries" / "china_provinces_simplified_0.01deg.geojson"
    options = dict(
        landcover=raster,
        regions=provinces,
        densities="china-clcd",
        scheme="modis-igbp",
        id_field="adcode",
        coverage=coverage,
        progress=False,
        block_shape=(128, 256),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the simplified outlines overlap a little
        local = run_zonal(ZonalConfig(**options))
        distributed = run_zonal(ZonalConfig(**options, dask=dask_scheduler))
    np.testing.assert_array_equal(
        local.by_class["pixel_count"], distributed.by_class["pixel_count"]
    )
    for column in ("area_ha", "stock_total_mg", "coverage_px"):
        np.testing.assert_allclose(local.by_class[column], distributed.by_class[column], rtol=1e-12)
    np.testing.assert_allclose(
        local.regions["stock_total_mg"], distributed.regions["stock_total_mg"], rtol=1e-12
    )


def test_malformed_local_cluster_is_a_clear_error(sample):
    from geocarbon.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--dask 'local:two'.*local:2"):
        run_zonal(
            ZonalConfig(
                landcover=sample.landcover[1],
                regions=sample.regions,
                densities="china-clcd",
                id_field="adcode",
                progress=False,
                dask="local:two",
            )
        )


def test_dask_stock_rasters_equal_single_process(shared_data, tmp_path):
    """Workers write tiled chunks, the client mosaics them into COGs: pixels identical."""
    from rio_cogeo.cogeo import cog_validate

    from geocarbon.runs.stock import RASTER_NAMES, StockConfig, run_stock

    raster = next((shared_data / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    options = dict(
        landcover=raster,
        densities="china-clcd",
        scheme="modis-igbp",
        progress=False,
        block_shape=(128, 256),  # chunks of 512 x 1024: four chunks, two of them partial
    )
    local = run_stock(StockConfig(**options, out_dir=tmp_path / "local"))
    distributed = run_stock(StockConfig(**options, out_dir=tmp_path / "dask", dask="local:2"))
    np.testing.assert_array_equal(local.classes["pixel_count"], distributed.classes["pixel_count"])
    np.testing.assert_allclose(
        local.classes["stock_total_mg"], distributed.classes["stock_total_mg"], rtol=1e-12
    )
    for name in RASTER_NAMES:
        file = f"density_{name}_mg_per_ha.tif"
        assert cog_validate(tmp_path / "dask" / file)[0]
        with (
            rasterio.open(tmp_path / "local" / file) as a,
            rasterio.open(tmp_path / "dask" / file) as b,
        ):
            assert (b.crs, b.transform, b.shape) == (a.crs, a.transform, a.shape)
            assert b.descriptions == a.descriptions and b.units == a.units == ("Mg C/ha",)
            assert np.isnan(b.nodata) and b.overviews(1) == a.overviews(1)
            np.testing.assert_array_equal(a.read(1), b.read(1))
    leftovers = sorted(p.name for p in (tmp_path / "dask").iterdir())
    assert leftovers == sorted(p.name for p in (tmp_path / "local").iterdir())


def test_dask_change_equals_single_process(shared_data, dask_scheduler, tmp_path):
    """Two dates with valuation, every raster: tables to 1e-12, rasters pixel for pixel."""
    from geocarbon.accounts.valuation import Valuation
    from geocarbon.api import stock_change

    folder = shared_data / "landcover" / "invest_willamette"
    dates = [folder / "lulc_current_willamette.tif", folder / "lulc_future_willamette.tif"]
    options = dict(
        area_method="planar",
        progress=False,
        monte_carlo=None,
        valuation=Valuation(43, -7.1, 2.8),
        date_rasters=True,
        block_shape=(128, 256),  # chunks of 512 x 1024: several, partial ones at the edges
    )
    pools = folder / "carbon_pools_willamette.csv"
    local = stock_change(dates, [2016, 2030], pools, out_dir=tmp_path / "local", **options)
    distributed = stock_change(
        dates, [2016, 2030], pools, out_dir=tmp_path / "dask", dask=dask_scheduler, **options
    )
    numeric = local.change.select_dtypes("number").columns
    np.testing.assert_allclose(
        local.change[numeric].to_numpy(float),
        distributed.change[numeric].to_numpy(float),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        local.transitions["area_ha"], distributed.transitions["area_ha"], rtol=1e-12
    )
    names = sorted(p.name for p in (tmp_path / "local").glob("*.tif"))
    assert len(names) == 16 and names == sorted(
        p.name for p in (tmp_path / "dask").iterdir() if p.suffix == ".tif"
    )
    for name in names:
        with (
            rasterio.open(tmp_path / "local" / name) as a,
            rasterio.open(tmp_path / "dask" / name) as b,
        ):
            assert b.descriptions == a.descriptions and b.units == a.units
            np.testing.assert_array_equal(a.read(1), b.read(1))
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )


@pytest.mark.parametrize("command", ["stock", "change"])
def test_bad_dask_addresses_are_clear_errors_and_leave_nothing(sample, tmp_path, command):
    import dask

    from geocarbon.api import stock_change
    from geocarbon.errors import ConfigError
    from geocarbon.runs.stock import StockConfig, run_stock

    def run(address, out):
        if command == "stock":
            run_stock(
                StockConfig(
                    landcover=sample.landcover[1],
                    densities="china-clcd",
                    out_dir=out,
                    progress=False,
                    dask=address,
                )
            )
        else:
            stock_change(
                list(sample.landcover),
                [2000, 2020],
                "china-clcd",
                out_dir=out,
                progress=False,
                dask=address,
            )

    with pytest.raises(ConfigError, match=r"--dask 'local:two'.*local:2"):
        run("local:two", tmp_path / "a")
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ConfigError, match=r"--dask 'tcp://127.0.0.1:9': no Dask scheduler"),
    ):
        run("tcp://127.0.0.1:9", tmp_path / "b")
    for out in (tmp_path / "a", tmp_path / "b"):
        assert not out.exists() or not any(out.iterdir()), "a failed run leaves no files"


def test_a_local_cluster_takes_no_fixed_port(sample, tmp_path):
    """A local:N run beside another Dask cluster (a notebook's holds 8787): no port clash."""
    from geocarbon.runs.stock import StockConfig, run_stock

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        except OSError:
            pass  # somebody else holds it: the same situation
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            run_stock(
                StockConfig(
                    landcover=sample.landcover[1],
                    densities="china-clcd",
                    out_dir=tmp_path,
                    write_rasters=False,
                    progress=False,
                    dask="local:1",
                )
            )
