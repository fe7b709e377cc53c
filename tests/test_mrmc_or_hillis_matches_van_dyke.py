"""The Obuchowski-Rockette analysis with Hillis' ddf reproduces the published analysis of the Van
Dyke et al. (1993) cine-MRI against spin-echo MRI dataset (5 readers, 114 cases, 45 abnormal),
with the trapezoidal (Wilcoxon) AUC as figure of merit and jackknife covariances.

Published values: OR-DBM MRMC 2.5 (Schartz KM, Hillis SL, Pesce LL, Berbaum KS; University of
Iowa), "VanDyke trap area jackknife anova", kept in RJafroc as
inst/obumrm2/VanDyke-traparea-jackknife-obuch-anova.txt, and shown in the RJafroc and MRMCaov
documentation (Chakraborty DP, Observer Performance Methods for Diagnostic Imaging, 2018, ch. 10;
MRMCaov vignette, `mrmc(empirical_auc(truth, rating), treatment, reader, case, data = VanDyke)`):

- reader AUCs, treatment 1: .91964573 .85877617 .90386473 .97310789 .82979066;
  treatment 2: .94782609 .90531401 .92173913 .99935588 .92995169; means .89703704, .94083736
- MS(T) = .00479617, MS(T*R) = .00055103, Var(error) = .00080229, Cov1 = .00034661,
  Cov2 = .00034407, Cov3 = .00023903
- Analysis 1 (random readers and cases): F = 4.46, ddf = 15.26, p = .0517; difference (1 - 2)
  -.04380, SE .02075, 95% CI (-.08796, .00036)
- Analysis 2 d) (per reader, cases random): differences (1 - 2) -.02818 -.04654 -.01787 -.02625
  -.10016, SE .02551 .02630 .03121 .01729 .04406, p .2693 .0768 .5668 .1290 .0230

Our difference is the second condition minus the first, so the published signs flip.
"""

import csv
from pathlib import Path

import numpy as np
import pytest

from scoring.agreement.mrmc import fom_jackknife, or_hillis

FIXTURE = Path(__file__).parent / "fixtures" / "vandyke.csv"


def _van_dyke() -> tuple[np.ndarray, np.ndarray]:
    """Ratings as treatments x readers x cases, and the truth per case."""
    rows = list(csv.DictReader(FIXTURE.open()))
    ratings = np.full((2, 5, 114), np.nan)
    truth = np.full(114, -1)
    for row in rows:
        case = int(row["case"]) - 1
        ratings[int(row["treatment"]) - 1, int(row["reader"]) - 1, case] = float(row["rating"])
        truth[case] = int(row["truth"])
    return ratings, truth


def _wilcoxon_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """The trapezoidal area under the empirical ROC curve: P(abnormal > normal) + P(tie) / 2."""
    abnormal, normal = scores[truth == 1], scores[truth == 0]
    greater = (abnormal[:, None] > normal[None, :]).mean()
    ties = (abnormal[:, None] == normal[None, :]).mean()
    return float(greater + ties / 2)


@pytest.fixture(scope="module")
def analysis():
    ratings, truth = _van_dyke()

    def fom(reader: int, condition: int, cases: np.ndarray) -> float:
        return _wilcoxon_auc(ratings[condition, reader, cases], truth[cases])

    full, jack = fom_jackknife(fom=fom, n_readers=5, n_cases=114)
    return or_hillis(fom=full, jack=jack)


def test_fixture_is_the_published_design():
    ratings, truth = _van_dyke()
    assert not np.isnan(ratings).any()
    assert (truth == 1).sum() == 45 and (truth == 0).sum() == 69
    assert set(np.unique(ratings)) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_reader_aucs_match_the_published_ones(analysis):
    published = [
        [0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066],
        [0.94782609, 0.90531401, 0.92173913, 0.99935588, 0.92995169],
    ]
    assert analysis.fom == pytest.approx(np.array(published), abs=1e-8)
    assert analysis.means == pytest.approx((0.89703704, 0.94083736), abs=1e-8)


def test_mean_squares_and_jackknife_covariances_match(analysis):
    assert analysis.ms_t == pytest.approx(0.00479617, abs=1e-8)
    assert analysis.ms_tr == pytest.approx(0.00055103, abs=1e-8)
    assert analysis.var_error == pytest.approx(0.00080229, abs=1e-8)
    assert analysis.cov1 == pytest.approx(0.00034661, abs=1e-8)
    assert analysis.cov2 == pytest.approx(0.00034407, abs=1e-8)
    assert analysis.cov3 == pytest.approx(0.00023903, abs=1e-8)


def test_random_reader_random_case_test_matches_or_hillis(analysis):
    assert analysis.f_statistic == pytest.approx(4.46, abs=5e-3)
    assert analysis.df == pytest.approx(15.26, abs=5e-3)
    assert analysis.p_value == pytest.approx(0.0517, abs=5e-5)
    assert analysis.difference == pytest.approx(0.04380, abs=5e-6)
    assert analysis.se == pytest.approx(0.02075, abs=5e-6)
    assert analysis.ci95 == pytest.approx((-0.00036, 0.08796), abs=5e-6)


def test_single_reader_differences_match(analysis):
    published = [
        (0.02818, 0.02551, 0.2693),
        (0.04654, 0.02630, 0.0768),
        (0.01787, 0.03121, 0.5668),
        (0.02625, 0.01729, 0.1290),
        (0.10016, 0.04406, 0.0230),
    ]
    for reader, (difference, se, p_value) in zip(analysis.readers, published, strict=True):
        assert reader.difference == pytest.approx(difference, abs=5e-6)
        assert reader.se == pytest.approx(se, abs=5e-6)
        assert reader.p_value == pytest.approx(p_value, abs=5e-5)
    low, high = analysis.readers[4].ci95
    assert (low, high) == pytest.approx((0.01381, 0.18651), abs=5e-6)
