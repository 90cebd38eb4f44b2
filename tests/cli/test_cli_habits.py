"""GIS command-line habits: -q/-o/--overwrite on every command that writes, help on every
option, and a line on stderr before a run's silent start."""

from __future__ import annotations

import os

import click
import pytest
from click.testing import CliRunner

from geocarbon.cli import cli, main

MODIS_CHINA = "landcover/modis_mcd12c1_china/MCD12C1.A2019001.006_LC_Type1_IGBP_China_crop.tif"
PROVINCES = "boundaries/china_provinces.geojson"

#: Commands that write files, and the habits each must offer.
WRITING_COMMANDS = {
    "stock": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "zonal": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "change": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "demo": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "map": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "figures": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    "report": ("-q", "--quiet", "--overwrite"),
    "style": ("-q", "--quiet", "-o", "--out", "--overwrite"),
    # npm reinstalls the same pinned versions in place: there is nothing to refuse.
    "web-assets": ("-q", "--quiet", "-o", "--out"),
}


def _commands(group: click.Group, prefix: str = "geocarbon"):
    yield prefix, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


def test_every_option_of_every_command_has_help():
    missing = [
        f"{path} {'/'.join(param.opts)}"
        for path, command in _commands(cli)
        for param in command.get_params(click.Context(command))
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert missing == []


def test_every_command_that_writes_is_listed():
    assert set(cli.commands) - set(WRITING_COMMANDS) == {"schemes"}


@pytest.mark.parametrize("name", sorted(WRITING_COMMANDS))
def test_writing_command_help_shows_quiet_out_and_overwrite(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    shown = set(result.output.replace(",", " ").split())
    assert [flag for flag in WRITING_COMMANDS[name] if flag not in shown] == []


def test_report_takes_an_out_path():
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert "--out" in result.output


def test_web_assets_out_and_dir_name_the_same_folder(tmp_path):
    command = cli.commands["web-assets"]
    for flag in ("-o", "--out", "--dir"):
        context = command.make_context("web-assets", [flag, str(tmp_path), "-q"])
        assert context.params == {"folder": tmp_path, "quiet": True}


def test_quiet_stock_prints_nothing_and_refuses_to_overwrite_by_name(
    capsys, landcover_tif, pools_csv, tmp_path
):
    out = tmp_path / "stock"
    assert main(["stock", str(landcover_tif), "-d", str(pools_csv), "-o", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    before = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    assert main(["stock", str(landcover_tif), "-d", str(pools_csv), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    # one line: the error, naming the file, and how to replace it
    assert captured.err.count("\n") == 1 and captured.err.startswith("Error:")
    assert "stock_summary.csv" in captured.err and "--overwrite" in captured.err
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == before


def test_web_assets_says_npm_s_failure_on_one_line(tmp_path, monkeypatch, capsys):
    """npm's many-line failure (here a registry 404, as npm 10 prints it) becomes one line that
    keeps npm's reason and drops its log-file pointers."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        "cat >&2 <<'OUT'\n"
        "npm error code E404\n"
        "npm error 404 Not Found - GET leaflet - Not found\n"
        "npm error 404\n"
        "npm error A complete log of this run can be found in: /root/.npm/_logs/x-debug-0.log\n"
        "OUT\n"
        "exit 1\n"
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert main(["web-assets", "--dir", str(tmp_path / "assets"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: npm could not install leaflet@"), err
    assert "code E404; 404 Not Found - GET leaflet - Not found" in err
    assert "_logs" not in err and "npm ping" in err
