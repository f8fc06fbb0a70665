"""The ipywidgets product browser: search, cards with actions, trending panel, status line.

Works in JupyterLab and, through Solara (`fincommerce browse`), as a plain web page. Every action
goes through the same `log_interaction` as the API, or says in the page why it was not logged; a card
logs one `view` per search once a page has rendered it (a card nobody saw was not viewed).
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as w

from fincommerce.errors import FincommerceError, ValidationError
from fincommerce.ui.cards import STYLE, card_html, isolate, score_bars
from fincommerce.ui.rising_panel import rising_html
from fincommerce.workbench import Workbench

ACTIONS = {"click": "👁️ View Details", "add_to_cart": "🛒 Add to Cart", "purchase": "💳 Buy Now"}
TOASTS = {"add_to_cart": "🛒 Added to cart: {name}", "purchase": "💳 Purchased: {name}"}
REPEAT_SECONDS = 1.0  # a second press of the same button this soon after the first is a double-click, not an intent


def close_tree(widget: w.Widget) -> None:
    """Close a widget and all it owns (children, layout, style): ipywidgets keeps each one alive until closed."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in ("layout", "style"):
        owned = getattr(widget, part, None)
        if isinstance(owned, w.Widget):
            owned.close()
    widget.close()


class ProductBrowser:
    """Build with a workbench; `.widget` is what to display. Callbacks are plain methods, so tests drive them."""

    def __init__(self, wb: Workbench, *, top_k: int = 5, user_id: str = "demo_user", query: str = "",
                 now: str | float | None = None) -> None:
        self.wb = wb
        self.top_k = top_k
        self.now: float | None = None  # the clock searches and trending use; None is the wall clock
        self.clock = w.Text(value="" if now is None else str(now), description="As of",
                            placeholder="live; or latest, 2026-11-10, 2026-11-10T14:00Z",
                            continuous_update=False)
        brands, cats = wb.vocabulary()
        users = sorted(wb.behaviour.users)  # empty until the first search builds the behaviour index
        self.user = w.Combobox(value=user_id, options=users[:500], placeholder="user id (new users welcome)",
                               description="User", ensure_option=False)
        self.query = w.Text(value=query, placeholder="Search products", description="Search",
                            continuous_update=False, layout=w.Layout(width="420px"))
        self.search_button = w.Button(description="Search", button_style="primary", icon="search")
        self.budget = w.FloatSlider(value=0, min=0, max=5000, step=50, description="Budget",
                                    readout_format=".0f", continuous_update=False)
        self.brands = w.TagsInput(value=[], allowed_tags=sorted(brands), allow_duplicates=False,
                                  placeholder="preferred brands, e.g. Apple (Enter adds)")
        self.categories = w.TagsInput(value=[], allowed_tags=sorted(cats), allow_duplicates=False,
                                      placeholder="preferred categories, e.g. Laptops (Enter adds)")
        self.ranker = w.Dropdown(options=[("linear (seed formula)", "linear"), ("learned (LambdaRank)", "learned")],
                                 value="linear", description="Ranker")
        self.ranker.observe(lambda change: self.search() if self.query.value.strip() else None, names="value")
        self.toast = w.HTML()
        self.status = w.HTML("<span class='fc-status'>No interaction logged yet.</span>")
        self.trending, self.rising = w.HTML(), w.HTML()
        self.results = w.VBox()
        self.results.add_class("fc-results")
        self.search_button.on_click(lambda _: self.search())
        self.query.observe(lambda change: self.search() if change["new"].strip() else None, names="value")
        self.clock.observe(lambda change: self.set_clock(change["new"]), names="value")
        self.current: list[dict[str, Any]] = []
        self._search_id = 0
        self._viewed: set[tuple[int, str]] = set()
        self._last_key: tuple[Any, ...] | None = None
        self.widget = w.VBox([
            w.HTML(STYLE + "<style>.fc-toast{background:#1b5e20;color:#fff;padding:6px 12px;border-radius:6px;"
                   "display:inline-block}.fc-trending ol,.fc-rising ol{margin:4px 0;padding-left:20px}</style>"),
            w.HBox([self.user, self.query, self.search_button]),
            w.HBox([self.budget, self.clock, self.ranker]),
            w.HBox([w.Label("Brands"), self.brands]), w.HBox([w.Label("Categories"), self.categories]),
            self.toast, self.status,
            w.HBox([self.results, w.VBox([self.trending, self.rising])], layout=w.Layout(align_items="flex-start")),
        ])
        self.set_clock(self.clock.value)

    # ----- callbacks ---------------------------------------------------------------------
    def set_clock(self, value: str | float | None) -> None:
        """Look at the data as of another time (historical logs end before today)."""
        try:
            self.now = self._parse_clock(value)
        except FincommerceError as exc:
            self._error(exc)
            return
        self.toast.value = ""
        self.refresh_trending()
        if self.query.value.strip():
            self.search()

    def search(self) -> list[dict[str, Any]]:
        query = self.query.value.strip()
        if not query:
            self.current = []
            self._show([w.HTML("<p class='fc-hint'>Type a query to search, e.g. "
                               "<i>laptop for machine learning under 1500</i>.</p>")])
            return []
        context = {"budget": self.budget.value or None, "brands": list(self.brands.value),
                   "categories": list(self.categories.value)}
        key = (self.user_id, query, context["budget"], tuple(context["brands"]), tuple(context["categories"]))
        try:
            self.current = self.wb.search_products(self.user_id, query, self.top_k, user_context=context,
                                                   now=self.now, ranker=self.ranker.value)
        except FincommerceError as exc:
            self._error(exc)
            return []
        if key != self._last_key:  # the same search again is a redraw: its views are already logged
            self._search_id += 1
            self._last_key = key
            self._viewed = set()
        self.toast.value = ""
        self._show([self._card(r, i, query) for i, r in enumerate(self.current, 1)])
        self.refresh_trending()
        return self.current

    def act(self, index: int, interaction_type: str) -> bool:
        """A button press on card `index` (0-based): click / add_to_cart / purchase. False (and the reason in
        the toast) when it could not be logged, e.g. a user id or query longer than the event log accepts."""
        result = self.current[index]
        name = str(result["payload"].get("name", result["product_id"]))
        try:
            stored = self.wb.log_interaction(self.user_id, self._product(result), interaction_type,
                                             self.query.value)
        except FincommerceError as exc:
            self._error(exc, f"Not logged ({interaction_type} of {name})")
            return False
        toast = TOASTS.get(interaction_type)
        self.toast.value = f"<span class='fc-toast'>{toast.format(name=isolate(name))}</span>" if toast else ""
        self._set_status(stored.interaction_type, name, stored.timestamp)
        self.refresh_trending()
        return True

    def refresh_trending(self) -> None:
        hours = self.wb.settings.trending_window_hours
        rows = self.wb.get_top_interacted_products(hours, 5, now=self.now)
        names = self.wb.get_products([r["product_id"] for r in rows]) if rows else {}
        items = "".join(
            f"<li>{isolate(str(names.get(r['product_id'], {}).get('name', r['product_id'])))} "
            f"<small>({r['weighted_popularity_score']:.2f})</small></li>" for r in rows)
        self.trending.value = (f"<div class='fc-trending'><b>🔥 Trending now</b>"
                               f"{'<ol>' + items + '</ol>' if items else self._empty_trending(hours)}</div>")
        self.rising.value = rising_html(self.wb, self.now)

    def _empty_trending(self, hours: float) -> str:
        note = self.wb.popularity.empty_reason(self.now, hours)
        return (f"<p class='fc-empty'>{escape(note)} Type <code>latest</code> in “As of”.</p>" if note
                else "<p>Nothing yet.</p>")

    # ----- helpers -----------------------------------------------------------------------
    @property
    def user_id(self) -> str:
        return (self.user.value or "").strip() or "demo_user"

    def _product(self, result: dict[str, Any]) -> dict[str, Any]:
        return {**result["payload"], "id": result["product_id"]}

    def _parse_clock(self, value: str | float | None) -> float | None:
        """Unix seconds or None (the wall clock); NaN, infinities and years past 9999 are refused by the clock."""
        try:
            return self.wb.resolve_now(value)
        except ValidationError as exc:
            raise ValidationError("As of", exc.expected, value) from None

    def _show(self, cards: list[w.Widget]) -> None:
        """Replace the result cards, closing the old ones: unclosed, each search leaked ~95 widgets."""
        old, self.results.children = self.results.children, tuple(cards)
        for card in old:
            close_tree(card)

    def _error(self, exc: Exception, what: str = "") -> None:
        self.toast.value = f"<span class='fc-error'>⚠️ {escape(f'{what}: ' if what else '')}{escape(str(exc))}</span>"

    def _note_repeat(self) -> None:
        if "fc-repeat" not in self.toast.value:
            self.toast.value += (f" <small class='fc-repeat'>(pressed again within {REPEAT_SECONDS:g} s: "
                                 "counted once)</small>")

    def _seen(self, search: tuple[int, str, str], result: dict[str, Any]) -> None:
        """A page rendered this card: its one view for this search (redraws of the same search log nothing)."""
        search_id, user_id, query = search
        key = (search_id, result["product_id"])
        if search_id != self._search_id or key in self._viewed:
            return
        self._viewed.add(key)
        try:
            self.wb.log_interaction(user_id, self._product(result), "view", query)
        except FincommerceError as exc:
            self._error(exc, "View not logged")

    def _set_status(self, kind: str, name: str, ts: float) -> None:
        when = time.strftime("%H:%M:%S", time.localtime(ts))
        self.status.value = (f"<span class='fc-status'>Last logged: <b>{escape(kind)}</b> of {isolate(name)} "
                             f"by {isolate(self.user_id)} at {when}</span>")

    def _card(self, result: dict[str, Any], rank: int, query: str) -> w.VBox:
        body = w.HTML(card_html(result, rank=rank, bars=False), _view_count=0)  # the page counts its views
        search = (self._search_id, self.user_id, query)
        body.observe(lambda change: self._seen(search, result) if change["new"] else None, names="_view_count")
        details = w.HTML(layout=w.Layout(display="none"))
        buttons = []
        for kind, label in ACTIONS.items():
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(self._handler(rank - 1, kind, details))
            buttons.append(button)
        return w.VBox([body, w.HBox(buttons), details], layout=w.Layout(margin="0 0 8px 0"))

    def _handler(self, index: int, kind: str, details: w.HTML) -> Callable[[w.Button], None]:
        """One log entry per intent: presses while one is pending, or within REPEAT_SECONDS of the last logged
        or repeated press of an Add to Cart or Buy button, are the same intent (a double-click bought twice)."""
        pending = threading.Lock()
        last_press = -math.inf

        def handle(button: w.Button) -> None:
            nonlocal last_press
            if not pending.acquire(blocking=False):
                return
            button.disabled = True
            try:
                if kind in TOASTS and time.monotonic() - last_press < REPEAT_SECONDS:
                    self._note_repeat()
                    last_press = time.monotonic()
                elif kind == "click" and details.layout.display == "block":
                    details.layout.display = "none"  # closing is not a click on the product
                elif self.act(index, kind):
                    last_press = time.monotonic()
                    if kind == "click":
                        r = self.current[index]
                        items = "".join(f"<li>{escape(e)}</li>" for e in r["explanations"])
                        details.value = (f"<div class='fc-card'><ul class='fc-ex'>{items}</ul>"
                                         f"{score_bars(r)}</div>")
                        details.layout.display = "block"
            finally:
                button.disabled = False
                pending.release()

        return handle
