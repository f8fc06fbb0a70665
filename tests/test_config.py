import math
import re
from pathlib import Path

import pytest

from fincommerce.config import DEFAULT_RANKING_WEIGHTS, PROJECT_ROOT, Settings, load_weights, validate_weights
from fincommerce.errors import ConfigError


def test_defaults_match_the_seed() -> None:
    s = Settings()
    assert s.ranking_weights == pytest.approx(DEFAULT_RANKING_WEIGHTS)
    assert dict(s.interaction_weights) == {"view": 0.1, "click": 0.3, "add_to_cart": 0.6, "purchase": 1.0}
    assert (s.half_life_hours, s.trending_window_hours, s.behaviour_window_days) == (6.0, 24.0, 7.0)
    assert (s.products_collection, s.interactions_collection) == ("products", "interaction_memory")
    assert s.store_path == PROJECT_ROOT / "data" / "store"


@pytest.mark.parametrize("kwargs, name", [
    ({"half_life_hours": 0}, "half_life_hours"),
    ({"half_life_hours": math.nan}, "half_life_hours"),
    ({"trending_window_hours": -1}, "trending_window_hours"),
    ({"ranking_weights": {"semantic": -0.1}}, "ranking_weights.semantic"),
    ({"ranking_weights": {"semantic": math.inf}}, "ranking_weights.semantic"),
    ({"ranking_weights": {"semantic": 0, "popularity": 0}}, "ranking_weights"),
    ({"ranking_weights": {"novelty": 1}}, "ranking_weights.novelty"),
    ({"interaction_weights": {"view": 1}}, "interaction_weights"),
    ({"half_life_by_type": {"purchase": 0}}, "half_life_by_type.purchase"),
    ({"candidates": 0}, "candidates"),
    ({"qdrant_url": "localhost:6333"}, "QDRANT_URL"),
])
def test_invalid_settings_name_the_setting(kwargs: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(name)):
        Settings(**kwargs)


def test_environment_is_read(tmp_path: Path) -> None:
    env = {"FINCOMMERCE_STORE_PATH": str(tmp_path / "s"), "QDRANT_URL": "http://127.0.0.1:6333",
           "QDRANT_API_KEY": "SENTINEL-KEY-123", "FINCOMMERCE_HALF_LIFE_HOURS": "3"}
    s = Settings.from_env(env)
    assert s.store_path == tmp_path / "s" and s.qdrant_url == "http://127.0.0.1:6333"
    assert s.half_life_hours == 3 and "SENTINEL-KEY-123" not in repr(s)
    with pytest.raises(ConfigError, match="FINCOMMERCE_HALF_LIFE_HOURS"):
        Settings.from_env({"FINCOMMERCE_HALF_LIFE_HOURS": "six"})


def test_weights_are_normalised_and_loadable(tmp_path: Path) -> None:
    w = validate_weights({"semantic": 3, "popularity": 1})
    assert w["semantic"] == 0.75 and w["popularity"] == 0.25 and w["preference"] == 0
    path = tmp_path / "w.json"
    path.write_text('{"weights": {"semantic": 1, "affordability": 1}}')
    assert load_weights(path)["affordability"] == 0.5


def test_settings_files_load_name_bad_keys_and_lose_to_explicit_overrides(tmp_path) -> None:
    from fincommerce.config import Settings, load_settings_file

    good = tmp_path / "s.json"
    good.write_text('{"settings": {"half_life_hours": 72, "trending_window_hours": 336}, "words": "why"}')
    s = Settings.from_env({"FINCOMMERCE_SETTINGS": str(good)})
    assert (s.half_life_hours, s.trending_window_hours) == (72, 336)
    assert Settings.from_env({}, settings_file=good, half_life_hours=3).half_life_hours == 3
    bad = tmp_path / "bad.json"
    bad.write_text('{"half_life": 3}')
    with pytest.raises(ConfigError, match=r"settings\.half_life in .*bad\.json: expected one of half_life_hours"):
        load_settings_file(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match="settings: expected a JSON file"):
        Settings.from_env({}, settings_file=bad)
