"""The words of the figures in English and Chinese, and Chinese class names from the schemes.

:data:`LABELS` holds one :class:`FigureLabels` per language code (``en``, ``zh``); the charts
and the map take one and never hold a literal word themselves. :func:`class_names` gives the
name to draw for each class code of a scheme: the scheme's ``name_zh`` when the language is
Chinese and the scheme has one, else the name the run's table wrote. Labels are drawn as typed
(never a format string, never mathtext): titles are joined with :attr:`FigureLabels.separator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from geocarbon.errors import ConfigError, SchemeError


@dataclass(frozen=True)
class FigureLabels:
    """Every fixed text of the figures in one language; units stay SI/IPCC symbols."""

    lang: str
    separator: str  # between a title and its year or period
    pools: Mapping[str, str]
    pool_title: str
    stock_title: str
    stock_axis: str
    range_label: str
    net_title: str
    net_axis: str
    sink: str
    source: str
    interval: str
    transitions_title: str
    transitions_axis: str
    converted_from: str
    converted_to: str
    no_conversion: str
    series_title: str
    series_band: str
    series_axis: str
    year: str
    region: str
    class_stock_title: str
    land_class: str
    density_map_title: str
    density_unit: str
    net_map_title: str
    net_unit: str
    annual_map_title: str
    annual_unit: str
    north: str
    south_china_sea: str
    kilometres: str
    no_data: str

    def titled(self, title: str, detail: object) -> str:
        """``title`` followed by its year or period."""
        return f"{title}{self.separator}{detail}"


ENGLISH = FigureLabels(
    lang="en",
    separator=", ",
    pools={"above": "above", "below": "below", "dead": "dead", "soil": "soil"},
    pool_title="Pool",
    stock_title="Carbon stock by pool",
    stock_axis="Carbon stock (Tg C)",
    range_label="low-high range",
    net_title="Net carbon stock change",
    net_axis="Net change in carbon stock (Tg C)",
    sink="sink (gain)",
    source="source (loss)",
    interval="5-95 %",
    transitions_title="Land-cover conversions",
    transitions_axis="Area converted (ha)",
    converted_from="Converted from",
    converted_to="Converted to",
    no_conversion="No land-cover conversion",
    series_title="Carbon stock over time",
    series_band=" (band: 5-95 %)",
    series_axis="Total carbon stock (Tg C)",
    year="Year",
    region="Region",
    class_stock_title="Carbon stock by land-cover class",
    land_class="Land-cover class",
    density_map_title="Mean carbon density",
    density_unit="Mg C/ha",
    net_map_title="Net carbon stock change",
    net_unit="Tg C",
    annual_map_title="Annual net carbon stock change",
    annual_unit="Tg C/yr",
    north="N",
    south_china_sea="South China Sea Islands",
    kilometres="km",
    no_data="no data",
)

CHINESE = FigureLabels(
    lang="zh",
    separator="，",
    pools={"above": "地上生物量", "below": "地下生物量", "dead": "死有机质", "soil": "土壤有机碳"},
    pool_title="碳库",
    stock_title="各碳库碳储量",
    stock_axis="碳储量（Tg C）",
    range_label="低值-高值范围",
    net_title="碳储量净变化",
    net_axis="碳储量净变化（Tg C）",
    sink="碳汇（增加）",
    source="碳源（减少）",
    interval="5%-95% 区间",
    transitions_title="土地覆被转换",
    transitions_axis="转换面积（ha）",
    converted_from="转出类型",
    converted_to="转入类型",
    no_conversion="无土地覆被转换",
    series_title="碳储量变化趋势",
    series_band="（阴影：5%-95% 区间）",
    series_axis="总碳储量（Tg C）",
    year="年份",
    region="区域",
    class_stock_title="各土地覆被类型碳储量",
    land_class="土地覆被类型",
    density_map_title="平均碳密度",
    density_unit="Mg C/ha",
    net_map_title="碳储量净变化",
    net_unit="Tg C",
    annual_map_title="年均碳储量净变化",
    annual_unit="Tg C/yr",
    north="北",
    south_china_sea="南海诸岛",
    kilometres="千米",
    no_data="无数据",
)

LABELS: Mapping[str, FigureLabels] = {"en": ENGLISH, "zh": CHINESE}


def labels_for(lang: str) -> FigureLabels:
    """The labels of language ``lang`` (``en`` or ``zh``); raises :class:`ConfigError` else."""
    try:
        return LABELS[lang.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"No figure labels in language {lang!r}; choose among {', '.join(LABELS)}."
        ) from None


def class_names(scheme: str | None, labels: FigureLabels) -> dict[int, str]:
    """Class code -> name to draw, for the languages whose names the scheme holds.

    Empty for English or an unknown scheme (the run's own class names are drawn). For Chinese,
    the scheme's ``name_zh`` column where present and not blank; classes without one keep the
    run's name.
    """
    if labels.lang == "en" or not scheme:
        return {}
    from geocarbon.inputs.schemes import get_scheme

    try:
        found = get_scheme(scheme)
    except SchemeError:
        return {}  # a user's own table: its names are the only ones there are
    return {code: name for code, name in zip(found.codes, found.names_zh, strict=False) if name}


def class_colours(scheme: str | None) -> dict[int, str]:
    """Class code -> the scheme's legend colour (``#rrggbb``, as the web map); empty if the
    scheme is not a built-in one."""
    if not scheme:
        return {}
    from geocarbon.inputs.schemes import get_scheme

    try:
        found = get_scheme(scheme)
    except SchemeError:
        return {}
    return dict(zip(found.codes, found.colors, strict=True))
