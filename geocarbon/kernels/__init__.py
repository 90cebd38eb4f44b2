"""The numba kernels, one module per job: classify codes (:mod:`.classify`), accumulate area
histograms (:mod:`.accumulate`), rasterize regions (:mod:`.rasterize`), exact coverage
(:mod:`.coverage`), overviews (:mod:`.overview`) and the sink walk across dates (:mod:`.sink`,
:mod:`.walk`).

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of files,
CRS, pandas or logging; they count problems (unknown codes) rather than raise, and drivers
explain. Every kernel has a plain-NumPy reference in ``tests/reference.py``.
"""

from geocarbon.kernels.accumulate import (
    LANES,
    accumulate_area,
    accumulate_fractions,
    accumulate_runs,
    accumulate_runs_by_code,
    accumulate_runs_sets,
)
from geocarbon.kernels.classify import (
    change_from_bins,
    classify,
    densities_from_bins,
    lookup_bins,
)
from geocarbon.kernels.coverage import coverage_fractions
from geocarbon.kernels.overview import halve_mean
from geocarbon.kernels.rasterize import (
    ON_LINE_PX,
    fill_spans,
    polygon_spans,
    runs_overlap,
    segment_pixels,
)

__all__ = [
    "LANES",
    "ON_LINE_PX",
    "accumulate_area",
    "accumulate_fractions",
    "accumulate_runs",
    "accumulate_runs_by_code",
    "accumulate_runs_sets",
    "change_from_bins",
    "classify",
    "coverage_fractions",
    "densities_from_bins",
    "fill_spans",
    "halve_mean",
    "lookup_bins",
    "polygon_spans",
    "runs_overlap",
    "segment_pixels",
]
