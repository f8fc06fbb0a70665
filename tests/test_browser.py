"""`fincommerce browse` in Debian's Chromium (Playwright): one server for every tab, offline, stops on SIGTERM;
and what stops it from starting, said before it announces itself."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import PRODUCTS

from fincommerce import Settings, Workbench
from fincommerce.store.edge import EdgeStore
from fincommerce.store.event_facts import EventFacts

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


@pytest.mark.browser
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
    # 10 s: Voila and its kernel stop within 2 s on an idle machine; the bound leaves room for a loaded CI runner.
    assert not _listening(port) and gone_after < 10, f"port still open {gone_after:.1f} s after SIGTERM"
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"
    assert (tmp_path / "browser.png").stat().st_size > 10_000
    kinds = [p["interaction_type"] for p in EventFacts(EdgeStore(store), "interaction_memory").read()]
    assert kinds.count("purchase") == 2 and kinds.count("add_to_cart") == 1
    print(json.dumps({"search_to_results_seconds": round(search_seconds, 3), "sigterm_to_exit_seconds":
                      round(gone_after, 3), "screenshot": str(tmp_path / "browser.png")}))


@pytest.mark.browser
def test_the_rising_panel_lists_a_burst_with_its_counts(tmp_path: Path, embedder) -> None:
    """A steady background for a day, then eight purchases of one laptop in the last 40 minutes."""
    from playwright.sync_api import expect, sync_playwright

    store, now = tmp_path / "store", time.time()
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        for hour in range(1, 24):
            for p in PRODUCTS[:3]:
                wb.log_interaction("steady", p, "view", timestamp=now - hour * 3600)
        for i in range(8):
            wb.log_interaction(f"buyer{i}", PRODUCTS[0], "purchase", timestamp=now - 2400 + i * 240)
    proc, url, _ = _serve(store, tmp_path / "server.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(url, timeout=120_000)
            rising = page.locator(".fc-rising")
            expect(rising).to_contain_text("Rising now", timeout=120_000)
            expect(rising.locator("li").first).to_contain_text(PRODUCTS[0]["name"], timeout=30_000)
            expect(rising.locator("li").first).to_contain_text("expected")
            assert rising.locator("li").count() == 1  # the steady products are not rising
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _browse(port: int, store: Path) -> subprocess.Popen:
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(store)}
    env.pop("QDRANT_URL", None)
    return subprocess.Popen([sys.executable, "-m", "fincommerce.cli", "browse", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_bad_port_a_busy_port_or_a_held_store_is_one_error_before_serving(tmp_path: Path) -> None:
    holder = EdgeStore(tmp_path / "held")  # as another `browse`, a JupyterLab kernel or `make run` would
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases = {"70000": (70000, tmp_path / "free"), "-1": (-1, tmp_path / "free"),
                 "busy": (busy.getsockname()[1], tmp_path / "free"), "held": (_free_port(), tmp_path / "held")}
        started = {name: _browse(port, folder) for name, (port, folder) in cases.items()}
        try:
            ended = {name: proc.communicate(timeout=60) + (proc.returncode,) for name, proc in started.items()}
        finally:
            for proc in started.values():
                proc.kill()
            holder.close()
    for name, (out, err, code) in ended.items():
        assert code == 2 and out == "" and "Traceback" not in err and len(err.splitlines()) == 1, (name, err)
    assert "--port: expected a TCP port from 1 to 65535, got 70000" in ended["70000"][1]
    assert "got -1" in ended["-1"][1]
    assert "Address already in use" in ended["busy"][1]
    assert f"{tmp_path / 'held'} is in use by another process (pid {os.getpid()}" in ended["held"][1]


def _count_comms(payload: str | bytes, comms: Counter) -> None:
    """Widgets the page holds are those the server opened and has not closed (comm_open minus comm_close)."""
    if isinstance(payload, str) and payload.startswith("{"):
        comms[json.loads(payload).get("msg_type", "")] += 1


def _settled(page: Page, count: Callable[[], int], tries: int = 25) -> int:
    """The count once two reads 200 ms apart agree: the kernel closes replaced widgets a moment after the
    new cards render, later on a loaded machine (a real leak keeps growing, so it still shows)."""
    last = None
    for _ in range(tries):
        page.wait_for_timeout(200)
        now = count()
        if now == last:
            break
        last = now
    return now


def _fresh_search(page, query: str) -> None:  # type: ignore[no-untyped-def]
    """Search and wait until the new cards replaced the old ones."""
    page.evaluate("document.querySelectorAll('.fc-results .fc-card').forEach(e => e.dataset.old = 1)")
    box = page.get_by_placeholder("Search products")
    box.fill(query)
    box.press("Enter")
    page.locator(".fc-results .fc-card:not([data-old])").first.wait_for(timeout=60_000)


@pytest.mark.browser
def test_one_tab_frees_what_it_replaces_buys_once_per_intent_and_logs_views_only_for_seen_cards(
        store: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shutil.copytree(store, tmp_path / "store")  # with what the module's other tests logged: only newer rows count
    started = time.time()
    proc, url, _ = _serve(tmp_path / "store", tmp_path / "server.log")
    queries = ["running shoes", "laptop for machine learning", "electric kettle", "an image tag toy"]
    comms: Counter = Counter()
    live = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.on("websocket", lambda ws: ws.on("framereceived", lambda p: _count_comms(p, comms)))
            page.goto(url, timeout=120_000)
            page.get_by_placeholder("Search products").wait_for(timeout=120_000)
            for query in queries:
                _fresh_search(page, query)
                live.append(_settled(page, lambda: comms["comm_open"] - comms["comm_close"]))
            buys = page.locator(".fc-results").get_by_role("button", name="💳 Buy Now")
            buys.nth(0).dblclick()
            buys.nth(1).evaluate("b => { for (let i = 0; i < 5; i++) b.click(); }")  # five presses in one tick
            expect(page.locator(".fc-repeat")).to_be_visible(timeout=30_000)
            _fresh_search(page, "travel headphones")  # after every press was handled: one websocket, in order

            unseen = browser.new_page()  # a tab closed as soon as its search left, before its cards arrived
            asked: list[str] = []  # the query box sends its value on Enter only (continuous_update=False)
            rendered: list[str] = []  # each card the tab drew tells the server so (its `_view_count` goes to 1)

            def sent(frame: str | bytes) -> None:
                if isinstance(frame, str) and "boiling water for tea" in frame:
                    asked.append(frame)
                elif asked and isinstance(frame, str) and "_view_count" in frame:
                    rendered.append(frame)
            unseen.on("websocket", lambda ws: ws.on("framesent", sent))
            unseen.goto(url, timeout=120_000)
            box = unseen.get_by_placeholder("Search products")
            box.wait_for(timeout=120_000)
            box.fill("boiling water for tea")
            box.press("Enter")
            for _ in range(500):  # a fixed wait let a fast server render every card first
                if asked:
                    break
                unseen.wait_for_timeout(5)
            assert asked, "the search never left the tab"
            unseen.close()
            page.wait_for_timeout(2_000)  # the server finishes the search the closed tab asked for
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    rows = [p for p in EventFacts(EdgeStore(tmp_path / "store"), "interaction_memory").read()
            if p["timestamp"] >= started]
    views = Counter(r["query"] for r in rows if r["interaction_type"] == "view")
    purchases = [r for r in rows if r["interaction_type"] == "purchase"]
    shown = len(rendered)
    print(json.dumps({"live_widgets_after_each_search": live, "cards_drawn_before_close": shown}))
    assert max(live) == live[0], f"widgets alive in the page grew with each search: {live}"
    assert len(purchases) == 2, [(p["product_id"], p["timestamp"]) for p in purchases]
    assert all(views[q] == 5 for q in queries), views
    # The bug logged all 5 views of a tab closed before its cards arrived: a view is logged only for a card the tab
    # drew and said so before it closed (on a loaded machine that can be all five, usually it is none).
    assert views["boiling water for tea"] <= shown, (views, shown)
