"""The report as one self-contained HTML file: figures inlined, no request to any server.

Every text from the data (zone and cluster names, reasons) is escaped by Jinja's
autoescaping; the page carries a Content-Security-Policy that forbids loading
anything but its own inline images and styles, so it opens the same offline.
"""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2
from markupsafe import Markup
from markupsafe import escape as e

from geo.report.document import Block, Report
from geo.report.findings import Cite
from geo.report.table import ReportTable

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ 'zh-CN' if report.lang == 'zh' else 'en' }}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.title }}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  "SimSun", sans-serif; margin: 0; color: #222; line-height: 1.55; }
main { max-width: 1100px; margin: 0 auto; padding: 0 24px 48px; }
.banner { position: sticky; top: 0; z-index: 10; background: #b71c1c; color: #fff;
  padding: 6px 16px; font-weight: bold; text-align: center; }
@media print { .banner { position: fixed; top: 0; left: 0; right: 0; } main { padding-top: 32px; }
  section { break-before: page; } }
h1 { font-size: 1.7em; margin: 24px 0 4px; } .subtitle { color: #666; margin: 0 0 16px; }
h2 { border-bottom: 2px solid #1565c0; padding-bottom: 4px; margin-top: 40px; }
nav ol { columns: 2; } nav a { color: #1565c0; }
table.data { border-collapse: collapse; font-size: 13px; margin: 8px 0 4px; width: 100%; }
table.data th, table.data td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
table.data th { background: #eef3fb; position: sticky; top: 30px; }
table.data td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.data tr.flagged td { background: #fff4e5; } td.flag { color: #b35c00; }
.scroll { overflow-x: auto; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 4px 0; }
p.note, p.reading { color: #555; font-size: 13px; margin: 2px 0 16px; }
figure { margin: 16px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-weight: bold; }
ol.findings li { margin: 6px 0; } a.cite { color: inherit; font-weight: bold;
  text-decoration: underline dotted #1565c0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; font-size: 13px; }
.card h4 { margin: 0 0 6px; } .card dl { display: grid; grid-template-columns: auto 1fr;
  gap: 1px 10px; margin: 0; } .card dt { color: #555; } .card dd { margin: 0; text-align: right; }
</style>
</head>
<body>
{% if report.banner %}<div class="banner" id="synthetic-banner">{{ report.banner }}</div>{% endif %}
<main>
<h1>{{ report.title }}</h1>
<p class="subtitle">{{ report.subtitle }}</p>
<nav><ol>{% for s in report.sections %}<li><a href="#{{ s.id }}">{{ s.title }}</a></li>
{% endfor %}</ol></nav>
{% for s in report.sections %}
<section id="{{ s.id }}">
<h2>{{ loop.index }}. {{ s.title }}</h2>
{% for b in s.blocks %}{{ render(b) }}{% endfor %}
</section>
{% endfor %}
</main>
</body>
</html>
"""


class _Numbers:
    def __init__(self, lang: str):
        self.lang, self.table, self.figure = lang, 0, 0

    def next_table(self) -> str:
        self.table += 1
        return f"表{self.table}" if self.lang == "zh" else f"Table {self.table}"

    def next_figure(self) -> str:
        self.figure += 1
        return f"图{self.figure}" if self.lang == "zh" else f"Figure {self.figure}"


def _image(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _cell_class(table: ReportTable, row: str, key: str) -> str:
    if key == table.flag:
        return "flag"
    return "text" if table.fmt(row, key) == "text" else "num"


def _table(table: ReportTable, number: str) -> str:
    head = "".join(f"<th>{e(c.title)}</th>" for c in table.columns)
    rows = []
    for key, cells in table.rows():
        flagged = table.flag and table.frame.at[key, table.flag]
        tds = "".join(f'<td data-col="{e(c.key)}" class="{_cell_class(table, key, c.key)}">'
                      f"{e(text)}</td>" for c, text in zip(table.columns, cells, strict=True))
        rows.append(f'<tr data-row="{e(key)}"{" class=flagged" if flagged else ""}>{tds}</tr>')
    return (f'<div class="scroll"><table class="data" id="t-{e(table.id)}" '
            f'data-table="{e(table.id)}"><caption>{e(number)} {e(table.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f'<p class="note">{e(table.note)}</p>')


def _cards(table: ReportTable, number: str) -> str:
    """Scorecards: one card per zone, drawn from the scorecard table's cells."""
    cards = []
    for key, cells in table.rows():
        items = "".join(f'<dt>{e(c.title)}</dt><dd data-col="{e(c.key)}">{e(text)}</dd>'
                        for c, text in zip(table.columns[1:], cells[1:], strict=True))
        cards.append(f'<div class="card" data-row="{e(key)}"><h4 data-col="name">'
                     f"{e(cells[0])}</h4><dl>{items}</dl></div>")
    return (f'<h3 id="t-{e(table.id)}">{e(number)} {e(table.title)}</h3>'
            f'<div class="cards" data-table="{e(table.id)}">{"".join(cards)}</div>'
            f'<p class="note">{e(table.note)}</p>')


def _findings(findings: list[list[str | Cite]]) -> str:
    items = []
    for pieces in findings:
        text = "".join(
            f'<a class="cite" href="#t-{e(p.table)}" data-table="{e(p.table)}" '
            f'data-row="{e(p.row)}" data-col="{e(p.column)}">{e(p.text)}</a>'
            if isinstance(p, Cite) else str(e(p)) for p in pieces)
        items.append(f"<li>{text}</li>")
    return f'<ol class="findings">{"".join(items)}</ol>'


def render_html(report: Report) -> str:
    """Render the report as HTML text.

    Parameters
    ----------
    report : Report
        The assembled report.

    Returns
    -------
    str
    """
    numbers = _Numbers(report.lang)

    def render(block: Block) -> Markup:
        if block.kind == "text":
            html = f"<p>{e(block.content)}</p>"
        elif block.kind == "findings":
            html = _findings(block.content)  # type: ignore[arg-type]
        elif block.kind == "table":
            html = _table(block.content, numbers.next_table())  # type: ignore[arg-type]
        elif block.kind == "cards":
            html = _cards(block.content, numbers.next_table())  # type: ignore[arg-type]
        elif block.kind == "chart":
            chart = block.content
            html = (f'<figure id="f-{e(chart.id)}"><img src="{_image(chart.png)}" '
                    f'alt="{e(chart.caption)}"><figcaption>{e(numbers.next_figure())} '
                    f"{e(chart.caption)}</figcaption>"
                    + (f'<p class="reading">{e(chart.note)}</p>' if chart.note else "")
                    + "</figure>")
        else:  # map: a static map of the run
            path, caption = block.content  # type: ignore[misc]
            html = (f'<figure id="f-{e(Path(path).stem)}"><img src="'
                    f'{_image(Path(path).read_bytes())}" alt="{e(caption)}"><figcaption>'
                    f"{e(numbers.next_figure())} {e(caption)}</figcaption></figure>")
        return Markup(html)

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(_TEMPLATE).render(report=report, render=render)
