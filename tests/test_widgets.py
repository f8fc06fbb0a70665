"""The widget browser's callbacks, driven directly (the browser test drives the same code through Voila)."""
from __future__ import annotations

from fincommerce import Workbench
from fincommerce.ui.widgets import ProductBrowser


def test_search_logs_one_view_per_card_and_buy_now_stores_a_purchase(catalog_wb: Workbench) -> None:
    browser = ProductBrowser(catalog_wb, top_k=3, user_id="shopper")
    assert "Nothing yet" in browser.trending.value
    browser.query.value = "running shoes"  # Enter in the text box searches
    assert len(browser.results.children) == 3
    views = catalog_wb.store.count(catalog_wb.interactions)
    assert views == 3
    browser.search()  # a redraw of the same search logs no new views
    assert catalog_wb.store.count(catalog_wb.interactions) == 3
    first = browser.current[0]
    buy = browser.results.children[0].children[1].children[2]
    assert buy.description == "💳 Buy Now"
    buy.click()
    rows = [r.payload for r in catalog_wb.store.scroll(catalog_wb.interactions)]
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
    kinds = [r.payload["interaction_type"] for r in catalog_wb.store.scroll(catalog_wb.interactions)]
    assert kinds.count("click") == 1
    card.children[1].children[0].click()  # toggles closed: not a click on the product
    assert details.layout.display == "none"
    card.children[1].children[0].click()  # opened again: one more click
    assert details.layout.display == "block"
    kinds = [r.payload["interaction_type"] for r in catalog_wb.store.scroll(catalog_wb.interactions)]
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
