"""One self-contained HTML page: inline CSS, PNG figures embedded as base64, no scripts.

Nothing is fetched when the page opens (no CDN, no fonts), so it can be mailed, attached to an
issue or opened on an offline machine.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

#: Settings for PNGs, shared by the embedded images and MatplotlibDataset's files.
PNG_ARGS: dict = {"format": "png", "dpi": 100, "bbox_inches": "tight"}
NOT_AVAILABLE = "not available"
_CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
tr.published td { background: #fff6d8; font-style: italic; }
tr.worse td, p.worse { color: #a00; }
td small { color: #777; }
.findings { background: #eef5ff; border-left: 4px solid #36c; padding: 0.2em 1em; }
table.provenance th { text-align: left; }
table { max-width: 100%; }
.na { color: #a00; font-style: italic; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
"""


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report, or the reason it is missing (``figure`` None)."""

    title: str
    caption: str
    figure: Figure | None
    reason: str = ""


def png_base64(fig: Figure) -> str:
    """The figure as a base64-encoded PNG (the same settings as the saved files)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, **PNG_ARGS)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value: object, digits: int) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "<td>–</td>"
    if isinstance(value, float):
        return f"<td>{value:.{digits}f}</td>"
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    return f'<td class="text">{html.escape(str(value))}</td>'


def table_html(
    df: pd.DataFrame,
    digits: int = 1,
    row_class: Callable[[pd.Series], str] | None = None,
    index: bool = False,
    raw: set[str] | frozenset[str] = frozenset(),
) -> str:
    """A plain HTML table; ``row_class`` tags rows (e.g. published reference points); columns
    in ``raw`` hold HTML the caller already escaped."""
    if index:
        df = df.reset_index()
    if df.empty:
        return f'<p class="na">{NOT_AVAILABLE}</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, row in df.iterrows():
        name = row_class(row) if row_class else ""
        cls = f' class="{name}"' if name else ""
        cells = "".join(
            f'<td class="text">{v}</td>' if col in raw
            else _cell(v.item() if hasattr(v, "item") else v, digits)
            for col, v in row.items()
        )  # fmt: skip
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figure_html(item: ReportFigure) -> str:
    """An embedded figure with its caption, or a 'not available' note with the reason."""
    title = html.escape(item.title)
    if item.figure is None:
        reason = html.escape(item.reason)
        return f'<h3>{title}</h3><p class="na">{NOT_AVAILABLE}: {reason}</p>'
    img = f'<img alt="{title}" src="data:image/png;base64,{png_base64(item.figure)}">'
    caption = html.escape(item.caption)
    return f"<h3>{title}</h3><figure>{img}<figcaption>{caption}</figcaption></figure>"


def render_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The page: ``sections`` are (heading, already-escaped HTML body) pairs, in order."""
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{content}\n" for h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )
