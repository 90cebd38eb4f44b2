"""One configuration: defaults in geocarbon.config (the CLI shows them), one-line ConfigErrors,
named warnings under GeoCarbonWarning that point at the caller's line."""

from __future__ import annotations

import inspect
import os
import re
import warnings
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from rasterio.crs import CRS

import geocarbon
from geocarbon import config, errors
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.area import pixel_area
from geocarbon.cli import ThreadsType, cli, main
from geocarbon.engine.zones import build_zone_index
from geocarbon.errors import (
    AreaMethodWarning,
    ConfigError,
    EncodingGuessWarning,
    GeoCarbonError,
    GeoCarbonWarning,
    OverlapWarning,
    RegionWarning,
)
from geocarbon.grid import GridSpec

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM

#: Every option whose default --help shows, and the constant it must show.
SHOWN_DEFAULTS = {
    "--memory-mb": config.DEFAULT_MEMORY_MB,
    "--threads": config.default_threads(),
    "--unknown": config.DEFAULT_UNKNOWN,
    "--area": config.DEFAULT_AREA_METHOD,
    "--coverage": config.DEFAULT_COVERAGE,
    "--discount-rate": config.DEFAULT_DISCOUNT_RATE_PCT,
    "--price-change": config.DEFAULT_PRICE_CHANGE_PCT,
    "--draws": config.DEFAULT_DRAWS,
    "--seed": config.DEFAULT_SEED,
    "--distribution": config.DEFAULT_DISTRIBUTION,
    "--correlation": config.DEFAULT_CORRELATION,
    "--soil-transition-years": config.DEFAULT_SOIL_TRANSITION_YEARS,
    "--lang": config.DEFAULT_LANGUAGE,
    "--dpi": float(config.DEFAULT_DPI),
    "--out": config.DEMO_OUT_DIR,  # only demo has a default folder
}
#: Modules whose warnings still go through warnings.warn (their owners switch them to errors.warn).
PENDING_WARN_SITES: set[str] = set()


def commands() -> list[tuple[str, click.Command]]:
    """``("", group)`` and every subcommand, however deeply nested."""
    found: list[tuple[str, click.Command]] = []

    def walk(name: str, command: click.Command) -> None:
        found.append((name, command))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(f"{name} {sub_name}".strip(), sub)

    walk("", cli)
    return found


def test_every_option_of_every_command_has_help():
    missing = [
        f"{name or 'geocarbon'} {param.opts[0]}"
        for name, command in commands()
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing
    assert len(commands()) >= 8  # the group, stock, zonal, change, map, figures, demo, ...


def test_defaults_shown_by_help_are_configs_constants():
    shown: dict[tuple[str, str], str] = {}
    for name, command in commands():
        context = click.Context(command, info_name=name)
        for param in command.params:
            record = param.get_help_record(context)
            found = re.search(r"\[default: ([^;\]]+)", record[1]) if record else None
            if found:
                shown[name, param.opts[-1]] = found.group(1)
    assert {option for _, option in shown} <= set(SHOWN_DEFAULTS)  # no untracked literal default
    assert {"--memory-mb", "--threads", "--unknown", "--area", "--coverage", "--draws"} <= {
        option for _, option in shown
    }
    for (name, option), text in shown.items():
        assert text == str(SHOWN_DEFAULTS[option]), (name, option)


def test_help_page_shows_the_defaults(capsys):
    assert main(["change", "--help"]) == 0
    page = " ".join(capsys.readouterr().out.split())
    assert f"[default: {config.DEFAULT_DRAWS}; x>=0]" in page
    assert f"[default: {config.DEFAULT_DISTRIBUTION}]" in page
    assert "-o, --out" in page and "-q, --quiet" in page and "N|all" in page


@pytest.mark.parametrize(
    "check,value,words",
    [
        (config.check_unknown, "ignore", ["unknown=", "--unknown", "'ignore'", "'zero'"]),
        (config.check_area_method, "guess", ["area_method=", "--area", "'guess'", "'planar'"]),
        (config.check_coverage, "touched", ["coverage=", "--coverage", "'all-touched'"]),
        (config.check_distribution, "normal", ["--distribution", "'normal'", "'pert'"]),
        (config.check_correlation, None, ["--correlation", "None", "'pool'"]),
        (config.check_threads, 0, ["--threads", "got 0", "'all'"]),
        (config.check_threads, "two", ["--threads", "'two'", "at least 1"]),
        (config.check_threads, True, ["--threads", "True"]),
        (config.check_memory_mb, 8, ["--memory-mb", "got 8", "at least 16"]),
        (config.check_memory_mb, 64.5, ["--memory-mb", "64.5"]),
        (config.check_draws, 0, ["draws=", "--draws", "at least 1"]),
        (config.check_block_shape, (0, 5), ["block_shape=", "(0, 5)", "--memory-mb"]),
        (config.check_block_shape, (256,), ["block_shape=", "(256,)"]),
        (config.check_years, [2000, 2016.5], ["years=", "--years", "2016.5", "whole year"]),
        (config.check_years, ["2000", "2020.0x"], ["--years", "'2020.0x'"]),
        (config.check_years, 2000, ["--years", "one year per land cover"]),
    ],
)
def test_bad_choices_are_one_line_config_errors(check, value, words):
    with pytest.raises(ConfigError) as raised:
        check(value)
    message = str(raised.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert isinstance(raised.value, GeoCarbonError) and isinstance(raised.value, ValueError)


def test_good_choices_pass_through():
    assert config.check_unknown("zero") == "zero"
    assert config.check_threads("all") == config.check_threads("ALL") == (os.cpu_count() or 1)
    assert config.check_threads(3) == config.check_threads("3") == 3
    assert config.check_memory_mb(16) == 16
    assert config.check_rate_pct("discount_rate_pct", 5) == 5.0
    assert config.check_block_shape([256, 512]) == (256, 512)
    assert Valuation(np.int64(43), np.float32(5.0)).constant(2000, 2001) == pytest.approx(43.0)
    assert MonteCarlo(np.int64(10), np.int64(3)) == MonteCarlo(10, 3)
    assert type(MonteCarlo(np.int64(10)).draws) is int
    assert config.check_years(["2000", 2020, np.int64(2030), 2040.0]) == (2000, 2020, 2030, 2040)


def test_library_entry_points_raise_config_errors_naming_the_option():
    grid = GridSpec(CRS.from_epsg(3035), Affine(100, 0, 0, 0, -100, 0), 2, 2)
    regions = gpd.GeoDataFrame({"region_id": ["a"]}, geometry=[shapely.box(0, -200, 200, 0)])
    cases = [
        (lambda: pixel_area(grid, "guess"), "--area"),
        (lambda: build_zone_index(regions.set_crs(3035), grid, "touched"), "--coverage"),
        (lambda: MonteCarlo(distribution="normal"), "--distribution"),
        (lambda: MonteCarlo(draws=0), "--draws"),
        (lambda: MonteCarlo(seed=-1), "--seed"),  # numpy's own ValueError before
        (lambda: Valuation(43.0, discount_rate_pct=-100.0), "--discount-rate"),
        (lambda: Valuation(43.0, price_change_pct=float("nan")), "--price-change"),
        (lambda: Valuation(float("inf")), "--price"),
    ]
    for build, option in cases:
        with pytest.raises(ConfigError, match=re.escape(option)) as raised:
            build()
        assert "\n" not in str(raised.value)


def test_as_path_accepts_str_and_path_like(tmp_path):
    assert config.as_path(str(tmp_path / "a.tif")) == tmp_path / "a.tif"
    assert config.as_path(tmp_path) is tmp_path
    assert config.as_path(os.fsencode(tmp_path).decode()) == tmp_path
    assert config.as_optional_path(None) is None
    assert config.as_optional_path("out", "out_dir") == Path("out")
    for bad in ("", "  ", 3, None, b"out"):
        with pytest.raises(ConfigError, match=r"out_dir= \(--out\) got .*give a file or folder"):
            config.as_path(bad, "out_dir")  # type: ignore[arg-type]


def test_threads_all_and_quiet_on_the_command_line(capsys, landcover_tif, pools_csv, tmp_path):
    assert ThreadsType().convert("all", None, None) == (os.cpu_count() or 1)
    stock = ["stock", str(landcover_tif), "-d", str(pools_csv)]
    code = main([*stock, "-o", str(tmp_path / "a"), "--threads", "all", "-q"])
    out, err = capsys.readouterr()
    assert code == 0 and out == "" and (tmp_path / "a" / "stock_summary.csv").is_file()
    code = main([*stock, "-o", str(tmp_path / "b"), "--threads", "1"])
    assert code == 0 and "Total stock" in capsys.readouterr().out
    for bad in ("0", "two"):
        code = main([*stock, "-o", str(tmp_path / "c"), "--threads", bad])
        err = capsys.readouterr().err
        assert code == 2 and "Invalid value for '--threads'" in err and "'all'" in err
        assert "Traceback" not in err and not (tmp_path / "c").exists()


# --- Warnings ------------------------------------------------------------------------------------


def test_every_warning_class_is_a_geocarbon_warning():
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, Warning)
    ]
    assert len(classes) >= 8
    assert all(issubclass(value, GeoCarbonWarning) for value in classes)
    assert issubclass(OverlapWarning, RegionWarning)
    from geocarbon.inputs.densities import EncodingGuessWarning as from_tables

    assert from_tables is EncodingGuessWarning  # old import path kept


def test_warnings_are_given_only_through_errors_warn():
    package = Path(geocarbon.__file__).parent
    direct = sorted(
        path.name
        for path in package.rglob("*.py")
        if re.search(r"warnings\.warn\(|UserWarning", path.read_text(encoding="utf-8"))
        and path.name != "errors.py"
    )
    assert set(direct) <= PENDING_WARN_SITES, direct


def test_warn_points_at_the_caller_and_obeys_filters():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(2):
            errors.warn("same line twice", RegionWarning)  # the registry shows it once
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        warnings.filterwarnings("ignore", category=RegionWarning)
        errors.warn("silenced with its family", OverlapWarning)
        errors.warn("another family", AreaMethodWarning)
    assert [str(w.message) for w in caught] == ["same line twice", "another family"]
    assert caught[0].filename == __file__ and caught[0].lineno == line
    assert caught[0].category is RegionWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeoCarbonWarning)
        with pytest.raises(AreaMethodWarning):
            errors.warn("as an error", AreaMethodWarning)


def gbk_table(tmp_path: Path) -> Path:
    path = tmp_path / "gbk.csv"
    text = "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n1,森林,15,10,60,1\n2,草地,5,3,20,0\n"
    path.write_bytes(text.encode("gbk") + b"3,Urban,2,1,5,0\n")
    return path


def overlapping_regions(tmp_path: Path) -> Path:
    west, north = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f
    frame = gpd.GeoDataFrame(
        {"code": ["a", "b"], "label": ["A", None]},
        geometry=[
            shapely.box(west, north - 400, west + 300, north),
            shapely.box(west + 100, north - 400, west + 400, north),
        ],
        crs=EQUAL_AREA_CRS,
    )
    path = tmp_path / "regions.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def test_warnings_through_zonal_stocks_point_at_the_caller(tmp_path, landcover_tif):
    table, regions = gbk_table(tmp_path), overlapping_regions(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = geocarbon.zonal_stocks(
            str(landcover_tif), str(regions), str(table), id_field="code", name_field="label"
        )
    line = inspect.currentframe().f_lineno - 3  # type: ignore[union-attr]
    assert list(result["region_id"]) == ["a", "b", "unassigned"]
    kinds = {w.category for w in caught}
    assert {EncodingGuessWarning, RegionWarning, OverlapWarning} <= kinds, caught
    for warning in caught:
        assert issubclass(warning.category, GeoCarbonWarning), warning
        assert (warning.filename, warning.lineno) == (__file__, line), warning
    overlap = next(w for w in caught if w.category is OverlapWarning)
    assert "a/b" in str(overlap.message)


def test_warnings_stay_on_the_command_line_with_quiet(capsys, tmp_path, landcover_tif, pools_csv):
    regions = overlapping_regions(tmp_path)
    code = main(
        ["zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code"]
        + ["-d", str(pools_csv), "-o", str(tmp_path / "out"), "-q"]
    )
    out, err = capsys.readouterr()
    assert code == 0 and out == ""
    lines = err.splitlines()
    assert lines == ["Warning: " + line[len("Warning: ") :] for line in lines]  # one line each
    assert any("1 pair(s) of regions overlap (a/b)" in line for line in lines)


def test_area_warning_points_at_the_caller():
    grid = GridSpec(CRS.from_epsg(32650), Affine(30, 0, 500_000, 0, -30, 4_000_000), 10, 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        area = pixel_area(grid)
    assert area.method == "scale-factor"
    assert [w.category for w in caught] == [AreaMethodWarning]
    assert caught[0].filename == __file__
    assert np.isfinite(area.nominal_ha)
