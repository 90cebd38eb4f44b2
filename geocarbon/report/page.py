"""The run report as one self-contained HTML page: inline CSS, figures as ``data:`` URIs, no script.

The page is assembled from strings, never a template engine, and every text in it goes through
:func:`html.escape` (names, ids, file names and class names are data: a region named
``{{7*7}}`` or ``<script>`` shows as typed). Nothing on the page refers to another host: the
only link is to ``map.html`` beside it. Each number cell carries the exact value it shows in a
``data-value`` attribute, so the page can be checked against the run's summary.
"""

from __future__ import annotations

from html import escape

from geocarbon.report.content import Cell, Figure, ReportContent, Table
from geocarbon.report.labels import label

STYLE = """
body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em auto;
  max-width: 60em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; border-bottom: 2px solid #2e7d32; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; color: #2e7d32; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: .25em .5em; vertical-align: top; }
th { background: #f1f5f1; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.hash { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; word-break: break-word; }
figure { margin: 1em 0; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; }
.warnings li { color: #8a4b00; }
footer { margin-top: 2em; font-size: .8em; color: #666; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; }
  h2 { page-break-after: avoid; } table { page-break-inside: auto; } tr { page-break-inside: avoid; } }
"""


def render(content: ReportContent) -> str:
    """The report page of ``content``."""
    lang = content.lang
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(label(lang, "html_lang"))}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no script, no request: only inline styles and data: images
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(content.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f'<h1 id="title">{escape(content.title)}</h1>',
        _section("what_was_run", lang, _facts(content.facts)),
        _section("inputs", lang, _table(content.inputs, caption=False, hash_column=2)),
        _section("warnings", lang, _warnings(content.warnings, lang)),
        _section("totals", lang, "".join(_table(table) for table in content.totals)),
        *(_table_section(table) for table in content.tables),
        _section("figures", lang, _figures(content.figures, lang)),
    ]
    if content.map_href is not None:
        link = f'<p><a id="map-link" href="{escape(content.map_href)}">{escape(label(lang, "map_link"))}</a></p>'
        parts.append(_section("map", lang, link))
    parts += [
        _section("files", lang, _table(content.files, caption=False)),
        f"<footer>{escape(label(lang, 'generated'))}</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _section(key: str, lang: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(label(lang, key))}</h2>\n{body}</section>'


def _table_section(table: Table) -> str:
    return f'<section class="table"><h2>{escape(table.caption)}</h2>\n{_table(table, caption=False)}</section>'


def _facts(facts: tuple[tuple[str, str], ...]) -> str:
    items = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts)
    return f'<dl class="facts">{items}</dl>'


def _warnings(warnings: tuple[str, ...], lang: str) -> str:
    if not warnings:
        return f"<p>{escape(label(lang, 'no_warnings'))}</p>"
    items = "".join(f"<li>{escape(text)}</li>" for text in warnings)
    return f'<ul class="warnings">{items}</ul>'


def _table(table: Table, *, caption: bool = True, hash_column: int | None = None) -> str:
    head = "".join(f"<th>{escape(heading)}</th>" for heading in table.headings)
    rows = []
    for row in table.rows:
        cells = "".join(
            _td(cell, hashed=position == hash_column) for position, cell in enumerate(row)
        )
        rows.append(f"<tr>{cells}</tr>")
    title = f"<caption>{escape(table.caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>\n"


def _td(cell: Cell, *, hashed: bool = False) -> str:
    if cell.number is not None:
        return f'<td class="num" data-value="{cell.number!r}">{escape(cell.text)}</td>'
    css = ' class="hash"' if hashed else ""
    return f"<td{css}>{escape(cell.text)}</td>"


def _figures(figures: tuple[Figure, ...], lang: str) -> str:
    if not figures:
        return f"<p>{escape(label(lang, 'no_figures'))}</p>"
    return "".join(
        f'<figure id="figure-{escape(figure.name)}"><img alt="{escape(figure.name)}" '
        f'src="{escape(figure.data_uri)}"></figure>'
        for figure in figures
    )
