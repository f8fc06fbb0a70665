"""The log engine (issue 25): scans equal `read_event_table`, the engine backtest equals the numpy one,
bad input is one clear error. Small hand-made logs only; the 10M figures live in benchmarks/."""
from __future__ import annotations

import math
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fincommerce.config import Settings
from fincommerce.embedding import Embedder
from fincommerce.errors import ValidationError
from fincommerce.logs import engine
from fincommerce.logs.cuts import TYPE_CODE, CutGrid, Spans, block_pieces
from fincommerce.logs.replay import SessionLog
from fincommerce.logs.report import scan_report
from fincommerce.logs.scan import scan_log
from fincommerce.logs.sessions import event_base, session_log, with_sessions
from fincommerce.logs.tops import best_per_cut, top_per_cut
from fincommerce.logs.trends import (
    events_of,
    half_life_tops,
    hour_of_day_counts,
    product_names,
    top_trending,
    type_counts,
)
from fincommerce.offline import analysis, backtest, backtest_engine
from fincommerce.offline.backtest_engine import run_backtest_on_engine
from fincommerce.offline.sessions import build_session_data, protocol_table, session_ids
from fincommerce.offline.sessions import session_log as pandas_session_log
from fincommerce.tracking.event_table import COLUMNS, read_event_table
from fincommerce.trending.exact import top_from_events
from fincommerce.trending.index import TrendingIndex
from fincommerce.ui.pipeline import REES46_SAMPLE

NOVEMBER = Path(__file__).resolve().parents[2] / "shared/datasets/rees46/2019-Nov_purchases_10kusers_allcat.csv"
START = 1_700_000_000.0
TYPES = ("view", "click", "add_to_cart", "purchase")


def _log(seed: int, n: int = 3000, hours: float = 120.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = START + np.sort(rng.uniform(0, hours * 3600, n))
    t[::50] = np.round(t[::50] / 3600) * 3600  # events exactly on bucket and window edges
    return pd.DataFrame({"user_id": rng.integers(0, 300, n).astype(str),
                         "product_id": np.char.add("p", np.minimum(rng.zipf(1.4, n), 200).astype(str)),
                         "interaction_type": rng.choice(TYPES, n, p=[0.7, 0.15, 0.1, 0.05]), "timestamp": t})


def test_decayed_sums_equal_brute_force_on_every_kind_of_span_edge(tmp_path: Path) -> None:
    """Spans inside one bucket, exactly one bucket, edges on grid points and just past them (where a bucket is
    read as its sums), and edges mid-bucket (read as its events): each (cut, product) sum as numpy's."""
    path = tmp_path / "log.csv"
    _log(2, n=2000, hours=48.0).to_csv(path, index=False)
    scan = scan_log(path)
    report = scan_report(scan)
    h = 5 * 3600.0
    grid = CutGrid(scan.events, START + 3600.0 * np.arange(6, 42, 3.0), report.t_min, report.t_max, [h, math.inf])
    g, past = grid.grid, np.nextafter(grid.grid, np.inf)
    lo = np.array([g[5], past[5], g[5] + 100, past[7], g[7] + 10, g[3] - 500, past[4], g[6] + 1, past[2],
                   past[4], g[4] + 100])
    hi = np.array([g[9], g[9], g[6] - 100, g[8], g[8] - 10, g[12] + 700, g[5], g[6] + 900, g[14], g[5] - 100,
                   g[5]])
    spans = Spans(lo, hi, hi + 60.0)
    pairs = [(k, x) for k in range(len(TYPES)) for x in (h, math.inf)]
    got = grid.decayed(spans, pairs).to_pandas().set_index(["j", "p"]).sort_index()
    ev = scan.events.to_pandas()
    code = ev.interaction_type.map(TYPE_CODE).to_numpy()
    rows = []
    for j in range(len(lo)):
        inside = ((ev.timestamp >= lo[j]) & (ev.timestamp <= hi[j])).to_numpy()
        for p in np.unique(ev.product_id[inside]):
            mine = inside & (ev.product_id == p).to_numpy()
            t, k = ev.timestamp.to_numpy()[mine], code[mine]
            rows.append({"j": j, "p": p, **{f"d_{c}_{CutGrid._col(x)}": float(
                (np.exp2(-(hi[j] + 60.0 - t[k == c]) / x) if math.isfinite(x) else np.ones((k == c).sum())).sum())
                for c, x in pairs}})
    want = pd.DataFrame(rows).set_index(["j", "p"]).sort_index()
    assert got.index.equals(want.index)
    assert np.abs(got[want.columns].to_numpy() - want.to_numpy()).max() <= 1e-9


def _grid(tmp_path: Path, seed: int, hours: float, cuts: np.ndarray,
          half_lives: list[float]) -> tuple[CutGrid, pd.DataFrame]:
    path = tmp_path / "log.csv"
    _log(seed, n=2000, hours=hours).to_csv(path, index=False)
    scan = scan_log(path)
    report = scan_report(scan)
    return CutGrid(scan.events, cuts, report.t_min, report.t_max, half_lives), scan.events.to_pandas()


@pytest.mark.parametrize("horizon_hours", [12.0, 7.25, 0.5])
def test_active_counts_equal_brute_force(tmp_path: Path, horizon_hours: float) -> None:
    """Products with an event of the given types in (cut, cut + horizon]: horizons ending on grid points and
    mid-bucket, events exactly on cuts (not counted) and on horizon ends (counted)."""
    cuts = START + 3600.0 * np.arange(6, 42, 3.0)
    grid, ev = _grid(tmp_path, 4, 48.0, cuts, [math.inf])
    hi = cuts + horizon_hours * 3600
    for types in ([0, 1, 2, 3], [1, 3]):
        mine = ev[ev.interaction_type.map(TYPE_CODE).isin(types)]
        want = [mine.product_id[(mine.timestamp > c) & (mine.timestamp <= h)].nunique() for c, h in zip(cuts, hi)]
        assert grid.active_counts(hi, types).tolist() == want
    assert (grid.active_counts(hi, [0, 1, 2, 3]) > 0).all()


def test_pruned_tops_equal_the_tops_of_every_product(tmp_path: Path) -> None:
    """`best_per_cut` scores only the products whose bound can reach a top k, and ranks as `top_per_cut` over
    every product: per-type half-lives, a negative weight, a k larger than some cuts' products (no floor)."""
    cuts = START + 3600.0 * np.arange(6, 42, 1.0)
    h = (2 * 3600.0, 6 * 3600.0, math.inf)
    grid, _ev = _grid(tmp_path, 5, 48.0, cuts, list(h))
    members = {0: {0: (1.0, h[1]), 1: (2.0, h[1]), 2: (3.0, h[0]), 3: (5.0, h[2])},
               3: {0: (1.0, h[0]), 1: (-4.0, h[2]), 2: (0.0, h[1]), 3: (1.0, h[1])}}
    for window, k in ((6.0, 5), (1.0, 30)):
        spans = Spans(cuts - window * 3600, cuts.copy(), cuts.copy())
        which = np.arange(2, len(cuts))
        got = best_per_cut(grid, spans, which, members, k).sort_values(["i", "j", "rank"], ignore_index=True)
        every = grid.decayed(spans, sorted({(c, x) for w in members.values() for c, (_w, x) in w.items()}), which)
        want = pd.concat([top_per_cut(every, w, k).to_pandas().assign(i=i) for i, w in members.items()])
        want = want.sort_values(["i", "j", "rank"], ignore_index=True)
        assert len(want) > 0 and got[want.columns].equals(want)


def test_aligned_blocks_tile_each_bucket_range_in_logarithmically_many_pieces() -> None:
    assert {lv: (at.tolist(), m.tolist()) for lv, (at, m) in block_pieces(np.array([3]), np.array([14])).items()} == \
        {0: ([0, 0], [3, 14]), 1: ([0], [6]), 2: ([0, 0], [1, 2])}  # 3 | 4-7 8-11 | 12-13 | 14
    assert {lv: m.tolist() for lv, (_at, m) in block_pieces(np.array([3]), np.array([14]), 1).items()} == \
        {0: [3, 14], 1: [2, 3, 4, 5, 6]}  # blocks of at most 2 buckets when levels above are not worth building
    rng = np.random.default_rng(0)
    first = rng.integers(0, 5000, 2000)
    last = first + rng.integers(-3, 3000, 2000)
    covered = [[] for _ in first]
    for level, (at, m) in block_pieces(first, last).items():
        for i, block in zip(at, m):
            covered[i].extend(range(block << level, (block + 1) << level))
    for lo, hi, buckets in zip(first, last, covered, strict=True):
        assert sorted(buckets) == list(range(lo, hi + 1))  # every bucket once, nothing outside (none if hi < lo)
    assert max(np.bincount(np.concatenate([at for at, _m in block_pieces(first, last).values()]))) \
        <= 2 * math.log2(3000)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "chunk_rows"), [(0, None), (1, 12000)])
def test_engine_backtest_equals_the_numpy_backtest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
                                                   chunk_rows: int | None) -> None:
    """Also with the cuts taken a few at a time (`chunk_rows` 12,000: 7 runs of 3–15 cuts), as a large log's are."""
    if chunk_rows:
        monkeypatch.setattr(backtest_engine, "ROWS_PER_CHUNK", chunk_rows)
    path = tmp_path / "log.csv"
    _log(seed).to_csv(path, index=False)
    events = read_event_table(path).events
    cols = backtest.LogColumns.from_events(events)
    cands = backtest.predictors([1, 6, 24], [24, 48], [{t: 1 for t in TYPES}],
                                [{"view": 1, "click": 1, "add_to_cart": 24, "purchase": 72}],
                                span_hours=cols.span_hours)
    want = backtest.run_backtest(cols, cands, 12.0, 90.0, show_progress=False)
    scan = scan_log(path)
    report = scan_report(scan)
    got = run_backtest_on_engine(scan.events, cands, 12.0, 90.0, report.t_min, report.t_max, show_progress=False)
    assert np.array_equal(want.cuts, got.cuts) and want.n_empty_cuts == got.n_empty_cuts
    assert np.abs(want.per_cut[["ndcg", "recall"]].to_numpy() - got.per_cut[["ndcg", "recall"]].to_numpy()).max() \
        <= 1e-9
    assert backtest.summarise(want, 200, 1).round(4).equals(backtest.summarise(got, 200, 1).round(4))


def test_a_rees46_parquet_is_recognised_like_the_csv(tmp_path: Path) -> None:
    csv = Path(__file__).parent / "data"
    rows = pd.DataFrame({
        "event_time": ["2019-10-01 00:00:00 UTC", "2019-10-01 00:00:05 UTC", "2019-10-01 00:01:00 UTC",
                       "2019-10-01 00:02:00 UTC", "not a time"],
        "event_type": ["view", "cart", "remove_from_cart", "purchase", "view"],
        "product_id": [1, 2, 2, 2, 3], "category_id": [9, 9, 9, 9, 9],
        "category_code": ["electronics.smartphone"] * 5, "brand": ["apple"] * 5,
        "price": [10.0, 20.0, 20.0, 20.0, 1.0], "user_id": [5, 5, 5, 6, 7], "user_session": ["a", "a", "a", "b", "c"]})
    rows.to_csv(tmp_path / "log.csv", index=False)
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp_path / "log.parquet")
    reference = read_event_table(tmp_path / "log.csv")
    report = scan_report(scan_log(tmp_path / "log.parquet"))
    assert (report.n_events, report.n_users, report.n_products) == (len(reference.events), 2, 2)
    assert report.skipped_types == reference.skipped_types == {"remove_from_cart": 1}
    assert report.bad_counts == {(str(tmp_path / "log.parquet"), "timestamp"): 1}
    assert report.bad_listed.row.tolist() == [5] and csv.exists()
    kinds = scan_log(tmp_path / "log.parquet").events.to_pandas().interaction_type.sort_values().tolist()
    assert kinds == sorted(reference.events.interaction_type.astype(str))


def test_rees46_repeats_merge_exactly_as_the_nine_column_group_by(tmp_path: Path) -> None:
    """The cheap merge (only rows sharing user, product and time are grouped, on typed ids) gives the events
    of one group-by over the whole key in text, first file and row included."""
    base = {"event_time": pd.Timestamp("2019-10-01 00:00:00", tz="UTC"), "event_type": "view", "product_id": 1,
            "category_id": 9, "category_code": "a.b", "brand": "x", "price": 1.0, "user_id": 5,
            "user_session": "s"}
    changes = [{}, {}, {}, {"user_session": "t"}, {"brand": None}, {"brand": ""}, {"category_id": None},
               {"category_id": None}, {"price": 2.0}, {"event_type": "cart"}, {"product_id": 2}, {"user_id": 6},
               {"event_time": pd.Timestamp("2019-10-01 00:00:01", tz="UTC")}, {"category_code": None}]
    rows = pd.DataFrame([{**base, **c} for c in changes]).astype({"category_id": "Int64"})
    for i, part in enumerate((rows[::2], rows[1::2])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), tmp_path / f"part-{i}.parquet")
    scan = scan_log(tmp_path)
    good = scan.rows.filter(scan.rows.reason.isnull() & ~scan.rows.skipped)
    old = good.group_by([*COLUMNS, "category_id", "raw_type"]).aggregate(file=good.file.min(), row=good.row.min())
    order = [*COLUMNS, "category_id", "file", "row"]
    want = old.select(*order).to_pandas().sort_values(["file", "row"], ignore_index=True)
    got = scan.events.to_pandas().sort_values(["file", "row"], ignore_index=True)
    assert len(got) == 10 and list(got.columns) == order
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    report = scan_report(scan)  # its totals correct the rows' own by the repeats, found without the whole key
    assert (report.n_events, report.n_users, report.n_products, report.t_sum, report.duplicates) == (
        10, 2, 2, int(np.floor(want.timestamp).sum()), 4)


def test_bad_rows_are_counted_per_file_and_reason_and_listed_capped(tmp_path: Path) -> None:
    log = _log(1, n=200)
    log.loc[::2, "interaction_type"] = "wishlist"
    log.loc[1::4, "user_id"] = ""
    for i, part in enumerate((log[:100], log[100:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), tmp_path / f"part-{i}.parquet")
    report = scan_report(scan_log(tmp_path), keep=7)
    assert report.bad_counts == {(str(tmp_path / f"part-{i}.parquet"), k): n for i in (0, 1)
                                 for k, n in (("interaction_type", 50), ("user_id", 25))}
    assert len(report.bad_listed) == 7 and report.n_unlisted == 143
    assert "(143 not listed)" in report.summary()


def test_bad_input_is_one_error_naming_the_file_or_column(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"nothing\*\.parquet"):
        scan_log(tmp_path / "nothing*.parquet")
    log = _log(2, n=20)
    pq.write_table(pa.Table.from_pandas(log, preserve_index=False), tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pandas(log.assign(price=1.0), preserve_index=False), tmp_path / "b.parquet")
    with pytest.raises(ValidationError, match="b.parquet"):
        scan_log(tmp_path)
    with pytest.raises(ValidationError, match="column timestamp"):
        scan_log(tmp_path / "a.parquet", {"ts": "timestamp", "timestamp": "query"})
    with pytest.raises(ValidationError, match="column user_id"):
        scan_log(tmp_path / "a.parquet", {"user_id": "query"})


@pytest.mark.slow
@pytest.mark.parametrize("category", ["", "Smartphone"])
def test_engine_trend_tables_equal_the_pandas_ones(category: str) -> None:
    path = Path(__file__).resolve().parents[2] / "shared/datasets/rees46/2019-Nov_purchases_10kusers_allcat.csv"
    if not path.exists():
        pytest.skip("../shared/datasets is not beside this checkout")
    events = read_event_table(path).events
    index = TrendingIndex.from_settings(Settings())
    now = float(events.timestamp.max())
    cats = events.category.astype(str).map(lambda c: [x for x in c.split(" > ") if x]).tolist()
    scan = scan_log(path)
    for window, half_lives in ((24 * 3600.0, index.half_lives), (72 * 3600.0, np.full(4, 3600.0))):
        want = top_from_events(events.timestamp.to_numpy(), events.product_id.astype(str).tolist(),
                               events.interaction_type.astype(str).tolist(), cats, now, window, index.weights,
                               half_lives, 5, category or None)
        got = top_trending(scan.events, now, window, index.weights, half_lives, 5, category, scan.rees46)
        assert [r["product_id"] for r in got] == [r["product_id"] for r in want] and want
        for a, b in zip(got, want, strict=True):
            assert abs(a["raw_score"] - b["raw_score"]) <= 1e-9 * max(1.0, b["raw_score"])
            assert (a["total_interactions"], a["last_interaction_timestamp"]) == \
                (b["total_interactions"], b["last_interaction_timestamp"])
    counts = events.interaction_type.astype(str).value_counts().reindex(list(type_counts(scan.events).index),
                                                                        fill_value=0)
    assert type_counts(scan.events).tolist() == counts.tolist()


def assert_same_session_logs(got: SessionLog, want: SessionLog, *, stream: bool = True) -> None:
    """Same products in the same rows, same evaluated sessions (start, id, user, context order, gains), and the
    replay fed the same events in the same order (the engine stops at the last evaluated session's start)."""
    pd.testing.assert_frame_equal(got.products.reset_index(drop=True),
                                  want.products.reset_index(drop=True).astype({"name": str, "brand": str}),
                                  check_dtype=False, check_categorical=False)
    assert got.sessions == want.sessions
    if not want.sessions or not stream:
        return
    end = want.sessions[-1][0]
    a, b = got.events.before(end), want.events.before(end)
    assert got.events.before(np.inf) is None and len(a[0]) == len(b[0]) > 0
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(np.asarray(x), np.asarray(y))


def test_engine_sessions_equal_the_pandas_sessions_on_the_october_sample() -> None:
    """The shipped sample (REES46 session ids, views before carts): the session protocol's input, page by page."""
    got = session_log(scan_log(REES46_SAMPLE), page_rows=2000)
    assert len(got.sessions) > 200
    assert_same_session_logs(got, pandas_session_log(read_event_table(REES46_SAMPLE).events))


@pytest.mark.slow
def test_engine_gap_sessions_equal_the_pandas_ones_on_the_november_file() -> None:
    """The November file has no session ids (every session is a user's run of events < 30 min apart) and only
    purchases (no session is evaluated): the sessions themselves are compared, event by event."""
    if not NOVEMBER.exists():
        pytest.skip("../shared/datasets is not beside this checkout")
    events = read_event_table(NOVEMBER).events
    want = sorted(zip(events.user_id.astype(str), events.timestamp, events.product_id.astype(str),
                      session_ids(events), strict=True))
    scan = scan_log(NOVEMBER)
    got = with_sessions(event_base(scan)).select("u", "t", "p", "sid").to_pandas()
    assert sorted(got.itertuples(index=False, name=None)) == want and len({w[3] for w in want}) > 5000
    assert_same_session_logs(session_log(scan), pandas_session_log(events))


@pytest.mark.slow
def test_the_protocol_table_through_the_engine_equals_the_pandas_one(october_embedder: Embedder) -> None:
    """02's session-protocol table and the arrays behind it, built from the engine's tables and from pandas
    (the real MiniLM's vectors, already in its cache)."""
    weights = {"seed defaults": Settings().ranking_weights, "only popularity": {"popularity": 1.0}}
    protos = [build_session_data(october_embedder, log, warmup=0.2, tune=0.3, show_progress=False)
              for log in (session_log(scan_log(REES46_SAMPLE)), read_event_table(REES46_SAMPLE).events)]
    got, want = protos
    assert (got.n_products, got.n_sessions_in_log) == (want.n_products, want.n_sessions_in_log)
    assert got.data.sessions.equals(want.data.sessions) and np.array_equal(got.data.split, want.data.split)
    for a, b in ((got.data.signals, want.data.signals), (got.data.gains, want.data.gains),
                 (got.data.features, want.data.features), (got.recency, want.recency)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    tables = [protocol_table(p, weights, n_boot=200) for p in protos]
    assert len(tables[0]) == 3 and (want.data.split == "test").sum() > 50
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=False, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("log", [REES46_SAMPLE, NOVEMBER], ids=["october-sample", "november-purchases"])
def test_03s_engine_tables_equal_its_pandas_ones(log: Path) -> None:
    """What 03 shows of a log left in the engine (its events kept in the engine once, as 03 asks ~10 questions
    of them): names of the top products, hourly volume by type, funnel, half-life overlap, curves' events and
    coverage, each equal to 03's pandas path."""
    if not log.exists():
        pytest.skip("../shared/datasets is not beside this checkout")
    events, scan = read_event_table(log).events, scan_log(log)
    kept = scan.trend_events
    index, now = TrendingIndex.from_settings(Settings()), float(events.timestamp.max())
    rows = top_trending(kept, now, 24 * 3600.0, index.weights, index.half_lives, 5, "", scan.rees46)
    names = product_names(kept, [r["product_id"] for r in rows], scan.rees46)
    pd.testing.assert_frame_equal(analysis.named_trending(rows, names),
                                  analysis.log_trending_table(events, index, 24.0, 5, now))
    hours = events.assign(hour=pd.to_datetime(events.timestamp, unit="s", utc=True).dt.hour).pivot_table(
        index="hour", columns="interaction_type", values="timestamp", aggfunc="count", fill_value=0, observed=True)
    got = hour_of_day_counts(kept)
    assert got.sum().sum() == len(events)
    pd.testing.assert_frame_equal(got.reindex(columns=hours.columns), hours.reindex(index=range(24), fill_value=0),
                                  check_dtype=False, check_names=False, check_column_type=False)
    assert analysis.funnel_table(type_counts(kept)).equals(analysis.funnel_table(events))
    tops = half_life_tops(kept, now, 24 * 3600.0, index.weights, [1, 6, 24], 5)
    assert analysis.top_overlap(tops).equals(analysis.half_life_overlap(events, now, 24.0, [1, 6, 24], 5, index))
    pids = [r["product_id"] for r in rows]
    mine = events[events.product_id.astype(str).isin(pids)]
    got_events = events_of(kept, pids)
    assert sorted(zip(got_events.product_id, got_events.timestamp)) == sorted(zip(mine.product_id.astype(str),
                                                                                  mine.timestamp))
    window = top_trending(kept, now, index.window, index.weights, index.half_lives, None)
    assert len(window) / scan_report(scan).n_products == \
        analysis.log_popularity_coverage(events, index, now)["popularity_coverage"]


def test_a_killed_processs_spill_folder_goes_at_the_next_connection(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100M-row log spilled 16 GB that a killed benchmark left in /tmp; the next connection removes such folders
    (their owner's pid no longer exists) and leaves those of live processes alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = tmp_path / f"{engine.SPILL_PREFIX}{gone.pid}-abc"
    live = tmp_path / f"{engine.SPILL_PREFIX}{os.getpid()}-def"
    for folder in (orphan, live):
        folder.mkdir()
        (folder / "duckdb_temp_storage.tmp").write_bytes(b"x" * 1024)
    con = engine.connect("duckdb")
    assert not orphan.exists() and live.is_dir()
    assert len(list(tmp_path.glob(f"{engine.SPILL_PREFIX}{os.getpid()}-*"))) == 2  # ours, and the new one
    del con
