"""A base map of the user's choosing (``--tiles``): an XYZ URL template or a local tile folder.

The URL travels to the page as JSON data (never through folium), and the page script adds it as
the first base map. Web maps of geocarbon are drawn in WGS 84 / Web Mercator. Tiles from
providers in China are often in GCJ-02, the offset coordinate system China's mapping rules
require: Tianditu's vector and image services in Web Mercator (``..._w``) are in CGCS2000, close
to WGS 84, but Amap (Gaode) and Tencent tiles are GCJ-02, and Baidu's are BD-09 (GCJ-02 offset
once more, on Baidu's own tile grid). Over GCJ-02 tiles, regions and rasters appear shifted by
some hundreds of metres; over Baidu's they do not line up at all. Prefer WGS 84 tiles
(OpenStreetMap, Tianditu ``_w`` layers with your key, Esri) for planning maps.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from geocarbon.errors import ConfigError

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
