"""02's popularity-bias table and accuracy-vs-bias frontier on a tiny EvalData whose answers are hand-computed."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fincommerce.errors import ValidationError
from fincommerce.offline.bias_frontier import frontier_endpoints, frontier_weights, popularity_frontier
from fincommerce.offline.evaluation import EvalData, evaluate
from fincommerce.offline.ranker_bias import bias_by_ranker, top_k
from fincommerce.offline.session_popularity import PopularityCounter, SessionPopularity
from fincommerce.schema import SIGNALS

SEM, POP = SIGNALS.index("semantic"), SIGNALS.index("popularity")
ONLY_SEM, ONLY_POP = np.eye(5)[SEM], np.eye(5)[POP]


@pytest.fixture()
def data() -> EvalData:
    """Two held-out sessions of three candidates over a catalogue of 6 items; each bought one candidate."""
    signals = np.zeros((2, 3, 5), np.float32)
    signals[0, :, SEM], signals[0, :, POP] = [0.2, 0.9, 0.5], [1.0, 0.1, 0.0]
    signals[1, :, SEM], signals[1, :, POP] = [0.8, 0.3, 0.6], [0.0, 1.0, 0.2]
    gains = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    popularity = SessionPopularity(items=np.array([[0, 1, 2], [3, 0, 4]]),
                                   counts=np.array([[10.0, 1, 0], [0, 12, 2]]),
                                   in_tail=np.array([[False, True, True], [True, False, True]]),
                                   target=np.array([1.0, 0.0]), n_catalogue=6)
    return EvalData(pd.DataFrame({"timestamp": [0.0, 1.0]}), signals, gains, np.array(["test", "test"]),
                    popularity=popularity)


def test_each_rankers_top_k_is_judged_with_popularity_as_of_its_session(data: EvalData) -> None:
    table = bias_by_ranker(data, {"only semantic": ONLY_SEM, "only popularity": ONLY_POP}, k=2, n_boot=50)
    sem, pop = (row for _, row in table.set_index("ranker").iterrows())
    # semantic shows items 1, 2 then 3, 4 (counts 1, 0 and 0, 2; all tail) and ranks both purchases first
    assert (sem["ARP"], sem["APLT"], sem["coverage@2"]) == pytest.approx((0.75, 1.0, 4 / 6))
    assert sem["gini"] == pytest.approx(8 / 24)  # exposure (0, 0, 1, 1, 1, 1): Σ(2i − 7)x = 8, over 6 · 4
    assert sem["entropy"] == pytest.approx(math.log(4)) and sem["ndcg@2"] == pytest.approx(1.0)
    # popularity shows items 0, 1 then 0, 4 (counts 10, 1 and 12, 2; one tail item each)
    assert (pop["ARP"], pop["APLT"], pop["coverage@2"]) == pytest.approx((6.25, 0.5, 0.5))
    assert pop["gini"] == pytest.approx(14 / 24)  # exposure (0, 0, 0, 1, 1, 2)
    # its first session's purchase is 2nd (1 / log2 3); the second's unseen product falls out of the top 2
    assert pop["ndcg@2"] == pytest.approx(np.mean([1 / math.log2(3), 0.0]))
    # target counts (1, 0): the second session is the low tercile, the first the middle one, none is high
    assert (pop["ndcg low pop"], pop["ndcg mid pop"]) == pytest.approx((0.0, 1 / math.log2(3)))
    assert math.isnan(pop["ndcg high pop"])
    assert pop["ndcg@2 lo"] <= pop["ndcg@2"] <= pop["ndcg@2 hi"] and pop["APLT lo"] <= 0.5 <= pop["APLT hi"]
    assert "gini lo" not in table  # exposure metrics get no interval (offline/bias.py says why)


def test_the_frontier_rescales_the_tuned_weights_and_moves_toward_the_head(data: EvalData) -> None:
    tuned = {"semantic": 0.6, "affordability": 0.2, "popularity": 0.2}
    w = frontier_weights(tuned, [0.0, 0.5])
    assert w[0].tolist() == pytest.approx([0.75, 0.25, 0, 0, 0])
    assert w[1].tolist() == pytest.approx([0.375, 0.125, 0, 0, 0.5])
    assert frontier_weights({"popularity": 1.0}, [0.2])[0].tolist() == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.2])
    with pytest.raises(ValidationError, match="w_pop"):
        frontier_weights(tuned, [0.7, 1.5])
    f = popularity_frontier(data, tuned, w_pop=[0.0, 0.5], k=2, n_boot=50)
    # w_pop 0 ranks like semantic alone; at 0.5 popularity decides both sessions' top 2 (and costs NDCG)
    assert f["w_pop"].tolist() == [0.0, 0.5] and f["APLT"].tolist() == pytest.approx([1.0, 0.5])
    assert f["ndcg@2"].tolist() == pytest.approx([1.0, np.mean([1 / math.log2(3), 0.0])])
    ends = frontier_endpoints(f)
    assert list(ends) == ["w_pop 0.00", "w_pop 0.50"] and ends["w_pop 0.50"]["APLT"] == 0.5


def test_top_k_ranks_like_evaluate_exact_ties_included() -> None:
    rng = np.random.default_rng(3)
    signals = rng.random((300, 20, 5)).astype(np.float32)
    signals[:, 10:15] = signals[:, 5:10]  # exact ties: the earlier copy ranks first in both
    gains = (rng.random((300, 20)) < 0.1).astype(np.float32)
    gains[:, 0] = 1.0
    d = EvalData(None, signals, gains, np.array(["test"] * 300))  # type: ignore[arg-type]
    w = np.array([0.3, 0.25, 0.15, 0.2, 0.1])
    top = top_k(signals, w, 10)
    assert top_k(np.zeros((1, 4, 1), np.float32), np.ones(1), 3).tolist() == [[0, 1, 2]]  # ties: earlier first
    ideal = -np.sort(-gains, 1)[:, :10] / np.log2(np.arange(2, 12))
    ndcg = (np.take_along_axis(gains, top, 1) / np.log2(np.arange(2, 12))).sum(1) / ideal.sum(1)
    assert ndcg == pytest.approx(evaluate(d, w, 10)["ndcg"][:, 0])


def test_popularity_counter_snapshots_counts_before_each_session() -> None:
    counter = PopularityCounter(4)
    counter.add([0, 0, 0, 0, 1])
    counter.take([0, 1, 2], [1])
    counter.add([2] * 9)
    counter.take([2, 0, 3], [2, 3])
    p = counter.result(3)
    assert p.counts.tolist() == [[4, 1, 0], [9, 4, 0]] and p.target.tolist() == [1.0, 4.5]
    # the head is what holds 80 % at each moment: item 0 (4 of 5), then items 2 and 0 (13 of 14)
    assert p.in_tail.tolist() == [[False, True, True], [False, False, True]]
    assert p.rows(np.array([False, True])).items.tolist() == [[2, 0, 3]] and p.n_catalogue == 4
