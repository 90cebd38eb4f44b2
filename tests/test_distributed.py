"""The Dask distributed path gives the single-process histograms, on a real LocalCluster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from geocarbon.zonal_pipeline import ZonalConfig, run_zonal

pytest.importorskip("distributed")


@pytest.mark.parametrize("coverage", ["centre", "exact"])
def test_dask_equals_single_process_on_real_data(shared_data, coverage):
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
        distributed = run_zonal(ZonalConfig(**options, dask="local:2"))
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
