"""The command line: help, version, schemes, stock, demo, and one-line errors with exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geocarbon import __version__
from geocarbon.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "stock" in out and "schemes" in out and "demo" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


def test_schemes_lists_all_and_one(capsys):
    code, out, _ = run(capsys, "schemes")
    assert code == 0
    for name in ("clcd", "cnlucc", "esa-cci", "esa-worldcover", "globeland30", "modis-igbp"):
        assert name in out
    code, out, _ = run(capsys, "schemes", "modis-igbp")
    assert code == 0 and "Woody savannas" in out and "-> CLCD 2" in out


def test_unknown_scheme_is_one_line_error(capsys):
    code, _, err = run(capsys, "schemes", "nope")
    assert (
        code == 1
        and err.startswith("Error: Unknown class scheme 'nope'")
        and "Traceback" not in err
    )


def test_stock_command(capsys, landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    code, stdout, _ = run(
        capsys, "stock", str(landcover_tif), "--densities", str(pools_csv), "--out", str(out), "-q"
    )
    assert code == 0 and (out / "density_total_mg_per_ha.tif").exists()
    code, _, err = run(capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "--out", str(out))
    assert code == 1 and "already exist" in err and "stock_summary.csv" in err
    code, stdout, _ = run(
        capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "--out", str(out), "--overwrite"
    )
    assert code == 0 and "Total stock 0.000688 Tg C" in stdout


def test_bad_table_message_without_traceback(capsys, landcover_tif, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("lucode,c_above\n1,2\n")
    code, _, err = run(
        capsys, "stock", str(landcover_tif), "-d", str(table), "--out", str(tmp_path / "o")
    )
    assert code == 1 and "t.csv" in err and "c_below" in err and "Traceback" not in err


def test_bad_option_is_usage_error(capsys, landcover_tif, pools_csv, tmp_path):
    code, _, err = run(
        capsys,
        "stock",
        str(landcover_tif),
        "-d",
        str(pools_csv),
        "--out",
        str(tmp_path),
        "--unknown",
        "maybe",
    )
    assert code == 2 and "--unknown" in err


def test_root_launcher_and_console_script_agree(tmp_path):
    launcher = subprocess.run(
        [sys.executable, str(REPO_ROOT / "cli.py"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert __version__ in launcher.stdout


@pytest.mark.slow
def test_demo_runs_on_the_bundled_sample(tmp_path, monkeypatch, capsys):
    # The one test that reads rasters/: the README's first command.
    monkeypatch.chdir(REPO_ROOT)
    code, out, err = run(capsys, "demo", "--out", str(tmp_path / "demo"), "-q")
    assert code == 0, err
    assert (tmp_path / "demo" / "density_total_mg_per_ha.tif").exists()
    assert (tmp_path / "demo" / "stock_summary.json").exists()


def test_zonal_command_writes_every_output(capsys, tmp_path, sample):
    import geopandas as gpd
    import pandas as pd

    out = tmp_path / "zonal"
    code, stdout, err = run(
        capsys,
        "zonal",
        str(sample.landcover[1]),
        "--regions",
        str(sample.regions),
        "--id-field",
        "adcode",
        "--name-field",
        "name",
        "--parent-field",
        "parent_adcode",
        "--densities",
        "china-clcd",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "6 regions hold" in stdout
    regions = gpd.read_file(out / "regions.gpkg")
    parquet = gpd.read_parquet(out / "regions.parquet")
    table = pd.read_csv(out / "regions.csv")
    by_class = pd.read_csv(out / "regions_by_class.csv")
    parents = pd.read_csv(out / "parents.csv")
    assert len(regions) == len(parquet) == 6 and regions.crs == parquet.crs
    assert table["region_id"].iloc[-1] == "unassigned"
    # the long table adds up to the wide one, per region
    by_region = by_class.groupby("region_id")["stock_total_mg"].sum()
    wide = table.set_index("region_id")["stock_total_mg"]
    pd.testing.assert_series_equal(by_region.sort_index(), wide.sort_index(), check_names=False)
    assert parents["stock_total_mg"].sum() == pytest.approx(wide.drop("unassigned").sum())


def test_zonal_bad_field_is_one_line_error(capsys, tmp_path, sample):
    code, _, err = run(
        capsys,
        "zonal",
        str(sample.landcover[1]),
        "--regions",
        str(sample.regions),
        "--id-field",
        "code",
        "--densities",
        "china-clcd",
        "--out",
        str(tmp_path / "z"),
    )
    assert code == 1 and "no field(s) code" in err and "adcode" in err and "Traceback" not in err
    assert not (tmp_path / "z").exists()


def test_change_command_with_years_and_valuation(capsys, tmp_path, sample):
    import pandas as pd

    out = tmp_path / "change"
    code, stdout, err = run(
        capsys,
        "change",
        str(sample.landcover[0]),
        str(sample.landcover[1]),
        "--years",
        "2000",
        "2020",
        "--regions",
        str(sample.regions),
        "--id-field",
        "adcode",
        "--densities",
        "china-clcd",
        "--price",
        "43",
        "--discount-rate",
        "-7.1",
        "--price-change",
        "2.8",
        "--draws",
        "200",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert stdout.startswith("2000-2020: net")
    change = pd.read_csv(out / "change.csv")
    assert {
        "net_change_mg",
        "gross_gain_mg",
        "npv",
        "net_change_mg_p5",
        "top_variance_pool",
    } <= set(change.columns)
    assert (out / "npv_2000-2020_per_ha.tif").exists() and (out / "regions.gpkg").exists()
    series = pd.read_csv(out / "series.csv")
    assert sorted(series["year"].unique()) == [2000, 2020]


def test_change_years_must_match_dates(capsys, tmp_path, sample):
    code, _, err = run(
        capsys,
        "change",
        str(sample.landcover[0]),
        str(sample.landcover[1]),
        "--years",
        "2000",
        "--densities",
        "china-clcd",
        "--out",
        str(tmp_path / "c"),
    )
    assert code == 1 and "2 land-cover rasters but 1 years" in err


def test_years_expansion():
    from geocarbon.cli import expand_years

    assert expand_years(["change", "a", "b", "--years", "2000", "2020", "--out", "o"]) == [
        "change",
        "a",
        "b",
        "--years",
        "2000",
        "--years",
        "2020",
        "--out",
        "o",
    ]


def test_map_and_figures_commands(capsys, tmp_path, sample):
    out = tmp_path / "zonal"
    code, _, err = run(
        capsys,
        "zonal",
        str(sample.landcover[1]),
        "--regions",
        str(sample.regions),
        "--id-field",
        "adcode",
        "--name-field",
        "name",
        "--densities",
        "china-clcd",
        "--out",
        str(out),
        "--map",
        "-q",
    )
    assert code == 0, err
    assert "Total stock (Gg C)" in (out / "map.html").read_text(encoding="utf-8")
    code, stdout, err = run(capsys, "map", str(out), "--out", str(tmp_path / "again.html"))
    assert code == 0 and "again.html" in stdout
    code, stdout, err = run(capsys, "map", str(out), "-o", str(tmp_path / "quiet.html"), "-q")
    assert code == 0 and stdout == "" and (tmp_path / "quiet.html").is_file()
    code, stdout, err = run(capsys, "figures", str(out))
    assert code == 0 and "stock_by_pool.png" in stdout and "stock_by_pool.svg" in stdout
    code, stdout, err = run(capsys, "figures", str(out), "-o", str(tmp_path / "figs"), "-q")
    assert code == 0 and stdout == "" and (tmp_path / "figs" / "stock_by_pool.svg").is_file()
    code, _, err = run(capsys, "figures", str(tmp_path / "empty"))
    assert code == 1 and str(tmp_path / "empty") in err and "Traceback" not in err


def test_change_valuation_out_of_range_is_one_line_error(capsys, tmp_path, sample):
    code, _, err = run(
        capsys,
        "change",
        str(sample.landcover[0]),
        str(sample.landcover[1]),
        "--years",
        "2000",
        "2020",
        "--densities",
        "china-clcd",
        "--out",
        str(tmp_path / "c"),
        "--price",
        "43",
        "--discount-rate",
        "-100",
    )
    assert code == 1 and "--discount-rate" in err and "-100" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_creation_options_reach_the_cogs_and_bad_ones_are_one_line(
    capsys, landcover_tif, pools_csv, tmp_path
):
    import rasterio

    out = tmp_path / "zstd"
    code, _, err = run(
        capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "-o", str(out), "-q",
        "--co", "COMPRESS=ZSTD", "--co", "level=9",
    )  # fmt: skip
    assert code == 0, err
    with rasterio.open(out / "density_total_mg_per_ha.tif") as dataset:
        assert dataset.compression.name.upper() == "ZSTD"
    bad = tmp_path / "bad"
    code, _, err = run(
        capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "-o", str(bad),
        "--co", "FOO=1",
    )  # fmt: skip
    assert code != 0 and "FOO" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert not bad.exists()


@pytest.mark.parametrize(
    ("option", "culprit"),
    [
        (["--encoding", "NO-SUCH-CODEC"], "NO-SUCH-CODEC"),
        (["--nodata", "300"], "landcover.tif"),
        (["--threads", "0"], "--threads"),
        (["--co", "LEVEL=fast"], "LEVEL"),
    ],
)
def test_new_options_given_something_wrong_are_one_line(
    capsys, landcover_tif, pools_csv, tmp_path, option, culprit
):
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "stock", str(landcover_tif), "-d", str(pools_csv), "-o", str(out), *option
    )
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert code != 0 and "Traceback" not in err
    assert len(errors) == 1 and culprit in errors[0], err  # click adds its usage line for --threads
    assert not out.exists() or list(out.iterdir()) == []
