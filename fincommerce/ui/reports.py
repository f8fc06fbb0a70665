"""Recorded results and self-contained HTML reports of executed notebooks.

`record(name, value)` writes a display output with our own MIME type; `read_records` reads them back
from an executed notebook with nbformat (the ~20-line replacement for scrapbook that
microsoft/recommenders moved to).
"""
from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import Any, Mapping

import nbformat
from IPython.display import display
from nbconvert import HTMLExporter

from fincommerce.errors import FincommerceError

log = logging.getLogger(__name__)

RECORD_MIME = "application/vnd.fincommerce.record+json"
_EMPTY_SCRIPT = re.compile(r'<script src=""></script>\s*')
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(?\s*["'](?:https?:)?//""",
                      re.I)


def record(name: str, value: Any) -> None:
    """Record a JSON-serialisable value in the running notebook (shown as a small text line too)."""
    payload = json.loads(json.dumps(value, default=float))
    display({RECORD_MIME: {"name": name, "value": payload}, "text/plain": f"{name} = {payload!r}"}, raw=True)


def read_records(path: str | Path) -> dict[str, Any]:
    nb = nbformat.read(str(path), as_version=4)
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RECORD_MIME in data:
                item = data[RECORD_MIME]
                out[item["name"]] = item["value"]
    return out


def render_html(executed: Path) -> Path:
    """Self-contained HTML: code hidden, figures inline, no CDN scripts (nothing to fetch when opened)."""
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, require_js_url="", mathjax_url="", mermaid_js_url="",
                            mermaid_layout_elk_js_url="", jquery_url="", widget_renderer_url="")
    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata.pop("widgets", None)  # live progress-bar state; its renderer would come from a CDN
    nb.cells = [c for c in nb.cells if "parameters" not in c.metadata.get("tags", [])]
    for cell in nb.cells:  # progress bars and warnings stay in the executed notebook, not in the report
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    body, _ = exporter.from_notebook_node(nb)
    body = _EMPTY_SCRIPT.sub("", body)
    if EXTERNAL.search(body):
        raise FincommerceError(f"{executed.name}: the rendered report still references the network")
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def write_index(out_dir: Path, results: Mapping[str, Mapping[str, Any]]) -> Path:
    """reports/index.html: a link per report with its headline recorded numbers."""
    rows = []
    for name, recs in results.items():
        items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(_short(v))}</li>" for k, v in recs.items())
        rows.append(f'<section><h2><a href="{html.escape(name)}.html">{html.escape(name)}</a></h2><ul>{items}</ul></section>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>FinCommerce reports</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
            "code{background:#f3f3f3;padding:0 .3em}li{margin:.15em 0}</style></head><body>"
            "<h1>FinCommerce Workbench — reports</h1>" + "".join(rows) + "</body></html>")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    text = json.dumps(value, default=str)
    return text if len(text) < 200 else text[:197] + "..."
