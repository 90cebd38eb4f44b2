"""Net present value of a carbon stock change, by InVEST Carbon's formula.

The change over a period of n = year_end - year_start years is valued as if it happened evenly,
1/n each year, each year's share discounted:

    NPV = change_mg x price / n x sum_{t=0}^{n-1} q^t,   q = 1 / ((1 + r/100)(1 + c/100))

with ``price`` per Mg C, ``r`` the annual discount rate (%) and ``c`` the annual change of the
carbon price (%). The sum has the closed form (1 - q^n) / (1 - q), which InVEST uses; when q == 1
(r and c cancel) it is simply n. Near q = 1 that form loses digits to cancellation, so it is
computed as expm1(n ln q) / expm1(ln q), the same value to full precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from geocarbon.config import (
    DEFAULT_DISCOUNT_RATE_PCT,
    DEFAULT_PRICE_CHANGE_PCT,
    check_rate_pct,
    option_label,
)
from geocarbon.errors import ConfigError


@dataclass(frozen=True)
class Valuation:
    """Price (currency per Mg C), discount rate (% per year) and price change (% per year)."""

    price_per_mg: float
    discount_rate_pct: float = DEFAULT_DISCOUNT_RATE_PCT
    price_change_pct: float = DEFAULT_PRICE_CHANGE_PCT

    def __post_init__(self) -> None:
        price = self.price_per_mg
        if isinstance(price, bool) or not isinstance(price, Real) or not math.isfinite(price):
            raise ConfigError(
                f"{option_label('price_per_mg')} got {price!r}; give a price per Mg C."
            )
        check_rate_pct("discount_rate_pct", self.discount_rate_pct)
        check_rate_pct("price_change_pct", self.price_change_pct)

    def constant(self, year_start: int, year_end: int) -> float:
        """NPV per Mg C of change over the period (multiply a change in Mg C by it)."""
        years = year_end - year_start
        if years <= 0:
            raise ConfigError(f"valuation needs a later end year, got {year_start} -> {year_end}")
        log_ratio = -(
            math.log1p(self.discount_rate_pct / 100.0) + math.log1p(self.price_change_pct / 100.0)
        )
        # sum_{t=0}^{n-1} q^t = (q^n - 1) / (q - 1); at q == 1 (log q == 0) the sum is n.
        if log_ratio == 0.0:
            discount_sum = float(years)
        else:
            discount_sum = math.expm1(years * log_ratio) / math.expm1(log_ratio)
        return self.price_per_mg / years * discount_sum
