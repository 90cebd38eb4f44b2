"""Benchmark ``geocarbon zonal`` against peer zonal tools (issue 3).

Every tool does the same job, per-province per-class pixel counts of the MODIS IGBP land cover
over China's provinces, timed end to end from files on disk to an in-memory table. Before timing,
the results are checked against each other so the timings compare the same job. This script only
reads the shared data; the upsampled raster lives in a temporary directory that is deleted.

    python benchmarks/zonal_peers.py [--repeat 3] [--scale 1 5] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

DATA = Path("/work/shared/data")
LANDCOVER = DATA / "landcover/modis_mcd12c1_china/MCD12C1.A2019001.006_LC_Type1_IGBP_China_crop.tif"
PROVINCES = DATA / "boundaries/china_provinces.geojson"
ID_FIELD = "adcode"
NODATA = 255
EXACT_TOLERANCE = 0.005  # relative, for classes covering >= 1 pixel
SECTION = "## Zonal statistics against peers (issue 3)"
PREAMBLE = "# Benchmarks\n\nMedians of repeated runs; ratios are measured in the same run, because machines here are noisy.\n"
LIBRARIES = ["geocarbon", "numpy", "numba", "rasterio", "geopandas", "pyogrio", "shapely",
             "rasterstats", "exactextract", "xarray-spatial", "xarray", "rioxarray"]


@dataclass(frozen=True)
class Tool:
    """One way of computing counts; ``baseline`` names the geocarbon tool its ratio is taken to."""

    label: str
    coverage: str
    run: Callable[[Path], pd.Series]
    baseline: str


def read_provinces() -> gpd.GeoDataFrame:
    return gpd.read_file(PROVINCES)


def _long_counts(region_ids: list[str], counts_by_region: list[dict]) -> pd.Series:
    """(region_id, class_code) -> count, zero counts dropped, sorted."""
    rows = [(region, int(code), float(count)) for region, counts in zip(region_ids, counts_by_region)
            for code, count in counts.items() if count > 0]
    frame = pd.DataFrame(rows, columns=["region_id", "class_code", "count"])
    return frame.set_index(["region_id", "class_code"])["count"].sort_index()


def geocarbon_counts(tif: Path, coverage: str) -> pd.Series:
    from geocarbon.zonal_pipeline import ZonalConfig, run_zonal

    config = ZonalConfig(landcover=tif, regions=PROVINCES, densities="china-clcd", scheme="modis-igbp",
                         id_field=ID_FIELD, coverage=coverage, progress=False, threads=2)
    table = run_zonal(config).by_class
    table = table[(table["region_id"] != "unassigned") & (table["coverage_px"] > 0)]
    column = "pixel_count" if coverage == "centre" else "coverage_px"
    return table.set_index(["region_id", "class_code"])[column].astype(float).sort_index()


def rasterstats_counts(tif: Path) -> pd.Series:
    from rasterstats import zonal_stats

    provinces = read_provinces()
    stats = zonal_stats(provinces, str(tif), categorical=True, nodata=NODATA)
    return _long_counts(provinces[ID_FIELD].astype(str).tolist(), stats)


def exactextract_counts(tif: Path) -> pd.Series:
    from exactextract import exact_extract

    provinces = read_provinces()
    with warnings.catch_warnings():
        # The GeoJSON's CRS and the raster's are both WGS 84 lon/lat, written differently.
        warnings.filterwarnings("ignore", "Spatial reference system", RuntimeWarning)
        frame = exact_extract(str(tif), provinces, ["unique", "frac", "count"],
                              include_cols=[ID_FIELD], output="pandas")
    # frac is the coverage-weighted share of each value and count the covered pixels, so their
    # product is each class's coverage in pixels, the quantity geocarbon reports as coverage_px.
    counts = [dict(zip(row["unique"], np.asarray(row["frac"]) * row["count"])) for _, row in frame.iterrows()]
    return _long_counts(frame[ID_FIELD].astype(str).tolist(), counts)


def xrspatial_counts(tif: Path) -> pd.Series:
    import rioxarray
    import xarray as xr
    from rasterio.features import rasterize
    from xrspatial.zonal import crosstab

    provinces = read_provinces()
    landcover = rioxarray.open_rasterio(tif).squeeze("band", drop=True).load()
    zone_ids = np.arange(1, len(provinces) + 1)
    zones = rasterize(zip(provinces.geometry, zone_ids.tolist()), out_shape=landcover.shape,
                      transform=landcover.rio.transform(), fill=0, dtype="int32")
    table = crosstab(xr.DataArray(zones, dims=landcover.dims), landcover,
                     zone_ids=zone_ids.tolist(), nodata_values=NODATA)
    by_zone = table.set_index("zone").drop(columns=[NODATA], errors="ignore")
    region_ids = provinces[ID_FIELD].astype(str).to_numpy()[by_zone.index.to_numpy(int) - 1]
    return _long_counts(region_ids.tolist(), by_zone.to_dict("records"))


TOOLS = {
    "a": Tool("geocarbon (centre)", "pixel centre", lambda tif: geocarbon_counts(tif, "centre"), "a"),
    "b": Tool("geocarbon (exact)", "exact fraction", lambda tif: geocarbon_counts(tif, "exact"), "b"),
    "c": Tool(f"rasterstats {version('rasterstats')}", "pixel centre", rasterstats_counts, "a"),
    "d": Tool(f"exactextract {version('exactextract')}", "exact fraction", exactextract_counts, "b"),
    "e": Tool(f"xarray-spatial {version('xarray-spatial')} crosstab", "pixel centre", xrspatial_counts, "a"),
}


def write_upsampled(source: Path, scale: int, out_dir: Path) -> Path:
    """Each pixel repeated scale x scale, pixel size divided by scale; tiled DEFLATE GeoTIFF."""
    with rasterio.open(source) as src:
        codes = src.read(1)
        profile = src.profile
    transform = profile["transform"] * profile["transform"].scale(1 / scale)
    upsampled = np.repeat(np.repeat(codes, scale, axis=0), scale, axis=1)
    profile.update(width=upsampled.shape[1], height=upsampled.shape[0], transform=transform, nodata=NODATA,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    path = out_dir / f"landcover_x{scale}.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(upsampled, 1)
    return path


def warm_up(tif: Path) -> tuple[dict[str, pd.Series], dict[str, str]]:
    """One untimed run of each tool; a peer that fails is reported, geocarbon must not fail."""
    results, failures = {}, {}
    for key, tool in TOOLS.items():
        try:
            results[key] = tool.run(tif)
        except Exception as error:  # a peer's failure is a finding to report, not a crash
            if key in ("a", "b"):
                raise
            failures[key] = f"{type(error).__name__}: {error}"
    return results, failures


def check_same_job(results: dict[str, pd.Series]) -> list[str]:
    """Raise unless a == c exactly and b ~ d within tolerance; return lines saying what held."""
    lines = []
    if "c" in results:
        if not results["a"].equals(results["c"]):
            diff = results["a"].sub(results["c"], fill_value=0)
            raise AssertionError(f"geocarbon centre and rasterstats differ:\n{diff[diff != 0]}")
        lines.append(f"geocarbon centre == rasterstats: {len(results['a'])} identical province-class counts")
    if "d" in results:
        both = pd.concat({"b": results["b"], "d": results["d"]}, axis=1).fillna(0)
        both = both[both.max(axis=1) >= 1]
        relative = (both["b"] - both["d"]).abs() / both.max(axis=1)
        if relative.max() > EXACT_TOLERANCE:
            raise AssertionError(f"geocarbon exact and exactextract differ by > 0.5 %:\n{both[relative > EXACT_TOLERANCE]}")
        lines.append(f"geocarbon exact ~ exactextract: {len(both)} classes >= 1 px, max relative difference {relative.max():.2e}")
    if "e" in results:
        same = results["a"].equals(results["e"])
        lines.append(f"geocarbon centre {'==' if same else '!='} xarray-spatial crosstab (information only)")
    return lines


def time_tools(tif: Path, keys: list[str], repeat: int) -> dict[str, float]:
    """Median seconds per tool; tools interleave within each repeat so load spikes hit all alike."""
    seconds: dict[str, list[float]] = {key: [] for key in [*keys, "read"]}
    for _ in range(repeat):
        for key in keys:
            seconds[key].append(_seconds(TOOLS[key].run, tif))
        seconds["read"].append(_seconds(lambda _: read_provinces(), tif))
    return {key: statistics.median(values) for key, values in seconds.items()}


def _seconds(run: Callable[[Path], object], tif: Path) -> float:
    start = time.perf_counter()
    run(tif)
    return time.perf_counter() - start


def bench_scale(scale: int, repeat: int, tmp_dir: Path) -> dict:
    tif = LANDCOVER if scale == 1 else write_upsampled(LANDCOVER, scale, tmp_dir)
    with rasterio.open(tif) as src:
        megapixels = src.width * src.height / 1e6
        shape = (src.height, src.width)
    results, failures = warm_up(tif)
    checks = check_same_job(results)
    for line in checks:
        print(f"scale {scale}: {line}")
    medians = time_tools(tif, list(results), repeat)
    return dict(scale=scale, shape=shape, megapixels=megapixels, medians=medians, failures=failures, checks=checks)


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    meminfo_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    versions = ", ".join(f"{name} {version(name)}" for name in LIBRARIES)
    return [f"CPU: {model}, os.cpu_count() = {os.cpu_count()}, RAM {meminfo_kb / 2**20:.1f} GiB",
            f"Python {platform.python_version()}, GDAL {rasterio.__gdal_version__}; {versions}"]


def scale_table(bench: dict) -> list[str]:
    medians, megapixels = bench["medians"], bench["megapixels"]
    lines = [f"### Scale {bench['scale']}: {bench['shape'][0]} x {bench['shape'][1]} = {megapixels:.1f} Mpx", "",
             "| Tool | Coverage | Median s | Mpx/s | Peer time / geocarbon time |", "|---|---|---:|---:|---:|"]
    for key, tool in TOOLS.items():
        if key in bench["failures"]:
            lines.append(f"| ({key}) {tool.label} | {tool.coverage} | failed | | `{bench['failures'][key]}` |")
            continue
        ratio = "baseline" if tool.baseline == key else f"{medians[key] / medians[tool.baseline]:.2f} (vs {tool.baseline})"
        lines.append(f"| ({key}) {tool.label} | {tool.coverage} | {medians[key]:.2f} | {megapixels / medians[key]:.2f} | {ratio} |")
    lines += ["", f"Reading the provinces GeoJSON alone (geopandas): {medians['read']:.2f} s, a cost every tool pays.", ""]
    return lines + [f"- {line}" for line in bench["checks"]] + [""]


def summary_sentence(benches: list[dict]) -> str:
    parts = []
    for bench in benches:
        medians = bench["medians"]
        ratios = [f"{TOOLS[key].label.split()[0]} {medians[key] / medians[TOOLS[key].baseline]:.1f}x"
                  for key in ("c", "e", "d") if key in medians]
        parts.append(f"at scale {bench['scale']} the peers take {', '.join(ratios)} geocarbon's time")
    return ("Peer time over geocarbon time (above 1 means geocarbon is faster): " + "; ".join(parts) + ". "
            "The provinces are a detailed 18 MB GeoJSON, so reading and preparing the polygons is a fixed "
            "cost that weighs most at scale 1 and less as the raster grows.")


def section(benches: list[dict], command: str) -> str:
    lines = [SECTION, "", "```", command, "```", "", *[f"- {line}" for line in machine()], "",
             "Each tool computes per-province per-class pixel counts of the MODIS IGBP 2019 land cover "
             "over 34 provinces, timed from files on disk to an in-memory table (vector read and any "
             "rasterization included), median of the repeats after one untimed warm-up run per tool.", ""]
    for bench in benches:
        lines += scale_table(bench)
    return "\n".join([*lines, summary_sentence(benches), ""])


def write_section(path: Path, text: str) -> None:
    """Replace the section (up to the next ``## `` heading) or append it; other sections untouched."""
    document = path.read_text() if path.exists() else PREAMBLE
    lines = document.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == SECTION]
    if not starts:
        path.write_text(document.rstrip("\n") + "\n\n" + text)
        return
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    path.write_text("".join(lines[: starts[0]]) + text + ("\n" + tail if tail else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--write", type=Path, help="replace this benchmark's section in a Markdown file")
    args = parser.parse_args(argv)
    command = shlex.join(sys.orig_argv if argv is None else ["python", "benchmarks/zonal_peers.py", *argv])
    with tempfile.TemporaryDirectory(prefix="geocarbon-bench-") as tmp:
        benches = [bench_scale(scale, args.repeat, Path(tmp)) for scale in args.scale]
    text = section(benches, command)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
