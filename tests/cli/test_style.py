"""``geocarbon style``: the QGIS paletted style of a land cover's classes, from a built-in scheme
or a density table, written beside the raster (never over it) or where -o says."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from geocarbon.cli import main
from geocarbon.inputs.schemes import get_scheme


def palette(path: Path) -> list[tuple[int, str, str]]:
    """(code, colour, label) of every entry of the paletted style at ``path``."""
    renderer = ET.parse(path).getroot().find("pipe/rasterrenderer")
    assert renderer is not None and renderer.get("type") == "paletted"
    return [
        (int(entry.get("value", "")), entry.get("color", ""), entry.get("label", ""))
        for entry in renderer.iter("paletteEntry")
    ]


def test_a_scheme_by_name_with_its_colours_and_english_or_chinese_names(tmp_path, capsys):
    clcd = get_scheme("clcd")
    assert main(["style", "clcd", "-o", str(tmp_path / "clcd.qml")]) == 0
    assert "9 classes (scheme clcd)" in capsys.readouterr().out
    assert palette(tmp_path / "clcd.qml") == [
        (code, colour, f"{code} {name}")
        for code, colour, name in zip(clcd.codes, clcd.colors, clcd.names, strict=True)
    ]
    assert main(["style", "CLCD", "--lang", "zh", "-q", "-o", str(tmp_path / "zh.qml")]) == 0
    assert capsys.readouterr().out == ""
    labels = [label for _, _, label in palette(tmp_path / "zh.qml")]
    assert labels == [
        f"{code} {name}" for code, name in zip(clcd.codes, clcd.names_zh, strict=True)
    ]
    assert labels[:2] == ["1 耕地", "2 林地"]


def test_beside_the_raster_then_refused_without_overwrite(landcover_tif, capsys):
    before = hashlib.sha256(landcover_tif.read_bytes()).hexdigest()
    style = landcover_tif.with_suffix(".qml")
    assert main(["style", str(landcover_tif), "--scheme", "clcd"]) == 0
    assert str(style) in capsys.readouterr().out
    assert len(palette(style)) == 9
    style.write_text("a user's own style", "utf-8")
    assert main(["style", str(landcover_tif), "--scheme", "clcd"]) == 1
    err = capsys.readouterr().err
    assert str(style) in err and "--overwrite" in err and "Traceback" not in err
    assert style.read_text("utf-8") == "a user's own style"
    assert main(["style", str(landcover_tif), "--scheme", "clcd", "--overwrite", "-q"]) == 0
    assert len(palette(style)) == 9
    # the raster itself is never the output, whatever --overwrite says
    code = main(["style", str(landcover_tif), "--scheme", "clcd", "-o", str(landcover_tif)])
    assert code == 2 and "-o/--out" in capsys.readouterr().err
    assert hashlib.sha256(landcover_tif.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in landcover_tif.parent.iterdir()) == [
        "landcover.qml",
        "landcover.tif",
    ]  # no temporary left


def test_classes_of_a_density_table(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "pools.qml"
    assert main(["style", str(landcover_tif), "-d", str(pools_csv), "-o", str(out), "-q"]) == 0
    entries = palette(out)
    assert [(code, label) for code, _, label in entries] == [
        (1, "1 Forest"),
        (2, "2 Grass"),
        (3, "3 Urban"),
    ]
    assert len({colour for _, colour, _ in entries}) == 3  # told apart without a scheme
    # the built-in table crosswalked to the raster's scheme: WorldCover codes in its colours
    worldcover = get_scheme("esa-worldcover")
    out = tmp_path / "worldcover.qml"
    args = ["-d", "china-clcd", "--scheme", "worldcover", "-o", str(out), "-q"]
    assert main(["style", str(landcover_tif), *args]) == 0
    entries = palette(out)
    assert [code for code, _, _ in entries] == list(worldcover.codes)
    assert [colour for _, colour, _ in entries] == list(worldcover.colors)


def test_hostile_class_names_stay_data(landcover_tif, tmp_path):
    table = tmp_path / "hostile.csv"
    table.write_text(
        "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n"
        '1,"{{7*7}} <script>alert(1)</script>",1,1,1,1\n'
        '2,"a & b ]]> \'q\' ""dq""",1,1,1,1\n'
        "3,=HYPERLINK(1),1,1,1,1\n",
        "utf-8",
    )
    out = tmp_path / "hostile.qml"
    assert main(["style", str(landcover_tif), "-d", str(table), "-o", str(out), "-q"]) == 0
    assert [label for _, _, label in palette(out)] == [
        "1 {{7*7}} <script>alert(1)</script>",
        "2 a & b ]]> 'q' \"dq\"",
        "3 =HYPERLINK(1)",
    ]


@pytest.mark.parametrize(
    "args,words",
    [
        (["nonsense"], ["LANDCOVER_OR_SCHEME", "'nonsense'", "clcd", "esa-worldcover"]),
        (["clcd"], ["-o OUT.qml"]),
        (["clcd", "--scheme", "igbp", "-o", "x.qml"], ["--scheme", "'igbp'"]),
        (["clcd", "-o", "clcd.tif"], ["-o/--out", ".qml"]),
        (["{landcover}"], ["--scheme", "--densities"]),
    ],
)
def test_bad_arguments_are_usage_errors(args, words, landcover_tif, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    argv = [arg.format(landcover=landcover_tif) for arg in args]
    assert main(["style", *argv]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert all(word in err for word in words), err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*.qml"))


def test_a_file_that_is_no_land_cover_gets_no_style(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a raster")
    assert main(["style", str(notes), "--scheme", "clcd"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt" in err and "cannot be opened by GDAL" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_a_remote_land_cover_is_opened_and_its_style_written_where_o_says(
    landcover_tif, tmp_path, capsys
):
    from range_server import serve

    with serve(landcover_tif.parent) as server:
        url = f"{server.url}/{landcover_tif.name}"
        assert main(["style", url, "--scheme", "clcd"]) == 2  # nowhere beside a URL: -o
        assert "-o OUT.qml" in capsys.readouterr().err
        assert main(["style", url, "--scheme", "clcd", "-o", str(tmp_path / "r.qml"), "-q"]) == 0
        assert server.served.bytes_by_path[f"/{landcover_tif.name}"] > 0  # it was read
    assert len(palette(tmp_path / "r.qml")) == len(get_scheme("clcd").codes)
