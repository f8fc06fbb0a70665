"""The synthetic REES46 log: seeded, streamed in time order, and shaped like the October sample."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fincommerce.offline.synthetic_log import HOUR_SHARE, SCHEMA, SampleShape, SyntheticLog, write_parquet


@pytest.fixture(scope="module")
def shape() -> SampleShape:
    return SampleShape.fit()


def _table(shape: SampleShape, seed: int, events: int = 20_000) -> pa.Table:
    return pa.concat_tables(SyntheticLog(events, 3, products=2_000, users=3_000, seed=seed, shape=shape).tables())


def test_same_seed_same_events_other_seed_other_events(shape: SampleShape) -> None:
    first, again, other = _table(shape, 5), _table(shape, 5), _table(shape, 6)
    assert first.num_rows == 20_000
    assert first.equals(again)
    assert not first.equals(other)


def test_marginals_follow_the_sample(shape: SampleShape) -> None:
    log = SyntheticLog(300_000, 7, products=30_000, users=20_000, seed=1, shape=shape)
    df = pa.concat_tables(log.tables()).to_pandas()
    assert df["event_time"].is_monotonic_increasing
    shares = df["event_type"].value_counts(normalize=True)
    assert shares["view"] == pytest.approx(0.9783, abs=0.004)  # the sample: 97.83% / 0.95% / 1.23%
    assert shares["cart"] == pytest.approx(0.0095, abs=0.002)
    assert shares["purchase"] == pytest.approx(0.0123, abs=0.002)
    counts = df["product_id"].value_counts().to_numpy()[:1000]
    slope = -np.polyfit(np.log(np.arange(1, 1001)), np.log(counts), 1)[0]
    assert slope == pytest.approx(shape.zipf_slope, abs=0.15)
    hours = df["event_time"].dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0).to_numpy()
    assert np.abs(hours - HOUR_SHARE / HOUR_SHARE.sum()).sum() < 0.05
    per_session = df.groupby("user_session").size().mean()
    assert per_session == pytest.approx(3.44, rel=0.1)  # the sample: 17,434 events in 5,066 sessions
    buys = df[df["event_type"] == "purchase"]
    viewed = set(zip(df.loc[df["event_type"] == "view", "user_session"], df.loc[df["event_type"] == "view",
                                                                                  "product_id"]))
    assert all(k in viewed for k in zip(buys["user_session"], buys["product_id"]))  # view -> purchase


def test_parquet_parts_hold_every_event_in_order(shape: SampleShape, tmp_path: Path) -> None:
    log = SyntheticLog(12_345, 2, products=500, users=800, seed=3, shape=shape)
    paths = write_parquet(log, tmp_path / "log", rows_per_file=5_000)
    assert [p.name for p in paths] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    table = pq.read_table(tmp_path / "log")
    assert table.schema.equals(SCHEMA) and table.num_rows == 12_345
    assert table.equals(pa.concat_tables(log.tables()))


def test_bad_sizes_are_one_clear_error(shape: SampleShape) -> None:
    with pytest.raises(ValueError, match="events and days must be >= 1"):
        SyntheticLog(0, 30, shape=shape)
