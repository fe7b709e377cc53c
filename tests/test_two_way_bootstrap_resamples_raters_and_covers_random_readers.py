"""The two-way bootstrap (cases and raters resampled, readers random) of issue 15: a rater drawn twice
is two columns for alpha, kappa and ICC; its fast path equals the libraries on every resample; it is
seeded; and with random reader effects it covers the value for readers at large more often than the
cases-only bootstrap, with wider intervals (bench/bootstrap_coverage.py measures it at length)."""

import numpy as np
import pytest

from scoring.agreement import agreement_summary, icc_all, krippendorff_alpha, weighted_kappa_pairs
from scoring.agreement.bootstrap import _fast_two_way, _rater_resamples, _resamples, bootstrap_ci

DOMAIN = list(range(9))
LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def _scores(rng, cases: int, readers: np.ndarray) -> np.ndarray:
    """Severity + reader bias + noise (variances 4, readers' and 1), rounded to 0-8."""
    severity = 4 + rng.normal(0, 2, (cases, 1))
    return np.clip(np.round(severity + readers[None, :] + rng.normal(0, 1, (cases, readers.size))), 0, 8)


def _number(value) -> float:
    return value if isinstance(value, float) else float("nan")


def test_fast_two_way_replicates_equal_the_libraries_on_each_resample_with_repeated_raters():
    rng = np.random.default_rng(3)
    m = _scores(rng, 25, rng.normal(0, 1, 4))
    m[rng.random(m.shape) < 0.2] = np.nan  # missing ratings too
    fast = _fast_two_way(m, np.arange(9.0), LEVELS, True, 30, seed=11)
    draws = zip(_resamples(25, 30, 11), _rater_resamples(4, 30, 11), strict=True)
    repeated = 0
    for b, (rows, cols) in enumerate(draws):
        repeated += len(set(cols)) < 4
        x = m[rows][:, cols]  # a rater drawn twice: two columns with the same ratings
        for level in LEVELS:
            expected = _number(krippendorff_alpha(x, level=level, domain=DOMAIN))
            assert fast[level][b] == pytest.approx(expected, nan_ok=True)
        kappa = weighted_kappa_pairs(x, [str(j) for j in range(4)], domain=DOMAIN)["mean"]
        assert fast["kappa"][b] == pytest.approx(np.nan if kappa is None else kappa, nan_ok=True)
    assert repeated > 20  # with 4 raters most resamples repeat one


def test_icc_and_two_rater_statistics_survive_a_rater_drawn_twice():
    rng = np.random.default_rng(5)
    m = _scores(rng, 30, rng.normal(0, 1, 3))
    icc = bootstrap_ci(m, lambda x: icc_all(x)["ICC2_1"]["value"], n_boot=200, seed=1, raters="random")
    assert icc is not None and -1 <= icc[0] < icc[1] <= 1
    # Two raters: some resamples are one rater twice (perfect agreement with itself), none crashes.
    pair = agreement_summary(m[:, :2], ["a", "b"], domain=DOMAIN, categorical=False, n_boot=200, raters="random")
    alpha = pair["krippendorff_alpha"]["interval"]
    assert alpha["ci95"][0] < alpha["value"] < alpha["ci95"][1] <= 1
    assert alpha["ci95_bca"] is not None and pair["weighted_kappa"]["ci95"] is not None


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others():
    rng = np.random.default_rng(7)
    m = _scores(rng, 40, rng.normal(0, 1, 3))

    def run(seed: int) -> dict:
        return agreement_summary(
            m, ["a", "b", "c"], domain=DOMAIN, categorical=False, n_boot=300, seed=seed, raters="random"
        )

    first, again, other = run(4), run(4), run(5)
    for key in ("ci95", "ci95_bca"):
        assert first["krippendorff_alpha"]["interval"][key] == again["krippendorff_alpha"]["interval"][key]
        assert first["weighted_kappa"][key] == again["weighted_kappa"][key]
        assert first["krippendorff_alpha"]["interval"][key] != other["krippendorff_alpha"]["interval"][key]


def test_patients_and_raters_are_resampled_together():
    rng = np.random.default_rng(9)
    m = _scores(rng, 30, rng.normal(0, 1, 3))
    patients = [i // 3 for i in range(30)]
    both = agreement_summary(
        m, ["a", "b", "c"], domain=DOMAIN, categorical=False, n_boot=300, clusters=patients, raters="random"
    )
    slow = bootstrap_ci(
        m,
        lambda x: krippendorff_alpha(x, level="interval", domain=DOMAIN),
        n_boot=300,
        clusters=patients,
        raters="random",
    )
    assert both["krippendorff_alpha"]["interval"]["ci95"] == pytest.approx(slow)


def test_unknown_rater_model_is_refused():
    with pytest.raises(ValueError, match="raters must be one of"):
        agreement_summary(np.ones((3, 2)), ["a", "b"], domain=None, categorical=False, raters="sometimes")


def test_with_random_readers_two_way_intervals_are_wider_and_cover_more_often():
    """60 studies of 40 cases, each with 3 new readers (bias variance 1): the truth is alpha for the
    population of readers, 4 / (4 + 1 + 1) before rounding, taken from one study of 200,000 cases and
    200 readers. Cases-only intervals are about the study's own readers and miss it more often."""
    rng = np.random.default_rng(0)
    big = _scores(rng, 20_000, rng.normal(0, 1, 200))
    truth = float(krippendorff_alpha(big, level="interval", domain=DOMAIN))
    covered = {"fixed": 0, "random": 0}
    widths = {"fixed": [], "random": []}
    for s in range(60):
        m = _scores(rng, 40, rng.normal(0, 1, 3))
        for raters in covered:
            out = agreement_summary(
                m, ["a", "b", "c"], domain=DOMAIN, categorical=False, n_boot=250, seed=s, raters=raters
            )
            low, high = out["krippendorff_alpha"]["interval"]["ci95"]
            covered[raters] += low <= truth <= high
            widths[raters].append(high - low)
    assert np.mean(widths["random"]) > 1.2 * np.mean(widths["fixed"])
    # With only 3 readers to resample, the two-way percentile interval still falls short of 95% (in
    # bench/bootstrap_coverage.py, 400 studies: 76% percentile, 93% BCa), the cases-only one more (69%).
    assert covered["random"] >= covered["fixed"] + 5
    assert covered["random"] >= 0.75 * 60
