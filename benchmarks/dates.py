"""Multi-date at the single-date rate (issue 11, goal 2): change over N dates against zonal.

Synthetic CLCD-like dates (uint8, 256x256 DEFLATE tiles, EPSG:4326 over China, cut by the 34
real provinces) that evolve: each date re-draws a few percent of the previous date's patches,
as an annual land-cover series does. Eight distinct dates are written; longer series cycle
through them (every date is still decoded and counted on its own). Each run is timed in process
(the pixel pass alone, and the whole run) and as a fresh ``geocarbon`` process under GNU time
for its peak RSS. Ratios are per pixel-date: (change seconds / N) / (zonal seconds).

    python benchmarks/dates.py --pixels 1e8 --dates 2 10 39 --repeat 3 --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_bounds
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parent))
from run import (  # noqa: E402 (the shared benchmark helpers live beside this script)
    BOUNDS,
    GEOCARBON,
    ID_FIELD,
    PROVINCES,
    grid_shape,
    machine,
    timed_child,
)

SECTION = "## Many dates at the single-date rate (issue 11)"
DISTINCT_DATES = 8
CHANGED_SHARE = 0.03
CHINA_30M_PX = 1.07e10
CLCD_DATES = 39


def write_series(folder: Path, pixels: float, n_dates: int, seed: int = 11) -> list[Path]:
    """``n_dates`` evolving land covers of ~``pixels`` px each (written strip by strip)."""
    rows, cols = grid_shape(pixels)
    cell = max(8, cols // 400)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(1, 10, (rows // cell + 3, cols // cell + 3)).astype(np.uint8)
    amp, period, border = cell // 2, 3.0 * cell, max(1, cols // 200)
    profile = dict(driver="GTiff", dtype="uint8", count=1, nodata=0, crs="EPSG:4326")
    profile |= dict(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    profile |= dict(width=cols, height=rows, transform=from_bounds(*BOUNDS, cols, rows))
    col = np.arange(cols, dtype=np.int32)
    col_warp = (amp + amp * np.sin(col / period)).astype(np.int32)
    paths = []
    for date in range(n_dates):
        if date:
            changed = rng.random(coarse.shape) < CHANGED_SHARE
            coarse = np.where(changed, rng.integers(1, 10, coarse.shape), coarse).astype(np.uint8)
        path = folder / f"date_{date:02d}.tif"
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open(path, "w", **profile) as dst:
            for row0 in range(0, rows, 256):
                row = np.arange(row0, min(rows, row0 + 256), dtype=np.int32)
                row_warp = (amp + amp * np.sin(row / period)).astype(np.int32)
                strip = coarse[(row[:, None] + col_warp) // cell, (col + row_warp[:, None]) // cell]
                strip[:, (col < border) | (col >= cols - border)] = 0
                strip[(row < border) | (row >= rows - border)] = 0
                dst.write(strip, 1, window=Window(0, row0, cols, len(row)))
        paths.append(path)
    return paths


def series(paths: list[Path], n: int) -> list[Path]:
    return [paths[k % len(paths)] for k in range(n)]


def in_process(dates: list[Path], repeat: int) -> dict[str, float]:
    """Median seconds of the pixel pass and of the whole run (tables only, nothing written)."""
    import geocarbon.runs.common as pipeline
    from geocarbon.runs.change import ChangeConfig, run_change
    from geocarbon.runs.zonal import ZonalConfig, run_zonal

    pass_seconds: list[float] = []
    run_pass = pipeline.run_pass

    def timed_pass(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        output = run_pass(*args, **kwargs)
        pass_seconds.append(time.perf_counter() - start)
        return output

    pipeline.run_pass = timed_pass  # type: ignore[assignment]
    common = dict(densities="china-clcd", progress=False, threads=2)
    try:

        def run() -> None:
            if len(dates) == 1:
                config = ZonalConfig(
                    landcover=dates[0], regions=PROVINCES, id_field=ID_FIELD, **common
                )
                run_zonal(config)
            else:
                years = tuple(range(1985, 1985 + len(dates)))
                config = ChangeConfig(
                    landcovers=tuple(dates),
                    years=years,
                    regions=PROVINCES,
                    id_field=ID_FIELD,
                    monte_carlo=None,
                    **common,
                )
                run_change(config)

        run()  # warm-up: numba caches, GDAL
        whole = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            whole.append(time.perf_counter() - start)
    finally:
        pipeline.run_pass = run_pass  # type: ignore[assignment]
    return dict(
        pass_s=statistics.median(pass_seconds[1:]), run_s=statistics.median(whole), n=repeat
    )


def fresh_process(dates: list[Path], tmp: Path) -> dict[str, float]:
    """Wall seconds and peak RSS of one ``geocarbon`` process (tables only)."""
    out = Path(tempfile.mkdtemp(dir=tmp))
    common = ["--regions", str(PROVINCES), "--id-field", ID_FIELD, "-d", "china-clcd"]
    common += ["-o", str(out / "run"), "-q", "--threads", "2"]
    if len(dates) == 1:
        command = [str(GEOCARBON), "zonal", str(dates[0]), *common]
    else:
        years = [str(1985 + k) for k in range(len(dates))]
        command = [str(GEOCARBON), "change", *map(str, dates), "--years", *years, *common]
        command += ["--no-rasters", "--draws", "0"]
    seconds, rss = timed_child(command)
    return dict(s=seconds, rss_gib=rss, command=shlex.join(["geocarbon", *command[1:]]))


def render(results: dict) -> str:
    px = results["pixels"]
    zonal = results["runs"]["1"]
    lines = [
        SECTION,
        "",
        f"Machine: {results['machine']}. Command: `{results['command']}`.",
        f"Dates: {px:.3g} px each (uint8, 256x256 DEFLATE tiles), {DISTINCT_DATES} distinct "
        f"dates each re-drawing {CHANGED_SHARE:.0%} of the previous one's patches (longer "
        "series cycle through them), 34 provinces, tables only. In process: medians of "
        f"{zonal['n']} runs after a warm-up; fresh process: one run under GNU time.",
        "",
        "| run | dates | pass s | pass ns per px-date | pass ratio to zonal (per px-date) "
        "| whole run s | whole ratio | fresh process s | peak RSS GiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, run in sorted(results["runs"].items(), key=lambda item: int(item[0])):
        n = int(key)
        per = run["pass_s"] / n / px * 1e9
        ratio = (run["pass_s"] / n) / zonal["pass_s"]
        whole = (run["run_s"] / n) / zonal["run_s"]
        lines.append(
            f"| {'zonal' if n == 1 else 'change'} | {n} | {run['pass_s']:.2f} | {per:.2f} | "
            f"{ratio:.2f}x | {run['run_s']:.2f} | {whole:.2f}x | {run['fresh']['s']:.1f} | "
            f"{run['fresh']['rss_gib']:.2f} |"
        )
    longest = max(results["runs"], key=int)
    run = results["runs"][longest]
    n = int(longest)
    per_px_date = run["pass_s"] / n / px
    fixed = run["run_s"] - run["pass_s"]
    china = CHINA_30M_PX * CLCD_DATES * per_px_date + fixed
    worst = max(
        (r["pass_s"] / int(k)) / zonal["pass_s"] for k, r in results["runs"].items() if k != "1"
    )
    lines += [
        "",
        f"Goal: change costs per pixel-date at most 1.3x a zonal run: worst ratio {worst:.2f}x, "
        f"{'**met**' if worst <= 1.3 else '**missed**'}. Peak RSS stays flat with the number of "
        "dates (blocks of every date are read together; memory is bounded by the block budget).",
        f"China at 30 m, {CLCD_DATES} dates by province, extrapolated from the {n}-date run: "
        f"{CHINA_30M_PX:.3g} px x {CLCD_DATES} dates x {per_px_date * 1e9:.2f} ns + "
        f"{fixed:.1f} s fixed = **{china / 60:.1f} min** (target: under 30 min, "
        f"{'**met**' if china < 1800 else '**missed**'}). Real CLCD decodes slower than these "
        "synthetic patches (more edges per tile), so read this as a lower bound.",
        "",
        f"<!-- results: {json.dumps(results)} -->",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
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
    parser.add_argument("--pixels", type=float, default=1e8)
    parser.add_argument("--dates", type=int, nargs="+", default=[2, 10, 39])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/dates.py", *(argv or sys.argv[1:])])
    results: dict = {"machine": machine(), "command": command, "pixels": 0, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="geocarbon-dates-") as name:
        tmp = Path(name)
        start = time.perf_counter()
        distinct = write_series(tmp, args.pixels, min(DISTINCT_DATES, max(args.dates)))
        rows, cols = grid_shape(args.pixels)
        results["pixels"] = rows * cols
        results["generate_s"] = time.perf_counter() - start
        for n in [1, *args.dates]:
            dates = series(distinct, n)
            run = in_process(dates, args.repeat)
            run["fresh"] = fresh_process(dates, tmp)
            results["runs"][str(n)] = run
            print(f"{n} dates: {run}", flush=True)
    text = render(results)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
