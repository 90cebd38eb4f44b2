"""Monte Carlo uncertainty over the small histogram, never over pixels.

Each draw samples every density (class x pool) from its low / central / high range, then
recomputes stocks and changes as area (ha) x density: a few matrix products per draw. Draws
share quantiles across regions (the table's ranges describe national-average parameters), and
with ``correlation="pool"`` across the classes of a pool as well (a systematic error in, say,
soil carbon moves every class together).

Distributions (``low`` and ``high`` as the bounds, ``central`` as the mode):

- ``triangular``: the triangular distribution;
- ``pert``: Beta-PERT, Beta(1 + 4 (m - a)/(b - a), 1 + 4 (b - m)/(b - a)) scaled to [a, b],
  which puts less weight on the tails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

from geocarbon.config import (
    DEFAULT_CORRELATION,
    DEFAULT_DISTRIBUTION,
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    check_correlation,
    check_distribution,
    check_draws,
    check_whole,
)

PERCENTILES = (5.0, 50.0, 95.0)


@dataclass(frozen=True)
class MonteCarlo:
    """How to draw densities: count, seed, distribution and correlation."""

    draws: int = DEFAULT_DRAWS
    seed: int = DEFAULT_SEED
    distribution: str = DEFAULT_DISTRIBUTION
    correlation: str = DEFAULT_CORRELATION

    def __post_init__(self) -> None:
        check_distribution(self.distribution)
        check_correlation(self.correlation)
        # Whole numbers from NumPy or text are kept as Python ints.
        object.__setattr__(self, "draws", check_draws(self.draws))
        object.__setattr__(self, "seed", check_whole("seed", self.seed, minimum=0))

    def quantiles(self, n_classes: int, n_pools: int) -> NDArray[np.float64]:
        """(draws, classes, pools) uniform quantiles, seeded, shared by every region."""
        rng = np.random.default_rng(self.seed)
        if self.correlation == "pool":
            per_pool = rng.random((self.draws, 1, n_pools))
            return np.broadcast_to(per_pool, (self.draws, n_classes, n_pools)).copy()
        return rng.random((self.draws, n_classes, n_pools))

    def densities(
        self, density_mg_per_ha: NDArray[np.float64], u: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """(draws, classes, pools) densities from a (classes, pools, low/central/high) table."""
        low, mode, high = (density_mg_per_ha[None, :, :, k] for k in range(3))
        if self.distribution == "pert":
            return _pert_ppf(u, low, mode, high)
        return _triangular_ppf(u, low, mode, high)


def _triangular_ppf(u, low, mode, high):  # type: ignore[no-untyped-def]
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        split = np.where(width > 0, (mode - low) / width, 0.0)
        rising = low + np.sqrt(u * width * (mode - low))
        falling = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(width > 0, np.where(u < split, rising, falling), low)


def _pert_ppf(u, low, mode, high):  # type: ignore[no-untyped-def]
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(width > 0, 1.0 + 4.0 * (mode - low) / width, 1.0)
        beta = np.where(width > 0, 1.0 + 4.0 * (high - mode) / width, 1.0)
    return low + width * betaincinv(alpha, beta, u)


def percentiles(draws: NDArray[np.float64]) -> NDArray[np.float64]:
    """5th, 50th and 95th percentiles over the first (draw) axis."""
    return np.percentile(draws, PERCENTILES, axis=0)


def top_variance_source(
    area_weight_ha: NDArray[np.float64], density_draws: NDArray[np.float64]
) -> tuple[int, int, float]:
    """The (class, pool) contributing most variance to sum(area x density), and its share.

    For a sum of independent terms the variance is sum(area^2 x Var(density)); each term's share
    of that sum is reported (under pool correlation it ranks the terms the same way).
    """
    variance = area_weight_ha[:, None] ** 2 * density_draws.var(axis=0)
    total = variance.sum()
    if total <= 0:
        return -1, -1, 0.0
    cls, pool = np.unravel_index(int(np.argmax(variance)), variance.shape)
    return int(cls), int(pool), float(variance[cls, pool] / total)
