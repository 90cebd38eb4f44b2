"""geocarbon: terrestrial carbon stocks and their change from land-cover maps and density tables.

The public names below are imported on first use, so that ``geocarbon --help`` does not pay
for numba and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

from geocarbon._version import __version__

_EXPORTS = {
    "CarbonTable": "geocarbon.inputs.densities",
    "load_density_table": "geocarbon.inputs.densities",
    "StockConfig": "geocarbon.runs.stock",
    "StockResult": "geocarbon.runs.stock",
    "run_stock": "geocarbon.runs.stock",
    "carbon_stock": "geocarbon.api",
    "landcover_from_array": "geocarbon.inputs.arrays",
    "ZonalConfig": "geocarbon.runs.zonal",
    "ZonalResult": "geocarbon.runs.zonal",
    "run_zonal": "geocarbon.runs.zonal",
    "zonal_stocks": "geocarbon.api",
    "ChangeConfig": "geocarbon.runs.change",
    "ChangeResult": "geocarbon.runs.change",
    "run_change": "geocarbon.runs.change",
    "stock_change": "geocarbon.api",
    "MonteCarlo": "geocarbon.accounts.uncertainty",
    "Valuation": "geocarbon.accounts.valuation",
    "GeoCarbonError": "geocarbon.errors",
    "GeoCarbonWarning": "geocarbon.errors",
    "ConfigError": "geocarbon.errors",
    "RegionError": "geocarbon.errors",
    "OutputWriteError": "geocarbon.errors",
    "RegionWarning": "geocarbon.errors",
    "OverlapWarning": "geocarbon.errors",
    "EmptyRegionWarning": "geocarbon.errors",
    "NodataWarning": "geocarbon.errors",
    "NodataClassWarning": "geocarbon.errors",
    "EncodingGuessWarning": "geocarbon.errors",
    "AreaMethodWarning": "geocarbon.errors",
    "ResamplingWarning": "geocarbon.errors",
    "WideTableWarning": "geocarbon.errors",
    "GridMismatchError": "geocarbon.errors",
    "InputFileError": "geocarbon.errors",
    "OutputExistsError": "geocarbon.errors",
    "RasterFormatError": "geocarbon.errors",
    "SchemeError": "geocarbon.errors",
    "TableSchemaError": "geocarbon.errors",
    "UnknownClassError": "geocarbon.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'geocarbon' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
