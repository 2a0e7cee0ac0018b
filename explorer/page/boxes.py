"""Small building blocks the views share: placeholders, in-place errors, cards, HTML key-value tables."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import panel as pn

CARD_STYLE = {"border-radius": "6px"}
SELECT_A_TRIAL = "Select a trial in the table (or click a point in the sweep overview) to see its {what}."


BOX_COLORS = {  # (text, background, border)
    "hint": ("#3d4a5c", "#f3f6fa", "#d5dde8"),
    "error": ("#842029", "#f8d7da", "#f5c2c7"),
    "warning": ("#664d03", "#fff3cd", "#ffecb5"),
}


def message_html(text: str, kind: str = "hint") -> str:
    """Plain text (escaped, never interpreted) in a coloured box: `hint`, `warning` or `error`."""
    color, background, border = BOX_COLORS[kind]
    style = (
        f"color:{color};background:{background};border:1px solid {border};border-radius:6px;"
        "padding:10px 14px;font-size:14px;white-space:pre-wrap;word-break:break-word"
    )
    return f'<div class="ls-{kind}" style="{style}">{html.escape(text)}</div>'


def message_box(text: str, kind: str = "hint") -> pn.pane.HTML:
    """A pane showing `message_html`."""
    return pn.pane.HTML(message_html(text, kind), sizing_mode="stretch_width", margin=(5, 5))


def placeholder(text: str) -> pn.pane.HTML:
    """A quiet box that tells the person what to do next."""
    return message_box(text, "hint")


def error_box(message: str) -> pn.pane.HTML:
    """An error shown where the view would be, so the rest of the page keeps working."""
    return message_box(message, "error")


# Panel's card strokes its collapse chevron with `var(--background-text-color)`, which the Bootstrap template never
# defines: the stroke fell back to none and the arrow was laid out but never painted. The header's text colour instead.
CARD_CHEVRON_CSS = ".card-button > svg { stroke: currentColor; }"


def card(title: str, body: pn.viewable.Viewable, **params: Any) -> pn.Card:
    """A titled, collapsible box around one view, its collapse arrow drawn."""
    stylesheets = [CARD_CHEVRON_CSS, *params.pop("stylesheets", [])]
    return pn.Card(
        body,
        title=title,
        collapsible=True,
        sizing_mode="stretch_width",
        styles=CARD_STYLE,
        margin=(8, 8),
        stylesheets=stylesheets,
        **params,
    )


def format_value(value: Any) -> str:
    """A table cell: floats to 4 significant digits, missing values as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def key_value_table(rows: Iterable[tuple[str, Any]], caption: str) -> str:
    """An HTML table of (name, value) rows with a caption."""
    cells = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(format_value(value))}</td></tr>" for name, value in rows
    )
    return f'<table class="ls-kv"><caption>{html.escape(caption)}</caption>{cells}</table>'


KEY_VALUE_CSS = """
table.ls-kv { border-collapse: collapse; margin: 0 24px 12px 0; font-size: 13px; }
table.ls-kv caption { caption-side: top; text-align: left; color: #222; font-weight: 600; padding: 4px 0; }
table.ls-kv th { text-align: left; font-weight: 500; color: #555; padding: 2px 16px 2px 0; }
table.ls-kv td { font-family: ui-monospace, monospace; padding: 2px 0; word-break: break-all; }
table.ls-kv tr:nth-child(even) { background: #f6f8fa; }
"""
