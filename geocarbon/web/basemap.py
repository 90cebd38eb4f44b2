"""A base map of the user's choosing (``--tiles``): an XYZ URL template or a local tile folder.

The URL travels to the page as JSON data (never through folium), and the page script adds it as
the first base map. Web maps of geocarbon are drawn in WGS 84 / Web Mercator. Tiles from
providers in China are often in GCJ-02, the offset coordinate system China's mapping rules
require: Tianditu's vector and image services in Web Mercator (``..._w``) are in CGCS2000, close
to WGS 84, but Amap (Gaode) and Tencent tiles are GCJ-02, and Baidu's are BD-09 (GCJ-02 offset
once more, on Baidu's own tile grid). Over GCJ-02 tiles, regions and rasters appear shifted by
some hundreds of metres; over Baidu's they do not line up at all. Prefer WGS 84 tiles
(OpenStreetMap, Tianditu ``_w`` layers with your key, Esri) for planning maps;
:func:`tiles_url` warns when a URL is one of :data:`OFFSET_HOSTS`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from geocarbon.errors import ConfigError, GeoCarbonWarning, warn

#: Hosts of tiles in GCJ-02 (Amap/Gaode, Tencent) or BD-09 (Baidu): (host part, system).
OFFSET_HOSTS = (
    ("autonavi.com", "GCJ-02"),
    ("amap.com", "GCJ-02"),
    ("map.qq.com", "GCJ-02"),
    ("gtimg.com", "GCJ-02"),
    ("bdimg.com", "BD-09"),
    ("map.baidu.com", "BD-09"),
    ("bdstatic.com", "BD-09"),
)

#: An XYZ template: a web URL with {z}, {x} and {y} (optionally {s} subdomains, {r}).
XYZ_URL = re.compile(r"^(https?:)?//\S+$")


def tiles_url(tiles: str, page: Path) -> str:
    """The URL template the page at ``page`` loads base-map tiles from.

    ``tiles`` is an ``http(s)://`` template with ``{z}``, ``{x}`` and ``{y}``, or a local folder
    of ``{z}/{x}/{y}.png`` tiles (linked relative to the page, percent-encoded).
    """
    if XYZ_URL.match(tiles):
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in tiles]
        if missing:
            raise ConfigError(
                f"--tiles {tiles!r} lacks {', '.join(missing)}; give an XYZ template such as "
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png."
            )
        _warn_if_offset(tiles)
        return tiles
    folder = Path(tiles)
    if not folder.is_dir():
        raise ConfigError(
            f"--tiles {tiles!r} is neither an http(s) XYZ template with {{z}}, {{x}}, {{y}} nor "
            "a folder of {z}/{x}/{y}.png tiles; check the path or URL."
        )
    extension = _tile_extension(folder)
    relative = Path(os.path.relpath(folder.resolve(), page.parent.resolve())).as_posix()
    return f"{quote(relative)}/{{z}}/{{x}}/{{y}}.{extension}"


def _tile_extension(folder: Path) -> str:
    """The extension of the folder's tiles (``png`` unless its tiles say otherwise)."""
    for tile in folder.glob("*/*/*.*"):
        return tile.suffix.lstrip(".") or "png"
    return "png"


def _warn_if_offset(url: str) -> None:
    """Warn (one line) when ``url`` is a provider whose tiles are offset from WGS 84."""
    from urllib.parse import urlsplit

    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    for part, system in OFFSET_HOSTS:
        if host == part or host.endswith(f".{part}"):
            warn(
                f"--tiles {host} serves tiles in {system}, offset from the map's WGS 84 by "
                "hundreds of metres: regions and rasters will not line up with them. Prefer "
                "OpenStreetMap, Esri or Tianditu's _w layers.",
                GeoCarbonWarning,
            )
            return
