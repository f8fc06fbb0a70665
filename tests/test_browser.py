"""`fincommerce browse` in Debian's Chromium (Playwright): one server for every tab, offline, stops on SIGTERM."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.store.edge import EdgeStore

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EVIL = '<img src=x onerror="window.__xss=1">'
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _serve(store: Path, log: Path) -> tuple[subprocess.Popen, str, int]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make test` installs it with apt-get (chromium chromium-driver)")
    port = _free_port()
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(store)}
    env.pop("QDRANT_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "fincommerce.cli", "browse", "--port", str(port)], env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not _listening(port):
        time.sleep(0.3)
    if not _listening(port):
        proc.kill()
        pytest.fail(f"fincommerce browse did not start: {log.read_text()[-2000:]}")
    return proc, f"http://127.0.0.1:{port}/", port


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    root = tmp_path_factory.mktemp("browse")
    with Workbench(Settings(store_path=root / "store"), embedder=embedder) as wb:
        wb.index_products(PRODUCTS + [{"id": "evil", "name": EVIL, "brand": "Acme", "categories": ["Toys"],
                                       "price": 9.0, "description": "an image tag toy"}], show_progress=False)
    return root / "store"


def _search(page, query: str, expect_text: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    box = page.get_by_placeholder("Search products")
    box.wait_for(timeout=120_000)
    box.fill(query)
    box.press("Enter")
    cards = page.locator(".fc-results .fc-card")
    expect(cards.first).to_contain_text(expect_text, timeout=60_000)
    return cards


def test_two_tabs_and_a_reload_search_and_buy_then_sigterm_stops_everything(store: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    proc, url, port = _serve(store, tmp_path / "server.log")
    outside: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1400})
            context.on("request", lambda r: outside.append(r.url) if not r.url.startswith(LOCAL) else None)
            first, second = context.new_page(), context.new_page()
            for page in (first, second):
                page.goto(url, timeout=120_000)
            first.reload(timeout=120_000)  # a reload used to fail on the store lock
            started = time.perf_counter()
            cards = _search(first, "running shoes", "Running Shoes")
            search_seconds = time.perf_counter() - started
            name = cards.first.locator("h4").inner_text().split(" ", 1)[1]
            first.locator(".fc-results").get_by_role("button", name="💳 Buy Now").first.click()
            expect(first.locator(".fc-toast")).to_contain_text(f"Purchased: {name}", timeout=30_000)
            expect(first.locator(".fc-trending li").first).to_contain_text(name, timeout=30_000)
            first.screenshot(path=str(tmp_path / "browser.png"), full_page=True)

            second.bring_to_front()
            _search(second, "noise cancelling headphones", "Sony")
            second.locator(".fc-results").get_by_role("button", name="🛒 Add to Cart").first.click()
            expect(second.locator(".fc-toast")).to_contain_text("Added to cart", timeout=30_000)
            second.locator(".fc-results").get_by_role("button", name="💳 Buy Now").first.click()
            expect(second.locator(".fc-toast")).to_contain_text("Purchased", timeout=30_000)
            expect(second.locator(".fc-trending")).to_contain_text(name)  # the other tab's purchase counts here

            _search(second, "an image tag toy", EVIL)
            assert second.evaluate("window.__xss") is None
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        stopped = time.perf_counter()
        proc.wait(timeout=30)
    gone_after = time.perf_counter() - stopped
    assert not _listening(port) and gone_after < 5, f"port still open {gone_after:.1f} s after SIGTERM"
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"
    assert (tmp_path / "browser.png").stat().st_size > 10_000
    kinds = [r.payload["interaction_type"] for r in EdgeStore(store).scroll("interaction_memory")]
    assert kinds.count("purchase") == 2 and kinds.count("add_to_cart") == 1
    print(json.dumps({"search_to_results_seconds": round(search_seconds, 3), "sigterm_to_exit_seconds":
                      round(gone_after, 3), "screenshot": str(tmp_path / "browser.png")}))


def test_a_store_held_by_another_program_is_explained_in_the_page(store: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    holder = EdgeStore(store)  # as a JupyterLab kernel or `make run` would
    proc, url, _ = _serve(store, tmp_path / "server.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(url, timeout=120_000)
            message = page.locator(".fc-error")
            expect(message).to_contain_text("cannot open its store", timeout=120_000)
            expect(message).to_contain_text(str(store.resolve()))
            expect(message).to_contain_text(f"pid {os.getpid()}")
            holder.close()
            page.reload()
            page.get_by_placeholder("Search products").wait_for(timeout=120_000)  # released: the page works
            browser.close()
    finally:
        holder.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
