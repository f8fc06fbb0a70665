"""Seeded, streaming REES46-shaped event logs of any size, fitted to the shipped October sample.

Benchmarks need a month of traffic (tens of millions of events, >= 50k products, >= 1M users) and only a
3-hour sample ships, so the sample gives the shapes and this module draws new events from them:
Zipf-like product popularity (its rank-frequency slope), each product a copy of a sample product's
category, brand and price (price jittered), sessions with the sample's views-per-session, same-product
and same-category browsing rates, cart/purchase funnel shares and inter-event gaps; days and hours from
`HOUR_SHARE`. Events come hour by hour in time order, so memory stays bounded whatever `events` is.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "external" / "rees46" / "2019-Oct_head_sample.csv.gz"
# The sample covers 00:00-02:50 UTC only, so the hour-of-day shares come from the real month-long
# ../shared/datasets/rees46/2019-Nov_purchases_10kusers_allcat.csv (10,000 purchases, hours 0..23 UTC).
HOUR_SHARE = np.array([0.0058, 0.0058, 0.0195, 0.0447, 0.0589, 0.0720, 0.0796, 0.0725, 0.0743, 0.0754, 0.0728,
                       0.0622, 0.0562, 0.0548, 0.0503, 0.0448, 0.0430, 0.0363, 0.0239, 0.0194, 0.0112, 0.0091,
                       0.0047, 0.0028])
# REES46's real October: 42.4M events, 3.02M users, 166.8k products (the Kaggle page's counts).
USERS_PER_EVENT, PRODUCTS_PER_EVENT = 3.02 / 42.4, 0.1668 / 42.4
TIME = pa.timestamp("us", tz="UTC")  # what pandas writes for REES46's "2019-10-01 00:00:00 UTC"
SCHEMA = pa.schema([("event_time", TIME), ("event_type", pa.string()),
                    ("product_id", pa.int64()), ("category_id", pa.int64()), ("category_code", pa.string()),
                    ("brand", pa.string()), ("price", pa.float64()), ("user_id", pa.int64()),
                    ("user_session", pa.string())])
_HEX = np.array(list("0123456789abcdef"))


@dataclass(frozen=True)
class SampleShape:
    """What the generator takes from a real log: every number it draws from."""

    templates: pd.DataFrame  # one row per sample product: category_id, category_code, brand, price, count
    views_per_session: np.ndarray  # one entry per sample session
    funnel: np.ndarray  # P(no cart, no purchase), P(purchase only), P(cart only), P(cart and purchase)
    extra_carts: float  # mean carts per carting session, minus one
    extra_purchases: float
    same_product: float  # P(the next view is the product just viewed)
    same_category: float  # P(the next other product is in the session's category)
    gaps: np.ndarray  # seconds between consecutive events of a session
    zipf_slope: float  # rank-frequency slope of product popularity (top 1,000 ranks)

    @classmethod
    def fit(cls, path: Path = SAMPLE) -> SampleShape:
        df = pd.read_csv(path, on_bad_lines="skip").dropna(subset=["user_session"])  # the sample's cut-off line
        df["t"] = pd.to_datetime(df["event_time"].str.removesuffix(" UTC")).astype("int64") // 10**9
        df = df.sort_values(["user_session", "t"], kind="stable")
        by = df.groupby("user_session")["event_type"]
        has_cart, has_buy = by.agg(lambda s: "cart" in set(s)), by.agg(lambda s: "purchase" in set(s))
        funnel = np.array([(~has_cart & ~has_buy).mean(), (~has_cart & has_buy).mean(),
                           (has_cart & ~has_buy).mean(), (has_cart & has_buy).mean()])
        cont = df["user_session"].eq(df["user_session"].shift()).to_numpy()
        prev = df.shift()
        same_p = (df["product_id"] == prev["product_id"]).to_numpy()[cont]
        same_c = (df["category_id"] == prev["category_id"]).to_numpy()[cont]
        counts = df["product_id"].value_counts()
        top = counts.to_numpy()[:1000]
        slope = -np.polyfit(np.log(np.arange(1, len(top) + 1)), np.log(top), 1)[0]
        templates = df.drop_duplicates("product_id", keep="last").set_index("product_id")[
            ["category_id", "category_code", "brand", "price"]]
        templates["count"] = counts.reindex(templates.index).to_numpy()
        kinds = df["event_type"]
        return cls(templates.reset_index(drop=True), by.agg(lambda s: int((s == "view").sum())).to_numpy(),
                   funnel, float(df[kinds == "cart"].groupby("user_session").size().mean() - 1),
                   float(df[kinds == "purchase"].groupby("user_session").size().mean() - 1),
                   float(same_p.mean()), float(same_c[~same_p].mean()), np.diff(df["t"].to_numpy())[cont[1:]],
                   float(slope))


@dataclass(frozen=True)
class Catalogue:
    """The synthetic products, ordered by category so a category's products are one slice."""

    product_id: np.ndarray
    category_id: np.ndarray
    category_code: pa.Array
    brand: pa.Array
    price: np.ndarray
    cum_weight: np.ndarray  # cumulative popularity, normalised to 1
    cat_start: np.ndarray  # per product: first and last+1 index of its category's slice
    cat_stop: np.ndarray


def make_catalogue(shape: SampleShape, n: int, rng: np.random.Generator) -> Catalogue:
    """n products, each a sample product's category and brand; popularity ranks follow the template's
    own sample popularity (noisy), so smartphones stay on top as in REES46."""
    tpl = shape.templates.iloc[rng.integers(0, len(shape.templates), n)].reset_index(drop=True)
    key = tpl["count"].to_numpy() * rng.lognormal(0.0, 1.0, n)
    rank = np.empty(n, np.int64)
    rank[np.argsort(-key, kind="stable")] = np.arange(1, n + 1)
    weight = rank.astype(np.float64) ** -shape.zipf_slope
    order = np.argsort(tpl["category_id"].to_numpy(), kind="stable")
    tpl, weight = tpl.iloc[order].reset_index(drop=True), weight[order]
    cats = tpl["category_id"].to_numpy()
    first = np.r_[0, np.flatnonzero(cats[1:] != cats[:-1]) + 1]
    sizes = np.diff(np.r_[first, n])
    price = np.round(tpl["price"].to_numpy() * rng.lognormal(0.0, 0.2, n), 2)
    return Catalogue(10_000_000 + rng.permutation(n), cats.astype(np.int64),
                     pa.array(tpl["category_code"], pa.string(), from_pandas=True),
                     pa.array(tpl["brand"], pa.string(), from_pandas=True), price,
                     np.cumsum(weight) / weight.sum(), np.repeat(first, sizes), np.repeat(first + sizes, sizes))


def _pick(cat: Catalogue, u: np.ndarray, start: np.ndarray | None = None, stop: np.ndarray | None = None
          ) -> np.ndarray:
    """Products by popularity (inverse CDF), optionally inside [start, stop) slices."""
    if start is None or stop is None:
        return np.minimum(np.searchsorted(cat.cum_weight, u, side="right"), len(cat.cum_weight) - 1)
    lo = np.where(start > 0, cat.cum_weight[np.maximum(start - 1, 0)], 0.0)
    hi = cat.cum_weight[stop - 1]
    return np.clip(np.searchsorted(cat.cum_weight, lo + u * (hi - lo), side="right"), start, stop - 1)


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random version-4 UUID strings, vectorised (REES46's user_session)."""
    nib = rng.integers(0, 16, (n, 32))
    nib[:, 12], nib[:, 16] = 4, 8 + nib[:, 16] % 4
    chars = _HEX[nib]
    parts = [chars[:, a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    dash = np.full((n, 1), "-")
    flat = np.concatenate([parts[0], dash, parts[1], dash, parts[2], dash, parts[3], dash, parts[4]], axis=1)
    return pa.array(np.ascontiguousarray(flat).view("<U36").ravel(), pa.string())


class SyntheticLog:
    """A seeded month (or any span) of REES46-shaped events; the same arguments give the same events."""

    def __init__(self, events: int, days: int = 30, *, products: int | None = None, users: int | None = None,
                 seed: int = 0, start: str = "2019-10-01", shape: SampleShape | None = None) -> None:
        if events < 1 or days < 1:
            raise ValueError(f"events and days must be >= 1, got events={events}, days={days}")
        self.events, self.days, self.seed = events, days, seed
        self.n_products = products or max(50_000, round(events * PRODUCTS_PER_EVENT))
        self.n_users = users or max(1_000, round(events * USERS_PER_EVENT))
        self.start = int(pd.Timestamp(start, tz="UTC").timestamp())
        self.shape = shape or SampleShape.fit()
        self.catalogue = make_catalogue(self.shape, self.n_products, np.random.default_rng([seed, 1]))

    def tables(self) -> Iterator[pa.Table]:
        """The log hour by hour, in time order (a session crossing the hour is carried to the next table)."""
        rng = np.random.default_rng([self.seed, 2])
        day_w = rng.lognormal(0.0, 0.1, self.days)
        share = np.outer(day_w, HOUR_SHARE).ravel()
        per_hour = rng.multinomial(self.events, share / share.sum())
        user_cdf = np.cumsum(np.arange(1, self.n_users + 1) ** -0.5)
        user_cdf /= user_cdf[-1]
        user_ids = 500_000_000 + rng.permutation(self.n_users)
        carry: pa.Table | None = None
        for h, quota in enumerate(per_hour):
            block = self._block(rng, int(quota), self.start + 3600 * h, user_cdf, user_ids)
            block = pa.concat_tables([carry, block]) if carry is not None else block
            block = block.sort_by("event_time")
            cut = len(block) if h == len(per_hour) - 1 else int(np.searchsorted(
                block["event_time"].cast(pa.int64()).to_numpy(), (self.start + 3600 * (h + 1)) * 10**6))
            carry = block.slice(cut)
            if cut:
                yield block.slice(0, cut)

    def _block(self, rng: np.random.Generator, quota: int, t0: int, user_cdf: np.ndarray,
               user_ids: np.ndarray) -> pa.Table:
        """Sessions starting in one hour, cut to exactly `quota` events."""
        s, cat = self.shape, self.catalogue
        n_s = int(quota / 2.5) + 64  # sessions average 3.4 events: enough to fill the quota
        views = np.maximum(rng.choice(s.views_per_session, n_s), 1)
        kind = rng.choice(4, n_s, p=s.funnel / s.funnel.sum())
        carts = np.where(kind >= 2, 1 + rng.poisson(s.extra_carts, n_s), 0)
        buys = np.where(kind % 2 == 1, 1 + rng.poisson(s.extra_purchases, n_s), 0)
        length = views + carts + buys
        n_s = int(np.searchsorted(np.cumsum(length), quota)) + 1
        views, carts, length = views[:n_s], carts[:n_s], length[:n_s]
        sess = np.repeat(np.arange(n_s), length)[:quota]
        first = np.r_[0, np.cumsum(length)[:-1]]
        pos = np.arange(len(sess)) - first[sess]
        etype = np.where(pos < views[sess], 0, np.where(pos < (views + carts)[sess], 1, 2))
        is_view = etype == 0
        u = rng.random(len(sess))
        focus = _pick(cat, rng.random(n_s))
        new = (pos == 0) | (rng.random(len(sess)) >= s.same_product)
        in_cat = rng.random(len(sess)) < s.same_category
        prod = np.where(in_cat, _pick(cat, u, cat.cat_start[focus[sess]], cat.cat_stop[focus[sess]]), _pick(cat, u))
        prod[pos == 0] = focus[sess[pos == 0]]
        prod = prod[np.maximum.accumulate(np.where(new & is_view, np.arange(len(sess)), 0))]
        viewed = np.minimum(first[sess] + (rng.random(len(sess)) * views[sess]).astype(np.int64), len(sess) - 1)
        prod = np.where(is_view, prod, prod[viewed])
        buy_first_cart = (etype == 2) & (carts[sess] > 0)
        prod[buy_first_cart] = prod[first[sess[buy_first_cart]] + views[sess[buy_first_cart]]]
        gap = np.where(pos == 0, 0, rng.choice(s.gaps, len(sess)))
        t = np.cumsum(gap)
        t = t - t[first[sess]] + t0 + rng.integers(0, 3600, n_s)[sess]
        user = user_ids[np.minimum(np.searchsorted(user_cdf, rng.random(n_s)), len(user_ids) - 1)]
        return pa.table([pa.array(t * 10**6, TIME),
                         pa.array(np.array(["view", "cart", "purchase"])[etype], pa.string()),
                         cat.product_id[prod], cat.category_id[prod], cat.category_code.take(prod),
                         cat.brand.take(prod), cat.price[prod], user[sess], _uuids(rng, n_s).take(sess)],
                        schema=SCHEMA)


def write_parquet(log_: SyntheticLog, folder: str | Path, rows_per_file: int = 10_000_000) -> list[Path]:
    """The log as part files `part-00000.parquet`, ... of at most `rows_per_file` rows each (one writer open
    at a time, an hour's events in memory)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    for table in log_.tables():
        while len(table):
            if writer is None or in_file >= rows_per_file:
                if writer is not None:
                    writer.close()
                paths.append(folder / f"part-{len(paths):05d}.parquet")
                writer, in_file = pq.ParquetWriter(paths[-1], SCHEMA, compression="zstd"), 0
            take = table.slice(0, rows_per_file - in_file)
            writer.write_table(take, row_group_size=1_000_000)
            in_file += len(take)
            table = table.slice(len(take))
    if writer is not None:
        writer.close()
    log.info("Wrote %d events in %d file(s) to %s", log_.events, len(paths), folder)
    return paths
