"""The run report: real runs of the sample through the command line, then `geocarbon report`.

The page is parsed back (every tag closed, numbers read from their ``data-value``) and compared
with the run's summary JSON and regions.csv; hostile region names must show as typed; the page is
opened from file:// in a real headless Chromium where any request is recorded and refused.
"""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import geopandas as gpd
import pandas as pd
import pytest

from geocarbon.cli.main import main
from geocarbon.errors import InputFileError
from geocarbon.outputs.folder import read_manifest
from geocarbon.outputs.spreadsheet import restore_formulas
from geocarbon.report import write_report
from geocarbon.report.labels import LABELS

from conftest import IN_CI, require

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_NAMES = [
    "{{7*7}} county",
    "{% if 1 %}x{% endif %} {#",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://example.com","click")',
    "<img src=x onerror=alert(2)>",
    "Nanxi & 'quoted' \"county\"",
]
HOSTILE_IDS = ["{{7*7}}", "{#", "<b>id</b>", "=1+1", "{% x %}", "a&b"]
HOSTILE_FOLDER = "run {{7*7}} {% if 1 %} <script>x & é"  # no slash: one folder
VOID = {"meta", "img", "br", "hr", "input", "link"}


class Page(HTMLParser):
    """A parsed report: tag balance checked; headings, number cells and text collected."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.cells: list[tuple[str, float]] = []  # (row's first cell, value)
        self.rows: list[list[str]] = []
        self.texts: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.lang = ""
        self._row: list[str] | None = None
        self._value: float | None = None
        self._text: list[str] = []
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = str(values.get("lang"))
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images.append(str(values.get("src")))
        if tag == "a":
            self.links.append(str(values.get("href")))
        if tag == "tr":
            self._row = []
        if tag in {"td", "th", "h2"}:
            self._text = []
            self._value = float(values["data-value"]) if "data-value" in values else None
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        text = "".join(self._text)
        if tag == "h2":
            self.headings.append(text)
        if tag in {"td", "th"} and self._row is not None:
            if self._value is not None:
                self.cells.append((self._row[0] if self._row else "", self._value))
            self._row.append(text)
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        self.texts.append(data)

    def row(self, first: str, *, containing: str = "") -> list[str]:
        return next(r for r in self.rows if r[0] == first and containing in " ".join(r))

    def values(self, first: str) -> list[float]:
        return [value for row, value in self.cells if row == first]


def hostile_regions(sample, folder: Path) -> Path:
    regions = gpd.read_file(sample.regions)
    regions["name"] = HOSTILE_NAMES[: len(regions)]
    regions["code"] = HOSTILE_IDS[: len(regions)]
    path = folder / "regions.gpkg"
    regions.to_file(path)
    return path


def run(*args: object) -> None:
    assert main([str(arg) for arg in args]) == 0


@pytest.fixture(scope="module")
def change_dir(sample, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    out = folder / HOSTILE_FOLDER
    regions = hostile_regions(sample, folder)
    run(
        "change", *sample.landcover, "--years", 2000, "--years", 2020, "-d", "china-clcd",
        "--regions", regions, "--id-field", "code", "--name-field", "name",
        "--draws", 50, "-o", out, "-q",
    )  # fmt: skip
    run("report", out, "-q")
    return out


@pytest.fixture(scope="module")
def zonal_dir(sample, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report_zonal") / "zonal"
    run(
        "zonal", sample.landcover[1], "-d", "china-clcd", "--regions", sample.regions,
        "--id-field", "adcode", "--name-field", "name", "-o", out, "-q",
    )  # fmt: skip
    return out


def summary_of(folder: Path, run_kind: str) -> dict:
    return json.loads((folder / f"{run_kind}_summary.json").read_text(encoding="utf-8"))


def test_change_report_numbers_are_the_summary_and_regions_tables(change_dir):
    page = Page((change_dir / "report.html").read_text(encoding="utf-8"))
    en = LABELS["en"]
    summary = summary_of(change_dir, "change")
    period = summary["periods"]["2000-2020"]
    for key in ("net_change_mg", "gross_gain_mg", "gross_loss_mg", "annual_net_change_tg_per_yr"):
        assert page.values(en[key]) == [period[key]], key
    assert page.values(en["soil_legacy"]) == [period["decomposition_mg"]["soil_legacy"]]
    regions = restore_formulas(pd.read_csv(change_dir / "regions.csv", dtype={"region_id": str}))
    heading = page.row(en["region_id"])
    p5, p95 = (
        heading.index(f"{en['net_change_mg']} p5"),
        heading.index(f"{en['net_change_mg']} p95"),
    )
    for region in regions.itertuples():
        row = page.row(region.region_id)
        assert row[1] == region.region_name  # shown exactly as typed
        assert region.net_change_mg_p5 <= region.net_change_mg <= region.net_change_mg_p95
        values = page.values(region.region_id)
        assert region.net_change_mg in values and region.stock_end_mg in values
        assert row[p5] == f"{region.net_change_mg_p5:,.0f}"
        assert row[p95] == f"{region.net_change_mg_p95:,.0f}"
    assert en["monte_carlo"] in page.texts and "draws 50, seed 0" in " ".join(page.texts)
    assert "ellipsoid-rows" in page.texts  # the area method
    assert len(page.images) == 4 and all(
        src.startswith("data:image/svg+xml;base64,") for src in page.images
    )


def test_change_report_shows_hostile_region_names_as_typed(change_dir):
    text = (change_dir / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    assert page.scripts == 0
    shown = {row[1] for row in page.rows if len(row) > 1}
    assert set(HOSTILE_NAMES) <= shown
    assert set(HOSTILE_IDS) <= {row[0] for row in page.rows}
    assert f"{LABELS['en']['title']}: {HOSTILE_FOLDER}" in page.texts  # the folder, as typed
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "49 county" not in text  # {{7*7}} never evaluated
    assert page.links == []  # no map: no link, and nothing reaches another host
    assert not re.search(r"(src|href)=\"(https?:)?//", text)


def test_report_lists_inputs_with_sha256_and_joins_the_manifest(change_dir, sample):
    import hashlib

    page = Page((change_dir / "report.html").read_text(encoding="utf-8"))
    for raster in sample.landcover:
        row = page.row(LABELS["en"]["landcover"], containing=str(raster))
        assert row[2] == hashlib.sha256(raster.read_bytes()).hexdigest()
    assert page.row(LABELS["en"]["densities"])[3] == LABELS["en"]["built_in"]
    manifest = read_manifest(change_dir)
    assert manifest is not None and manifest["command"] == "change"
    assert {"name": "report.html", "derived": True} in manifest["files"]
    assert not [p for p in change_dir.iterdir() if ".partial" in p.name]


def test_recorded_command_inputs_and_warnings_are_shown_as_recorded(change_dir, tmp_path):
    """What a run records in its summary (command line, inputs' SHA-256, warnings) is shown."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(change_dir, out)
    (out / "report.html").unlink()
    summary = summary_of(out, "change")
    summary["command_line"] = ["geocarbon", "change", "a <b>.tif", "--years", "2000"]
    summary["inputs"] = [{"role": "land cover", "path": "a <b>.tif", "sha256": "ab" * 32}]
    summary["warnings"] = ["1 region(s) reach beyond {{7*7}} <i>extent</i>"]
    (out / "change_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    page = Page(write_report(out).read_text(encoding="utf-8"))
    en = LABELS["en"]
    assert "geocarbon change a <b>.tif --years 2000" in page.texts
    assert page.row("land cover") == ["land cover", "a <b>.tif", "ab" * 32, en["sha256_recorded"]]
    assert "1 region(s) reach beyond {{7*7}} <i>extent</i>" in page.texts


def test_unreadable_table_is_named_and_the_previous_report_is_kept(change_dir, tmp_path):
    import shutil

    from geocarbon.errors import InputFileError

    out = tmp_path / "copy"
    shutil.copytree(change_dir, out)
    before = (out / "report.html").read_bytes()
    (out / "regions.csv").write_bytes(b"region_id,region_name\n\xff\xfe,\xc3\n")
    with pytest.raises(InputFileError, match=r"regions\.csv.*Run geocarbon again"):
        write_report(out, overwrite=True)
    assert (out / "report.html").read_bytes() == before
    assert not [p for p in out.iterdir() if ".partial" in p.name]


def test_report_refuses_to_overwrite_without_the_flag(change_dir, capsys):
    report = change_dir / "report.html"
    before = report.read_bytes()
    assert main(["report", str(change_dir)]) == 1
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and str(report) in message and "--overwrite" in message
    assert report.read_bytes() == before
    assert main(["report", str(change_dir), "--overwrite", "-q"]) == 0
    assert not [p for p in change_dir.iterdir() if ".partial" in p.name]


def test_chinese_report_has_chinese_headings_and_the_zonal_totals(zonal_dir):
    written = write_report(zonal_dir, lang="zh")
    page = Page(written.read_text(encoding="utf-8"))
    zh = LABELS["zh"]
    assert page.lang == "zh-CN"
    expected = ["what_was_run", "inputs", "warnings", "totals", "regions_table", "figures", "files"]
    assert page.headings == [zh[key] for key in expected]
    totals = summary_of(zonal_dir, "zonal")["totals"]
    assert page.values(zh["stock_total_mg"]) == [totals["stock_total_mg"]]
    assert page.values(zh["stock_total_tg_unassigned"]) == [totals["stock_total_tg_unassigned"]]
    areas = summary_of(zonal_dir, "zonal")["area_ha"]
    assert page.values(zh["area_regions_valid"]) == [areas["regions_valid"]]
    regions = pd.read_csv(zonal_dir / "regions.csv", dtype={"region_id": str})
    for region in regions.itertuples():
        assert region.stock_total_mg in page.values(region.region_id)
    assert all(not heading.isascii() for heading in page.headings)
    # the figures speak Chinese too: their glyphs come from the CJK font (CI installs it)
    from geocarbon.figures.fonts import cjk_family

    assert len(page.images) == 2  # stock by pool, map
    if cjk_family() is not None or IN_CI:
        for src in page.images:
            svg = base64.b64decode(src.removeprefix("data:image/svg+xml;base64,")).decode()
            assert re.search(r'id="NotoSansCJK\w*-Regular-[0-9a-f]+"', svg)
    assert zh["run_zonal"] in page.texts and zh["region_name"] in page.row(zh["region_id"])


def test_stock_report_has_the_class_table_and_the_figures_geocarbon_draws(sample, tmp_path):
    from geocarbon.figures.charts import figure_builders
    from geocarbon.figures.tables import read_figure_tables

    out = tmp_path / "stock"
    run("stock", sample.landcover[1], "-d", "china-clcd", "-o", out, "-q")
    page = Page(write_report(out).read_text(encoding="utf-8"))
    en = LABELS["en"]
    summary = summary_of(out, "stock")
    assert page.values(en["stock_total_mg"])[0] == summary["totals"]["stock_total_mg"]
    low_high = page.row(en["stock_total_mg"])
    assert low_high[2:4] == [
        f"{summary['totals'][f'stock_total_mg_{bound}']:,.0f}" for bound in ("low", "high")
    ]
    for row in summary["classes"]:
        assert row["stock_total_mg"] in page.values(str(row["class_code"]))
    assert page.values(en["area_valid"]) == [summary["area_ha"]["valid"]]
    assert page.values(en["area_nodata"]) == [summary["area_ha"]["nodata"]]
    assert en["classes_table"] in page.headings
    try:
        drawn = list(figure_builders(read_figure_tables(out)))
    except InputFileError:
        drawn = []
    assert len(page.images) == len(drawn)
    assert all(src.startswith("data:image/svg+xml;base64,") for src in page.images)
    assert (en["no_figures"] in page.texts) == (not drawn)


def test_report_links_the_map_written_into_the_run_folder(zonal_dir, tmp_path):
    from geocarbon.web.map import write_map

    write_map(zonal_dir, zonal_dir / "map.html", overwrite=True)
    try:
        page = Page(write_report(zonal_dir, overwrite=True).read_text(encoding="utf-8"))
    finally:
        (zonal_dir / "map.html").unlink()
    assert page.links == ["map.html"]


def test_report_written_elsewhere_links_the_run_map_and_stays_out_of_its_manifest(
    zonal_dir, tmp_path
):
    from geocarbon.web.map import write_map

    write_map(zonal_dir, zonal_dir / "map.html", overwrite=True)
    page_path = tmp_path / "pages {{7*7}}" / "省级 report.html"
    try:
        run("report", zonal_dir, "-o", page_path, "--lang", "zh", "-q")
        page = Page(page_path.read_text(encoding="utf-8"))
        manifest = [entry["name"] for entry in read_manifest(zonal_dir)["files"]]
    finally:
        (zonal_dir / "map.html").unlink()
    assert page.lang == "zh-CN"
    assert len(page.links) == 1
    link = tmp_path / "pages {{7*7}}" / unquote(page.links[0])
    assert link.resolve() == (zonal_dir / "map.html").resolve()
    assert "省级 report.html" not in manifest and not (zonal_dir / "省级 report.html").exists()
    assert [p.name for p in page_path.parent.iterdir()] == ["省级 report.html"]


@pytest.mark.parametrize("page", ["regions.csv", "regions.gpkg", "zonal_summary.json", "land"])
@pytest.mark.parametrize("command", ["report", "map"])
def test_a_page_never_replaces_a_file_the_run_wrote_or_read(
    sample, tmp_path, capsys, page, command
):
    land = tmp_path / "land.tif"
    land.write_bytes(Path(sample.landcover[1]).read_bytes())
    out = tmp_path / "zonal"
    run(
        "zonal", land, "-d", "china-clcd", "--regions", sample.regions,
        "--id-field", "adcode", "-o", out, "-q",
    )  # fmt: skip
    target = land if page == "land" else out / page
    capsys.readouterr()
    before = {p: p.read_bytes() for p in [land, *out.iterdir()] if p.is_file()}
    code = main([command, str(out), "-o", str(target), "--overwrite", "-q"])
    error = capsys.readouterr().err.strip()
    assert code == 1 and error.count("\n") == 0 and "Traceback" not in error
    assert str(target) in error and "would destroy it" in error
    assert {p: p.read_bytes() for p in [land, *out.iterdir()] if p.is_file()} == before
    assert not (out / f"{target.stem}_files").exists()


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["report", "{folder}/missing"], "missing"),
        (["report", "{folder}"], "holds no geocarbon run"),
        (["report", "{folder}", "--lang", "fr"], "--lang"),
    ],
)
def test_bad_report_requests_are_one_line_and_write_nothing(tmp_path, capsys, args, culprit):
    code = main([arg.format(folder=tmp_path) for arg in args])
    error = capsys.readouterr().err.strip()
    assert code in (1, 2) and culprit in error and "Traceback" not in error
    assert list(tmp_path.iterdir()) == []


def test_unknown_language_is_refused_by_the_api(zonal_dir):
    from geocarbon.errors import ConfigError

    with pytest.raises(ConfigError, match="'fr'.*--lang en or zh"):
        write_report(zonal_dir, lang="fr")


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("Debian's chromium is missing in CI: .ci/run must install it")
        pytest.skip("chromium not installed")
    playwright = require("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def test_report_from_file_url_in_a_real_browser_requests_nothing(change_dir, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors, requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("request", lambda request: requests.append(request.url))
    # anything but the page itself and its data: images is recorded above, then refused
    page.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
    url = (change_dir / "report.html").as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    assert [r for r in requests if r.startswith("file:")] == [url]
    assert page.title().startswith(LABELS["en"]["title"])
    loaded = page.eval_on_selector_all(
        "figure img", "images => images.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded == [True] * 4  # stock by pool, net change, transitions, map
    shown = page.locator("section.table td").all_text_contents()
    assert set(HOSTILE_NAMES) <= set(shown)
    assert page.locator("script, img[src=x]").count() == 0
    # print-friendly: Chromium prints it to PDF with no extra dependency
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)  # kept to look at
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    assert not errors, errors


def test_a_run_replacing_the_folder_removes_its_report(sample, tmp_path):
    """The report is a derived file of its run: the next run with --overwrite removes it, so a
    report never describes another run than the folder's (and `--report` can write it anew)."""
    out = tmp_path / "stock"
    args = ["stock", sample.landcover[1], "-d", "china-clcd", "-o", out, "-q"]
    run(*args)
    write_report(out)
    run(*args, "--overwrite")
    assert not (out / "report.html").exists()
    assert write_report(out, lang="zh").is_file()
