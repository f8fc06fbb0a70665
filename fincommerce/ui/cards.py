"""Product cards as HTML: the static rendering in reports and the body of the widget browser's cards.

Every product field and query is HTML-escaped and bidi-isolated: catalogue data is user data.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from fincommerce.schema import SIGNALS

STYLE = """<style>
.fc-cards{display:flex;flex-direction:column;gap:10px;font-family:system-ui,sans-serif;max-width:760px}
.fc-card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;background:#fff}
.fc-card h4{margin:0 0 4px 0;font-size:15px}.fc-meta{color:#555;font-size:13px;margin-bottom:6px}
.fc-ex{margin:4px 0 6px 0;padding-left:18px;font-size:13px}
.fc-bar{display:flex;align-items:center;gap:6px;font-size:11px;color:#444}
.fc-bar span.l{width:92px}.fc-bar div.t{flex:1;background:#eee;height:8px;border-radius:4px}
.fc-bar div.f{background:#4292c6;height:8px;border-radius:4px}
</style>"""


def isolate(text: str) -> str:
    """User text, escaped and bidi-isolated: a right-to-left override in a name cannot reorder the line around it."""
    return f"<bdi>{escape(text)}</bdi>"


def score_bars(result: Mapping[str, Any]) -> str:
    rows = []
    for s in SIGNALS:
        v = float(result.get(f"{s}_score", 0.0))
        rows.append(f'<div class="fc-bar"><span class="l">{s}</span><div class="t">'
                    f'<div class="f" style="width:{100 * max(0.0, min(1.0, v)):.0f}%"></div></div>'
                    f"<span>{v:.2f}</span></div>")
    return "".join(rows)


def card_html(result: Mapping[str, Any], *, rank: int | None = None, max_explanations: int | None = 3,
              bars: bool = True) -> str:
    p = result.get("payload", {})
    title = isolate(str(p.get("name", result.get("product_id", ""))))
    prefix = f"#{rank} " if rank is not None else ""
    cats = " › ".join(isolate(str(c)) for c in p.get("categories", []))
    explanations = list(result.get("explanations", []))[:max_explanations]
    items = "".join(f"<li>{escape(str(e))}</li>" for e in explanations)
    return (f'<div class="fc-card"><h4>{prefix}{title}</h4>'
            f'<div class="fc-meta">{isolate(str(p.get("brand", "")))} · {cats} · '
            f'<b>{float(p.get("price", 0.0)):,.2f}</b> · final score {float(result.get("final_score", 0.0)):.3f}</div>'
            f'<ul class="fc-ex">{items}</ul>{score_bars(result) if bars else ""}</div>')


def cards_html(results: Sequence[Mapping[str, Any]], query: str = "") -> str:
    heading = f"<h3>Results for “{isolate(query)}”</h3>" if query else ""
    body = "".join(card_html(r, rank=i) for i, r in enumerate(results, 1))
    return f'{STYLE}<div class="fc-cards">{heading}{body or "<p>No results.</p>"}</div>'
