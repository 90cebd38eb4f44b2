"""Tests for geocarbon.inputs.schemes: built-in class schemes, their data files and CLCD crosswalks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rasterio
from hypothesis import given
from hypothesis import strategies as st

from geocarbon.errors import GeoCarbonError, SchemeError
from geocarbon.inputs.schemes import ClassScheme, get_scheme, scheme_names

from conftest import IN_CI


def _codes(text: str) -> tuple[int, ...]:
    return tuple(int(code) for code in text.split())


EXPECTED_NAMES = ("clcd", "cnlucc", "esa-cci", "esa-worldcover", "globeland30", "modis-igbp")
NON_CLCD = tuple(name for name in EXPECTED_NAMES if name != "clcd")
HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
CNLUCC_CODES = _codes(
    "11 12 21 22 23 24 31 32 33 41 42 43 44 45 46 47 51 52 53 54 61 62 63 64 65 66 67 99"
)
CCI_CODES = _codes(
    "10 11 12 20 30 40 50 60 61 62 70 71 72 80 81 82 90 100 110 120 121 122 130 140"
    " 150 151 152 153 160 170 180 190 200 201 202 210 220"
)
SAO_TOME_2020 = (
    Path(__file__).resolve().parents[2].parent
    / "shared/data/landcover/esa_worldcover_sao_tome"
    / "ESA_WorldCover_10m_2020_v100_N00E006_Map_SaoTome_crop.tif"
)


def test_scheme_names_are_the_six_builtins_sorted() -> None:
    assert scheme_names() == EXPECTED_NAMES


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_scheme_loads_with_aligned_columns(name: str) -> None:
    scheme = get_scheme(name)
    assert isinstance(scheme, ClassScheme)
    assert scheme.name == name
    assert scheme.title and scheme.source
    n_classes = len(scheme.codes)
    assert n_classes > 0
    assert len(scheme.names) == len(scheme.colors) == len(scheme.to_clcd) == n_classes
    assert all(name.strip() for name in scheme.names)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_codes_unique_sorted_and_names_unique(name: str) -> None:
    scheme = get_scheme(name)
    assert list(scheme.codes) == sorted(set(scheme.codes))
    assert len(set(scheme.names)) == len(scheme.names)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_colours_are_lowercase_hex(name: str) -> None:
    bad = [c for c in get_scheme(name).colors if not HEX_COLOUR.match(c)]
    assert bad == []


@pytest.mark.parametrize(
    ("name", "nodata"),
    [
        ("clcd", 0),
        ("globeland30", 255),
        ("modis-igbp", 255),
        ("esa-cci", 0),
        ("esa-worldcover", 0),
        ("cnlucc", None),
    ],
)
def test_nodata_code_is_recorded_and_never_a_class(name: str, nodata: int | None) -> None:
    scheme = get_scheme(name)
    assert scheme.nodata == nodata
    assert nodata not in scheme.codes


@pytest.mark.parametrize("name", NON_CLCD)
def test_every_class_has_a_clcd_target(name: str) -> None:
    scheme = get_scheme(name)
    crosswalk = scheme.crosswalk_to_clcd()
    assert sorted(crosswalk) == list(scheme.codes)
    assert set(crosswalk.values()) <= set(range(1, 10))


def test_clcd_is_nine_classes_with_identity_crosswalk() -> None:
    clcd = get_scheme("clcd")
    assert clcd.codes == tuple(range(1, 10))
    assert clcd.names == (
        "Cropland",
        "Forest",
        "Shrub",
        "Grassland",
        "Water",
        "Snow/Ice",
        "Barren",
        "Impervious",
        "Wetland",
    )
    assert clcd.to_clcd == (None,) * 9
    assert clcd.crosswalk_to_clcd() == {code: code for code in range(1, 10)}


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("esa-worldcover", (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)),
        ("globeland30", (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)),
        ("modis-igbp", tuple(range(18))),
        ("cnlucc", CNLUCC_CODES),
        ("esa-cci", CCI_CODES),
    ],
)
def test_code_lists_match_densities_section_6(name: str, codes: tuple[int, ...]) -> None:
    assert get_scheme(name).codes == codes


@pytest.mark.parametrize(
    ("name", "code", "name_part", "clcd"),
    [
        # Spot checks from DENSITIES.md section 6 and its suggested crosswalk.
        ("esa-worldcover", 95, "Mangroves", 9),
        ("esa-worldcover", 100, "Moss and lichen", 4),
        ("esa-worldcover", 40, "Cropland", 1),
        ("modis-igbp", 13, "Urban", 8),
        ("modis-igbp", 8, "Woody savanna", 2),
        ("modis-igbp", 9, "Savanna", 4),
        ("modis-igbp", 0, "Water", 5),
        ("modis-igbp", 17, "Water", 5),
        ("cnlucc", 11, "水田", 1),
        ("cnlucc", 22, "灌木林", 3),
        ("cnlucc", 44, "冰川", 6),
        ("cnlucc", 45, "滩涂", 9),
        ("cnlucc", 46, "滩地", 5),
        ("cnlucc", 54, "光伏", 8),
        ("cnlucc", 99, "海洋", 5),
        ("globeland30", 70, "Tundra", 4),
        ("globeland30", 40, "Shrubland", 3),
        ("globeland30", 50, "Wetland", 9),
        ("esa-cci", 62, "open (15-40%)", 2),
        ("esa-cci", 170, "saline", 9),
        ("esa-cci", 190, "Urban", 8),
        ("esa-cci", 220, "snow and ice", 6),
    ],
)
def test_spot_checks_of_names_and_crosswalk(
    name: str, code: int, name_part: str, clcd: int
) -> None:
    scheme = get_scheme(name)
    assert name_part in scheme.name_of(code)
    assert scheme.crosswalk_to_clcd()[code] == clcd


def test_cnlucc_names_carry_english_and_chinese() -> None:
    names = get_scheme("cnlucc").names
    assert all(re.search(r"[A-Za-z]", n) and re.search(r"[\u4e00-\u9fff]", n) for n in names)


def test_cci_level2_codes_map_like_their_level1_parent() -> None:
    # A region mapped at level 2 must give the same CLCD classes as one mapped at level 1.
    crosswalk = get_scheme("esa-cci").crosswalk_to_clcd()
    # Level-2 codes are their level-1 parent plus 1..3; the parent is the code rounded down to 10.
    parents = {code: code - code % 10 for code in CCI_CODES if code % 10}
    assert sorted(parents) == [11, 12, 61, 62, 71, 72, 81, 82, 121, 122, 151, 152, 153, 201, 202]
    assert {c: crosswalk[c] for c in parents} == {c: crosswalk[p] for c, p in parents.items()}


def test_official_legend_colours_spot_check() -> None:
    assert get_scheme("esa-worldcover").color_of(10) == "#006400"
    assert get_scheme("esa-worldcover").color_of(95) == "#00cf75"
    assert get_scheme("esa-cci").color_of(210) == "#0046c8"
    assert get_scheme("esa-cci").color_of(130) == "#ffb432"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("worldcover", "esa-worldcover"),
        ("igbp", "modis-igbp"),
        ("modis", "modis-igbp"),
        ("resdc", "cnlucc"),
        ("cci", "esa-cci"),
        ("glc30", "globeland30"),
        ("WorldCover", "esa-worldcover"),
        ("ESA-WorldCover", "esa-worldcover"),
        (" CLCD ", "clcd"),
        ("MODIS-IGBP", "modis-igbp"),
        ("GlobeLand30", "globeland30"),
    ],
)
def test_aliases_and_case_insensitivity(alias: str, canonical: str) -> None:
    assert get_scheme(alias) is get_scheme(canonical)


def test_unknown_scheme_error_lists_known_names() -> None:
    with pytest.raises(SchemeError) as excinfo:
        get_scheme("corine")
    message = str(excinfo.value)
    assert "'corine'" in message
    for name in EXPECTED_NAMES:
        assert name in message
    # SchemeError is both a GeoCarbonError and a KeyError, and prints without KeyError quotes.
    assert isinstance(excinfo.value, GeoCarbonError)
    assert isinstance(excinfo.value, KeyError)
    assert message.startswith("Unknown class scheme")


def test_absent_code_error_names_scheme_and_code() -> None:
    scheme = get_scheme("globeland30")
    for lookup in (scheme.name_of, scheme.color_of):
        with pytest.raises(SchemeError, match=r"255.*'globeland30'"):
            lookup(255)


@given(code=st.integers(min_value=-1000, max_value=1000), name=st.sampled_from(EXPECTED_NAMES))
def test_name_of_is_defined_exactly_on_the_codes(code: int, name: str) -> None:
    scheme = get_scheme(name)
    if code in scheme.codes:
        index = scheme.codes.index(code)
        assert scheme.name_of(code) == scheme.names[index]
        assert scheme.color_of(code) == scheme.colors[index]
    else:
        with pytest.raises(SchemeError, match=str(code)):
            scheme.name_of(code)


def test_worldcover_codes_and_names_match_the_real_file_legend() -> None:
    if not SAO_TOME_2020.exists():
        if IN_CI:
            pytest.fail(f"Real-data file missing under CI: {SAO_TOME_2020}")
        pytest.skip(f"Real-data file not found: {SAO_TOME_2020}")
    with rasterio.open(SAO_TOME_2020) as src:
        legend = src.tags()["legend"]
    # The tag holds lines like "10  Tree cover" and "60  Bare/sparse vegetation".
    entries = [re.match(r"^\s*(\d+)\s+(\S.*?)\s*$", line) for line in legend.splitlines()]
    from_file = {int(m.group(1)): m.group(2) for m in entries if m}
    scheme = get_scheme("esa-worldcover")
    assert tuple(sorted(from_file)) == scheme.codes

    def squash(text: str) -> str:
        return re.sub(r"\s+", "", text).lower()

    assert {c: squash(n) for c, n in from_file.items()} == {
        c: squash(scheme.name_of(c)) for c in scheme.codes
    }


def test_invalid_builtin_file_is_reported_with_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geocarbon.inputs.schemes as schemes_module

    folder = tmp_path / "data" / "schemes"
    folder.mkdir(parents=True)
    # Class 20 has no CLCD target, 255 is GlobeLand30's nodata, and 10 comes after 20.
    (folder / "globeland30.csv").write_text(
        "code,name,color,clcd\n"
        "20,Forest,#147749,\n"
        "10,Cultivated land,#f9f3c1,1\n"
        "255,Ocean,#000000,5\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(schemes_module.resources, "files", lambda package: tmp_path)
    with pytest.raises(SchemeError) as excinfo:
        schemes_module._load_scheme.__wrapped__("globeland30")
    message = str(excinfo.value)
    assert "globeland30.csv" in message
    assert "[20]" in message
    assert "255" in message
