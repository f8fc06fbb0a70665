"""The ipywidgets product browser: search, cards with actions, trending panel, status line.

Works in JupyterLab and, through Solara (`fincommerce browse`), as a plain web page. Every action
goes through the same `log_interaction` as the API; every displayed card logs one `view` per search.
"""
from __future__ import annotations

import time
from html import escape
from typing import Any, Callable

import ipywidgets as w

from fincommerce.errors import FincommerceError
from fincommerce.ui.cards import STYLE, card_html, score_bars
from fincommerce.workbench import Workbench

ACTIONS = {"click": "👁️ View Details", "add_to_cart": "🛒 Add to Cart", "purchase": "💳 Buy Now"}
TOASTS = {"add_to_cart": "🛒 Added to cart: {name}", "purchase": "💳 Purchased: {name}"}


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
        self.trending = w.HTML()
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
                   "display:inline-block}.fc-trending ol{margin:4px 0;padding-left:20px}</style>"),
            w.HBox([self.user, self.query, self.search_button]),
            w.HBox([self.budget, self.clock, self.ranker]),
            w.HBox([w.Label("Brands"), self.brands]), w.HBox([w.Label("Categories"), self.categories]),
            self.toast, self.status,
            w.HBox([self.results, self.trending], layout=w.Layout(align_items="flex-start")),
        ])
        self.set_clock(self.clock.value)

    # ----- callbacks ---------------------------------------------------------------------
    def set_clock(self, value: str | float | None) -> None:
        """Look at the data as of another time (historical logs end before today)."""
        try:
            self.now = self.wb.resolve_now(value)
        except FincommerceError as exc:
            self.toast.value = f"<span class='fc-error'>⚠️ {escape(str(exc))}</span>"
            return
        self.refresh_trending()
        if self.query.value.strip():
            self.search()

    def search(self) -> list[dict[str, Any]]:
        query = self.query.value.strip()
        if not query:
            self.current = []
            self.results.children = [w.HTML("<p class='fc-hint'>Type a query to search, e.g. "
                                             "<i>laptop for machine learning under 1500</i>.</p>")]
            return []
        context = {"budget": self.budget.value or None, "brands": list(self.brands.value),
                   "categories": list(self.categories.value)}
        key = (self.user_id, query, context["budget"], tuple(context["brands"]), tuple(context["categories"]))
        try:
            self.current = self.wb.search_products(self.user_id, query, self.top_k, user_context=context,
                                                   now=self.now, ranker=self.ranker.value)
        except FincommerceError as exc:
            self.toast.value = f"<span class='fc-error'>⚠️ {escape(str(exc))}</span>"
            return []
        if key != self._last_key:  # the same search again is a redraw: its views are already logged
            self._search_id += 1
            self._last_key = key
        self.results.children = [self._card(r, i) for i, r in enumerate(self.current, 1)]
        self._log_views(query)
        self.refresh_trending()
        return self.current

    def act(self, index: int, interaction_type: str) -> None:
        """A button press on card `index` (0-based): click / add_to_cart / purchase."""
        result = self.current[index]
        stored = self.wb.log_interaction(self.user_id, self._product(result), interaction_type, self.query.value)
        name = result["payload"].get("name", result["product_id"])
        if interaction_type in TOASTS:
            self.toast.value = f"<span class='fc-toast'>{escape(TOASTS[interaction_type].format(name=name))}</span>"
        self._set_status(stored.interaction_type, name, stored.timestamp)
        self.refresh_trending()

    def refresh_trending(self) -> None:
        hours = self.wb.settings.trending_window_hours
        rows = self.wb.get_top_interacted_products(hours, 5, now=self.now)
        names = self.wb.get_products([r["product_id"] for r in rows]) if rows else {}
        items = "".join(
            f"<li>{escape(names.get(r['product_id'], {}).get('name', r['product_id']))} "
            f"<small>({r['weighted_popularity_score']:.2f})</small></li>" for r in rows)
        self.trending.value = (f"<div class='fc-trending'><b>🔥 Trending now</b>"
                               f"{'<ol>' + items + '</ol>' if items else self._empty_trending(hours)}</div>")

    def _empty_trending(self, hours: float) -> str:
        note = self.wb.popularity.empty_reason(self.now, hours)
        return f"<p class='fc-empty'>{escape(note)} Type <code>latest</code> in “As of”.</p>" if note else "<p>Nothing yet.</p>"

    # ----- helpers -----------------------------------------------------------------------
    @property
    def user_id(self) -> str:
        return (self.user.value or "").strip() or "demo_user"

    def _product(self, result: dict[str, Any]) -> dict[str, Any]:
        return {**result["payload"], "id": result["product_id"]}

    def _log_views(self, query: str) -> None:
        """One view per displayed card per search; redraws of the same results log nothing."""
        events = []
        for r in self.current:
            key = (self._search_id, r["product_id"])
            if key not in self._viewed:
                self._viewed.add(key)
                events.append({"user_id": self.user_id, "product_payload": self._product(r),
                               "interaction_type": "view", "query": query})
        if events:
            self.wb.log_interactions(events, show_progress=False)

    def _set_status(self, kind: str, name: str, ts: float) -> None:
        when = time.strftime("%H:%M:%S", time.localtime(ts))
        self.status.value = (f"<span class='fc-status'>Last logged: <b>{escape(kind)}</b> of {escape(name)} "
                             f"by {escape(self.user_id)} at {when}</span>")

    def _card(self, result: dict[str, Any], rank: int) -> w.VBox:
        details = w.HTML(layout=w.Layout(display="none"))
        buttons = []
        for kind, label in ACTIONS.items():
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(self._handler(rank - 1, kind, details))
            buttons.append(button)
        return w.VBox([w.HTML(card_html(result, rank=rank, bars=False)), w.HBox(buttons), details],
                      layout=w.Layout(margin="0 0 8px 0"))

    def _handler(self, index: int, kind: str, details: w.HTML) -> Callable[[Any], None]:
        def handle(_: Any) -> None:
            if kind == "click" and details.layout.display == "block":
                details.layout.display = "none"  # closing is not a click on the product
                return
            self.act(index, kind)
            if kind == "click":
                r = self.current[index]
                items = "".join(f"<li>{escape(e)}</li>" for e in r["explanations"])
                details.value = f"<div class='fc-card'><ul class='fc-ex'>{items}</ul>{score_bars(r)}</div>"
                details.layout.display = "block"

        return handle
