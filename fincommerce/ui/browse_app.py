"""The page `fincommerce browse` serves (Solara runs this file): the live product browser, one per tab."""
from __future__ import annotations

import logging
import os
from html import escape

import ipywidgets as w
import solara

from fincommerce.errors import FincommerceError
from fincommerce.ui.shared import NOW_VARIABLE, shared_workbench
from fincommerce.ui.widgets import ProductBrowser

log = logging.getLogger(__name__)


def take_store() -> None:
    """Open the store as the server starts (Solara runs this file then): held from the start, a second
    `fincommerce browse` on it is refused at its own start instead of in a page."""
    try:
        shared_workbench()
    except FincommerceError as exc:
        log.warning("%s (each page load tries again)", exc)


def browser_widget() -> w.Widget:
    """A fresh browser for this tab, or the reason there is none, in the page itself."""
    try:
        return ProductBrowser(shared_workbench(), now=os.environ.get(NOW_VARIABLE) or None).widget
    except FincommerceError as exc:
        return w.HTML(f"<div class='fc-error' style='max-width:760px;font-family:system-ui,sans-serif'>"
                      f"<h3>⚠️ The product browser cannot open its store</h3><p>{escape(str(exc))}</p>"
                      "<p>Then reload this page.</p></div>")


@solara.component
def Page() -> None:
    solara.Title("FinCommerce product browser")
    widget = solara.use_memo(browser_widget, dependencies=[])
    solara.display(widget)


take_store()
