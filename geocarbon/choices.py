"""The named choices of run options, in one light module (the CLI imports it at start-up)."""

from __future__ import annotations

#: Pixel-area methods (see :mod:`geocarbon.area`); "auto" picks one from the CRS.
AREA_METHODS = ("auto", "planar", "equal-area", "ellipsoid-rows", "scale-factor")
#: Codes with no table row: fail, count as zero carbon, or treat as nodata.
UNKNOWN_MODES = ("error", "zero", "nodata")
#: Pixel membership in regions (see :mod:`geocarbon.inputs.regions`).
COVERAGE_MODES = ("centre", "all-touched", "exact")
#: Monte Carlo density distributions and correlation (see :mod:`geocarbon.accounts.uncertainty`).
DISTRIBUTIONS = ("triangular", "pert")
CORRELATIONS = ("independent", "pool")
#: The colour maps (matplotlib names) of every map, figure and QGIS style: densities YlGn;
#: changes RdBu centred on zero, red losses (sources), blue gains (sinks).
DENSITY_COLOUR_MAP = "YlGn"
CHANGE_COLOUR_MAP = "RdBu"
#: Languages of maps, figures and reports: English, Chinese.
LANGUAGES = ("en", "zh")
