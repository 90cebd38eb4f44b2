"""A province out of the national mosaic (issue 14): Zhejiang's windows, not the whole of China.

A national COG is made once from the real MODIS IGBP 2019 raster of China, upsampled ``--scale``
times by nearest neighbour (x10: 10 200 x 12 600 = 1.3e8 px of 0.005 deg, 256 x 256 DEFLATE
tiles), in a temporary directory that is deleted. In process, after a warm-up, each timed the
median of ``--repeat`` runs (tables only, nothing written, regions already read):

* ``geocarbon`` zonal of Zhejiang on the local COG (reads the blocks meeting its bounding box);
* the same with all 34 provinces (their extent is nearly the whole mosaic);
* the floor: rasterio reading just Zhejiang's bounding box, a pixel wider (the extent the run
  counts), in one window read;
* Zhejiang over HTTP: the COG served by a local range server (``tests/range_server.py``) on
  127.0.0.1, read through ``/vsicurl/``; each repeat reads a fresh URL (GDAL caches per URL).

    python benchmarks/province_window.py [--scale 10] [--repeat 5] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import rasterio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from national_cog import TILE, box_window, upsampled, write  # noqa: E402 (as the remote tests make it)
from range_server import serve  # noqa: E402 (the test suite's range server)
from run import DATA, PROVINCES, machine  # noqa: E402 (the shared benchmark helpers)

SECTION = "## Province out of the national mosaic (issue 14)"
MODIS = DATA / "landcover/modis_mcd12c1_china/MCD12C1.A2019001.006_LC_Type1_IGBP_China_crop.tif"
ZHEJIANG = 330000
RUN: dict[str, Any] = dict(
    densities="china-clcd", scheme="modis-igbp", id_field="adcode", progress=False
)


def national_cog(folder: Path, scale: int) -> Path:
    """MODIS IGBP 2019 over China, each pixel a ``scale`` x ``scale`` square, as a COG."""
    codes, profile = upsampled(MODIS, scale)
    return write(folder / "national.tif", codes, {**profile, "num_threads": "ALL_CPUS"})


def median_seconds(function: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    """Median wall seconds of ``repeat`` calls after one warm-up (numba caches, GDAL drivers)."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def zonal(landcover: str | Path, regions: gpd.GeoDataFrame) -> dict[str, Any]:
    """A zonal run's summary; a URL goes in as a Path, as the command line passes it (pathlib
    folds its ``//``, and geocarbon reads it as the URL)."""
    from geocarbon.runs.zonal import ZonalConfig, run_zonal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the provinces' CRS is written differently: warned once
        config = ZonalConfig(landcover=Path(landcover), regions=regions, **RUN)
        return run_zonal(config).summary


def read_box(tif: Path, regions: gpd.GeoDataFrame) -> int:
    """The floor: read the regions' bounding box, a pixel wider, in one rasterio window read;
    return the pixels read."""
    window = box_window(tif, regions)
    with rasterio.open(tif) as dataset:
        return int(dataset.read(1, window=window).size)


def bench(scale: int, repeat: int) -> dict[str, Any]:
    provinces = gpd.read_file(PROVINCES)
    zhejiang = provinces[provinces["adcode"] == ZHEJIANG].reset_index(drop=True)
    results: dict[str, Any] = {"scale": scale, "repeat": repeat}
    with tempfile.TemporaryDirectory(prefix="geocarbon-province-") as name:
        folder = Path(name)
        start = time.perf_counter()
        tif = national_cog(folder, scale)
        results["generate_s"] = time.perf_counter() - start
        with rasterio.open(tif) as dataset:
            results["shape"] = list(dataset.shape)
        results["file_mb"] = tif.stat().st_size / 1e6

        summary = zonal(tif, zhejiang)
        results["zhejiang_reading"] = {
            "blocks_read": summary["blocks_read"],
            "blocks_total": summary["blocks_total"],
            "pixels_outside_extent": summary["pixels_outside_extent"],
        }
        results["zhejiang_s"], results["zhejiang_runs"] = median_seconds(
            lambda: zonal(tif, zhejiang), repeat
        )
        results["all_s"], results["all_runs"] = median_seconds(
            lambda: zonal(tif, provinces), repeat
        )
        all_summary = zonal(tif, provinces)
        results["all_reading"] = {
            key: all_summary[key]
            for key in ("blocks_read", "blocks_total", "pixels_outside_extent")
        }
        results["floor_s"], results["floor_runs"] = median_seconds(
            lambda: read_box(tif, zhejiang), repeat
        )
        results["floor_px"] = read_box(tif, zhejiang)

        with serve(folder) as server:
            urls = iter(range(repeat + 2))

            def over_http() -> dict[str, Any]:
                alias = folder / f"national-{next(urls)}.tif"  # a URL GDAL has not cached
                os.link(tif, alias)
                return zonal(f"{server.url}/{alias.name}", zhejiang)

            server.served.reset()
            results["http_s"], results["http_runs"] = median_seconds(over_http, repeat)
            served = server.served
            n_runs = repeat + 1
            results["http_bytes_per_run"] = sum(served.bytes_by_path.values()) / n_runs
            results["http_requests_per_run"] = sum(served.requests_by_path.values()) / n_runs
    return results


def render(results: dict[str, Any]) -> str:
    r = results
    rows, cols = r["shape"]
    px = rows * cols
    z, a = r["zhejiang_reading"], r["all_reading"]
    mb = r["http_bytes_per_run"] / 1e6
    table = [
        "| run | median s | ratio to Zhejiang | blocks read | MB fetched |",
        "|---|---:|---:|---:|---:|",
        f"| `run_zonal`, Zhejiang, local COG | {r['zhejiang_s']:.3f} | 1.00 | "
        f"{z['blocks_read']} of {z['blocks_total']} | |",
        f"| `run_zonal`, all 34 provinces, local COG | {r['all_s']:.3f} | "
        f"{r['all_s'] / r['zhejiang_s']:.1f} | {a['blocks_read']} of {a['blocks_total']} | |",
        f"| floor: rasterio reads Zhejiang's box ({r['floor_px'] / 1e6:.2f} Mpx), one window | "
        f"{r['floor_s']:.3f} | {r['floor_s'] / r['zhejiang_s']:.2f} | | |",
        f"| `run_zonal`, Zhejiang, over HTTP (local range server) | {r['http_s']:.3f} | "
        f"{r['http_s'] / r['zhejiang_s']:.2f} | {z['blocks_read']} of {z['blocks_total']} | "
        f"{mb:.2f} of {r['file_mb']:.1f} ({100 * mb / r['file_mb']:.1f}%) |",
    ]
    lines = [
        SECTION,
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {r['machine']}.",
        "",
        f"National mosaic: MODIS IGBP 2019 over China upsampled x{r['scale']} by nearest "
        f"neighbour, {rows} x {cols} = {px / 1e6:.0f} Mpx, COG with {TILE} x {TILE} DEFLATE tiles "
        f"({r['file_mb']:.1f} MB; built in {r['generate_s']:.0f} s). Regions already read (a "
        "GeoDataFrame), tables only, 2 threads by default; medians of "
        f"{r['repeat']} runs after a warm-up. Zhejiang's run leaves {z['pixels_outside_extent'] / px:.1%} of the "
        "mosaic unread.",
        "",
        *table,
        "",
        f"Zhejiang takes {r['zhejiang_s'] / r['all_s']:.1%} of the all-provinces run's time for "
        f"{z['blocks_read'] / a['blocks_read']:.1%} of its blocks; the rest of a run is per-run "
        "work (zone index, pixel areas, tables). Each MODIS pixel is a "
        f"{r['scale']} x {r['scale']} square here, so tiles compress to almost nothing and "
        "decoding is nearly free: the floor is milliseconds, and a real 30 m mosaic decodes "
        "slower. Over HTTP (127.0.0.1, so no network latency) a run fetches "
        f"{r['http_bytes_per_run'] / 1e3:.0f} kB in {r['http_requests_per_run']:.0f} requests "
        "(header, then the tiles of its blocks), on a fresh URL each time (GDAL caches per URL).",
        "",
        f"<!-- results: {json.dumps(results)} -->",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it)."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    starts = [i for i, line in enumerate(lines) if line.rstrip() == SECTION]
    if not starts:
        path.write_text("".join(lines).rstrip("\n") + "\n\n" + text)
        return
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + tail if tail else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    results = bench(args.scale, args.repeat)
    results["machine"] = machine()
    arguments = argv if argv is not None else sys.argv[1:]
    results["command"] = shlex.join(["python", "benchmarks/province_window.py", *arguments])
    text = render(results)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
