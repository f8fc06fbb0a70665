"""`--params` files: YAML or JSON, shared keys or a section per notebook name."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fincommerce.errors import ConfigError


def read_params(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("--params", "a readable YAML or JSON file", f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("--params", "a mapping of parameter names to values", f"{path}")
    return data
