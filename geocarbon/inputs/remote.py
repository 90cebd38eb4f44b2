"""Name remote land cover the way GDAL reads it, and the GDAL settings for reading it by block.

:func:`remote_name` turns an HTTP(S) URL, an ``s3://`` or ``gs://`` URI, or a STAC item (a
``.json`` file or URL, ``#asset`` picking one of its assets) into the GDAL name of the raster
(``/vsicurl/https://...``, ``/vsis3/bucket/key``); :func:`remote_reading` is the GDAL
configuration under which such a raster is opened and read, so that a run fetches only the byte
ranges of the blocks it reads. Nothing here reads pixels; :mod:`geocarbon.inputs.landcover` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rasterio
from rasterio.env import get_gdal_config

from geocarbon.errors import InputFileError, said

#: GDAL's virtual file system for each URL scheme it reads by byte range.
_VSI_BY_SCHEME = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/"}

#: GDAL names read over the network (their blocks are fetched by HTTP range requests).
REMOTE_PREFIXES = (
    "/vsicurl/",
    "/vsis3/",
    "/vsigs/",
    "/vsiaz/",
    "/vsiadls/",
    "/vsioss/",
    "/vsiswift/",
)

#: GDAL configuration for reading a remote raster by block (see GDAL's "Configuration options"
#: and "GDAL Virtual File Systems" pages). A value the user set (environment or GDAL config) wins.
REMOTE_GDAL_OPTIONS: Mapping[str, str] = {
    # Do not list the remote "directory" to look for sidecar files (.aux.xml, .ovr, .msk):
    # one request per open instead of several, and no listing of a large bucket.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # Fetch neighbouring tiles of a block in one range request rather than one per tile.
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    # Not VSI_CACHE: /vsicurl/ already caches what it fetched, and the extra layer reads the
    # header in 32 KB chunks (Zhejiang's blocks of tests/inputs/test_remote.py's COG: 41 KB
    # fetched with it, 25 KB without).
    # Retry transient server errors (429, 502, 503, 504) instead of failing a long run.
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
}

#: Seconds to wait for a STAC item's JSON; the item is small, so a slow answer is an error.
STAC_TIMEOUT_S = 30
#: Largest STAC item geocarbon reads (bytes); anything bigger is not an item.
STAC_MAX_BYTES = 16 * 2**20
#: Bytes read first from a URL that may be an item: JSON starts with "{", a raster does not.
_SNIFF_BYTES = 256

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(.*)$", re.DOTALL)
_GEOTIFF_TYPES = ("image/tiff", "image/geotiff")


def remote_name(text: str) -> str | None:
    """The GDAL name of the land cover ``text`` points at, or None for a plain local path.

    ``http(s)://host/x.tif`` -> ``/vsicurl/http(s)://host/x.tif``; ``s3://bucket/key`` ->
    ``/vsis3/bucket/key``; ``gs://bucket/key`` -> ``/vsigs/bucket/key``. A STAC item (a ``.json``
    file or URL holding a GeoJSON Feature with ``stac_version`` and ``assets``; an item URL without
    ``.json`` is recognised by its ``#asset``) names the raster of its asset ``#asset``, or of its
    one data or GeoTIFF asset; a relative ``href`` is resolved against the item. A URL whose
    ``//`` pathlib folded (``https:/host/x.tif``) is read as the URL. Names already in GDAL's form
    (``/vsicurl/...``) are returned as None: GDAL opens them as they are.

    Raises
    ------
    InputFileError
        A STAC item that cannot be fetched or parsed, or whose asset cannot be chosen.
    """
    base, _, asset_key = text.strip().partition("#")
    url = _url(base)
    if url is not None and url.split(":", 1)[0].lower() not in _VSI_BY_SCHEME:
        return None  # ftp://, file://... are left to GDAL as given
    if _names_item(base, url, asset_key):
        item = _load_item(url or base, named=bool(asset_key))
        if item is not None:
            href = _resolve(_asset_href(item, asset_key, label=url or base), url or base)
            href_url = _url(href)
            return href if href_url is None else _vsi_name(href_url)
        if asset_key:
            raise InputFileError(
                f"{url or base!r} is not a STAC item (a GeoJSON Feature with stac_version and "
                f"assets), so #{asset_key} names no asset; give the raster's own path or URL."
            )
    return None if url is None else _vsi_name(url)


def _names_item(base: str, url: str | None, asset_key: str) -> bool:
    """Whether ``base`` may be a STAC item: a ``.json`` file or HTTP(S) URL, or an HTTP(S) URL
    with ``#asset`` (an item from a STAC API often has no ``.json``)."""
    on_http = url is not None and url.lower().startswith(("http://", "https://"))
    path = urllib.parse.urlsplit(url).path if url else base
    if path.lower().endswith((".json", ".geojson")):
        return on_http or (url is None and Path(base).is_file())
    return on_http and bool(asset_key)


def is_remote(gdal_name: str) -> bool:
    """Whether GDAL reads ``gdal_name`` over the network."""
    return gdal_name.startswith(REMOTE_PREFIXES)


def remote_reading(gdal_name: str) -> contextlib.AbstractContextManager[Any]:
    """The GDAL configuration to open and read ``gdal_name`` under: :data:`REMOTE_GDAL_OPTIONS`
    (minus those the user set) for a remote raster, nothing for a local one.

    Options set in a ``rasterio.Env`` hold for the thread that enters it, so each reading thread
    enters this around its opens and reads.
    """
    if not is_remote(gdal_name):
        return contextlib.nullcontext()
    options = {
        key: value for key, value in REMOTE_GDAL_OPTIONS.items() if get_gdal_config(key) is None
    }
    return rasterio.Env(**options)


def _url(text: str) -> str | None:
    """``text`` as a URL with its ``//`` restored (pathlib folds ``https://`` to ``https:/``)."""
    match = _SCHEME.match(text)
    if match is None or len(match.group(1)) < 2:  # "C:/..." is a Windows drive, not a scheme
        return None
    scheme, rest = match.groups()
    return f"{scheme}://{rest}"


def _vsi_name(url: str) -> str:
    scheme, _, rest = url.partition("://")
    prefix = _VSI_BY_SCHEME.get(scheme.lower())
    if prefix is None:
        return url
    return prefix + (url if prefix == "/vsicurl/" else rest)


def _load_item(location: str, *, named: bool) -> dict[str, Any] | None:
    """The STAC item at ``location`` (a URL or a file), or None when it holds no STAC item;
    ``named`` (an ``#asset`` was given): a ``.json`` that is not JSON is an error of its own."""
    named_json = urllib.parse.urlsplit(location).path.lower().endswith((".json", ".geojson"))
    if "://" in location:
        try:
            fetched = _fetch(location, sniff=not named_json)
            if fetched is None:
                return None  # a raster (or other file) behind a URL#fragment: not fetched
            raw = fetched
        except urllib.error.HTTPError as exc:
            raise InputFileError(
                f"STAC item {location!r} cannot be fetched: HTTP {exc.code} {exc.reason}. Check "
                "the URL (curl -I URL shows what the server answers)."
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise InputFileError(
                f"STAC item {location!r} cannot be fetched: {reason}. Check the URL and that "
                "the server answers (curl -I URL)."
            ) from exc
    else:
        try:
            raw = Path(location).read_bytes()
        except OSError as exc:
            raise InputFileError(f"STAC item {location!r} cannot be read: {exc.strerror}.") from exc
    try:
        document = json.loads(raw.decode("utf-8")) if len(raw) <= STAC_MAX_BYTES else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if named_json and named:
            raise InputFileError(
                f"STAC item {location!r} is not valid JSON ({said(exc)}); fix or fetch the item "
                "again."
            ) from None
        document = None
    if (
        isinstance(document, dict)
        and document.get("type") == "Feature"
        and "stac_version" in document
        and isinstance(document.get("assets"), dict)
    ):
        return document
    return None


def _fetch(url: str, *, sniff: bool) -> bytes | None:
    """The document at ``url`` (at most STAC_MAX_BYTES + 1 bytes). With ``sniff``, its first
    bytes are asked for first (a range request): None when they are not JSON, so that a raster
    named with a ``#fragment`` is not downloaded to find it is no item."""
    headers = {"Range": f"bytes=0-{_SNIFF_BYTES - 1}"} if sniff else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=STAC_TIMEOUT_S) as response:  # noqa: S310
        raw = response.read(_SNIFF_BYTES if sniff else STAC_MAX_BYTES + 1)
        if sniff and not raw.lstrip().startswith(b"{"):
            return None
        if not sniff or response.status != 206:  # the whole document is coming: read on
            return raw + response.read(STAC_MAX_BYTES + 1 - len(raw))
    with urllib.request.urlopen(url, timeout=STAC_TIMEOUT_S) as response:  # noqa: S310
        return bytes(response.read(STAC_MAX_BYTES + 1))


def _asset_href(item: dict[str, Any], key: str, *, label: str) -> str:
    """The ``href`` of asset ``key`` of ``item``, or of its one land-cover asset when no key."""
    assets = {name: asset for name, asset in item["assets"].items() if isinstance(asset, dict)}
    keys = ", ".join(sorted(assets)) or "none"
    if key:
        if key not in assets:
            raise InputFileError(
                f"STAC item {label!r} has no asset {key!r}; its assets are {keys}. Pick one "
                f"with #KEY after the item, e.g. {label}#{sorted(assets)[0] if assets else 'data'}."
            )
        chosen = key
    else:
        data = {name for name, asset in assets.items() if "data" in (asset.get("roles") or [])}
        tiff = {name for name, asset in assets.items() if _is_geotiff(asset)}
        tier = next((names for names in (data & tiff, data, tiff) if names), set())
        if not assets:
            raise InputFileError(
                f"STAC item {label!r} has no assets; the item is incomplete (give the raster's "
                "own path or URL instead)."
            )
        if len(tier) != 1:
            which = "several" if tier else "no"
            example = sorted(tier or assets or ["data"])[0]
            raise InputFileError(
                f"STAC item {label!r} has {which} data or GeoTIFF assets (assets: {keys}); pick "
                f"the land cover with #KEY after the item, e.g. {label}#{example}."
            )
        chosen = next(iter(tier))
    href = assets[chosen].get("href")
    if not isinstance(href, str) or not href.strip():
        raise InputFileError(
            f"Asset {chosen!r} of STAC item {label!r} has no href; the item is incomplete."
        )
    return href.strip()


def _is_geotiff(asset: dict[str, Any]) -> bool:
    media_type = str(asset.get("type") or "").lower()
    return media_type.startswith(_GEOTIFF_TYPES) or "application=geotiff" in media_type


def _resolve(href: str, item_location: str) -> str:
    """``href`` resolved against the item's URL or path (absolute hrefs, GDAL's /vsi names
    included, are kept)."""
    if href.startswith("/vsi"):
        return href
    if _url(href) is not None and not href.lower().startswith("file:"):
        return href
    if href.lower().startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(href).path)
    if "://" in item_location:
        return urllib.parse.urljoin(item_location, href)
    if os.path.isabs(href):
        return href
    return os.path.normpath(Path(item_location).parent / href)
