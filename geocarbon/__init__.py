"""geocarbon: terrestrial carbon stocks and their change from land-cover maps and density tables.

The public names below are imported on first use, so that ``geocarbon --help`` does not pay
for numba and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

from geocarbon._version import __version__

_EXPORTS = {
    "CarbonTable": "geocarbon.tables",
    "load_density_table": "geocarbon.tables",
    "StockConfig": "geocarbon.pipeline",
    "StockResult": "geocarbon.pipeline",
    "run_stock": "geocarbon.pipeline",
    "ZonalConfig": "geocarbon.zonal_pipeline",
    "ZonalResult": "geocarbon.zonal_pipeline",
    "run_zonal": "geocarbon.zonal_pipeline",
    "zonal_stocks": "geocarbon.zonal_pipeline",
    "ChangeConfig": "geocarbon.change_pipeline",
    "ChangeResult": "geocarbon.change_pipeline",
    "run_change": "geocarbon.change_pipeline",
    "stock_change": "geocarbon.change_pipeline",
    "MonteCarlo": "geocarbon.uncertainty",
    "Valuation": "geocarbon.valuation",
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
