"""Fixed labels shown to users in English and Chinese: pools, units, layer names, legend titles.

:func:`label` looks a key up in one language; a key without a Chinese text falls back to English,
and an unknown language is one clear :class:`~geocarbon.errors.ConfigError`. Names that come from
a run (regions, classes, files) are data, never looked up here. Units stay SI/IPCC symbols
(``Mg C/ha``) in both languages; only the time word of a rate is translated (``/yr`` -> ``/年``).
"""

from __future__ import annotations

from geocarbon.choices import LANGUAGES
from geocarbon.errors import ConfigError

#: key -> (English, Chinese)
LABELS: dict[str, tuple[str, str]] = {
    # pools (geocarbon.units.POOLS)
    "pool.above": ("above-ground biomass", "地上生物量"),
    "pool.below": ("below-ground biomass", "地下生物量"),
    "pool.dead": ("dead organic matter", "死有机质"),
    "pool.soil": ("soil organic carbon", "土壤有机碳"),
    "pool.total": ("total", "合计"),
    "stock": ("stock", "储量"),
    "change": ("change", "变化"),
    # quantities (map layers, legend titles)
    "layer.stock_total": ("Total stock", "碳储量"),
    "layer.density_mean": ("Mean density", "平均碳密度"),
    "layer.stock_start": ("Stock at start", "期初碳储量"),
    "layer.stock_end": ("Stock at end", "期末碳储量"),
    "layer.net_change": ("Net change", "净变化量"),
    "layer.annual_net_change": ("Annual net change", "年均净变化量"),
    "layer.uncertainty_band": ("Uncertainty band (5-95 %)", "不确定性区间宽度（5-95 %）"),
    "layer.carbon_density": ("Carbon density", "碳密度"),
    "layer.density_change": ("Density change", "碳密度变化"),
    "layer.land_cover": ("Land cover", "土地覆被"),
    # base maps and controls
    "base.osm": ("OpenStreetMap", "OpenStreetMap 街道图"),
    "base.light": ("Light", "浅色底图"),
    "base.satellite": ("Satellite", "卫星影像"),
    "base.custom": ("Custom tiles", "自定义底图"),
    "control.base_maps": ("Base map", "底图"),
    "control.layers": ("Layer", "图层"),
    # tooltips and popups
    "region": ("Region", "区域"),
    "area": ("Area", "面积"),
    "largest_transitions": ("Largest transitions", "主要地类转换"),
    "interval": ("5-95 % interval", "5-95 % 区间"),
    "npv": ("Net present value", "净现值"),
    "no_data": ("no data", "无数据"),
    "to": ("to", "至"),
    "map_title": ("geocarbon map", "geocarbon 地图"),
    # units
    "unit.Mg C": ("Mg C", "Mg C"),
    "unit.Gg C": ("Gg C", "Gg C"),
    "unit.Tg C": ("Tg C", "Tg C"),
    "unit.Mg C/ha": ("Mg C/ha", "Mg C/ha"),
    "unit.Mg C/yr": ("Mg C/yr", "Mg C/年"),
    "unit.Gg C/yr": ("Gg C/yr", "Gg C/年"),
    "unit.Tg C/yr": ("Tg C/yr", "Tg C/年"),
    "unit.ha": ("ha", "公顷"),
}


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGUAGES`; else one line naming the choices."""
    if lang not in LANGUAGES:
        raise ConfigError(f"Unknown language {lang!r}; choose among {', '.join(LANGUAGES)}.")
    return lang


def label(key: str, lang: str = "en") -> str:
    """The text of ``key`` in ``lang`` (English where no Chinese text exists).

    An unknown key is a programming error (KeyError); an unknown language a ConfigError.
    """
    english, chinese = LABELS[key]
    return chinese if check_lang(lang) == "zh" and chinese else english


def unit(symbol: str, lang: str = "en") -> str:
    """A unit symbol in ``lang`` (``Mg C/yr`` -> ``Mg C/年``); symbols not listed stay as is."""
    key = f"unit.{symbol}"
    return label(key, lang) if key in LABELS else symbol
