"""`record(name, value)` inside a notebook: a display output with our own MIME type that the pipeline reads back.

Apart from the reports module on purpose: nbformat pulls in jsonschema's format checkers (2.4 s of imports),
which a notebook kernel never needs just to record a value.
"""
from __future__ import annotations

import json
from typing import Any

from IPython.display import display

RECORD_MIME = "application/vnd.fincommerce.record+json"


def record(name: str, value: Any) -> None:
    """Record a JSON-serialisable value in the running notebook (shown as a small text line too)."""
    payload = json.loads(json.dumps(value, default=float))
    display({RECORD_MIME: {"name": name, "value": payload}, "text/plain": f"{name} = {payload!r}"}, raw=True)
