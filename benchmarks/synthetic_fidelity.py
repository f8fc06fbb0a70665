"""How close the synthetic REES46 log is to the real October sample, statistic by statistic.

    python benchmarks/synthetic_fidelity.py [--events 1000000] [--seed 0]   # table + results/synthetic_fidelity.json

The same function measures both logs. Hour-of-day is compared with the real November purchases
(../shared/datasets/rees46/), since the October sample covers 00:00-02:50 only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from fincommerce.offline.synthetic_log import HOUR_SHARE, SAMPLE, SyntheticLog

HERE = Path(__file__).resolve().parent
NOVEMBER = HERE.parents[1] / "shared" / "datasets" / "rees46" / "2019-Nov_purchases_10kusers_allcat.csv"


def stats(df: pd.DataFrame) -> dict[str, float]:
    df = df.sort_values(["user_session", "event_time"], kind="stable")
    shares = df["event_type"].value_counts(normalize=True)
    counts = df["product_id"].value_counts().to_numpy()
    top = counts[:1000]
    cont = df["user_session"].eq(df["user_session"].shift()).to_numpy()
    prev = df.shift()
    same_p = (df["product_id"] == prev["product_id"]).to_numpy()[cont]
    same_c = (df["category_id"] == prev["category_id"]).to_numpy()[cont]
    sessions = df.groupby("user_session")["event_type"]
    when = df["event_time"]
    t = (pd.to_datetime(when.str.removesuffix(" UTC"), utc=True) if pd.api.types.is_string_dtype(when) else when)
    t = t.astype("datetime64[us, UTC]").astype("int64") / 1e6
    gaps = np.diff(t.to_numpy())[cont[1:]]
    return {"view share": shares.get("view", 0.0), "cart share": shares.get("cart", 0.0),
            "purchase share": shares.get("purchase", 0.0),
            "Zipf slope, top 1,000 products": -np.polyfit(np.log(np.arange(1, len(top) + 1)), np.log(top), 1)[0],
            "share of events on the top 1% products": counts[: max(1, len(counts) // 100)].sum() / counts.sum(),
            "events per session, mean": sessions.size().mean(),
            "sessions with a cart": sessions.agg(lambda s: "cart" in set(s)).mean(),
            "sessions with a purchase": sessions.agg(lambda s: "purchase" in set(s)).mean(),
            "next event: same product": same_p.mean(), "next other product: same category": same_c[~same_p].mean(),
            "seconds between a session's events, median": float(np.median(gaps)),
            "missing category_code": df["category_code"].isna().mean(), "missing brand": df["brand"].isna().mean(),
            "price median (per product)": df.drop_duplicates("product_id")["price"].median(),
            "smartphone share of events": (df["category_code"] == "electronics.smartphone").mean()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    synthetic = SyntheticLog(args.events, 30, seed=args.seed)
    gen = pa.concat_tables(synthetic.tables()).to_pandas()
    real = pd.read_csv(SAMPLE, on_bad_lines="skip").dropna(subset=["user_session"])
    rows = {"sample": stats(real), "synthetic": stats(gen)}
    hours = gen["event_time"].dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0).to_numpy()
    if NOVEMBER.exists():
        nov = pd.read_csv(NOVEMBER, header=None)
        real_h = pd.to_datetime(nov[1].str.removesuffix(" UTC")).dt.hour.value_counts(normalize=True)
        rows["sample"]["hour-of-day L1 distance to November purchases"] = 0.0
        rows["synthetic"]["hour-of-day L1 distance to November purchases"] = float(
            np.abs(hours - real_h.reindex(range(24), fill_value=0).to_numpy()).sum())
    rows["synthetic"]["hour-of-day L1 distance to HOUR_SHARE"] = float(np.abs(hours - HOUR_SHARE).sum())
    print(f"{'statistic':50s} {'Oct sample':>12s} {f'synthetic {args.events:,}':>20s}")
    for key, value in rows["synthetic"].items():
        print(f"{key:50s} {rows['sample'].get(key, float('nan')):12.4g} {value:20.4g}")
    print(f"synthetic: {gen['user_id'].nunique():,} users, {gen['product_id'].nunique():,} products seen "
          f"(of {synthetic.n_products:,}), {gen['user_session'].nunique():,} sessions")
    out = HERE / "results" / "synthetic_fidelity.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"events": args.events, "seed": args.seed, **rows}, indent=2, default=float))


if __name__ == "__main__":
    main()
