"""The JavaScript a map page runs: geocarbon's own script, and its libraries for offline use.

**User text is data, never a template.** branca renders every folium element's script as a Jinja
template and then compiles that output as a template *again* (``MacroElement.render`` wraps it in
``Element(...)``), so any text that reaches a folium element is evaluated: ``{{7*7}}`` shows 49,
``{#`` crashes, and ``cycler.__init__.__globals__`` runs Python. geocarbon therefore gives folium
no user text at all (no layer names, tooltips, popups or titles). Region and class names, titles,
layer labels and tile URLs travel in one JSON value (:func:`script_json`) inside
:func:`map_script`, an element that branca emits verbatim, never as a template; the script
inserts every string as text (``textContent``), or HTML-escaped where Leaflet only takes HTML
(layer-control labels).

Offline maps: folium links its libraries from a CDN
(``https://cdn.jsdelivr.net/npm/<package>@<version>/...``). :func:`fetch_assets` installs exactly
those package versions from the npm registry into a cache folder (no lock file, nothing
committed); :func:`localize` copies them next to a map and points the page at the local copies.
A page that would still need the network fails loudly instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from geocarbon.errors import InputFileError, said

#: A CDN link in a ``src="..."`` or ``href="..."`` attribute (never text elsewhere in the page).
CDN_URL = re.compile(
    r"(?:(?<=src=\")|(?<=href=\"))"
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
            f"npm could not install {', '.join(specs)} into {folder}: {_npm_said(done.stderr)}. "
            "Check that the npm registry is reachable (npm ping) and the folder writable, then run "
            "`geocarbon web-assets` again."
        )


def _npm_said(stderr: str) -> str:
    """npm's error on one line: its ``npm error`` lines (``npm ERR!`` before npm 10), without the
    log-file pointers; the last line of its output when it has none."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [
        re.sub(r"^npm (error|ERR!)\s*", "", line)
        for line in lines
        if re.match(r"^npm (error|ERR!)", line)
    ]
    errors = [
        e for e in errors if e and not re.search(r"(complete log|debug-0\.log|\.npm/_logs)", e)
    ]
    return said(RuntimeError("; ".join(errors[:3]) or (lines[-1] if lines else "no output")))


def localize(html: str, html_path: Path, assets: Path, *, files_dir: Path | None = None) -> str:
    """Copy every CDN package the page links into ``<page>_files/lib`` and link the copies.

    ``files_dir`` is where the copies go when ``<page>_files`` is being staged under another
    name; the page links ``<page>_files/lib`` (percent-encoded: a page name may hold ``#``,
    ``?``, ``%`` or quotes) either way.

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
    target = (files_dir or html_path.parent / f"{html_path.stem}_files") / "lib"
    for name in required_packages(html):
        destination = target / name
        if not destination.exists():
            shutil.copytree(assets / "node_modules" / name, destination)
    relative = quote(f"{html_path.stem}_files/lib")
    localized = CDN_URL.sub(
        lambda m: f"{relative}/{m['package']}/{quote(_local_path(target, m))}", html
    )
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


#: Escaped as ``\uXXXX`` inside every JSON string of a page: HTML's specials (a string holding
#: ``</script>`` or ``<!--`` cannot end or hide the script), the slash (no URL of user text reads
#: as a link) and the characters of Jinja's delimiters ``{{ {% {#`` (the text stays inert even if
#: a template engine ever read it).
_SCRIPT_ESCAPES = str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&'/{}%#"})
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JS_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def script_json(value: object) -> str:
    """``value`` as JSON text safe inside a ``<script>``, with no template delimiter.

    Pure ASCII; structural braces only outside strings, where JSON never puts two in a row or a
    brace before ``%`` or ``#``. ``json.loads`` (or JavaScript) reads back exactly ``value``.
    """
    text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return _JSON_STRING.sub(lambda match: match.group(0).translate(_SCRIPT_ESCAPES), text)


def map_script(map_name: str, layer_names: list[str], page: object) -> Any:
    """The element that runs :data:`MAP_SCRIPT` on a folium map, emitted verbatim.

    ``layer_names`` are the JavaScript variables of the folium layers ``page`` refers to (folium
    makes them from class names and random hex ids); ``page`` is the JSON value of every text the
    page shows. Add the element to the map after every layer it names.
    """
    from branca.element import Element, MacroElement

    names = [map_name, *layer_names]
    bad = [name for name in names if not _JS_IDENTIFIER.match(name)]
    if bad:
        raise ValueError(f"not JavaScript identifiers: {bad}")
    layers = "{" + ", ".join(f'"{name}": {name}' for name in layer_names) + "}"
    code = f"({MAP_SCRIPT})({map_name}, {layers}, {script_json(page)});\n"

    class Verbatim(Element):  # type: ignore[misc]
        def render(self, **kwargs: Any) -> str:
            return code

    class MapScript(MacroElement):  # type: ignore[misc]
        def render(self, **kwargs: Any) -> str:
            figure: Any = self.get_root()
            figure.script.add_child(Verbatim(), name=self.get_name())
            return ""

    return MapScript()


#: geocarbon's map script: title, layer control, legends, tooltips, popups and tile layers. It
#: takes ``(map, layers, page)``; every text of ``page`` is set as ``textContent``, except the
#: layer-control labels, which Leaflet sets as innerHTML and so get HTML-escaped first.
MAP_SCRIPT = """function (map, layers, page) {
  "use strict";
  function textNode(tag, text) {
    var node = document.createElement(tag);
    node.textContent = text;
    return node;
  }
  function escapedHtml(text) {
    return textNode("span", text).innerHTML;
  }
  function rowsTable(rows) {
    var table = document.createElement("table");
    rows.forEach(function (row) {
      var line = table.insertRow();
      line.appendChild(textNode("th", row[0]));
      line.appendChild(textNode("td", row[1]));
    });
    return table;
  }
  function popup(region) {
    var box = document.createElement("div");
    box.className = "geocarbon-popup";
    box.appendChild(textNode("b", region.name));
    box.appendChild(rowsTable(region.pools));
    if (region.transitions.length) {
      box.appendChild(textNode("b", page.words.largest_transitions));
      var list = box.appendChild(document.createElement("ul"));
      region.transitions.forEach(function (move) {
        list.appendChild(textNode("li", move[0] + " \\u2192 " + move[1] + ": " + move[2]));
      });
    }
    return box;
  }
  function legend(overlay, group) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var box = L.DomUtil.create("div", "geocarbon-legend");
      box.style.cssText = "background: white; padding: 6px 8px; font: 12px sans-serif; " +
        "border-radius: 4px; box-shadow: 0 0 4px #888;";
      var head = box.appendChild(document.createElement("div"));
      head.appendChild(textNode("b", overlay.legend.title));
      if (overlay.legend.units) {
        head.appendChild(document.createTextNode(" (" + overlay.legend.units + ")"));
      }
      overlay.legend.stops.forEach(function (stop) {
        var row = box.appendChild(document.createElement("div"));
        var swatch = row.appendChild(document.createElement("span"));
        swatch.style.cssText = "display: inline-block; width: 14px; height: 10px; margin-right: 4px;";
        swatch.style.background = stop[1];
        row.appendChild(document.createTextNode(stop[0]));
      });
      return box;
    };
    // the legend of the thematic layer on the map, and only its
    if (map.hasLayer(group)) { control.addTo(map); }
    group.on("add", function () { control.addTo(map); });
    group.on("remove", function () { control.remove(); });
  }
  function heading(control, text) {
    var list = control.getContainer().querySelector(".leaflet-control-layers-list");
    list.insertBefore(textNode("b", text), list.firstChild);
  }
  var title = document.body.appendChild(textNode("div", page.title));
  title.className = "geocarbon-title";
  title.style.cssText = "position: fixed; top: 10px; left: 50px; z-index: 1000; " +
    "background: white; padding: 4px 8px; font: 14px sans-serif; border-radius: 4px;";
  document.title = page.title;
  var words = page.words;
  // base maps and thematic layers are two radio groups: one of each on the map at a time
  var baseControl = L.control.layers(null, null, {collapsed: false}).addTo(map);
  if (page.tiles) {
    var custom = L.tileLayer(page.tiles, {maxZoom: 19}).addTo(map);
    baseControl.addBaseLayer(custom, escapedHtml(words.custom));
  }
  page.bases.forEach(function (base) {
    baseControl.addBaseLayer(layers[base[1]], escapedHtml(base[0]));
  });
  var control = L.control.layers(null, null, {collapsed: false}).addTo(map);
  control.getContainer().classList.add("geocarbon-thematic");
  page.overlays.forEach(function (overlay) {
    var group = layers[overlay.group];
    if (overlay.fills) {
      // the regions' outlines, sent once, drawn with this layer's colours and values
      var style = function (feature) {
        return {fillColor: overlay.fills[feature.properties.region], color: "#333333",
                weight: 1, fillOpacity: 0.75};
      };
      L.geoJSON(page.outlines, {
        style: style,
        onEachFeature: function (feature, shape) {
          var index = feature.properties.region;
          var region = page.regions[index];
          var rows = [[words.region, region.name], [overlay.label, overlay.values[index]]];
          shape.bindTooltip(function () { return rowsTable(rows); }, {sticky: true});
          shape.bindPopup(function () { return popup(region); }, {maxWidth: 400});
          shape.on("mouseover", function () { shape.setStyle({weight: 3}); });
          shape.on("mouseout", function () { shape.setStyle({weight: 1}); });
        }
      }).addTo(group);
    }
    if (overlay.tiles) {
      L.tileLayer(overlay.tiles, {
        minZoom: 0, maxNativeZoom: overlay.max_native_zoom, opacity: 0.8, attribution: "geocarbon"
      }).addTo(group);
    }
    control.addBaseLayer(group, escapedHtml(overlay.label));
    legend(overlay, group);
  });
  heading(baseControl, words.base_maps);
  heading(control, words.layers);
}"""
