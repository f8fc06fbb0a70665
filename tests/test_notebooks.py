"""Every notebook, executed by papermill with tiny parameters into a temporary folder (recommenders-style)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_dir

from fincommerce import open_workbench
from fincommerce.config import NOTEBOOKS_DIR
from fincommerce.schema import SIGNALS
from fincommerce.search.learned import LearnedRanker
from fincommerce.ui import kernels
from fincommerce.ui.pipeline import NOTEBOOKS, REPORTS, declared_parameters, run_notebook, run_pipeline
from fincommerce.ui.reports import EXTERNAL, read_records


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("pipeline")
    params = {"n_users": 40, "n_days": 4, "n_products": 300, "seed": 7, "store_path": str(root / "store"),
              "sim_dir": str(root / "sim"), "catalog_path": str(root / "catalog.csv"),
              "02-tune-weights": {"grid_step": 0.1, "n_boot": 200, "weights_path": str(root / "weights.json"),
                                  "ranker_path": str(root / "ranker.txt"), "recovery_users": 40, "recovery_days": 4,
                                  "n_counterfactual": 100, "next_view_events": 5000},
              "03-popularity-trends": {"n_searches": 5},
              "04-browse-products": {"weights_path": str(root / "weights.json")},
              "06-rising-backtest": {"n_bursts": 20, "n_boot": 50, "step_minutes": 30.0, "warmup_hours": 24.0,
                                     "november_path": str(root / "missing.csv")}}
    # The suite keeps every core busy, so a background lane on idle CPU only (make run's) would wait for the
    # other workers' tests (786 s for this fixture); here it runs at normal priority. tests/test_pipeline_lanes.py
    # checks the idle scheduling itself.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "run_when_idle", lambda pid: None)
        return root, run_pipeline(params, out_dir=root / "reports"), params


def test_notebooks_are_committed_clean_and_documented() -> None:
    for name in NOTEBOOKS:
        nb = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        assert all(
            not c.get("outputs") and c.get("execution_count") is None for c in nb["cells"] if c["cell_type"] == "code"
        )
        params = declared_parameters(NOTEBOOKS_DIR / f"{name}.ipynb")
        assert params and all(p["help"] and p["inferred_type_name"] != "None" for p in params.values()), name


def test_simulation_notebook_records_match_the_store(pipeline) -> None:
    _, results, _ = pipeline
    r = results["01-simulate-interactions"]
    assert r["n_events"] == r["n_stored_interactions"] == sum(r["events_by_type"].values()) > 0
    assert r["n_sessions"] > 0


def test_tuning_notebook(pipeline) -> None:
    root, results, _ = pipeline
    r = results["02-tune-weights"]
    assert r["n_weight_vectors"] == 1001
    assert r["tune_metric"]["tuned"] >= r["tune_metric"]["defaults"]
    saved = json.loads((root / "weights.json").read_text())
    assert saved["weights"] == r["saved_weights"] and saved["source"] == r["recommended"]
    assert (r["recommended"] == "tuned") == (r["tuning_gain_ci"][0] > 0)
    assert sum(saved["weights"].values()) == pytest.approx(1.0)
    # the learned ranker: compared on the same held-out sessions, saved, explanations checked
    rankers = r["rankers"]
    assert set(rankers) >= {"seed defaults", "tuned linear", "learned (LambdaRank)", "only popularity"}
    learned = rankers["learned (LambdaRank)"]
    assert learned["gain_ci_low"] <= learned["gain"] <= learned["gain_ci_high"]
    assert r["recommended_ranker"] == ("learned" if learned["gain_ci_low"] > 0 else "linear")
    assert r["verdict"].startswith(f"On {r['n_sessions']['test']:,} held-out sessions")
    assert LearnedRanker.load(root / "ranker.txt").feature_names[:5] == tuple(SIGNALS)
    assert {k: v["n_results"] > 0 for k, v in r["counterfactual"].items()} == {"linear": True, "learned": True}
    # planted-truth recovery: one row per world, planted and recovered weights side by side
    rows = {row["world"]: row for row in r["recovery"]}
    assert set(rows) == {"seed defaults", "popularity-heavy", "price-heavy", "preference/collaborative-heavy"}
    assert rows["seed defaults"]["matches defaults"] and not rows["price-heavy"]["matches defaults"]
    assert all(sum(row[f"recovered {s}"] for s in SIGNALS) == pytest.approx(1.0) for row in rows.values())
    _assert_bias_report(r, set(rankers))


def _assert_bias_report(r: dict, rankers: set[str]) -> None:
    """Every compared ranker has the popularity-bias columns beside NDCG@10; the frontier runs w_pop 0 → 0.5."""
    bias = {row["ranker"]: row for row in r["ranker_bias"]}
    assert set(bias) == rankers
    for row in bias.values():
        for m in ("ndcg@10", "ARP", "APLT"):
            assert row[f"{m} lo"] <= row[m] <= row[f"{m} hi"], (row["ranker"], m)
        assert 0 <= row["APLT"] <= 1 and 0 < row["coverage@10"] <= 1 and 0 <= row["gini"] < 1 and row["entropy"] > 0
        assert {"ndcg low pop", "ndcg mid pop", "ndcg high pop"} <= set(row)
    frontier = r["frontier"]
    assert [row["w_pop"] for row in frontier] == pytest.approx([0.05 * i for i in range(11)])
    assert all(sum(row[s] for s in SIGNALS) == pytest.approx(1.0, abs=1e-3) for row in frontier)  # rounded to 4 places
    ends = r["frontier_endpoints"]
    assert list(ends) == ["w_pop 0.00", "w_pop 0.50"] and ends["w_pop 0.50"]["APLT"] == frontier[-1]["APLT"]
    # the frontier passes through the tuned weights themselves when their popularity weight is on it
    tuned = bias["tuned linear"]
    on_it = [row for row in frontier if row["popularity"] == pytest.approx(r["tuned_linear"]["popularity"])]
    for row in on_it:
        assert (row["ndcg@10"], row["APLT"]) == pytest.approx((tuned["ndcg@10"], tuned["APLT"]), abs=1e-4)


def test_trends_and_browse_notebooks(pipeline) -> None:
    _, results, _ = pipeline
    t = results["03-popularity-trends"]
    assert t["top_trending"] and t["top_trending"][0]["popularity"] == 1.0 and t["top_trending"][0]["product"]
    assert 0 < t["popularity_coverage"] <= 1 and 0 <= t["searches_boosted"] <= 1
    b = results["04-browse-products"]
    assert len(b["results"]) == 5
    assert b["weights"].startswith(results["02-tune-weights"]["recommended"])


def test_real_log_reports_and_the_backtest(pipeline) -> None:
    root, results, _ = pipeline
    trends = results["03-popularity-trends-rees46"]
    assert trends["data_range"] == [1569888000.0, 1569898200.0]  # the REES46 sample's own clock, not today's
    assert trends["top_trending"][0]["product"] == "Samsung Smartphone" and "searches_boosted" not in trends
    tune = results["02-tune-weights-rees46"]
    assert tune["data_range"] == trends["data_range"] and tune["n_sessions"]["test"] > 50
    protocol = {row["ranker"]: row for row in tune["protocol"]}
    assert set(protocol) == {"seed defaults", "tuned", "only popularity", "only semantic", "learned (LambdaRank)",
                             "baseline: most recently viewed first"}
    learned = protocol["learned (LambdaRank)"]
    assert learned["gain vs recency lo"] <= learned["gain vs recency"] <= learned["gain vs recency hi"]
    assert protocol["baseline: most recently viewed first"]["gain vs recency"] == 0.0
    assert all(0 <= row["ndcg@10 lo"] <= row["ndcg@10"] <= row["ndcg@10 hi"] <= 1 for row in protocol.values())
    _assert_bias_report(tune, {*tune["rankers"], "baseline: most recently viewed first"})
    assert {row["ranker"]: row["ndcg@10"] for row in tune["ranker_bias"]}["baseline: most recently viewed first"] \
        == pytest.approx(protocol["baseline: most recently viewed first"]["ndcg@10"], abs=1e-4)
    assert (root / "tuned_weights-2019-Oct_head_sample.json").exists() and (root / "weights.json").exists()
    # the next-view protocol beside it, on the sample's first 5,000 events
    nv = tune["next_view"]
    assert nv["n_targets"] > 300 and nv["n_steps"]["test"] > 100 and 0 < nv["retrieved_share"] < 1
    rankers = {row["ranker"]: row for row in nv["rankers"]}
    assert set(rankers) == {"baseline: popularity", "baseline: semantic only", "baseline: co-occurrence kNN",
                            "seed weights", "tuned linear", "learned (LambdaRank)"}
    for row in rankers.values():
        for m in ("ndcg@10", "recall@20", "mrr@20"):
            assert 0 <= row[f"{m} lo"] <= row[m] <= row[f"{m} hi"] <= 1, (row["ranker"], m)
        assert row["gain lo"] <= row["gain vs strongest baseline"] <= row["gain hi"]
    assert rankers[nv["strongest_baseline"]]["gain vs strongest baseline"] == 0.0
    assert len(nv["versus"]) == 6 and all(v["gain lo"] <= v["gain"] <= v["gain hi"] for v in nv["versus"])
    assert nv["skipped"]["one-event sessions"] > 0 and nv["model_fingerprint"] and nv["table_fingerprint"]
    page = (root / "reports" / "02-tune-weights-rees46.html").read_text()
    assert "Next-view protocol: " in page and "For context only, other protocols" in page
    assert "most-recently-viewed-first (paired gain" in page
    assert "next_view" not in results["02-tune-weights"]  # the simulation's path runs only the conversion protocol
    for name in ("05-trending-backtest", "05-trending-backtest-rees46"):
        r = results[name]
        assert r["n_cuts"] > 10 and any(row["predictor"].startswith("seed") for row in r["backtest"])
        saved = json.loads(
            next(
                root.glob(
                    "trending_settings-"
                    f"{'simulation' if name == '05-trending-backtest' else '2019-Oct_head_sample'}.json"
                )
            ).read_text()
        )
        assert saved["recommended"] == r["recommendation"]["recommended"] and saved["words"]


def test_reports_are_self_contained(pipeline) -> None:
    root, results, _ = pipeline
    reports = root / "reports"
    index = (reports / "index.html").read_text()
    for name in REPORTS:
        page = (reports / f"{name}.html").read_text()
        assert not EXTERNAL.search(page), name
        assert "from fincommerce" not in page  # code cells are hidden
        assert "data:image/png;base64" in page or name == "04-browse-products"
        assert f'href="{name}.html"' in index
        assert read_records(reports / f"{name}.ipynb") == results[name]


@pytest.mark.slow
def test_same_seed_gives_identical_events(pipeline, tmp_path: Path) -> None:
    """01 again with the same seed writes the same bytes (that tuning on equal events gives equal weights and
    tables, in another process with other thread counts, is tests/test_reproducible.py's)."""
    root, results, params = pipeline
    again = {**params, "store_path": str(tmp_path / "store"), "sim_dir": str(tmp_path / "sim"),
             "catalog_path": str(tmp_path / "catalog.csv")}
    second = run_pipeline(again, only=["01-simulate-interactions"], out_dir=tmp_path / "reports")
    assert (tmp_path / "sim" / "events.csv").read_bytes() == (root / "sim" / "events.csv").read_bytes()
    assert (tmp_path / "catalog.csv").read_bytes() == (root / "catalog.csv").read_bytes()
    assert second["01-simulate-interactions"]["n_events"] == results["01-simulate-interactions"]["n_events"]


def test_reports_read_as_documents(pipeline) -> None:
    """Header (parameters, run, versions, data range), Findings in words, no raw dumps, bars or widget reprs."""
    root, results, _ = pipeline
    reports = root / "reports"
    for name in REPORTS:
        page = (reports / f"{name}.html").read_text()
        assert "fc-report-header" in page and "<b>Parameters</b>" in page and "(set for this run)" in page, name
        assert "numpy" in page and "commit" in page and " → " in page, name  # versions, commit, data range
        assert "Findings" in page and "did not record" not in page, name
        for raw in ("VBox(children", "HBox(children", "Indexing products:", "Logging interactions:",
                    "application/vnd.fincommerce.record", " = {'"):
            assert raw not in page, (name, raw)
    index = (reports / "index.html").read_text()
    assert "<table>" in index and "\\ud83c" not in index and "held-out NDCG@10" in index
    assert 'href="02-tune-weights.ipynb"' in index
    tune = (reports / "02-tune-weights.html").read_text()
    assert "held-out sessions" in tune and ("kept and saved" in tune or "tuned weights are saved" in tune)
    assert "The long tail: the tuned weights give" in tune and "Raising the popularity weight from 0.00 to 0.50" in tune


def test_the_readme_walkthrough_works_on_a_later_day(pipeline) -> None:
    """After the pipeline, on today's date (long after the simulated days): users, trending, a user's search."""
    root, _, params = pipeline
    env = {**os.environ, "FINCOMMERCE_STORE_PATH": params["store_path"]}
    env.pop("QDRANT_URL", None)

    def cli(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "fincommerce.cli", *args], capture_output=True, text=True,
                             env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    user = cli("users", "--top", "1").split()[0]
    assert json.loads(cli("trending", "--now", "latest", "--json"))
    queries = [s["query"] for s in map(json.loads, (root / "sim" / "sessions.jsonl").read_text().splitlines())
               if s["user_id"] == user]
    results = json.loads(cli("search", queries[-1], "--user", user, "--now", "latest", "--json", "--top-k", "10"))
    assert max(r["popularity_score"] for r in results) > 0
    with open_workbench(params["store_path"]) as wb:  # look-alikes exist for the active shoppers' own queries
        at = wb.resolve_now("latest")
        users = wb.events.activity().index[:5]
        collaborative = [r["collaborative_score"] for u in users for q in {x for x in queries}
                         for r in wb.search_products(u, q, 10, now=at)]
    assert max(collaborative) > 0


@pytest.mark.slow
def test_rising_backtest_notebook(tmp_path: Path) -> None:
    """06 alone on the November purchases with tiny parameters: the table, the null, the October lists."""
    november = shared_dir() / "datasets" / "rees46" / "2019-Nov_purchases_10kusers_allcat.csv"
    executed = run_notebook("06-rising-backtest", {"simulation": False, "november_path": str(november),
                                                   "n_bursts": 20, "n_boot": 50, "step_minutes": 60.0}, tmp_path)
    r = read_records(executed)
    table = r["burst_table"]["2019-Nov_purchases_10kusers_allcat"]
    assert {(x["detector"][:6], x["burst"]) for x in table} == {(d, b) for d in ("rising", "amazon", "algoli")
                                                                 for b in ("2x", "3x", "5x")}
    assert all(0 <= x["recall@2h"] <= 1 and x["recall lo"] <= x["recall@2h"] <= x["recall hi"] for x in table)
    ours = next(x for x in table if x["detector"].startswith("rising") and x["burst"] == "3x")
    assert ours["recall@2h"] > 0.3 and ours["false alarms /1000 product-days"] < 5
    assert 0 <= r["null_flag_rate"]["2019-Nov_purchases_10kusers_allcat"] <= 0.2
    assert {x["at"] for x in r["october_lists"]} <= {"02:30", "02:40", "02:50"} and r["october_lists"]
    assert all(x["q_value"] <= 0.05 and x["p_value"] <= x["q_value"] for x in r["october_lists"])
    assert any("3x bursts recall" in f for f in r["findings"])
