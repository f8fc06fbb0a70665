"""Notebook execution (papermill), recorded results, and self-contained HTML reports.

`record(name, value)` writes a display output with our own MIME type; `read_records` reads them back
from an executed notebook with nbformat (the ~20-line replacement for scrapbook that
microsoft/recommenders moved to).
"""
from __future__ import annotations

import html
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import nbformat

from fincommerce.config import NOTEBOOKS_DIR, REPORTS_DIR

log = logging.getLogger(__name__)

RECORD_MIME = "application/vnd.fincommerce.record+json"
KERNEL_NAME = "fincommerce"
NOTEBOOKS = ("01-simulate-interactions", "02-tune-weights", "03-popularity-trends", "04-browse-products")
_EMPTY_SCRIPT = re.compile(r'<script src=""></script>\s*')
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(?\s*["'](?:https?:)?//""",
                      re.I)


def record(name: str, value: Any) -> None:
    """Record a JSON-serialisable value in the running notebook (shown as a small text line too)."""
    from IPython.display import display

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


def ensure_kernel() -> str:
    """Register this venv's Python as the `fincommerce` kernel (once), so papermill runs our packages."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    spec_dir = Path(specs.get(KERNEL_NAME, "")) / "kernel.json"
    if KERNEL_NAME in specs and json.loads(spec_dir.read_text())["argv"][0] == sys.executable:
        return KERNEL_NAME
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", sys.prefix, "--name", KERNEL_NAME,
                    "--display-name", "Python (FinCommerce)"], check=True, capture_output=True)
    return KERNEL_NAME


def declared_parameters(notebook: Path) -> dict[str, Any]:
    import papermill

    return papermill.inspect_notebook(str(notebook))


def run_notebook(name: str, parameters: Mapping[str, Any], out_dir: Path, *,
                 notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """Execute one notebook with papermill into out_dir; unknown parameters are an error, not a warning."""
    import papermill

    source = notebooks_dir / f"{name}.ipynb"
    declared = declared_parameters(source)
    unknown = set(parameters) - set(declared)
    if unknown:
        raise ValueError(f"parameters for {name}: {sorted(unknown)} are not declared; known: {sorted(declared)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.ipynb"
    started = time.perf_counter()
    papermill.execute_notebook(str(source), str(target), parameters=dict(parameters), kernel_name=ensure_kernel(),
                               progress_bar=False, cwd=str(out_dir), log_output=False)
    log.info("Executed %s in %.1f s", name, time.perf_counter() - started)
    return target


def render_html(executed: Path) -> Path:
    """Self-contained HTML: code hidden, figures inline, no CDN scripts (nothing to fetch when opened)."""
    from nbconvert import HTMLExporter

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
        raise RuntimeError(f"{executed.name}: the rendered report still references the network")
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def _split_parameters(params: Mapping[str, Any], name: str, declared: Mapping[str, Any]) -> dict[str, Any]:
    """Shared keys go to every notebook that declares them; a notebook's own section wins."""
    own = dict(params.get(name, {}))
    shared = {k: v for k, v in params.items() if k not in NOTEBOOKS and k in declared}
    return {**shared, **own}


def run_pipeline(params: Mapping[str, Any] | None = None, *, only: Sequence[str] | None = None,
                 out_dir: Path = REPORTS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, dict[str, Any]]:
    """Execute the notebooks in order, render HTML for each, and write reports/index.html."""
    params = dict(params or {})
    unknown = {k for k in params if k not in NOTEBOOKS} - {
        k for n in NOTEBOOKS for k in declared_parameters(notebooks_dir / f"{n}.ipynb")}
    if unknown:
        raise ValueError(f"--params: {sorted(unknown)} are not parameters of any notebook")
    names = list(only) if only else list(NOTEBOOKS)
    for n in names:
        if n not in NOTEBOOKS:
            raise ValueError(f"--only: expected one of {', '.join(NOTEBOOKS)}, got {n!r}")
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        declared = declared_parameters(notebooks_dir / f"{name}.ipynb")
        executed = run_notebook(name, _split_parameters(params, name, declared), out_dir, notebooks_dir=notebooks_dir)
        render_html(executed)
        results[name] = read_records(executed)
    done = {n: results.get(n) or read_records(out_dir / f"{n}.ipynb") for n in NOTEBOOKS
            if n in results or (out_dir / f"{n}.ipynb").exists()}
    write_index(out_dir, done)  # notebooks from earlier runs (e.g. with --only) keep their entry
    return results


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
