"""Named unit constants and conversions. Nothing else lives here."""

from __future__ import annotations

SQUARE_METRES_PER_HECTARE = 10_000.0
HECTARES_PER_SQUARE_KILOMETRE = 100.0
MG_PER_TG = 1_000_000.0
#: Molar mass ratio CO2 / C, to express carbon as CO2-equivalent.
CO2_PER_C = 44.0 / 12.0

#: The four carbon pools, in the order every array axis named "pool" uses.
POOLS: tuple[str, ...] = ("above", "below", "dead", "soil")
#: Density levels of a table with uncertainty, in the order of every "level" axis.
LEVELS: tuple[str, ...] = ("low", "central", "high")
