"""`--params` files: YAML or JSON, shared keys or a section per notebook name.

Parameters are written into each notebook as code, so a file's expanded size must stay its own size: YAML
aliases (nine levels of nine aliases turn 578 bytes into tens of millions of values) are refused, and so is
nesting deeper than any parameter needs (PyYAML's composer recurses once per level).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fincommerce.errors import ConfigError

MAX_BYTES = 1 << 20
MAX_DEPTH = 50


class _Refused(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None, expected: str, got: str) -> None:
        super().__init__(expected)
        self.problem_mark, self.expected, self.got = mark, expected, got


class ParamsLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases and nesting deeper than MAX_DEPTH before anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, "no YAML aliases: write each value out", f"*{event.anchor}")
        if self.depth >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"nesting at most {MAX_DEPTH} levels deep", "deeper")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _where(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"--params {path}, line {mark.line + 1}" if mark is not None else f"--params {path}"


def read_params(path: Path) -> dict[str, Any]:
    """The file's mapping of parameter names (or notebook sections) to values; anything else is one ConfigError."""
    try:
        text = path.read_text(encoding="utf-8") if path.stat().st_size <= MAX_BYTES else None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--params", "a readable YAML or JSON file", f"{path}: {exc.__class__.__name__}") from None
    if text is None:
        raise ConfigError("--params", f"a file of at most {MAX_BYTES >> 10} KB", f"{path}: {path.stat().st_size} bytes")
    try:
        data = yaml.load(text, Loader=ParamsLoader)
    except _Refused as exc:
        raise ConfigError(_where(path, exc), exc.expected, exc.got) from None
    except yaml.YAMLError as exc:
        raise ConfigError(_where(path, exc), "valid YAML or JSON", str(getattr(exc, "problem", exc))) from None
    except Exception as exc:  # PyYAML's constructors raise ValueError, KeyError, ... on 2019-02-30, !!bool maybe
        raise ConfigError(f"--params {path}", "values YAML can build", f"{exc.__class__.__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("--params", "a mapping of parameter names to values", f"{path}")
    for key, value in data.items():
        for name in (key, *(value if isinstance(value, dict) else ())):
            if not isinstance(name, str):
                raise ConfigError(f"--params {path}", "parameter and notebook names as text", name)
    return data
