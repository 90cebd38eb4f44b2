"""Offline web maps: the JavaScript and CSS a map needs, from the npm registry, beside the page.

folium links its libraries from a CDN (``https://cdn.jsdelivr.net/npm/<package>@<version>/...``).
:func:`fetch_assets` installs exactly those package versions from the npm registry into a cache
folder (no lock file, nothing committed); :func:`localize` copies them next to a map and points
the page at the local copies. A page that would still need the network fails loudly instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from geocarbon.errors import InputFileError

CDN_URL = re.compile(
    r"https://cdn\.jsdelivr\.net/npm/(?P<package>(?:@[^/@\"']+/)?[^/@\"']+)@(?P<version>[^/\"']+)/(?P<path>[^\"'\s]+)"
)
EXTERNAL_ASSET = re.compile(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"")
ASSETS_ENV = "GEOCARBON_WEB_ASSETS"


def default_assets_dir() -> Path:
    """``$GEOCARBON_WEB_ASSETS``, else ``~/.cache/geocarbon/web-assets``."""
    return Path(os.environ.get(ASSETS_ENV) or Path.home() / ".cache" / "geocarbon" / "web-assets")


def required_packages(html: str) -> dict[str, str]:
    """npm package -> version for every CDN link in a rendered page."""
    return {m["package"]: m["version"] for m in CDN_URL.finditer(html)}


def fetch_assets(packages: dict[str, str], folder: Path) -> None:
    """Install ``packages`` (exact versions) from the npm registry into ``folder/node_modules``."""
    npm = shutil.which("npm")
    if npm is None:
        raise InputFileError(
            "Offline maps need npm (Node.js) to fetch their JavaScript from the npm registry once; "
            "install Node.js (e.g. apt-get install npm) and run `geocarbon web-assets` again."
        )
    folder.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}@{version}" for name, version in sorted(packages.items())]
    command = [
        npm,
        "install",
        "--prefix",
        str(folder),
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        *specs,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputFileError(
            f"npm could not install {', '.join(specs)} into {folder}:\n{done.stderr.strip()}"
        )


def localize(html: str, html_path: Path, assets: Path) -> str:
    """Copy every CDN package the page links into ``<page>_files/lib`` and link the copies.

    Raises
    ------
    InputFileError
        A package (at that exact version) is not in ``assets``, or the page links assets from
        hosts other than the npm CDN, which cannot be served offline.
    """
    missing = [
        f"{name}@{version}"
        for name, version in required_packages(html).items()
        if _installed_version(assets, name) != version
    ]
    if missing:
        raise InputFileError(
            f"Offline assets {', '.join(missing)} are not in {assets}. Fetch them once with "
            f"`geocarbon web-assets --dir {assets}` (or set {ASSETS_ENV})."
        )
    target = html_path.parent / f"{html_path.stem}_files" / "lib"
    for name in required_packages(html):
        destination = target / name
        if not destination.exists():
            shutil.copytree(assets / "node_modules" / name, destination)
    relative = target.relative_to(html_path.parent).as_posix()
    localized = CDN_URL.sub(lambda m: f"{relative}/{m['package']}/{_local_path(target, m)}", html)
    remote = EXTERNAL_ASSET.findall(localized)
    if remote:
        raise InputFileError(
            f"The map still links remote assets {remote}; they cannot be served offline."
        )
    return localized


def _local_path(target: Path, match: re.Match[str]) -> str:
    """The file a CDN path names inside the package; jsDelivr minifies on the fly, so a
    ``.min.js``/``.min.css`` the package lacks is served from its unminified source."""
    package, path = match["package"], match["path"]
    for candidate in (path, path.replace(".min.js", ".js").replace(".min.css", ".css")):
        if (target / package / candidate).is_file():
            return candidate
    raise InputFileError(
        f"{package}@{match['version']} has no file {path} (nor its unminified source)."
    )


def _installed_version(assets: Path, name: str) -> str | None:
    manifest = assets / "node_modules" / name / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
