"""The widget browser's callbacks, driven directly (the browser test drives the same code through Solara).

Where a page would report that it rendered a card, the test sets `_view_count` as the page's widget manager does.
"""
from __future__ import annotations

import math
import time
from html import escape

import ipywidgets.widgets.widget as ipywidget
import pytest

from fincommerce import Workbench
from fincommerce.ui import widgets
from fincommerce.ui.widgets import ProductBrowser


def _render(browser: ProductBrowser, cards: int | None = None) -> None:
    """What a page does once it displays the cards: each card body's view count goes to 1."""
    for card in browser.results.children[:cards]:
        card.children[0]._view_count = 1


def _kinds(wb: Workbench) -> list[str]:
    return wb.events.table()["interaction_type"].tolist()


def test_search_logs_one_view_per_card_and_buy_now_stores_a_purchase(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=3, user_id="shopper")
    assert "Nothing yet" in browser.trending.value
    browser.query.value = "running shoes"  # Enter in the text box searches
    assert len(browser.results.children) == 3
    _render(browser)
    views = catalog_wb.store.count(catalog_wb.interactions)
    assert views == 3
    browser.search()  # a redraw of the same search logs no new views
    _render(browser)
    assert catalog_wb.store.count(catalog_wb.interactions) == 3
    first = browser.current[0]
    buy = browser.results.children[0].children[1].children[2]
    assert buy.description == "💳 Buy Now"
    buy.click()
    rows = catalog_wb.events.table().to_dict("records")
    purchases = [r for r in rows if r["interaction_type"] == "purchase"]
    assert [(p["user_id"], p["product_id"]) for p in purchases] == [("shopper", first["product_id"])]
    assert "Purchased" in browser.toast.value and first["payload"]["name"] in browser.toast.value
    assert "purchase" in browser.status.value
    assert first["payload"]["name"] in browser.trending.value.split("<li>")[1]  # now the top trending product


def test_view_details_expands_explanations_and_gauges(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=2)
    browser.query.value = "headphones for travel"
    card = browser.results.children[0]
    details = card.children[2]
    assert details.layout.display == "none"
    card.children[1].children[0].click()
    assert details.layout.display == "block"
    for signal in ("semantic", "affordability", "preference", "collaborative", "popularity"):
        assert signal in details.value
    kinds = _kinds(catalog_wb)
    assert kinds.count("click") == 1
    card.children[1].children[0].click()  # toggles closed: not a click on the product
    assert details.layout.display == "none"
    card.children[1].children[0].click()  # opened again: one more click
    assert details.layout.display == "block"
    kinds = _kinds(catalog_wb)
    assert kinds.count("click") == 2


def test_an_empty_query_asks_for_one_instead_of_keeping_old_results(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=2)
    browser.query.value = "headphones for travel"
    assert browser.current
    browser.query.value = "   "
    browser.search()
    assert browser.current == [] and "Type a query" in browser.results.children[0].value


def test_the_as_of_control_shows_historical_data(catalog_wb: Workbench) -> None:
    catalog_wb.log_interaction("u", {"id": "xm5", "name": "Sony WH-1000XM5", "price": 349.0}, "purchase",
                               timestamp=1_700_000_000.0)
    browser = ProductBrowser(catalog_wb, top_k=2)
    assert "newest stored event is from 2023-11-14" in browser.trending.value and "latest" in browser.trending.value
    browser.clock.value = "latest"
    assert "Sony WH-1000XM5" in browser.trending.value
    browser.clock.value = "2023-11-14T22:13:20Z"
    assert "Sony WH-1000XM5" in browser.trending.value


def test_fields_are_escaped(wb: Workbench) -> None:
    evil = '<img src=x onerror="window.__xss=1">'
    wb.index_products([{"id": "evil", "name": evil, "brand": "<b>x</b>", "categories": ["<script>"], "price": 5,
                        "description": "image tag"}], show_progress=False)
    browser = ProductBrowser(wb, top_k=1)
    browser.query.value = "<img> image tag"
    html = browser.results.children[0].children[0].value
    assert "<img" not in html and "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html
    assert "<script>" not in html and "<b>x</b>" not in html


def test_views_are_logged_only_for_cards_a_page_rendered(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=3, user_id="shopper")
    browser.query.value = "running shoes"
    assert _kinds(catalog_wb) == []  # searched, but no page has shown the cards (a tab closed after Enter)
    _render(browser, 2)
    assert _kinds(catalog_wb) == ["view", "view"]
    late = browser.results.children[2]
    browser.query.value = "headphones for travel"
    late.children[0]._view_count = 1  # a card of the previous search, replaced before anyone saw it
    assert _kinds(catalog_wb) == ["view", "view"]


def test_redraws_close_the_widgets_they_replace(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=5)
    browser.query.value = "running shoes"
    alive = len(ipywidget._instances)
    for i in range(30):
        browser.query.value = ("laptop for machine learning", "headphones", "kettle", "running shoes")[i % 4]
    assert len(ipywidget._instances) <= alive  # it was 95 more per search


def test_every_action_logs_or_says_why_not(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=2, user_id="shopper")
    browser.query.value = "running shoes"
    browser.query.value = "running shoes " * 80  # too long to log: the search says so, the old cards stay
    assert "query" in browser.toast.value and "1,000 characters" in browser.toast.value
    for button in browser.results.children[0].children[1].children:
        button.click()
        assert "Not logged" in browser.toast.value and "query" in browser.toast.value
    browser.query.value = "running shoes"
    browser.user.value = "u" * 300
    buy = browser.results.children[0].children[1].children[2]
    buy.click()
    assert "Not logged (purchase of" in browser.toast.value and "user_id" in browser.toast.value
    assert _kinds(catalog_wb) == []
    browser.user.value = "shopper"
    buy.click()  # a press that was not logged is no reason to ignore the next one
    assert "Purchased" in browser.toast.value and _kinds(catalog_wb) == ["purchase"]


def test_a_double_press_on_buy_is_one_purchase(catalog_wb: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widgets, "REPEAT_SECONDS", 0.3, raising=False)
    browser = ProductBrowser(catalog_wb, top_k=2, user_id="shopper")
    browser.query.value = "running shoes"
    cart, buy = browser.results.children[0].children[1].children[1:]
    for button in (buy, buy, buy, cart, cart):
        button.click()
    assert sorted(_kinds(catalog_wb)) == ["add_to_cart", "purchase"]
    assert "counted once" in browser.toast.value and not buy.disabled
    time.sleep(0.35)
    buy.click()  # a second purchase on purpose, later
    assert sorted(_kinds(catalog_wb)) == ["add_to_cart", "purchase", "purchase"]


def test_as_of_refuses_what_is_not_a_moment_and_a_later_success_clears_the_error(catalog_wb: Workbench) -> None:
    catalog_wb.log_interaction("u", {"id": "xm5", "name": "Sony WH-1000XM5", "price": 349.0}, "purchase",
                               timestamp=1_700_000_000.0)
    browser = ProductBrowser(catalog_wb, top_k=2, now="latest")
    panel = browser.trending.value
    for value in ("nan", "inf", "-inf", "1e300", "-1", "10000-01-01", math.nan, math.inf):
        browser.set_clock(value)
        assert "As of: expected" in browser.toast.value and "fc-error" in browser.toast.value, value
        assert browser.now == 1_700_000_000.0 and browser.trending.value == panel
    browser.query.value = "headphones"
    assert browser.toast.value == "" and browser.current
    browser.clock.value = "1e300"
    assert "from 1970 to 9999, got &#x27;1e300&#x27;" in browser.toast.value
    browser.clock.value = "someday"
    assert "As of: expected" in browser.toast.value
    browser.clock.value = "2023-11-14"
    assert browser.toast.value == ""


def test_a_right_to_left_override_in_a_name_stays_inside_it(wb: Workbench) -> None:
    name = "Cable \u202eevil\u202c HDMI"
    wb.index_products([{"id": "rlo", "name": name, "brand": "\u202eAcme", "categories": ["Cables"], "price": 5.0,
                        "description": "hdmi cable"}], show_progress=False)
    browser = ProductBrowser(wb, top_k=1, user_id="\u202eshopper")
    browser.query.value = "hdmi cable"
    browser.results.children[0].children[1].children[2].click()
    assert f"of <bdi>{escape(name)}</bdi> by <bdi>\u202eshopper</bdi> at " in browser.status.value
    isolated = f"<bdi>{escape(name)}</bdi>"
    assert isolated in browser.toast.value and isolated in browser.trending.value
    assert "<bdi>\u202eAcme</bdi> · <bdi>Cables</bdi>" in browser.results.children[0].children[0].value
