"""The session protocol's tables built by the engine (DuckDB or Spark), for `offline.sessions`.

The engine assigns sessions (the log's `session_id`; where it is empty, a user's runs of events less than 30
minutes apart, numbered as `offline.sessions.session_ids` numbers them), finds the evaluated ones (a cart or
purchase after a view or click), their contexts and gains, and each product's newest attributes. Only those
small tables reach pandas. The replay reads every event before the last evaluated session, in time order:
four columns (time, product row, type, user), fetched one page of about `page_rows` events at a time (pages
cut at whole hours from the engine's hourly counts), so Python never holds the log.

"Time order" is the pandas path's: time, then the file's own order (`file`, `row`), so ties between a view
and a cart at the same second resolve as they do there.
"""
from __future__ import annotations

from collections.abc import Iterator

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis import _

from fincommerce.logs.cuts import TYPE_CODE
from fincommerce.logs.engine import materialize
from fincommerce.logs.replay import (
    CONTEXT_TYPES,
    GAINS,
    SESSION_GAP_SECONDS,
    EventStream,
    Page,
    SessionLog,
    SessionTable,
)
from fincommerce.logs.scan import LogScan
from fincommerce.logs.trends import first_attributes
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.importers import product_from_log

GAIN_OF = {TYPE_CODE[k]: g for k, g in GAINS.items()}
LEVELS = sorted(set(GAINS.values()))  # gains leave the engine as an index here: DuckDB reads a literal 0.6 as a
# DECIMAL, which Arrow turns into the double 0.6000000000000001, not the pandas path's 0.6
CONTEXT_CODES = tuple(TYPE_CODE[k] for k in CONTEXT_TYPES)
PAGE_ROWS = 1_000_000
_KINDS = np.array(INTERACTION_TYPES, dtype=object)


def session_log(scan: LogScan, *, page_rows: int = PAGE_ROWS) -> SessionLog:
    """The evaluated sessions, the products and the replay's stream of a scanned log."""
    base = event_base(scan)
    products = _products(scan, base)
    index = ibis.memtable({"p": products.product_id.to_numpy(dtype=object),
                           "r": np.arange(len(products), dtype=np.int32)})
    sessions = _evaluated(with_sessions(base), index)
    until = float(sessions.start[-1]) if len(sessions) else -np.inf
    return SessionLog(products, sessions, EventStream(_pages(base, index, until, page_rows)))


def event_base(scan: LogScan) -> ir.Table:
    """The scanned events computed once (REES46's repeats merged once) and kept in the engine, as every step
    reads them: user, product, time, session id, type code, file order (`file`, `row`) and the attributes."""
    ev = scan.events
    return materialize(ev.select(u=ev.user_id, p=ev.product_id, t=ev.timestamp, s=ev.session_id, file=ev.file,
                                 row=ev.row, k=ev.interaction_type.substitute(TYPE_CODE, else_=ibis.null("int8"))
                                 .cast("int8"), price=ev.price, name=ev.name, brand=ev.brand, category=ev.category,
                                 category_id=ev.category_id))


def with_sessions(base: ir.Table) -> ir.Table:
    """`base` plus `sid`: the log's session id, else "gap:<user>:<n>" with n counted over all the user's
    events (only users with an empty session id are windowed at all)."""
    gapped = base.filter(base.s == "").select("u").distinct()
    mine = base.filter(base.u.isin(gapped.u))
    w = ibis.window(group_by="u", order_by=["t", "file", "row"])
    prev = mine.t.lag().over(w)
    flagged = mine.mutate(new=(prev.isnull() | (mine.t - prev > SESSION_GAP_SECONDS)).cast("int64"))
    numbered = flagged.mutate(n=flagged.new.sum().over(ibis.cumulative_window(group_by="u",
                                                                              order_by=["t", "file", "row"])))
    numbered = numbered.drop("new")
    derived = numbered.mutate(sid=ibis.ifelse(numbered.s != "", numbered.s,
                                              "gap:" + numbered.u + ":" + numbered.n.cast("string"))).drop("n")
    rest = base.filter(~base.u.isin(gapped.u)).mutate(sid=_.s)
    return ibis.union(derived, rest)


def _evaluated(events: ir.Table, index: ir.Table) -> SessionTable:
    """Per evaluated session: its context products (newest view first, with their last view's time), its gains
    (in the order of their first conversion, as the pandas path inserts them), its start, user and ranking
    moment (its first conversion's time). The engine numbers the sessions i in their final order (start, then
    id: strings compare as UTF-8 bytes in DuckDB and Spark, as Python compares str) and products by their row
    (`index`), so contexts and gains leave it as integer and float columns, never Python strings."""
    converting = events.filter(events.k.isin(list(GAIN_OF))).select("sid").distinct()
    ev = events.filter(events.sid.isin(converting.sid))
    ev = materialize(ev.mutate(pos=ibis.row_number().over(group_by="sid", order_by=["t", "file", "row"])))
    first = ev.filter(ev.k.isin(list(GAIN_OF))).group_by("sid").aggregate(first=_.pos.min(), moment=_.t.min())
    ctx = ev.join(first, "sid")
    ctx = ctx.filter((ctx.pos < ctx.first) & ctx.k.isin(list(CONTEXT_CODES)))
    context = ctx.group_by(["sid", "p"]).aggregate(last=_.pos.max(), seen=_.t.max())
    kept = context.select("sid").distinct()
    heads = ev.filter(ev.sid.isin(kept.sid)).group_by("sid").aggregate(start=_.t.min(), user=_.u.argmin(_.pos)) \
        .join(first.select("sid", "moment"), "sid")
    heads = materialize(heads.mutate(i=ibis.row_number().over(order_by=["start", "sid"]).cast("int32")))
    number = heads.select("sid", "i")
    level = ibis.cases(*((ev.k == k, LEVELS.index(g)) for k, g in GAIN_OF.items()), else_=0)
    gains = ev.filter(ev.k.isin(list(GAIN_OF)) & ev.sid.isin(kept.sid)).mutate(g=level) \
        .group_by(["sid", "p"]).aggregate(gain=_.g.max(), at=_.pos.min())
    context = context.join(number, "sid").join(index, "p").select("i", "r", "seen", "last") \
        .order_by(["i", ibis.desc("last")]).to_pyarrow()
    gains = gains.join(number, "sid").join(index, "p").select("i", "r", "gain", "at").order_by(["i", "at"]) \
        .to_pyarrow()
    top = heads.select("i", "sid", "user", "start", "moment").order_by("i").to_pyarrow()
    n = len(top)
    return SessionTable(_floats(top, "start"), top["sid"].combine_chunks(), top["user"].combine_chunks(),
                        _floats(top, "moment"), _offsets(context, n), _ints(context, "r"),
                        _floats(context, "seen"), _offsets(gains, n), _ints(gains, "r"),
                        np.array(LEVELS)[_ints(gains, "gain")])


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy().astype(np.float64, copy=False)


def _ints(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy().astype(np.int32, copy=False)


def _offsets(table: pa.Table, n: int) -> np.ndarray:
    """CSR offsets of a table sorted by session number i: session i's rows are [ptr[i], ptr[i + 1])."""
    return np.searchsorted(_ints(table, "i"), np.arange(n + 1), side="left")


def _products(scan: LogScan, base: ir.Table) -> pd.DataFrame:
    """Each product's newest row (time, then file order): its price, and its name, brand and category —
    for REES46, those of its first row as its reader gives them (`product_from_log`)."""
    newest = base.group_by("p").aggregate(tm=_.t.max())
    tied = base.join(newest, [base.p == newest.p, base.t == newest.tm]).select(base)
    w = ibis.window(group_by="p", order_by=[ibis.desc("file"), ibis.desc("row")])
    last = tied.mutate(n=ibis.row_number().over(w)).filter(_.n == 0)
    attrs = last.select("p", "t", "file", "row", "name", "brand", "category", "price").to_pandas()
    attrs = attrs.sort_values(["t", "file", "row"], kind="stable").reset_index(drop=True)
    if scan.rees46:
        first = first_attributes(base.rename(product_id="p")).to_pandas().set_index("product_id").loc[attrs.p]
        named = [product_from_log({"product_id": p, "price": 0.0, "brand": b, "category_code": c, "category_id": i})
                 for p, b, c, i in zip(attrs.p, first.brand, first.category, first.category_id, strict=True)]
        attrs["name"] = [x["name"] for x in named]
        attrs["brand"] = [x["brand"] for x in named]
        attrs["category"] = [" > ".join(x["categories"]) for x in named]
    return pd.DataFrame({"product_id": attrs.p.astype(str), "name": attrs.name.astype(str),
                         "brand": attrs.brand.astype(str), "category": attrs.category.astype(str),
                         "price": attrs.price.astype(float)})


def _pages(base: ir.Table, index: ir.Table, until: float, page_rows: int) -> Iterator[Page]:
    """The events before `until` in time order, a page of whole hours (about `page_rows` events) at a time."""
    ev = base.filter(base.t < until)
    hours = ev.group_by(h=(ev.t / 3600).floor().cast("int64")).aggregate(n=_.count()).order_by("h").to_pandas()
    rows = ev.join(index, "p").select("t", "r", "k", "u", "file", "row")
    bounds, filled = [], 0
    for h, n in zip(hours.h, hours.n, strict=True):
        if filled and filled + n > page_rows:
            bounds.append(float(h) * 3600)
            filled = 0
        filled += int(n)
    edges = [-np.inf, *bounds, until]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        page = rows.filter((rows.t >= lo) & (rows.t < hi)).order_by(["t", "file", "row"]) \
            .select("t", "r", "k", "u").to_pyarrow()
        yield (page["t"].to_numpy(), page["r"].to_numpy(), _KINDS[page["k"].to_numpy()],
               page["u"].to_numpy(zero_copy_only=False).astype(object))
