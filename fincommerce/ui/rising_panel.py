"""The browser's "Rising now" panel: the significant risers of the last hours, or why there are none."""
from __future__ import annotations

from html import escape

from fincommerce.errors import FincommerceError
from fincommerce.ui.cards import isolate
from fincommerce.workbench import Workbench

PANEL_HOURS = 2.0  # the recent window the panel tests (at least the short half-life)


def rising_html(wb: Workbench, now: float | None, top_k: int = 5) -> str:
    """Risers with their counts and p-values; a sentence instead of a list when nothing is tested or rises."""
    try:
        rows = wb.get_rising_products(PANEL_HOURS, top_k, now=now)
    except FincommerceError as exc:  # e.g. a store whose log starts inside the window: say so in the panel
        body = f"<p class='fc-empty'>{escape(str(exc))}</p>"
    else:
        names = wb.get_products([r["product_id"] for r in rows]) if rows else {}
        items = "".join(
            f"<li>{isolate(str(names.get(r['product_id'], {}).get('name', r['product_id'])))} "
            f"<small>({r['recent_events']} vs {r['expected_events']:.1f} expected, "
            f"{r['uptick_ratio']:.1f}x, p={r['p_value']:.1g})</small></li>" for r in rows)
        why = wb.popularity.empty_reason(now, PANEL_HOURS)
        body = (f"<ol>{items}</ol>" if items else f"<p class='fc-empty'>Nothing rises significantly in the last "
                f"{PANEL_HOURS:g} h{': ' + escape(why) if why else '.'}</p>")
    return f"<div class='fc-rising'><b>📈 Rising now</b>{body}</div>"
