"""95% CIs of the Bland-Altman limits of agreement reproduce Bland & Altman's worked PEFR example."""

import numpy as np
import pytest

from scoring.agreement import bland_altman
from scoring.agreement.coefficients import loa_confidence_intervals

# Bland JM, Altman DG (1986). Statistical methods for assessing agreement between two methods of
# clinical measurement. Lancet 327:307-310, Table 1: PEFR (l/min) of 17 subjects, first reading with
# the Wright and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_the_published_pefr_intervals_are_reproduced():
    # The paper: mean difference -2.1, s = 38.8, limits -2.1 -/+ 2 s = -79.7 and 75.5; SE of a limit
    # sqrt(3 s^2 / n) = 16.3, t(16) = 2.12; CIs -114.3 to -45.1 (lower) and 40.9 to 110.1 (upper).
    lower, upper = loa_confidence_intervals(mean=-2.1, sd=38.8, n=17, k=2.0)
    assert lower == pytest.approx([-114.3, -45.1], abs=0.05)
    assert upper == pytest.approx([40.9, 110.1], abs=0.05)


def test_the_report_gives_each_limit_its_interval_on_the_pefr_data():
    rows = bland_altman(np.column_stack([WRIGHT, MINI]).astype(float), ["wright", "mini"])
    pair = rows[0]
    assert pair["mean_diff"] == pytest.approx(-2.1, abs=0.05)  # the paper's rounded values
    d = np.subtract(WRIGHT, MINI)
    s = d.std(ddof=1)
    assert s == pytest.approx(38.8, abs=0.05)
    # The same formula on the unrounded data, with the 1.96 the platform uses for the limits:
    # half-width t(0.975, 16) * s * sqrt(3/17) with t(0.975, 16) = 2.119905 (statistical tables).
    half = 2.119905 * s * np.sqrt(3 / 17)
    lower, upper = d.mean() - 1.96 * s, d.mean() + 1.96 * s
    assert pair["loa"] == pytest.approx([lower, upper], abs=1e-3)
    assert pair["loa_lower_ci95"] == pytest.approx([lower - half, lower + half], abs=1e-3)
    assert pair["loa_upper_ci95"] == pytest.approx([upper - half, upper + half], abs=1e-3)
    assert "Bland & Altman 1999" in pair["loa_ci_method"]


def test_the_interval_narrows_with_the_square_root_of_n():
    small, _ = loa_confidence_intervals(mean=0.0, sd=1.0, n=25)
    large, _ = loa_confidence_intervals(mean=0.0, sd=1.0, n=100)
    assert (small[1] - small[0]) / (large[1] - large[0]) == pytest.approx(2.0, rel=0.05)


def test_coverage_of_the_lower_limit_is_near_95_percent_in_simulation():
    rng = np.random.default_rng(7)
    true_lower = -1.96
    covered = 0
    for _ in range(2000):
        d = rng.normal(size=60)
        ci, _ = loa_confidence_intervals(mean=float(d.mean()), sd=float(d.std(ddof=1)), n=60)
        covered += ci[0] <= true_lower <= ci[1]
    assert 0.92 <= covered / 2000 <= 0.97
