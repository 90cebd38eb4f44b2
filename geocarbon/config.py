"""Every default of a run, once, and the checks of the options a user chooses.

The CLI's options, the run configs (:class:`~geocarbon.runs.stock.RunOptions` and its
subclasses), :class:`~geocarbon.accounts.uncertainty.MonteCarlo` and :class:`~geocarbon.accounts.valuation.Valuation`
read their defaults from here, so ``geocarbon stock --help`` shows what ``run_stock`` does.
Each check raises :class:`~geocarbon.errors.ConfigError` with one line naming the option (as a
keyword and as the CLI's option), the value given and what to give instead.

This module is light (no numpy, no GDAL): the CLI imports it at start-up.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Sequence
from pathlib import Path

from geocarbon.choices import (
    AREA_METHODS,
    CORRELATIONS,
    COVERAGE_MODES,
    DISTRIBUTIONS,
    UNKNOWN_MODES,
)
from geocarbon.errors import ConfigError

# --- How a run executes -------------------------------------------------------------------------
#: Memory budget for the blocks in flight (MB); the raster is never read whole.
DEFAULT_MEMORY_MB = 512
#: The smallest memory budget accepted (MB).
MIN_MEMORY_MB = 16
#: GDAL's block cache during a run (MB): blocks are read once and written once.
GDAL_CACHE_MB = 64
#: ``--threads all`` (``threads="all"``): one worker per CPU.
ALL_THREADS = "all"
#: Side of the output rasters' tiles (pixels); blocks are aligned to it.
TILE_SIZE_PX = 512

# --- How codes are read and areas measured ------------------------------------------------------
DEFAULT_UNKNOWN = "error"
DEFAULT_AREA_METHOD = "auto"
DEFAULT_COVERAGE = "centre"

# --- Uncertainty (Monte Carlo) and valuation ----------------------------------------------------
DEFAULT_DRAWS = 1000
DEFAULT_SEED = 0
DEFAULT_DISTRIBUTION = "triangular"
DEFAULT_CORRELATION = "independent"
DEFAULT_DISCOUNT_RATE_PCT = 0.0
DEFAULT_PRICE_CHANGE_PCT = 0.0
#: Rates at or below -100 % make the discount factor meaningless.
MIN_RATE_PCT = -100.0

# --- Maps, figures and reports -----------------------------------------------------------------
#: The language of labels in maps, figures and reports (``--lang``: en or zh).
DEFAULT_LANGUAGE = "en"
#: Resolution of raster figures (PNG): 300 dpi, what journals ask of line art with text.
DEFAULT_DPI = 300

# --- Sink accounting (geocarbon change) --------------------------------------------------------
#: Years over which soil carbon moves to a new class's density after a conversion, and over
#: which converted land is reported as "land converted to" (IPCC 2006 Vol.4 Ch.2, 2.3.3.1).
DEFAULT_SOIL_TRANSITION_YEARS = 20.0
#: Carbon fraction of dry biomass (IPCC 2006 Vol.4 Table 4.3 default).
DEFAULT_CARBON_FRACTION = 0.47

# --- The bundled sample (``geocarbon demo``) ----------------------------------------------------
SAMPLE_LANDCOVER = Path("rasters") / "clcd_2020.tif"
SAMPLE_DENSITIES = "china-clcd"
DEMO_OUT_DIR = Path("out") / "demo"

#: The CLI's spelling of keyword options whose names differ from ``--keyword-with-dashes``.
CLI_OPTION_NAMES = {
    "area_method": "--area",
    "landcover": "LANDCOVER",
    "landcovers": "LANDCOVERS",
    "out_dir": "--out",
    "write_rasters": "--no-rasters",
    "price_per_mg": "--price",
    "discount_rate_pct": "--discount-rate",
    "price_change_pct": "--price-change",
}

#: What an option is, where its keyword alone does not say it.
OPTION_DESCRIPTIONS = {
    "area_method": "area method",
    "memory_mb": "memory budget in MB",
    "price_per_mg": "carbon price per Mg C",
    "discount_rate_pct": "discount rate in % per year",
    "price_change_pct": "price change in % per year",
}


def default_threads() -> int:
    """Worker threads when none are asked for: two, or one on a single-CPU machine."""
    return min(2, cpu_count())


def cpu_count() -> int:
    """The machine's CPUs (``os.cpu_count()``), at least one."""
    return os.cpu_count() or 1


def option_label(name: str) -> str:
    """How a message names an option for Python and command-line users alike:
    ``area_method`` -> ``area method (area_method=, --area)``, ``unknown`` -> ``unknown= (--unknown)``."""
    option = CLI_OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
    described = OPTION_DESCRIPTIONS.get(name)
    return f"{described} ({name}=, {option})" if described else f"{name}= ({option})"


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a :class:`ConfigError` naming all of them."""
    if isinstance(value, str) and value in choices:
        return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise ConfigError(f"{option_label(name)} got {value!r}; use one of {listed}.")


def check_unknown(value: object) -> str:
    return check_choice("unknown", value, UNKNOWN_MODES)


def check_area_method(value: object) -> str:
    return check_choice("area_method", value, AREA_METHODS)


def check_coverage(value: object) -> str:
    return check_choice("coverage", value, COVERAGE_MODES)


def check_distribution(value: object) -> str:
    return check_choice("distribution", value, DISTRIBUTIONS)


def check_correlation(value: object) -> str:
    return check_choice("correlation", value, CORRELATIONS)


def check_whole(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an int if it is a whole number of at least ``minimum`` (Python or NumPy
    integers, floats with no fraction, digits as text; never a bool)."""
    number: int | None = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        as_float = float(value)
        number = int(as_float) if as_float.is_integer() else None
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        number = int(value)
    if number is None or number < minimum:
        raise ConfigError(
            f"{option_label(name)} got {value!r}; give a whole number of at least {minimum}."
        )
    return number


def check_threads(value: object) -> int:
    """Worker threads: a whole number >= 1, or ``"all"`` for one per CPU."""
    if isinstance(value, str) and value.strip().lower() == ALL_THREADS:
        return cpu_count()
    try:
        return check_whole("threads", value, minimum=1)
    except ConfigError:
        raise ConfigError(
            f"{option_label('threads')} got {value!r}; give a whole number of at least 1, "
            f"or {ALL_THREADS!r} for one thread per CPU."
        ) from None


def check_memory_mb(value: object) -> int:
    """The memory budget in MB: a whole number of at least :data:`MIN_MEMORY_MB`."""
    return check_whole("memory_mb", value, minimum=MIN_MEMORY_MB)


def check_block_shape(value: object) -> tuple[int, int]:
    """Rows and columns of a block: two whole numbers of at least 1."""
    if isinstance(value, tuple | list) and len(value) == 2:
        try:
            return (
                check_whole("block_shape", value[0], minimum=1),
                check_whole("block_shape", value[1], minimum=1),
            )
        except ConfigError:
            pass
    raise ConfigError(
        f"block_shape= got {value!r}; give (rows, columns), two whole numbers of at least 1, "
        "or leave it out to plan blocks under the memory budget (--memory-mb)."
    )


def check_years(values: object) -> tuple[int, ...]:
    """The year of each land cover, as whole numbers (2016.5 or "2016.5" refused, never cut)."""
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise ConfigError(f"years= (--years) got {values!r}; give one year per land cover.")
    years = []
    for value in values:
        try:
            years.append(check_whole("years", value, minimum=0))
        except ConfigError:
            raise ConfigError(
                f"years= (--years) got {value!r}, not a whole year; give one year per land cover, "
                "e.g. years=[2000, 2020]."
            ) from None
    return tuple(years)


def check_years_span(name: str, value: object) -> float:
    """A number of years: finite and >= 0 (an age, or a transition length)."""
    number = (
        float(value)
        if isinstance(value, numbers.Real) and not isinstance(value, bool)
        else math.nan
    )
    if not (math.isfinite(number) and number >= 0):
        raise ConfigError(f"{option_label(name)} got {value!r}; give a number of years >= 0.")
    return number


def check_fraction(name: str, value: object) -> float:
    """A fraction in (0, 1]."""
    number = (
        float(value)
        if isinstance(value, numbers.Real) and not isinstance(value, bool)
        else math.nan
    )
    if not (math.isfinite(number) and 0 < number <= 1):
        raise ConfigError(
            f"{option_label(name)} got {value!r}; give a fraction in (0, 1], e.g. 0.47."
        )
    return number


def check_draws(value: object) -> int:
    """Monte Carlo draws: a whole number >= 1 (a run without draws passes none at all)."""
    return check_whole("draws", value, minimum=1)


def check_rate_pct(name: str, value: object) -> float:
    """An annual rate in percent: a finite number above :data:`MIN_RATE_PCT`."""
    number = (
        float(value)
        if isinstance(value, numbers.Real) and not isinstance(value, bool)
        else math.nan
    )
    if not (math.isfinite(number) and number > MIN_RATE_PCT):
        raise ConfigError(
            f"{option_label(name)} got {value!r}; give a rate in percent per year above "
            f"{MIN_RATE_PCT:g} (5 for 5 %)."
        )
    return float(number)


def as_path(value: str | os.PathLike[str], name: str = "path") -> Path:
    """``value`` as a :class:`Path` (configs accept str and path-like alike)."""
    if isinstance(value, Path):
        return value
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text)
    raise ConfigError(f"{option_label(name)} got {value!r}; give a file or folder path.")


def as_optional_path(value: str | os.PathLike[str] | None, name: str = "path") -> Path | None:
    """:func:`as_path`, with None kept as None (an output folder not asked for)."""
    return None if value is None else as_path(value, name)
