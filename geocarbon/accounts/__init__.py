"""Everything derived from the pass's histograms and the density table: stocks by class and
region, change and transitions, Monte Carlo bounds, valuation and run summaries. No pixels, no
files."""
