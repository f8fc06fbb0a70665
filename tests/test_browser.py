"""The product browser as a web page: Voila on 127.0.0.1, Debian's Chromium driven by Playwright."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from fincommerce import Settings, Workbench
from fincommerce.cli.browse import voila_command, voila_env
from fincommerce.config import NOTEBOOKS_DIR
from fincommerce.ui.pipeline import ensure_kernel

from conftest import PRODUCTS

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EVIL = '<img src=x onerror="window.__xss=1">'
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: .ci/run installs it with apt-get (chromium chromium-driver)")
    root = tmp_path_factory.mktemp("voila")
    with Workbench(Settings(store_path=root / "store"), embedder=embedder) as wb:
        wb.index_products(PRODUCTS + [{"id": "evil", "name": EVIL, "brand": "Acme", "categories": ["Toys"],
                                       "price": 9.0, "description": "an image tag toy"}], show_progress=False)
    ensure_kernel()
    port = _free_port()
    env = voila_env({**os.environ, "FINCOMMERCE_STORE_PATH": str(root / "store")})
    proc = subprocess.Popen(voila_command(NOTEBOOKS_DIR / "04-browse-products.ipynb", port), env=env,
                            stdout=open(root / "voila.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"voila did not start: {(root / 'voila.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_search_buy_toast_trending_and_no_xss(voila: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.goto(voila, timeout=180_000)
        box = page.get_by_placeholder("Search products")
        box.wait_for(timeout=180_000)

        box.fill("running shoes")
        started = time.perf_counter()
        box.press("Enter")
        cards = page.locator(".fc-results .fc-card")
        expect(cards.first).to_contain_text("Running Shoes", timeout=60_000)
        search_seconds = time.perf_counter() - started
        name = cards.first.locator("h4").inner_text().split(" ", 1)[1]

        page.locator(".fc-results").get_by_role("button", name="💳 Buy Now").first.click()
        expect(page.locator(".fc-toast")).to_contain_text(f"Purchased: {name}", timeout=30_000)
        expect(page.locator(".fc-trending li").first).to_contain_text(name, timeout=30_000)
        expect(page.locator(".fc-status")).to_contain_text("purchase")
        page.screenshot(path=str(tmp_path / "browser.png"), full_page=True)

        box.fill("an image tag toy")
        box.press("Enter")
        expect(cards.first).to_contain_text(EVIL, timeout=60_000)
        assert page.evaluate("window.__xss") is None
        browser.close()
    assert (tmp_path / "browser.png").stat().st_size > 10_000
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"
    print(json.dumps({"search_to_results_seconds": round(search_seconds, 3)}))
