"""Elo and Bradley–Terry leaderboards: hand-computed updates, a known maximum-likelihood fit, order (in)dependence."""

import math

import pytest

from rfs.leaderboard import (
    bradley_terry,
    elo_ratings,
    expected_score,
    ranking,
    ratings_over_orders,
    simulate_matches,
)


def test_expected_score():
    assert expected_score(1000, 1000) == 0.5
    assert expected_score(1400, 1000) == pytest.approx(10 / 11)  # 400 points: odds of 10 to 1


def test_elo_single_update_by_hand():
    # equal ratings expect 0.5 each; the winner gains K * (1 - 0.5) = 16 and the loser loses as much
    assert elo_ratings([("a", "b", 1.0)]) == {"a": 1016.0, "b": 984.0}
    # a tie between equals changes nothing; a second match uses the updated ratings
    assert elo_ratings([("a", "b", 0.5)]) == {"a": 1000.0, "b": 1000.0}
    second = 32 * (1 - expected_score(984, 1016))  # b, now lower, beats a: 17.47 points
    assert elo_ratings([("a", "b", 1.0), ("b", "a", 1.0)]) == pytest.approx({"a": 1016 - second, "b": 984 + second})


def toy_matches() -> list[tuple[str, str, float]]:
    """Win rates that strengths 4 : 2 : 1 predict exactly: a-b 2:1, b-c 2:1, a-c 4:1."""
    return ([("a", "b", 1.0)] * 2 + [("a", "b", 0.0)] + [("b", "c", 1.0)] * 2 + [("b", "c", 0.0)]
            + [("a", "c", 1.0)] * 4 + [("a", "c", 0.0)])


def test_bradley_terry_toy_with_known_maximum():
    # observed win rates equal p_i / (p_i + p_j) for p = (4, 2, 1), so those strengths are the MLE; scaled to a
    # geometric mean of 1 they are (2, 1, 1/2), i.e. 1000 + 400 log10(2) = 1120.41, 1000, 879.59
    ratings = bradley_terry(toy_matches())
    shift = 400 * math.log10(2)
    assert ratings == pytest.approx({"a": 1000 + shift, "b": 1000.0, "c": 1000 - shift}, abs=1e-6)


def test_bradley_terry_ignores_order_and_elo_does_not():
    true = {"m1": 1200.0, "m2": 1100.0, "m3": 1000.0, "m4": 900.0}
    matches = simulate_matches(true, 400, seed=1)
    bt = ratings_over_orders(matches, bradley_terry, orders=5)
    elo = ratings_over_orders(matches, elo_ratings, orders=5)
    assert all(r == pytest.approx(bt[0], abs=1e-6) for r in bt)
    spread = max(r["m1"] for r in elo) - min(r["m1"] for r in elo)
    assert spread > 10  # K = 32: the last few matches move a rating by tens of points
    assert ranking(bt[0]) == ["m1", "m2", "m3", "m4"]


def test_bradley_terry_unbeaten_player_needs_a_prior():
    matches = [("a", "b", 1.0), ("a", "b", 1.0), ("b", "c", 1.0), ("c", "b", 1.0)]
    with pytest.raises(ValueError, match="prior"):
        bradley_terry(matches)
    ratings = bradley_terry(matches, prior=1.0)
    assert ranking(ratings) == ["a", "c", "b"] and math.isfinite(ratings["a"])  # b also lost twice to a
    stronger_prior = bradley_terry(matches, prior=10.0)  # more virtual ties pull ratings toward the average
    assert stronger_prior["a"] - stronger_prior["b"] < ratings["a"] - ratings["b"]


def test_simulated_matches_follow_the_ratings():
    matches = simulate_matches({"strong": 1400.0, "weak": 1000.0}, 2000, seed=0)
    strong_wins = sum(score if a == "strong" else 1 - score for a, _, score in matches)
    assert strong_wins / len(matches) == pytest.approx(10 / 11, abs=0.02)
