"""Benchmark ``geocarbon zonal`` against peer zonal tools (issue 3).

Every tool does the same job, per-province per-class pixel counts of the MODIS IGBP land cover
over China's provinces, timed end to end from files on disk to an in-memory table. The results
are checked against each other before timing, so the timings compare the same job. The script
only reads the shared data; the upsampled raster lives in a temporary directory, then is deleted.

    python benchmarks/zonal_peers.py [--repeat 3] [--scale 1 5] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
GEOCARBON_OPTIONS = dict(densities="china-clcd", scheme="modis-igbp", id_field=ID_FIELD, threads=2)
TIFF_OPTIONS = dict(tiled=True, blockxsize=256, blockysize=256, compress="deflate", nodata=NODATA)
PEERS = ("c", "d", "e")
SECTION = "## Zonal statistics against peers (issue 3)"
PREAMBLE = "# Benchmarks\n\nMedians of repeated runs; ratios are measured in the same run, because machines here are noisy.\n"
LIBRARIES = "geocarbon numpy numba rasterio geopandas pyogrio shapely pyproj rasterstats exactextract xarray-spatial xarray rioxarray"
# Where geocarbon's centre-mode time goes: (end of module path, function) -> what it does.
sys.path.insert(0, str(Path(__file__).parent))
from run import check_phases  # noqa: E402 (the shared benchmark helpers)

PHASES = {
    ("geocarbon/inputs/regions.py", "read_regions"): "read and validate the regions",
    ("pyogrio/raw.py", "read"): "of which GDAL's GeoJSON parse (pyogrio)",
    ("geocarbon/engine/zones.py", "build_zone_index"): "regions to scanline spans and layers",
    ("geocarbon/engine/threads.py", "run_threads"): "the pixel pass (read blocks, accumulate)",
    (
        "geocarbon/inputs/regions.py",
        "region_area_ha",
    ): "each region's own area (one equal-area transform)",
}


@dataclass(frozen=True)
class Tool:
    """One way of computing the counts; ``baseline`` is the geocarbon tool its ratio is taken to."""

    label: str
    coverage: str
    run: Callable[[Path], pd.Series]
    baseline: str


@dataclass(frozen=True)
class ScaleResult:
    scale: int
    shape: tuple[int, int]
    megapixels: float
    median_s: dict[str, float]
    failures: dict[str, str]
    checks: list[str]
    phase_s: dict[str, float]


def read_provinces() -> gpd.GeoDataFrame:
    return gpd.read_file(PROVINCES)


def _long_counts(region_ids: list[str], counts_by_region: list[dict]) -> pd.Series:
    """(region_id, class_code) -> count, zero counts dropped, sorted."""
    rows = [
        (region, int(code), float(count))
        for region, counts in zip(region_ids, counts_by_region, strict=True)
        for code, count in counts.items()
        if count > 0
    ]
    frame = pd.DataFrame(rows, columns=["region_id", "class_code", "count"])
    return frame.set_index(["region_id", "class_code"])["count"].sort_index()


def geocarbon_counts(tif: Path, coverage: str) -> pd.Series:
    from geocarbon.runs.zonal import ZonalConfig, run_zonal

    options = dict(landcover=tif, regions=PROVINCES, coverage=coverage, progress=False)
    table = run_zonal(ZonalConfig(**options, **GEOCARBON_OPTIONS)).by_class
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
        operations = ["unique", "frac", "count"]
        frame = exact_extract(
            str(tif), provinces, operations, include_cols=[ID_FIELD], output="pandas"
        )
    # frac is each value's coverage-weighted share and count the covered pixels, so their
    # product is each class's coverage in pixels, what geocarbon reports as coverage_px.
    counts = [
        dict(zip(row["unique"], np.asarray(row["frac"]) * row["count"], strict=True))
        for _, row in frame.iterrows()
    ]
    return _long_counts(frame[ID_FIELD].astype(str).tolist(), counts)


def xrspatial_counts(tif: Path) -> pd.Series:
    import rioxarray
    import xarray as xr
    from rasterio.features import rasterize
    from xrspatial.zonal import crosstab

    provinces = read_provinces()
    landcover = rioxarray.open_rasterio(tif).squeeze("band", drop=True).load()
    zone_ids = list(range(1, len(provinces) + 1))
    shapes = zip(provinces.geometry, zone_ids, strict=True)  # zone 0 = outside every province
    zones = rasterize(shapes, landcover.shape, transform=landcover.rio.transform(), dtype="int32")
    zones_da = xr.DataArray(zones, dims=landcover.dims)
    table = crosstab(zones_da, landcover, zone_ids=zone_ids, nodata_values=NODATA)
    by_zone = table.set_index("zone").drop(columns=[NODATA], errors="ignore")
    region_ids = provinces[ID_FIELD].astype(str).to_numpy()[by_zone.index.to_numpy(int) - 1]
    return _long_counts(region_ids.tolist(), by_zone.to_dict("records"))


TOOLS = {
    "a": Tool(
        "geocarbon (centre)", "pixel centre", partial(geocarbon_counts, coverage="centre"), "a"
    ),
    "b": Tool(
        "geocarbon (exact)", "exact fraction", partial(geocarbon_counts, coverage="exact"), "b"
    ),
    "c": Tool("rasterstats zonal_stats", "pixel centre", rasterstats_counts, "a"),
    "d": Tool("exactextract", "exact fraction", exactextract_counts, "b"),
    "e": Tool("xarray-spatial crosstab", "pixel centre", xrspatial_counts, "a"),
}


def write_upsampled(source: Path, scale: int, out_dir: Path) -> Path:
    """Each pixel repeated scale x scale, pixel size divided by scale; tiled DEFLATE GeoTIFF."""
    with rasterio.open(source) as src:
        codes, profile = src.read(1), src.profile
    upsampled = np.repeat(np.repeat(codes, scale, axis=0), scale, axis=1)
    height, width = upsampled.shape
    transform = profile["transform"] * profile["transform"].scale(1 / scale)
    profile.update(width=width, height=height, transform=transform, **TIFF_OPTIONS)
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
    """Raise unless a == c exactly and b ~ d within 0.5 %; return lines saying what held."""
    lines = []
    if "c" in results:
        if not results["a"].equals(results["c"]):
            diff = results["a"].sub(results["c"], fill_value=0)
            raise AssertionError(f"geocarbon centre and rasterstats differ:\n{diff[diff != 0]}")
        lines.append(f"geocarbon centre == rasterstats: {len(results['a'])} identical counts")
    if "d" in results:
        both = pd.concat({"b": results["b"], "d": results["d"]}, axis=1).fillna(0)
        both = both[both.max(axis=1) >= 1]
        relative = (both["b"] - both["d"]).abs() / both.max(axis=1)
        if relative.max() > EXACT_TOLERANCE:
            raise AssertionError(
                f"exact and exactextract differ:\n{both[relative > EXACT_TOLERANCE]}"
            )
        lines.append(
            f"geocarbon exact ~ exactextract: {len(both)} classes >= 1 px, "
            f"largest relative difference {relative.max():.1e}"
        )
    if "e" in results:
        same = "==" if results["a"].equals(results["e"]) else "!= (information only)"
        lines.append(f"geocarbon centre {same} xarray-spatial crosstab")
    return lines


def _seconds(run: Callable[[Path], object], tif: Path) -> float:
    start = time.perf_counter()
    run(tif)
    return time.perf_counter() - start


def time_tools(tif: Path, keys: list[str], repeat: int) -> dict[str, float]:
    """Median seconds per tool; tools interleave within each repeat so load spikes hit all alike."""
    seconds: dict[str, list[float]] = {key: [] for key in keys}
    for _ in range(repeat):
        for key in keys:
            seconds[key].append(_seconds(TOOLS[key].run, tif))
    return {key: statistics.median(values) for key, values in seconds.items()}


def geocarbon_phases(tif: Path) -> dict[str, float]:
    """Cumulative seconds per phase of one centre run under cProfile (which slows Python loops)."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(geocarbon_counts, tif, "centre")
    phase_s = {"total": time.perf_counter() - start}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (module, name), label in PHASES.items():
        # stats: (file, line, function) -> (calls, primitive calls, own s, cumulative s, callers)
        cumulative_s = [
            row[3] for key, row in stats.items() if key[2] == name and key[0].endswith(module)
        ]
        phase_s[label] = sum(cumulative_s)
    return phase_s


def bench_scale(scale: int, repeat: int, tmp_dir: Path) -> ScaleResult:
    tif = LANDCOVER if scale == 1 else write_upsampled(LANDCOVER, scale, tmp_dir)
    with rasterio.open(tif) as src:
        shape = (src.height, src.width)
    results, failures = warm_up(tif)
    checks = check_same_job(results)
    print("\n".join(f"scale {scale}: {line}" for line in checks), flush=True)
    median_s = time_tools(tif, list(results), repeat)
    megapixels = shape[0] * shape[1] / 1e6
    return ScaleResult(scale, shape, megapixels, median_s, failures, checks, geocarbon_phases(tif))


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1] for ln in cpuinfo if ln.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    ram_kib = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal")))
    versions = ", ".join(f"{name} {version(name)}" for name in LIBRARIES.split())
    return (
        f"- CPU: {model.strip()}; os.cpu_count() = {os.cpu_count()}; RAM {ram_kib / 2**20:.1f} GiB\n"
        f"- Python {platform.python_version()}, GDAL {rasterio.__gdal_version__}; {versions}"
    )


def _ratio(key: str, bench: ScaleResult) -> float:
    return bench.median_s[key] / bench.median_s[TOOLS[key].baseline]


def _row(key: str, bench: ScaleResult) -> str:
    tool = TOOLS[key]
    if key in bench.failures:
        return f"| ({key}) {tool.label} | {tool.coverage} | failed | | `{bench.failures[key]}` |"
    seconds = bench.median_s[key]
    ratio = "baseline" if tool.baseline == key else f"{_ratio(key, bench):.2f} (vs {tool.baseline})"
    speed = bench.megapixels / seconds
    return f"| ({key}) {tool.label} | {tool.coverage} | {seconds:.2f} | {speed:.2f} | {ratio} |"


def _phases_sentence(bench: ScaleResult) -> str:
    """Derived from the profile: how much of geocarbon's run is the pixel pass."""
    pixel_s = bench.phase_s[PHASES[("geocarbon/engine/threads.py", "run_threads")]]
    return f"{pixel_s:.2f} s of {bench.phase_s['total']:.2f} s at scale {bench.scale}"


SCALE_TEMPLATE = """### Scale {scale}: {height} x {width} = {megapixels:.1f} Mpx

| Tool | Coverage | Median s | Mpx/s | Peer time / geocarbon time |
|---|---|---:|---:|---:|
{rows}

Where geocarbon centre's time goes (one run under cProfile, which slows Python loops; {total:.2f} s):

{phases}

Checks before timing:

{checks}
"""


def scale_table(bench: ScaleResult) -> str:
    phases = [f"- {label}: {s:.2f} s" for label, s in bench.phase_s.items() if label != "total"]
    return SCALE_TEMPLATE.format(
        scale=bench.scale,
        height=bench.shape[0],
        width=bench.shape[1],
        megapixels=bench.megapixels,
        rows="\n".join(_row(key, bench) for key in TOOLS),
        total=bench.phase_s["total"],
        phases="\n".join(phases),
        checks="\n".join(f"- {line}" for line in bench.checks),
    )


def summary(benches: list[ScaleResult]) -> str:
    ratios = [
        f"at scale {bench.scale} "
        + ", ".join(
            f"{TOOLS[key].label.split()[0]} {_ratio(key, bench):.1f}x"
            for key in PEERS
            if key in bench.median_s
        )
        for bench in benches
    ]
    phases = "; ".join(_phases_sentence(bench) for bench in benches)
    return (
        f"Peer time over geocarbon time (above 1, geocarbon is faster): {'; '.join(ratios)}. "
        f"geocarbon's pixel pass takes {phases} (profiled centre runs); the rest is per-run "
        "polygon work: reading the GeoJSON, as every tool does, and steps the peers skip (spans for "
        "every region, overlap layers, each region's own area)."
    )


SECTION_TEMPLATE = """{heading}

```
{command}
```

{machine}

Each tool computes per-province per-class pixel counts of the MODIS IGBP 2019 land cover over 34
provinces, timed from files on disk to an in-memory table (vector read and any rasterization
included): median of {repeat} runs, tools interleaved, after one untimed warm-up run of each.

{tables}
{summary}
"""


def section(benches: list[ScaleResult], command: str, repeat: int) -> str:
    return SECTION_TEMPLATE.format(
        heading=SECTION,
        command=command,
        machine=machine(),
        repeat=repeat,
        tables="\n".join(scale_table(bench) for bench in benches),
        summary=summary(benches),
    )


def write_section(path: Path, text: str) -> None:
    """Replace the section (up to the next ``## `` heading) or append it; other sections untouched."""
    document = path.read_text() if path.exists() else PREAMBLE
    lines = document.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == SECTION]
    if not starts:
        path.write_text(document.rstrip("\n") + "\n\n" + text)
        return
    after = range(starts[0] + 1, len(lines))
    end = next((i for i in after if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    path.write_text("".join(lines[: starts[0]]) + text + ("\n" + tail if tail else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--write", type=Path, help="replace this benchmark's section of a file")
    args = parser.parse_args(argv)
    check_phases(PHASES)
    script = ["python", "benchmarks/zonal_peers.py"]
    command = shlex.join(sys.orig_argv if argv is None else [*script, *argv])
    with tempfile.TemporaryDirectory(prefix="geocarbon-bench-") as tmp:
        benches = [bench_scale(scale, args.repeat, Path(tmp)) for scale in args.scale]
    text = section(benches, command, args.repeat)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
