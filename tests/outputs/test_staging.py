"""A run owns its output folder: inputs are never outputs, one run at a time, a manifest of what
it wrote, clean-up on failure, signals and dead runs, and one line when the disk refuses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from geocarbon.cli import main
from geocarbon.errors import ConfigError, OutputExistsError, OutputWriteError
from geocarbon.outputs.folder import LOCK_NAME, MANIFEST_NAME, local_path
from geocarbon.outputs.staging import STAGED_NAME
from geocarbon.runs.stock import StockConfig, run_stock

from conftest import IN_CI, write_raster

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def hidden_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if STAGED_NAME.match(p.name) or p.name == LOCK_NAME]


def stock(landcover, densities, out, **options):
    return run_stock(
        StockConfig(
            landcover=landcover, densities=densities, out_dir=out, progress=False, **options
        )
    )


# -- an output path is never an input path ---------------------------------------------------------


def test_out_folder_holding_the_regions_never_replaces_them(capsys, sample, tmp_path):
    """--out at the folder of the regions GeoPackage, with --overwrite: refused, input intact."""
    data = tmp_path / "data"
    data.mkdir()
    regions = data / "regions.gpkg"
    shutil.copy(sample.regions, regions)
    before = snapshot(data)
    code, err = cli(
        capsys,
        "zonal",
        str(sample.landcover[-1]),
        "--regions",
        str(regions),
        "--id-field",
        "adcode",
        "-d",
        "china-clcd",
        "--out",
        str(data),
        "--overwrite",
        "-q",
    )
    assert code == 1 and "regions.gpkg" in err and "destroy the input" in err
    assert len([line for line in err.splitlines() if line.startswith("Error")]) == 1
    assert snapshot(data) == before


def test_output_reached_through_a_symlink_is_still_the_input(landcover_tif, pools_csv, tmp_path):
    """The table lives in the real folder; --out names a symlink to that folder."""
    real = tmp_path / "real"
    real.mkdir()
    table = real / "stock_summary.csv"
    shutil.copy(pools_csv, table)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    before = table.read_bytes()
    with pytest.raises(ConfigError, match="stock_summary.csv"):
        stock(landcover_tif, table, link, overwrite=True)
    assert table.read_bytes() == before and hidden_leftovers(real) == []


def test_out_folder_that_is_the_tile_folder_is_refused(tmp_path, pools_csv):
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    write_raster(tiles / "a.tif", np.ones((4, 4), np.uint8))
    with pytest.raises(ConfigError, match="read as inputs"):
        stock(tiles, pools_csv, tiles)
    assert sorted(p.name for p in tiles.iterdir()) == ["a.tif"]


def test_gdal_virtual_paths_reduce_to_their_local_archive(tmp_path):
    archive = tmp_path / "lc.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inner/lc.tif", b"x")
    assert local_path(f"/vsizip/{archive}/inner/lc.tif") == archive
    assert local_path("/vsicurl/https://example.invalid/lc.tif") is None
    assert local_path("https://example.invalid/lc.tif") is None


def test_out_naming_a_file_is_one_line(capsys, landcover_tif, pools_csv, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    code, err = cli(capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "--out", str(target))
    assert code == 1 and "notes.txt" in err and "is a file" in err
    assert len(err.strip().splitlines()) == 1 and target.read_text() == "mine"


# -- a run owns its output set -----------------------------------------------------------------------


def test_overwrite_with_fewer_outputs_removes_the_previous_runs_own_files(
    landcover_tif, pools_csv, tmp_path
):
    out = tmp_path / "out"
    stock(landcover_tif, pools_csv, out)
    assert (out / "density_total_mg_per_ha.tif").exists()
    (out / "my_notes.txt").write_text("not geocarbon's")
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert {"density_total_mg_per_ha.tif", "stock_summary.csv"} <= {
        f["name"] for f in manifest["files"]
    }
    stock(landcover_tif, pools_csv, out, write_rasters=False, overwrite=True)
    assert not list(out.glob("*.tif")), "the previous run's rasters must not look current"
    assert (out / "my_notes.txt").read_text() == "not geocarbon's"
    names = {f["name"] for f in json.loads((out / MANIFEST_NAME).read_text())["files"]}
    assert names == {"stock_summary.csv", "stock_summary.json"}


def test_a_previous_runs_folder_needs_overwrite_even_without_name_clashes(
    landcover_tif, pools_csv, tmp_path
):
    out = tmp_path / "out"
    stock(landcover_tif, pools_csv, out)
    before = snapshot(out)
    with pytest.raises(OutputExistsError, match="already exist"):
        stock(landcover_tif, pools_csv, out, write_rasters=False)
    assert snapshot(out) == before


def test_a_manifest_never_reaches_outside_its_folder(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    stock(landcover_tif, pools_csv, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest["files"] += [{"name": "../victim.txt"}, {"name": str(victim)}]
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    stock(landcover_tif, pools_csv, out, write_rasters=False, overwrite=True)
    assert victim.read_text() == "keep"


# -- one run at a time; dead runs leave nothing for good -------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from geocarbon.outputs.folder import FolderLock
lock = FolderLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_second_run_into_a_locked_folder_is_refused_until_the_holder_dies(
    landcover_tif, pools_csv, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            OutputExistsError, match=rf"in use by another geocarbon run.*{holder.pid}"
        ):
            stock(landcover_tif, pools_csv, out)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    finally:
        holder.kill()  # dies without cleaning up: its lock file stays behind
        holder.wait()
    assert (out / LOCK_NAME).exists()
    stock(landcover_tif, pools_csv, out)  # the dead run's lock is taken over
    assert (out / "stock_summary.csv").exists() and not (out / LOCK_NAME).exists()


def test_stale_scratch_of_dead_runs_is_removed_and_nothing_else(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = [
        out / ".density_total_mg_per_ha.0123abcd.partial.scratch.tif",
        out / ".density_total_mg_per_ha.0123abcd.partial.scratch.ovr1.tif",
        out / ".stock_summary.0123abcd.partial.csv",
    ]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    (out / ".stock_summary.0123abcd.partial.scratch").mkdir()
    keep = [out / ".hidden_user_file", out / "notes.partial.txt", out / ".a.partial.tif"]
    for path in keep:
        path.write_text("user")
    stock(landcover_tif, pools_csv, out)
    assert not any(p.exists() for p in stale)
    assert not (out / ".stock_summary.0123abcd.partial.scratch").exists()
    assert all(p.read_text() == "user" for p in keep)


def test_sigterm_mid_run_leaves_nothing_behind(raster_factory, pools_csv, tmp_path):
    """A real process killed with SIGTERM while it writes rasters: no scratch, no lock, no outputs."""
    rng = np.random.default_rng(0)
    landcover = raster_factory("big.tif", rng.integers(1, 4, (6000, 6000)).astype(np.uint8))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "geocarbon.cli",
            "stock",
            str(landcover),
            "-d",
            str(pools_csv),
            "--out",
            str(out),
            "--memory-mb",
            "16",
            "-q",
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.is_dir() and any(STAGED_NAME.match(p.name) for p in out.iterdir()):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before its scratch files could be seen"
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "SIGTERM" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []


# -- the disk refuses: one line, nothing left --------------------------------------------------------


@pytest.fixture
def mount_point(tmp_path):
    """Mount a filesystem of our own (tmpfs, or a read-only bind): needs root; CI runs as root."""
    mounted: list[Path] = []

    def mount(*args: str) -> Path:
        target = tmp_path / f"mnt{len(mounted)}"
        target.mkdir()
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            if IN_CI:
                pytest.fail(f"mount failed in CI: {done.stderr}")
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_full_disk_is_one_line_and_leaves_nothing(capsys, raster_factory, pools_csv, mount_point):
    rng = np.random.default_rng(1)
    landcover = raster_factory("lc.tif", rng.integers(1, 4, (1500, 1500)).astype(np.uint8))
    small = mount_point("-t", "tmpfs", "-o", "size=1m", "tmpfs")
    out = small / "out"
    code, err = cli(capsys, "stock", str(landcover), "-d", str(pools_csv), "--out", str(out), "-q")
    assert code == 1 and "full" in err and str(small) in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


def test_read_only_folder_is_one_line(capsys, landcover_tif, pools_csv, tmp_path, mount_point):
    source = tmp_path / "ro_source"
    source.mkdir()
    read_only = mount_point("--bind", str(source))
    subprocess.run(["mount", "-o", "remount,ro,bind", str(read_only)], check=True)
    code, err = cli(
        capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "--out", str(read_only / "out")
    )
    assert code == 1 and "read-only" in err and "--out" in err
    assert len(err.strip().splitlines()) == 1
    assert list(source.iterdir()) == []


def test_write_error_names_what_failed():
    from geocarbon.outputs.folder import _write_error

    error = _write_error(OSError(28, "No space left on device", "/x/a.tif"), Path("/x"))
    assert isinstance(error, OutputWriteError) and "full" in str(error) and "a.tif" in str(error)


def test_python_entry_is_clean_after_a_failure(landcover_tif, tmp_path):
    """A failing run (bad table) leaves no lock, no manifest and no folder contents."""
    bad = tmp_path / "bad.csv"
    bad.write_text("lucode,c_above\n1,abc\n")
    out = tmp_path / "out"
    with pytest.raises(Exception, match="bad.csv"):
        stock(landcover_tif, bad, out)
    assert not out.exists() or os.listdir(out) == []
