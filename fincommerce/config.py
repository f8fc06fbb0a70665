"""Every path and every tunable in one place; settings come from arguments or the environment."""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fincommerce.errors import ConfigError, relative_path_hint
from fincommerce.schema import INTERACTION_TYPES, INTERACTION_WEIGHTS, SIGNALS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DEFAULT_STORE_PATH = DATA_DIR / "store"

DEFAULT_RANKING_WEIGHTS: dict[str, float] = {
    "semantic": 0.30,
    "affordability": 0.25,
    "preference": 0.15,
    "collaborative": 0.20,
    "popularity": 0.10,
}
HOUR = 3600.0
MAX_WINDOW_HALF_LIVES = 500  # an event a window old still decays to 2^−500, far above float64's underflow
DAY = 24 * HOUR


def validate_weights(weights: Mapping[str, Any], *, name: str = "weights") -> dict[str, float]:
    """Check ranking weights and normalise them to sum to 1 (ratios are what matter)."""
    if not isinstance(weights, Mapping):
        raise ConfigError(name, f"a mapping of {', '.join(SIGNALS)} to numbers", weights)
    unknown = set(weights) - set(SIGNALS)
    if unknown:
        raise ConfigError(f"{name}.{sorted(unknown)[0]}", f"one of {', '.join(SIGNALS)}", sorted(unknown))
    out: dict[str, float] = {}
    for signal in SIGNALS:
        value = weights.get(signal, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name}.{signal}", "a finite number >= 0", value)
        out[signal] = float(value)
    total = sum(out.values())
    if not math.isfinite(total):
        raise ConfigError(name, "weights whose sum is a finite number (only their ratios matter: scale them down)",
                          dict(weights))
    if total <= 0:
        raise ConfigError(name, "at least one positive weight", dict(weights))
    if abs(total - 1.0) < 1e-9:
        return out
    return {k: v / total for k, v in out.items()}


def _json_object(path: str | Path, kind: str, key: str) -> dict[str, Any]:
    """`{key: {...}}` or a plain mapping from a JSON file; a bad file is a ConfigError naming `kind`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(kind, f"a readable JSON file{relative_path_hint(path)}",
                          f"{path}: {exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(kind, "a JSON file", f"{path}: line {exc.lineno}: {exc.msg}") from None
    values = data.get(key, data) if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise ConfigError(kind, f"a JSON object of {kind}", f"{path}")
    return values


def load_weights(path: str | Path) -> dict[str, float]:
    """Read weights saved by the tuning notebook (`{"weights": {...}}` or a plain mapping)."""
    return validate_weights(_json_object(path, "weights", "weights"), name=f"weights in {path}")


FILE_SETTINGS = ("half_life_hours", "half_life_by_type", "trending_window_hours", "interaction_weights",
                 "ranking_weights", "behaviour_window_days", "retention_days", "refresh_seconds", "candidates")


def load_settings_file(path: str | Path) -> dict[str, Any]:
    """Tunables saved by a notebook (e.g. the trending backtest's recommendation): `{"settings": {...}}` or flat."""
    values = _json_object(path, "settings", "settings")
    unknown = sorted(set(values) - set(FILE_SETTINGS))
    if unknown:
        raise ConfigError(f"settings.{unknown[0]} in {path}", f"one of {', '.join(FILE_SETTINGS)}", unknown)
    return values


def redact_url(url: str | None) -> str:
    """A URL fit for messages: no user name, password or query value (`http://user:secret@host?api_key=…`).

    Works on text, not on a parse, so a malformed URL (bad port, stray brackets) is redacted too."""
    if not url:
        return ""
    scheme, sep, rest = str(url).partition("://")
    if not sep:
        scheme, rest = "", str(url)
    rest = rest.split("#", 1)[0]
    rest, qmark, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    elif not sep and ":" in authority and authority != ":memory:":
        authority = "***"  # no scheme: cannot tell a host from a secret
    keys = (k.partition("=")[0] for k in query.split("&"))
    query = "&".join(f"{k if re.fullmatch(r'[A-Za-z0-9_.-]*', k) else '***'}=***" for k in keys) if qmark else ""
    return f"{scheme}{sep}{authority}{slash}{path}{qmark}{query}"


def check_qdrant_url(url: str) -> None:
    """`:memory:` or http(s)://host[:port][/path]: anything else is one error that never echoes a secret."""
    if url == ":memory:":
        return
    expected = "':memory:' or an http(s)://host[:port] URL with a port from 1 to 65535"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError("QDRANT_URL", expected, redact_url(url)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ConfigError("QDRANT_URL", expected, redact_url(url))


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(name, "a finite number > 0", value)
    return float(value)


@dataclass(frozen=True)
class Settings:
    """All tunables. Build with `Settings.from_env()` or directly in notebooks and tests."""

    store_path: Path = DEFAULT_STORE_PATH
    qdrant_url: str | None = None
    qdrant_api_key: str | None = field(default=None, repr=False)
    qdrant_timeout: float = 5.0
    products_collection: str = "products"
    interactions_collection: str = "interaction_memory"
    ranking_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RANKING_WEIGHTS))
    interaction_weights: Mapping[str, float] = field(default_factory=lambda: dict(INTERACTION_WEIGHTS))
    half_life_hours: float = 6.0
    half_life_by_type: Mapping[str, float] = field(default_factory=dict)
    trending_window_hours: float = 24.0
    behaviour_window_days: float = 7.0
    retention_days: float | None = None  # None keeps every event; else see store/retention.py
    refresh_seconds: float = 5.0
    candidates: int = 50
    device: str | None = None
    embed_batch_size: int = 64
    embed_cache_size: int = 100_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "store_path", Path(self.store_path))
        object.__setattr__(self, "ranking_weights", validate_weights(self.ranking_weights, name="ranking_weights"))
        iw = dict(self.interaction_weights)
        if set(iw) != set(INTERACTION_TYPES):
            raise ConfigError("interaction_weights", f"exactly the keys {', '.join(INTERACTION_TYPES)}", sorted(iw))
        object.__setattr__(
            self, "interaction_weights", {k: _positive(f"interaction_weights.{k}", v) for k, v in iw.items()}
        )
        _positive("trending_window_hours", self.trending_window_hours)
        shortest = self.trending_window_hours / MAX_WINDOW_HALF_LIVES
        unknown = sorted(set(self.half_life_by_type) - set(INTERACTION_TYPES))
        if unknown:
            raise ConfigError("half_life_by_type", f"keys among {', '.join(INTERACTION_TYPES)}", unknown[0])
        for name, v in [("half_life_hours", self.half_life_hours),
                        *((f"half_life_by_type.{k}", v) for k, v in self.half_life_by_type.items())]:
            if _positive(name, v) < shortest:
                raise ConfigError(name, f"at least trending_window_hours / {MAX_WINDOW_HALF_LIVES:g} = {shortest:g} h "
                                  "(exact forward decay keeps 2^(age / half-life) finite)", v)
        _positive("behaviour_window_days", self.behaviour_window_days)
        if self.retention_days is not None and _positive("retention_days", self.retention_days) < self.longest_days:
            raise ConfigError("retention_days", f"at least the longest signal window ({self.longest_days:g} days: "
                              "trending_window_hours, behaviour_window_days), or None", self.retention_days)
        _positive("qdrant_timeout", self.qdrant_timeout)
        r = self.refresh_seconds
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not (r >= 0):
            raise ConfigError("refresh_seconds", "a number >= 0", r)
        for name in ("candidates", "embed_batch_size", "embed_cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, "a positive integer", value)
        if self.qdrant_url is not None:
            check_qdrant_url(str(self.qdrant_url))

    @property
    def longest_days(self) -> float:
        """The longest look-back any signal needs: retention may drop only what lies beyond it."""
        return max(self.trending_window_hours / 24.0, self.behaviour_window_days)

    @property
    def data_dir(self) -> Path:
        """Where a store's catalogue, simulation tables and tuned weights live: beside the store folder."""
        return self.store_path.parent

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.csv"

    @property
    def simulation_dir(self) -> Path:
        return self.data_dir / "simulation"

    @property
    def tuned_weights_path(self) -> Path:
        return self.data_dir / "tuned_weights.json"

    def half_life_seconds(self, interaction_type: str) -> float:
        """Per-type half-life (defaults to the shared one)."""
        return float(self.half_life_by_type.get(interaction_type, self.half_life_hours)) * HOUR

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, settings_file: str | Path | None = None,
                 **overrides: Any) -> Settings:
        """Read a settings file (argument or FINCOMMERCE_SETTINGS), then FINCOMMERCE_* and QDRANT_* variables;
        explicit overrides win."""
        env = os.environ if env is None else env
        settings_file = settings_file or env.get("FINCOMMERCE_SETTINGS")
        kwargs: dict[str, Any] = load_settings_file(settings_file) if settings_file else {}
        if env.get("FINCOMMERCE_STORE_PATH"):
            kwargs["store_path"] = Path(env["FINCOMMERCE_STORE_PATH"])
        if env.get("QDRANT_URL"):
            kwargs["qdrant_url"] = env["QDRANT_URL"]
            kwargs["qdrant_api_key"] = env.get("QDRANT_API_KEY") or None
        numeric = {
            "FINCOMMERCE_HALF_LIFE_HOURS": "half_life_hours",
            "FINCOMMERCE_TRENDING_WINDOW_HOURS": "trending_window_hours",
            "FINCOMMERCE_BEHAVIOUR_WINDOW_DAYS": "behaviour_window_days",
            "FINCOMMERCE_RETENTION_DAYS": "retention_days",
            "FINCOMMERCE_REFRESH_SECONDS": "refresh_seconds",
            "QDRANT_TIMEOUT": "qdrant_timeout",
        }
        for var, name in numeric.items():
            if env.get(var):
                try:
                    kwargs[name] = float(env[var])
                except ValueError:
                    raise ConfigError(var, "a number", env[var]) from None
        if env.get("FINCOMMERCE_DEVICE"):
            kwargs["device"] = env["FINCOMMERCE_DEVICE"]
        kwargs.update(overrides)
        known = {f.name for f in fields(cls)}
        for key in kwargs:
            if key not in known:
                raise ConfigError(key, f"one of {', '.join(sorted(known))}", key)
        return cls(**kwargs)
