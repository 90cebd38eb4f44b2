"""geocarbon: terrestrial carbon stocks and their change from land-cover maps and density tables."""

from geocarbon._version import __version__
from geocarbon.errors import (
    GeoCarbonError,
    GridMismatchError,
    InputFileError,
    OutputExistsError,
    RasterFormatError,
    SchemeError,
    TableSchemaError,
    UnknownClassError,
)
from geocarbon.pipeline import StockConfig, StockResult, run_stock
from geocarbon.tables import CarbonTable, load_density_table

__all__ = [
    "CarbonTable",
    "GeoCarbonError",
    "GridMismatchError",
    "InputFileError",
    "OutputExistsError",
    "RasterFormatError",
    "SchemeError",
    "StockConfig",
    "StockResult",
    "TableSchemaError",
    "UnknownClassError",
    "__version__",
    "load_density_table",
    "run_stock",
]
