"""Known-answer checks of session co-occurrence: pair counts, cosine scores, and nothing from open sessions."""
from __future__ import annotations

import numpy as np
import pytest

from fincommerce.offline.cooccurrence import CoOccurrence

HOUR = 3600.0


def page(*events: tuple[float, int, str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t, rows, kinds, users = zip(*events)
    return (np.array(t, float), np.array(rows), np.array(kinds, object), np.array(users, object))


def test_pairs_and_cosines_match_a_hand_count() -> None:
    co = CoOccurrence(5)
    # u1: views 0, 1, 2 and carts 2; u2: views 0, 1; u1 again two hours later: views 3 (a new session)
    co.add(*page((0, 0, "view", "u1"), (60, 1, "view", "u1"), (120, 2, "click", "u1"),
                 (180, 2, "add_to_cart", "u1"), (200, 0, "view", "u2"), (260, 1, "view", "u2"),
                 (2 * HOUR, 3, "view", "u1")))
    co.close_before(3 * HOUR)
    assert co.viewed_in.tolist() == [2, 2, 1, 1, 0]
    assert co.carted_in.tolist() == [0, 0, 1, 0, 0]
    assert co.co_viewed[0] == {1: 2, 2: 1} and co.co_carted[0] == {2: 1}
    assert 3 not in co.co_viewed  # a session of one product pairs with nothing
    viewed, carted = co.scores([0], [1, 2, 3, 4])
    np.testing.assert_allclose(viewed, [2 / np.sqrt(2 * 2), 1 / np.sqrt(2 * 1), 0, 0])
    np.testing.assert_allclose(carted, [0, 1 / np.sqrt(2 * 1), 0, 0])
    # two context items add up; a repeated context item counts once
    viewed, _ = co.scores([0, 1, 0], [2])
    np.testing.assert_allclose(viewed, [1 / np.sqrt(2) + 1 / np.sqrt(2)])


def test_open_sessions_are_not_counted_until_the_user_is_idle_for_the_gap() -> None:
    co = CoOccurrence(3)
    co.add(*page((0, 0, "view", "u1"), (60, 1, "view", "u1")))
    co.close_before(60 + 29 * 60)
    assert co.scores([0], [1])[0].tolist() == [0.0]
    co.close_before(60 + 31 * 60)
    assert co.scores([0], [1])[0][0] == pytest.approx(1.0)


def test_a_long_session_pairs_only_its_first_max_items_products() -> None:
    co = CoOccurrence(10, max_items=3)
    co.add(*page(*[(i, i, "view", "u") for i in range(10)]))
    co.close_before(10 * HOUR)
    assert co.viewed_in.tolist() == [1, 1, 1] + [0] * 7
    assert sum(co.co_viewed[0].values()) == 2


def test_only_the_users_idle_for_the_gap_are_closed_whatever_their_first_event() -> None:
    co = CoOccurrence(4)
    co.add(*page((0, 0, "view", "u1"), (10, 2, "view", "u2"), (20, 3, "view", "u2"), (20 * 60, 1, "view", "u1")))
    co.close_before(20 + 31 * 60)  # u2 has been idle 31 minutes, u1 only 11
    assert co.viewed_in.tolist() == [0, 0, 1, 1]
    co.close_before(20 * 60 + 31 * 60)
    assert co.viewed_in.tolist() == [1, 1, 1, 1]
