"""The columns (and JSON keys) every run's tables carry, in order: the output contract's
column lists, named with their units (``stock_mg``, ``density_mg_per_ha``, ``area_ha``)."""

from __future__ import annotations

from geocarbon.units import POOLS

CARBON_BANDS: tuple[str, ...] = (*POOLS, "total")


def join_columns(*parts: str | tuple[str, ...]) -> tuple[str, ...]:
    """Column names from space-separated text and tuples, in order."""
    return tuple(n for part in parts for n in (part.split() if isinstance(part, str) else part))


POOL_STOCKS = tuple(f"stock_{pool}_mg" for pool in POOLS)
POOL_DENSITIES = tuple(f"density_{pool}_mg_per_ha" for pool in POOLS)
POOL_CHANGES = tuple(f"change_{pool}_mg" for pool in POOLS)
REGION_STOCKS = tuple(f"stock_{band}_{unit}" for band in CARBON_BANDS for unit in ("mg", "tg"))
ZONAL_COLUMNS = join_columns(
    "region_id region_name region_area_ha valid_area_ha nodata_area_ha unknown_area_ha",
    "covered_area_ha pixel_count coverage_px",
    REGION_STOCKS,
    "density_mean_mg_per_ha",
)
#: The decomposition of net change (see geocarbon.accounts.change.COMPONENTS).
COMPONENT_COLUMNS = join_columns(
    *(
        (
            *(f"{name}_{pool}_mg" for pool in POOLS),
            f"{name}_total_mg",
            f"{name}_tg_per_yr",
            f"{name}_mg_co2e",
        )
        for name in ("conversion", "growth_remaining", "growth_converted")
    ),
    "soil_legacy_mg soil_legacy_tg_per_yr soil_legacy_mg_co2e",
)
CHANGE_COLUMNS = join_columns(
    "region_id region_name period year_start year_end years compared_area_ha excluded_area_ha",
    "changed_area_ha",
    POOL_CHANGES,
    "stock_start_mg stock_end_mg net_change_mg gross_gain_mg gross_loss_mg net_change_tg",
    "annual_net_change_mg_per_yr annual_net_change_tg_per_yr net_change_mg_co2e",
    "annual_net_change_mg_co2e_per_yr",
    COMPONENT_COLUMNS,
)
IPCC_COLUMNS = join_columns(
    "region_id region_name period category_code category land_category origin_category",
    "area_ha net_change_mg_c annual_net_change_mg_c_per_yr net_emissions_mg_co2",
)
STOCK_TABLE_COLUMNS = join_columns(
    "class_code class_name pixel_count area_ha", POOL_DENSITIES, POOL_STOCKS, "stock_total_mg"
)
BY_CLASS_COLUMNS = join_columns(
    "region_id region_name class_code class_name pixel_count coverage_px area_ha area_share",
    POOL_DENSITIES,
    POOL_STOCKS,
    "stock_total_mg",
)
STOCK_SUMMARY_KEYS = join_columns(
    "geocarbon_version landcover densities scheme crs shape area_method nominal_pixel_area_ha",
    "raster_nodata unknown_mode unknown_classes pixel_count area_ha totals classes",
)
ZONAL_SUMMARY_KEYS = join_columns(
    "geocarbon_version landcover densities regional_densities scheme crs area_method coverage",
    "n_regions layers overlapping_regions empty_regions unknown_mode unknown_classes area_ha",
    "totals",
)
CHANGE_SUMMARY_KEYS = join_columns(
    "geocarbon_version landcovers resampled years densities scheme area_method coverage",
    "unknown_mode valuation monte_carlo nodata_pixels_by_date periods",
)
TRANSITION_COLUMNS = join_columns(
    "region_id period class_from class_to name_from name_to area_ha",
    POOL_CHANGES,
    "change_total_mg",
)
SERIES_COLUMNS = join_columns(
    "region_id region_name year valid_area_ha", POOL_STOCKS, "stock_total_mg stock_total_tg"
)
PARENT_COLUMNS = join_columns(
    "parent_id n_regions valid_area_ha stock_total_mg stock_total_tg density_mean_mg_per_ha"
)
CHANGE_PARENT_COLUMNS = join_columns(
    "parent_id period year_start year_end years n_regions compared_area_ha stock_start_mg",
    "stock_end_mg net_change_mg gross_gain_mg gross_loss_mg annual_net_change_mg_per_yr",
)
