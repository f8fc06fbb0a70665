"""What a user sees of the seed's behaviour: debug lines without logging set up, honest explanations,
price ranges, readable behaviour text."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import T0

from fincommerce import Workbench
from fincommerce.schema import Interaction
from fincommerce.tracking import behaviour_text


def test_debug_lines_show_in_a_plain_script_without_logging_configured(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        from fincommerce import Settings, Workbench
        wb = Workbench(Settings(store_path={str(tmp_path / 'store')!r}))
        wb.index_products([{{"id": "a", "name": "Apple MacBook Pro laptop", "price": 1299.0}}], show_progress=False)
        wb.log_interaction("u", {{"id": "a", "name": "Apple MacBook Pro laptop", "price": 1299.0}}, "purchase",
                           timestamp={T0})
        wb.get_top_interacted_products(24, 5, debug=True, now={T0 + 60})
        wb.search_products("u", "laptop", 1, debug_mode=True, now={T0 + 60})
        wb.get_top_interacted_products(24, 5, debug=False, now={T0 + 60})
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for line in ("🔍 Fetching popular products (last 24h, top 5)", "Found 1 interactions in timeframe",
                 "📊 Top 1 popular products:", "#1: product_id=a, interactions=1, popularity=1.000",
                 "📊 Reranking complete - Score breakdown:", "#1: final="):
        assert line in out.stdout, line
    assert out.stdout.count("Fetching popular products") == 1  # debug=False stays quiet


def test_a_category_named_in_the_query_is_not_called_a_preference(catalog_wb: Workbench) -> None:
    results = catalog_wb.search_products("brand_new_user", "laptop under 1500", 3, now=T0)
    texts = [e for r in results for e in r["explanations"]]
    assert not any("preferred category" in e for e in texts)
    assert any(e == "🔎 Matches what you searched for: Laptops" for e in texts)
    chosen = catalog_wb.search_products("brand_new_user", "laptop under 1500", 3, now=T0,
                                        user_context={"categories": ["Laptops"]})
    assert any("⭐ Matches your preferred category: Laptops" in r["explanations"] for r in chosen)


def test_cards_merely_displayed_do_not_make_a_brand_yours(catalog_wb: Workbench) -> None:
    """Rule: brand and category tastes come from clicks, carts and purchases; views alone never count."""
    for pid in ("pegasus", "ultraboost", "kettle"):
        catalog_wb.log_interaction("shopper", {"id": pid, "name": pid, "brand": "Nike", "categories": ["Sports"]},
                                   "view", timestamp=T0)
    results = catalog_wb.search_products("shopper", "running shoes", 3, now=T0 + 60)
    assert not any("your brand" in e or "preferred brand" in e for r in results for e in r["explanations"])
    catalog_wb.log_interaction("shopper", {"id": "pegasus", "name": "Nike Pegasus", "brand": "Nike",
                                           "categories": ["Sports"]}, "purchase", timestamp=T0 + 120)
    results = catalog_wb.search_products("shopper", "running shoes", 3, now=T0 + 180)
    assert any("Nike" in e for r in results for e in r["explanations"])


def test_between_honours_both_bounds(catalog_wb: Workbench) -> None:
    results = {r["product_id"]: r for r in catalog_wb.search_products("u", "laptop between 1000 and 1400", 8, now=T0)}
    air = results["air"]  # 999: just under the asked range
    assert air["affordability_score"] < 1.0 and "💰 Well within your budget" not in air["explanations"]
    inside = catalog_wb.search_products("u", "laptop between 900 and 1400", 8, now=T0)
    air = next(r for r in inside if r["product_id"] == "air")
    assert air["affordability_score"] == 1.0 and "💰 Within your price range" in air["explanations"]


def test_behaviour_text_writes_prices_like_a_person() -> None:
    def text(price: float) -> str:
        return behaviour_text(Interaction("e", "u", "p", "purchase", 1.0, T0, "", "Villa", "", (), price))
    assert text(1234567) == "user purchased Villa price 1,234,567"
    assert text(129999.99) == "user purchased Villa price 129,999.99"
    assert text(1299) == "user purchased Villa price 1299"  # the seed's own sentence
    assert text(19.5) == "user purchased Villa price 19.50"
