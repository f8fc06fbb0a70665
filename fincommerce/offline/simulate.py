"""Seeded shopper simulator with a hidden "true utility", so ranking quality can be measured.

Shoppers come from personas (budgets, brand and category tastes, query templates). Sessions follow a
day/night traffic curve. In each session the shopper sees the semantic top-50 for their query and moves
down a funnel view → click → add_to_cart → purchase with probabilities that rise with a utility the
ranker never sees directly: relevance, price fit to the real budget, brand taste, a pull towards what
look-alike shoppers bought and the herd (what is trending), weighted by a planted `utility` (`world.py`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fincommerce.config import DAY, HOUR
from fincommerce.errors import ValidationError, relative_path_hint
from fincommerce.offline.world import NOISE, PERSONAS, LookalikeMemory, check_utility, lookalikes, make_users
from fincommerce.schema import SIGNALS
from fincommerce.search.signals import affordability_signal, semantic_signal
from fincommerce.trending.index import TrendingIndex
from fincommerce.workbench import Workbench

log = logging.getLogger(__name__)

GRADES = {"click": 0.3, "add_to_cart": 0.6, "purchase": 1.0}
N_CANDIDATES = 50
# Share of traffic per hour of day (UTC): quiet nights, a lunch bump and an evening peak.
HOURLY_TRAFFIC = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 4, 5, 4.5, 4, 4, 4.5, 5, 6, 7, 7.5, 6.5, 4.5, 2.5]
)


# Each funnel step is taken with probability σ(STEEPNESS·(u − u_best + gap)): shoppers judge a product
# against the best one they were shown, so worlds with other planted weights keep similar funnel rates.
FUNNEL = {"click": 0.6, "add_to_cart": 0.1, "purchase": -0.2}
STEEPNESS = 3.0
# Shoppers judge relevance to two decimals of cosine: the last bits of MiniLM's float math (which differ
# between CPUs, ~1e-7) then almost never change a judgement, and ties go to the smaller product id.
COSINE_DECIMALS = 2
UTILITY_DECIMALS = 6  # the same for numpy's own last bits in the utility


@dataclass
class SimulationResult:
    events: pd.DataFrame  # one row per logged event (the same table every run with the same seed)
    sessions: pd.DataFrame  # ground truth: query, shown candidates and the graded conversions
    logged: int = 0
    params: dict[str, Any] = field(default_factory=dict)


BUDGETS = np.array([50, 100, 200, 500, 1000, 2000, 5000])  # the 1-2-5 round figures people type


def budget_words(budget: float) -> str:
    """A budget as shoppers type it, a round figure (the nearest on a log scale): few distinct queries to embed."""
    return str(int(BUDGETS[np.argmin(np.abs(np.log(BUDGETS / budget)))]))


def simulate(wb: Workbench, n_users: int = 200, n_days: int = 7, seed: int = 0, start: str = "2026-11-01",
             sessions_per_user_day: float = 0.6, budget_in_query: float = 0.4, log_events: bool = True,
             show_progress: bool = True, utility: Mapping[str, float] | None = None,
             budget_scale: float = 1.0) -> SimulationResult:
    """Simulate shoppers over `n_days` from `start` (UTC); same arguments → identical events.

    `utility` plants the hidden weights (one per ranking signal, see `world.UTILITY`); `budget_scale`
    scales every shopper's budget (`world.make_users`)."""
    planted = check_utility(utility)
    for name, value in (("n_users", n_users), ("n_days", n_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(name, "an integer >= 1", value)
    rng = np.random.default_rng(seed)
    catalog = wb.product_matrix()
    if len(catalog.ids) < N_CANDIDATES:
        raise ValidationError("catalogue", f"at least {N_CANDIDATES} indexed products", len(catalog.ids))
    t0 = pd.Timestamp(start, tz="UTC").timestamp()
    users = make_users(rng, n_users, budget_scale)
    memory = LookalikeMemory(lookalikes(users), GRADES)
    persona = {p.name: p for p in PERSONAS}
    prices = np.array([p["price"] for p in catalog.payloads])
    brands = np.array([(p.get("brand") or "").lower() for p in catalog.payloads])

    # Session schedule: Poisson per user-day, hour from the traffic curve.
    weights = np.array([planted[k] for k in SIGNALS])
    hourly = HOURLY_TRAFFIC / HOURLY_TRAFFIC.sum()
    plan = []
    for u in users.itertuples():
        counts = rng.poisson(sessions_per_user_day * u.activity, size=n_days)
        for day, k in enumerate(counts):
            hours = rng.choice(24, size=k, p=hourly)
            for h in hours:
                plan.append((t0 + day * DAY + h * HOUR + rng.uniform(0, HOUR), u.Index))
    plan.sort()

    queries = sorted({q for p in PERSONAS for q in p.queries})
    qvec = dict(zip(queries, wb.embedder.encode(queries)))
    by_template = {}  # cosine, shown (best first; ties go to the smaller id), candidates in id order
    for q in queries:
        cos = np.round(catalog.vectors.astype(np.float64) @ qvec[q], COSINE_DECIMALS)
        shown = np.argsort(-cos, kind="stable")[:N_CANDIDATES]
        by_template[q] = (cos, shown, np.sort(shown))  # draws run in id order: near-tie reorders change nothing
    herd = TrendingIndex.from_settings(wb.settings)
    user_rows = list(users.itertuples(index=False))
    events: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    for s, (ts, ui) in enumerate(tqdm(plan, desc="Simulating sessions", unit="session", disable=not show_progress)):
        user = user_rows[ui]
        p = persona[user.persona]
        rs = np.random.default_rng([seed, s])  # one stream per session: a difference stays in its session
        template = p.queries[rs.integers(len(p.queries))]
        query = template
        if rs.random() < budget_in_query:
            query = f"{template} under {budget_words(user.budget)}"
        cos, shown, cand = by_template[template]
        pop = herd.popularity([catalog.ids[i] for i in cand], ts, herd.window) if herd.n_events else np.zeros(len(cand))
        cand_ids = [catalog.ids[i] for i in cand]
        truth = np.column_stack([semantic_signal(cos[cand]), affordability_signal(prices[cand], user.budget),
                                 [user.brands.get(b, 0.0) for b in brands[cand]], memory.pull(ui, cand_ids), pop])
        utility = np.round(truth @ weights + rs.gumbel(0, NOISE, size=len(cand)), UTILITY_DECIMALS)
        best = utility.max()
        n_views = int(rs.integers(3, 9))
        attention = np.exp((utility - utility.max()) / 0.6)
        viewed = rs.choice(len(cand), size=n_views, replace=False, p=attention / attention.sum())
        gains: dict[str, float] = {}
        clock = ts
        done: list[tuple[float, str, str]] = []  # added to the herd at the end: only the next session reads it
        for j in viewed:
            pid = catalog.ids[cand[j]]
            steps = ["view"]
            for step in ("click", "add_to_cart", "purchase"):
                if rs.random() < 1 / (1 + np.exp(-STEEPNESS * (utility[j] - best + FUNNEL[step]))):
                    steps.append(step)
                else:
                    break
            for step in steps:
                clock += float(rs.uniform(5, 60))
                events.append({"event_id": f"sim{seed}-s{s:06d}-{len(events):07d}", "session_id": s,
                               "user_id": user.user_id, "product_id": pid, "interaction_type": step,
                               "query": query, "timestamp": round(clock, 3)})
                done.append((clock, pid, step))
                memory.add(ui, pid, step)
                if step in GRADES:
                    gains[pid] = max(gains.get(pid, 0.0), GRADES[step])
        herd.add(*zip(*done))
        sessions.append({"session_id": s, "user_id": user.user_id, "persona": user.persona, "query": query,
                         "timestamp": round(ts, 3), "candidates": [catalog.ids[i] for i in shown], "gains": gains})
    events_df = pd.DataFrame(events, columns=["event_id", "session_id", "user_id", "product_id", "interaction_type",
                                              "query", "timestamp"])
    result = SimulationResult(events_df, pd.DataFrame(sessions), params=dict(
        n_users=n_users, n_days=n_days, seed=seed, start=start, sessions_per_user_day=sessions_per_user_day,
        utility=planted, **({"budget_scale": budget_scale} if budget_scale != 1.0 else {})))
    if log_events:
        by_id = dict(zip(catalog.ids, catalog.payloads))
        batch = [{"event_id": e.event_id, "user_id": e.user_id, "product_payload": by_id[e.product_id],
                  "interaction_type": e.interaction_type, "query": e.query, "timestamp": e.timestamp}
                 for e in events_df.itertuples(index=False)]
        result.logged = wb.log_interactions(batch, show_progress=show_progress)
    log.info("Simulated %d users × %d days: %d sessions, %d events (%d newly logged)", n_users, n_days,
             len(sessions), len(events_df), result.logged)
    return result



def save_simulation(result: SimulationResult, folder: str | Path) -> Path:
    """events.csv + sessions.jsonl: plain files, byte-identical for the same seed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.events.to_csv(folder / "events.csv", index=False, float_format="%.3f")
    with open(folder / "sessions.jsonl", "w", encoding="utf-8") as fh:
        for row in result.sessions.to_dict("records"):
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    (folder / "params.json").write_text(json.dumps(result.params, indent=2, sort_keys=True))
    return folder


def load_simulation(folder: str | Path, check_against: Workbench | None = None) -> SimulationResult:
    """Read the tables; with `check_against`, refuse tables of another run than that workbench's store."""
    folder = Path(folder)
    if not (folder / "events.csv").exists():
        raise ValidationError("sim_dir", "a folder with events.csv (run notebooks/01-simulate-interactions first)"
                              f"{relative_path_hint(folder)}", str(folder))
    events = pd.read_csv(folder / "events.csv", dtype={"event_id": str, "user_id": str, "product_id": str,
                                                      "query": str}, keep_default_na=False)
    lines = (folder / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    sessions = pd.DataFrame([json.loads(x) for x in lines if x],
                            columns=["session_id", "user_id", "persona", "query", "timestamp", "candidates", "gains"])
    params = json.loads((folder / "params.json").read_text()) if (folder / "params.json").exists() else {}
    result = SimulationResult(events, sessions, params=params)
    if check_against is not None:
        _check_same_run(result, folder, check_against)
    return result


def _check_same_run(result: SimulationResult, folder: Path, wb: Workbench) -> None:
    """Numbers from one run's tables and another run's store would be silently wrong: say so instead."""
    ids = result.events.event_id.tolist()
    sample = ids[:: max(1, len(ids) // 100)] + ids[-1:]
    missing = len(sample) - wb.events.count_present(sample)
    if missing:
        raise ValidationError(
            "sim_dir", f"the simulation tables of the run stored in {wb.settings.store_path} (rerun "
            "01-simulate-interactions with the same store_path, or point sim_dir at that run's tables)",
            f"{folder}: {missing} of {len(sample)} sampled events are not in the store")
