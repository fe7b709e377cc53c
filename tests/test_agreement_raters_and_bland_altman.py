"""Per-rater statistics and Bland-Altman limits on a tiny example worked by hand."""

import numpy as np
import pytest

from scoring.agreement import bland_altman, exact_agreement, rater_stats, within_one

nan = np.nan
NAMES = ["alice", "bob", "charlie"]
# case 1: 2 3 4 | case 2: 5 5 nan | case 3: 1 nan 3 | case 4: 0 2 4
TINY = np.array([[2, 3, 4], [5, 5, nan], [1, nan, 3], [0, 2, 4]], dtype=float)


def test_rater_stats_compare_each_rater_with_the_mean_of_the_others():
    stats = rater_stats(TINY, NAMES)
    # alice: consensus (others' mean) 3.5, 5, 3, 3 -> differences -1.5, 0, -2, -3
    assert stats["alice"] == pytest.approx(
        {"n": 4, "mean": 2.0, "bias_vs_consensus": -1.625, "mae_vs_consensus": 1.625}
    )
    # bob: consensus 3, 5, 2 on the cases he rated -> differences 0, 0, 0
    assert stats["bob"] == pytest.approx({"n": 3, "mean": 10 / 3, "bias_vs_consensus": 0.0, "mae_vs_consensus": 0.0})
    # charlie: consensus 2.5, 1, 1 -> differences 1.5, 2, 3
    assert stats["charlie"] == pytest.approx(
        {"n": 3, "mean": 11 / 3, "bias_vs_consensus": 6.5 / 3, "mae_vs_consensus": 6.5 / 3}
    )


def test_bland_altman_gives_every_pair_then_each_rater_against_consensus():
    rows = bland_altman(TINY, NAMES)
    assert [(r["a"], r["b"]) for r in rows] == [
        ("alice", "bob"),
        ("alice", "charlie"),
        ("bob", "charlie"),
        ("alice", "consensus"),
        ("bob", "consensus"),
        ("charlie", "consensus"),
    ]
    alice_bob = rows[0]  # differences -1, 0, -2: mean -1, sd 1
    assert alice_bob["n"] == 3
    assert alice_bob["mean_diff"] == pytest.approx(-1.0)
    assert alice_bob["loa"] == pytest.approx([-2.96, 0.96])
    alice_consensus = rows[3]  # differences -1.5, 0, -2, -3
    sd = np.std([-1.5, 0, -2, -3], ddof=1)
    assert alice_consensus["mean_diff"] == pytest.approx(-1.625)
    assert alice_consensus["loa"] == pytest.approx([-1.625 - 1.96 * sd, -1.625 + 1.96 * sd])


def test_bland_altman_with_one_shared_case_has_no_limits():
    rows = bland_altman(np.array([[1.0, 2.0], [3.0, nan]]), ["alice", "bob"])
    assert rows[0] == {
        "a": "alice",
        "b": "bob",
        "n": 1,
        "mean_diff": -1.0,
        "loa": None,
        "loa_lower_ci95": None,
        "loa_upper_ci95": None,
        "reason": "fewer than two cases: no spread",
    }


def test_exact_and_within_one_agreement_pool_rater_pairs_over_cases():
    # Pairs: case 1 (2,3) (2,4) (3,4); case 2 (5,5); case 3 (1,3); case 4 (0,2) (0,4) (2,4): 8 pairs.
    assert exact_agreement(TINY) == pytest.approx(1 / 8)
    assert within_one(TINY) == pytest.approx(3 / 8)
