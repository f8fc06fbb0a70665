"""`--params` files: YAML or JSON, shared keys or a section per notebook name."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fincommerce.errors import ConfigError


def read_params(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--params", "a readable YAML or JSON file", f"{path}: {exc.__class__.__name__}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ConfigError(f"--params {path}, {where}", "valid YAML or JSON", str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict):
        raise ConfigError("--params", "a mapping of parameter names to values", f"{path}")
    return data
