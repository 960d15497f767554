"""The report page: one self-contained HTML file (inline CSS and SVG, no script, no external resource).

A Content-Security-Policy of ``default-src 'none'`` makes the promise checkable: a browser opening the
page may not fetch anything, so it looks the same offline, in a mail attachment or in a CI artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from .. import __version__

MARKER = "<!-- azure-trainer report -->"
"""First line of every page: how ``report`` knows a file it may overwrite is one of its own."""

_CSS = """
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6472; --line: #d9dde3; --bg: #ffffff; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 20px 28px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 26px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.subtitle { color: var(--muted); margin: 0 0 14px; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { text-align: left; padding: 4px 12px 4px 0; vertical-align: top; }
table.data th { border-bottom: 1px solid var(--line); font-weight: 600; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data tbody tr:nth-child(even) { background: var(--band); }
table.data tr.best { font-weight: 600; }
table.facts th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.facts td { word-break: break-word; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.notes { margin: 8px 0; padding: 8px 12px; background: #fff6e0; border-left: 3px solid #E69F00; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 14px; }
.charts.wide { grid-template-columns: 1fr; }
svg.chart { width: 100%; height: auto; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
svg .chart-title { font-size: 13px; font-weight: 600; fill: var(--fg); }
svg .tick, svg .legend text, svg .bar-value { font-size: 11px; fill: var(--muted); }
svg .axis-label { font-size: 12px; fill: var(--fg); }
svg .grid { stroke: #eceef1; }
svg .axis { stroke: #9aa1ab; }
svg .goal { stroke: #D55E00; stroke-width: 1.5; }
svg .no-data { font-size: 13px; fill: var(--muted); }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
"""


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str]], *, kind: str) -> str:
    """The whole HTML document: a header and ``(heading, inner html)`` sections, in order."""
    body = "".join(
        f'<section data-section="{escape(h)}"><h2>{escape(h)}</h2>{inner}</section>' for h, inner in sections
    )
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{MARKER}\n<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="azure-trainer {__version__}">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body data-kind="{escape(kind)}"><main><h1>{escape(title)}</h1>'
        f'<p class="subtitle">{escape(subtitle)}</p>{body}'
        f"<footer>made by azure-trainer {__version__} report, {made}</footer></main></body></html>\n"
    )


def facts_table(facts: Sequence[tuple[str, str]]) -> str:
    """An HTML table of ``(name, value)`` rows, values escaped (the command shown as code)."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{_cell(k, v)}</td></tr>" for k, v in facts)
    return f'<table class="facts">{rows}</table>'


def _cell(key: str, value: str) -> str:
    return f"<code>{escape(value)}</code>" if key == "command" else escape(value)


def data_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool] = (),
    css: str = "",
    best_row: int | None = None,
) -> str:
    """A table with a header; ``numeric`` columns are right-aligned; ``best_row`` is bold."""
    numeric = list(numeric) + [False] * (len(header) - len(numeric))
    head = "".join(
        f'<th class="{"num" if n else ""}">{escape(h)}</th>' for h, n in zip(header, numeric, strict=True)
    )
    body = "".join(
        f'<tr class="{"best" if i == best_row else ""}">'
        + "".join(
            f'<td class="{"num" if n else ""}">{escape(c)}</td>' for c, n in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f'<table class="data {css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def notes(lines: Sequence[str]) -> str:
    """Each line as an escaped ``<p class="notes">`` paragraph."""
    return "".join(f'<p class="notes">{escape(line)}</p>' for line in lines)


def charts(svgs: Sequence[str], *, wide: bool = False) -> str:
    """The SVG charts side by side in one ``<div>`` (``wide``: one per row)."""
    return f'<div class="charts{" wide" if wide else ""}">{"".join(svgs)}</div>'
