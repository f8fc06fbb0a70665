"""Recorded results and self-contained HTML reports of executed notebooks.

`record(name, value)` (fincommerce.ui.records) writes a display output with our own MIME type;
`read_records` reads them back from an executed notebook with nbformat (the ~20-line replacement for scrapbook that
microsoft/recommenders moved to).
"""
from __future__ import annotations

import html
import logging
import re
import subprocess
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from fincommerce.errors import FincommerceError
from fincommerce.ui.findings import day, findings, headlines
from fincommerce.ui.records import RECORD_MIME

log = logging.getLogger(__name__)

_EMPTY_SCRIPT = re.compile(r'<script src=""></script>\s*')
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(?\s*["'](?:https?:)?//""", re.I
)


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


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VERSIONS = ("fincommerce", "numpy", "pandas", "torch", "sentence-transformers", "qdrant-edge-py", "papermill")


def run_info(root: Path) -> dict[str, Any]:
    """Git commit (marked when the tree has changes) and package versions, for report headers."""
    def git(*args: str) -> str:
        found = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return found.stdout.strip() if found.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {"commit": commit or "not a git checkout", "versions": {p: version(p) for p in VERSIONS}}


def _parameter_rows(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    rows = []
    for key, spec in defaults.items():
        value = repr(given[key]) if key in given else str(spec["default"])
        note = " <b>(set for this run)</b>" if key in given else ""
        rows.append(f"<tr><td><code>{html.escape(key)}</code></td><td>{html.escape(value)}{note}</td>"
                    f"<td>{html.escape(spec.get('help', ''))}</td></tr>")
    return "".join(rows)


def _header(nb: nbformat.NotebookNode, defaults: Mapping[str, Any], records: Mapping[str, Any],
            info: Mapping[str, Any]) -> str:
    meta = nb.metadata.get("papermill", {})
    started = (meta.get("start_time") or "")[:19].replace("T", " ")
    span = records.get("data_range") or []
    data = f"{day(span[0])} → {day(span[1])}" if len(span) == 2 else "—"
    if records.get("events_fingerprint"):
        data += f" · events fingerprint <code>{html.escape(records['events_fingerprint'])}</code>"
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (f"<div class='fc-report-header'><p><b>Run</b> {html.escape(started)} UTC · "
            f"{float(meta.get('duration') or 0):.1f} s · commit <code>{html.escape(info['commit'])}</code></p>"
            f"<p><b>Data</b> {data}</p><p><b>Versions</b> {html.escape(versions)}</p><details open>"
            f"<summary><b>Parameters</b></summary><table>{_parameter_rows(defaults, meta.get('parameters', {}))}"
            "</table></details></div>")


def _for_readers(outputs: list[Any]) -> list[Any]:
    """Drop what only machines read: stderr (progress bars, warnings), recorded values, live widgets."""
    return [o for o in outputs if not (o.output_type == "stream" and o.name == "stderr")
            and RECORD_MIME not in o.get("data", {}) and WIDGET_MIME not in o.get("data", {})]


def render_html(executed: Path, defaults: Mapping[str, Any], info: Mapping[str, Any]) -> Path:
    """Self-contained HTML that reads as a document: a header (run, data, versions, parameters), the
    notebook's text and figures (code hidden), then Findings in words; nothing to fetch from the network."""
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, require_js_url="", mathjax_url="", mermaid_js_url="",
                            mermaid_layout_elk_js_url="", jquery_url="", widget_renderer_url="")
    nb = nbformat.read(str(executed), as_version=4)
    records = read_records(executed)
    nb.metadata.pop("widgets", None)  # live widget state; its renderer would come from a CDN
    nb.cells = [c for c in nb.cells if not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = _for_readers(cell.outputs)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(_header(nb, defaults, records, info)))
    lines = "\n".join(f"- {html.escape(line)}" for line in findings(executed.stem, records))
    nb.cells.append(nbformat.v4.new_markdown_cell(f"## Findings\n\n{lines}"))
    body, _ = exporter.from_notebook_node(nb)
    body = _EMPTY_SCRIPT.sub("", body)
    if EXTERNAL.search(body):
        raise FincommerceError(f"{executed.name}: the rendered report still references the network")
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def write_index(out_dir: Path, results: Mapping[str, Mapping[str, Any]]) -> Path:
    """reports/index.html: one row per report with its headline figures and links."""
    rows = []
    for name, recs in results.items():
        figures = "".join(f"<li>{html.escape(label)}: <b>{html.escape(value)}</b></li>"
                          for label, value in headlines(name, recs))
        link = html.escape(name)
        rows.append(f'<tr><td><a href="{link}.html">{link}</a></td><td><ul>{figures}</ul></td>'
                    f'<td><a href="{link}.html">report</a> · <a href="{link}.ipynb">executed notebook</a></td></tr>')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>FinCommerce reports</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.5em;"
            "vertical-align:top;text-align:left}ul{margin:0;padding-left:1.1em}</style></head><body>"
            "<h1>FinCommerce Workbench — reports</h1><table><tr><th>report</th><th>headline figures</th>"
            "<th>files</th></tr>" + "".join(rows) + "</table></body></html>")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
