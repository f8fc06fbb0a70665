"""The `fincommerce` command as a person and a script use it: one JSON document, the data's clock, nothing
half-written when the store cannot be opened."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PRODUCTS, T0
from test_params import alias_bomb

from fincommerce import Settings, Workbench
from fincommerce.clock import parse_now
from fincommerce.errors import ValidationError
from fincommerce.store.edge import EdgeStore


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(store)}
    env.pop("QDRANT_URL", None)
    return subprocess.run([sys.executable, "-m", "fincommerce.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture
def history(tmp_path: Path, embedder) -> Path:
    """A store whose newest event is long before today (as after a simulated period)."""
    store = tmp_path / "store"
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:
        wb.index_products(PRODUCTS, show_progress=False)
        for i, pid in enumerate(["mbp", "mbp", "air"]):
            wb.log_interaction("u1", {"id": pid, "name": pid, "price": 1.0}, "purchase", timestamp=T0 + i)
    return store


def test_trending_json_is_exactly_one_document_and_latest_reads_the_data_clock(history: Path) -> None:
    out = _cli("trending", "--json", "--now", "latest", store=history)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)  # nothing but the JSON document
    assert [r["product_id"] for r in rows] == ["mbp", "air"]
    iso = _cli("trending", "--json", "--now", "2023-11-14T22:14Z", store=history)  # T0 = 2023-11-14 22:13:20 UTC
    assert [r["product_id"] for r in json.loads(iso.stdout)] == ["mbp", "air"]


def test_a_settings_file_changes_trending_and_a_bad_one_is_one_error_line(history: Path, tmp_path: Path) -> None:
    fast = tmp_path / "fast.json"
    fast.write_text(json.dumps({"settings": {"half_life_hours": 0.05}}))  # 180 s instead of 6 h
    out = _cli("--settings", str(fast), "trending", "--json", "--now", "latest", store=history)
    assert out.returncode == 0, out.stderr
    raw = {r["product_id"]: r["raw_score"] for r in json.loads(out.stdout)}  # mbp bought 2 s and 1 s before air
    assert raw == {"mbp": pytest.approx(2 ** (-2 / 180) + 2 ** (-1 / 180), abs=1e-12), "air": 1.0}
    fast.write_text(json.dumps({"settings": {"half_life_hours": 0.01}}))
    out = _cli("--settings", str(fast), "trending", store=history)
    assert (
        out.returncode == 2 and "half_life_hours: expected at least trending_window_hours / 500 = 0.048 h" in out.stderr
    )
    fast.write_text('{"half_life": 1}')
    out = _cli("--settings", str(fast), "trending", store=history)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"error: settings.half_life in {fast}: expected one of half_life_hours, half_life_by_type, "
        "trending_window_hours, interaction_weights, ranking_weights, behaviour_window_days, retention_days, "
        "refresh_seconds, candidates, got ['half_life']"
    ]


def test_a_later_day_says_why_trending_is_empty_and_how_to_look(history: Path) -> None:
    out = _cli("trending", store=history)
    assert out.returncode == 0 and out.stdout == ""
    assert "No interactions found in timeframe" in out.stderr
    assert "newest stored event is from 2023-11-14 22:13 UTC" in out.stderr and "--now latest" in out.stderr


def test_bad_now_is_one_error_line(history: Path) -> None:
    out = _cli("trending", "--now", "yesterday", store=history)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: now: expected")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("text", ["nan", "inf", "1e300", "-1", "10000-01-01"])
def test_clocks_no_calendar_can_name_are_refused_as_text_too(text: str) -> None:
    """The browser's "As of" and the CLI's --now share parse_now: NaN, infinities, negatives, years past 9999."""
    with pytest.raises(ValidationError, match="from 1970 to 9999"):
        parse_now(text, None)


def test_index_on_a_locked_store_writes_no_catalogue(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = EdgeStore(store)
    try:
        out = _cli("index", "--products", "5", store=store)
    finally:
        holder.close()
    assert out.returncode == 2 and "in use by another process" in out.stderr
    assert not (tmp_path / "catalog.csv").exists()


@pytest.mark.parametrize("case", ["read-only store", "store is a file", "csv is a folder", "weights is a folder",
                                  "weights is YAML", "params YAML broken", "params section typo", "unknown ranker",
                                  "learned model missing", "learned model truncated", "params alias bomb",
                                  "params nested 20,000 deep"])
def test_user_errors_end_in_one_error_line_and_exit_2(case: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    args: tuple[str, ...]
    if case == "read-only store":
        if os.geteuid() == 0:  # root ignores permissions: sysfs refuses even root
            store = Path("/sys/fincommerce-read-only-store")
        else:
            store.mkdir()
            store.chmod(0o500)
        args = ("trending",)
    elif case == "store is a file":
        store.write_text("not a folder")
        args = ("trending",)
    elif case == "csv is a folder":
        args = ("index", "--csv", str(tmp_path))
    elif case == "weights is a folder":
        args = ("search", "laptop", "--weights", str(tmp_path))
    elif case == "weights is YAML":
        (tmp_path / "w.yaml").write_text("semantic: 1\n")
        args = ("search", "laptop", "--weights", str(tmp_path / "w.yaml"))
    elif case == "unknown ranker":
        args = ("search", "laptop", "--ranker", "neural")
    elif case == "learned model missing":
        args = ("search", "laptop", "--ranker", "learned", "--ranker-model", str(tmp_path / "none.txt"))
    elif case == "learned model truncated":
        text = tiny_model_text()
        (tmp_path / "bad.txt").write_text(text[:len(text) // 2])
        args = ("search", "samsung phone", "--ranker", "learned", "--ranker-model", str(tmp_path / "bad.txt"))
    elif case == "params alias bomb":
        (tmp_path / "p.yaml").write_text(alias_bomb())
        args = ("run", "--params", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "r"))
    elif case == "params nested 20,000 deep":
        (tmp_path / "p.yaml").write_text("seed: " + "[" * 20_000 + "]" * 20_000)
        args = ("run", "--params", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "r"))
    elif case == "params YAML broken":
        (tmp_path / "p.yaml").write_text("n_users: 3\nseed: 1\n  top_k: 2\n")
        args = ("run", "--params", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "r"))
    else:
        (tmp_path / "p.yaml").write_text("03-popularity-trends:\n  top_kk: 3\n")
        args = ("run", "--params", str(tmp_path / "p.yaml"), "--out", str(tmp_path / "r"))
    out = _cli(*args, store=store)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and lines and lines[-1].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    if case.startswith("params"):
        assert not (tmp_path / "r").exists()  # nothing ran
        assert "p.yaml" in lines[-1] or case == "params section typo"
        expected = {"params YAML broken": "line 3", "params section typo": "top_kk", "params alias bomb": "aliases",
                    "params nested 20,000 deep": "nesting at most 50 levels"}[case]
        assert expected in lines[-1]
    if case.startswith("weights is YAML"):
        assert "w.yaml" in lines[-1]
    if case == "unknown ranker":
        assert "ranker: expected one of 'linear', 'learned'" in lines[-1] and "neural" in lines[-1]
    if case == "learned model missing":
        assert "ranker_model" in lines[-1] and "none.txt" in lines[-1]
    if case == "learned model truncated":
        assert "ranker_model: expected a LightGBM model file at" in lines[-1] and "bad.txt" in lines[-1]


def tiny_model_text() -> str:
    """A real LightGBM model over two of the package's features."""
    import lightgbm as lgb

    x = np.random.default_rng(0).random((200, 2))
    data = lgb.Dataset(x, x[:, 0] + x[:, 1] ** 2, feature_name=["semantic", "popularity"])
    booster = lgb.train({"objective": "regression", "verbose": -1, "seed": 0, "num_iterations": 20}, data)
    return booster.model_to_string()


def test_tables_escape_terminal_control_characters_and_users_lists_ids(tmp_path: Path, embedder) -> None:
    store = tmp_path / "store"
    evil = "\x1b[31mRed\x1b]0;title\x07"
    with Workbench(Settings(store_path=store), embedder=embedder) as wb:
        wb.index_products([{"id": "p\x1b[2J", "name": evil, "price": 10.0}], show_progress=False)
        wb.log_interaction("u\x1b[1m", {"id": "p\x1b[2J", "name": evil, "price": 10.0}, "purchase", timestamp=T0)
    out = _cli("trending", "--now", "latest", store=store)
    assert "\x1b" not in out.stdout and "\\x1b[31mRed" in out.stdout
    users = _cli("users", "--top", "5", store=store)
    assert users.returncode == 0 and "\\x1b[1m" in users.stdout and "purchases=1" in users.stdout


def test_search_shows_no_library_info_lines_unless_verbose(history: Path) -> None:
    quiet = _cli("search", "laptop", "--user", "u1", "--now", "latest", store=history)
    assert (
        quiet.returncode == 0
        and "Loading all-MiniLM" not in quiet.stderr
        and "sentence_transformers" not in quiet.stderr
    )
    loud = _cli("-v", "search", "laptop", "--user", "u1", "--now", "latest", store=history)
    assert "Loading all-MiniLM" in loud.stderr


def test_secrets_in_qdrant_url_are_redacted(tmp_path: Path) -> None:
    env = {**os.environ, "QDRANT_URL": "http://admin:hunter2@127.0.0.1:9/?api_key=topsecret", "QDRANT_TIMEOUT": "1",
           "FINCOMMERCE_STORE_PATH": str(tmp_path / "store")}
    out = subprocess.run([sys.executable, "-m", "fincommerce.cli", "trending"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 2 and "hunter2" not in out.stderr + out.stdout and "topsecret" not in out.stderr
    assert "127.0.0.1" in out.stderr


def test_trending_and_linear_search_never_import_the_heavy_libraries(history: Path) -> None:
    """A CLI call pays for what it uses: torch (~4 s here), LightGBM + scikit-learn (~1 s) and the notebook stack
    load only for the commands that need them."""
    code = ("import sys; from fincommerce.cli import main; "
            "main(['trending', '--now', 'latest']); main(['search', 'laptop', '--now', 'latest']); "
            "print(sorted(m for m in ('torch', 'lightgbm', 'sklearn', 'papermill', 'matplotlib', 'jupyterlab') "
            "if m in sys.modules))")
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": str(history)}
    env.pop("QDRANT_URL", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
