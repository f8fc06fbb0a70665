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
from ibis import _

from fincommerce.logs.cuts import TYPE_CODE, materialize
from fincommerce.logs.replay import CONTEXT_TYPES, GAINS, SESSION_GAP_SECONDS, EventStream, Page, Session, SessionLog
from fincommerce.logs.scan import LogScan
from fincommerce.logs.trends import first_attributes
from fincommerce.schema import INTERACTION_TYPES
from fincommerce.tracking.importers import product_from_log

GAIN_OF = {TYPE_CODE[k]: g for k, g in GAINS.items()}
CONTEXT_CODES = tuple(TYPE_CODE[k] for k in CONTEXT_TYPES)
PAGE_ROWS = 1_000_000
_KINDS = np.array(INTERACTION_TYPES, dtype=object)


def session_log(scan: LogScan, *, page_rows: int = PAGE_ROWS) -> SessionLog:
    """The evaluated sessions, the products and the replay's stream of a scanned log."""
    base = event_base(scan)
    products = _products(scan, base)
    context, gains, heads = _evaluated(with_sessions(base))
    row_of = {pid: i for i, pid in enumerate(products.product_id)}
    viewed: dict[str, list[int]] = {}
    seen_at: dict[str, list[float]] = {}
    for sid, pid, t in zip(context.sid, context.p, context.seen, strict=True):  # by the view's position, newest first
        viewed.setdefault(sid, []).append(row_of[pid])
        seen_at.setdefault(sid, []).append(float(t))
    gained: dict[str, dict[int, float]] = {}
    for sid, pid, g in zip(gains.sid, gains.p, gains.gain, strict=True):
        gained.setdefault(sid, {})[row_of[pid]] = float(g)
    sessions: list[Session] = [(float(start), str(sid), str(user), viewed[sid], gained[sid], seen_at[sid],
                                float(moment))
                               for sid, start, user, moment in zip(heads.sid, heads.start, heads.user, heads.moment,
                                                                   strict=True)]
    sessions.sort(key=lambda x: (x[0], x[1]))
    until = sessions[-1][0] if sessions else -np.inf
    index = ibis.memtable({"p": products.product_id.to_numpy(dtype=object),
                           "r": np.arange(len(products), dtype=np.int32)})
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


def _evaluated(events: ir.Table) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per evaluated session: its context products (newest view first, with their last view's time), its gains,
    its start, user and ranking moment (its first conversion's time)."""
    converting = events.filter(events.k.isin(list(GAIN_OF))).select("sid").distinct()
    ev = events.filter(events.sid.isin(converting.sid))
    ev = materialize(ev.mutate(pos=ibis.row_number().over(group_by="sid", order_by=["t", "file", "row"])))
    first = ev.filter(ev.k.isin(list(GAIN_OF))).group_by("sid").aggregate(first=_.pos.min(), moment=_.t.min())
    ctx = ev.join(first, "sid")
    ctx = ctx.filter((ctx.pos < ctx.first) & ctx.k.isin(list(CONTEXT_CODES)))
    context = ctx.group_by(["sid", "p"]).aggregate(last=_.pos.max(), seen=_.t.max())
    kept = context.select("sid").distinct()
    gain = ibis.cases(*((ev.k == k, g) for k, g in GAIN_OF.items()), else_=0.0)
    gains = ev.filter(ev.k.isin(list(GAIN_OF)) & ev.sid.isin(kept.sid)).mutate(g=gain) \
        .group_by(["sid", "p"]).aggregate(gain=_.g.max())
    heads = ev.filter(ev.sid.isin(kept.sid)).group_by("sid").aggregate(start=_.t.min(), user=_.u.argmin(_.pos)) \
        .join(first.select("sid", "moment"), "sid")
    return (context.order_by(["sid", ibis.desc("last")]).to_pandas(), gains.to_pandas(), heads.to_pandas())


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
