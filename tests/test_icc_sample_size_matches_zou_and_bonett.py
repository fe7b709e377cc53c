"""Cases for an ICC's CI of a given half-width: Zou (2012), Statistics in Medicine 31:3972-3981.

Reference values:
- Bonett (2002), Statistics in Medicine 21:1331-1335, worked example: ICC 0.8, two raters, a 95% CI
  of total width 0.2 needs 51 subjects (before his k = 2 correction). Zou's formula at 50% assurance
  is the same first-order formula: n = 50.787 with z = 1.96.
- Borg, Bach, O'Brien & Sainani (2022), "Calculating sample size for reliability studies", PM&R;
  their published script (github.com/SciBorgo/sample-size-icc, Bonett-Zou-Walter-formulas.R)
  implements Zou's assurance formula; for ICC 0.9, two raters, total width 0.1, z = 1.96 and
  z_assurance = 0.84 it gives n = 77.334.
"""

import numpy as np
import pytest
from scipy.stats import norm

from scoring.agreement.planning import icc_plan, zou_cases


def test_expected_width_formula_matches_bonetts_worked_example():
    n = zou_cases(expected=0.8, raters=2, half_width=0.1, z=1.96)
    assert n == pytest.approx(50.787, abs=1e-3)
    assert icc_plan(expected=0.8, raters=2, half_width=0.1).cases == 51


def test_assurance_formula_matches_the_published_implementation():
    n = zou_cases(expected=0.9, raters=2, half_width=0.05, z=1.96, z_assurance=0.84)
    assert n == pytest.approx(77.334, abs=1e-3)


def _wald_half_widths(*, rho: float, k: int, n: int, studies: int, seed: int) -> np.ndarray:
    """The 95% half-width Fisher's variance gives each simulated one-way study."""
    rng = np.random.default_rng(seed)
    x = np.sqrt(rho) * rng.standard_normal((studies, n, 1)) + np.sqrt(1 - rho) * rng.standard_normal((studies, n, k))
    case_means = x.mean(axis=2)
    msb = k * ((case_means - case_means.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (n - 1)
    msw = ((x - case_means[..., None]) ** 2).sum(axis=(1, 2)) / (n * (k - 1))
    icc = (msb - msw) / (msb + (k - 1) * msw)
    return norm.ppf(0.975) * np.sqrt(2 / (k * (k - 1) * (n - 1))) * (1 - icc) * (1 + (k - 1) * icc)


def test_planned_studies_reach_the_half_width_with_the_chosen_assurance():
    for assurance in (0.5, 0.8):
        plan = icc_plan(expected=0.7, raters=3, half_width=0.1, assurance=assurance)
        widths = _wald_half_widths(rho=0.7, k=3, n=plan.cases, studies=4000, seed=1)
        # the share of studies whose interval is that narrow is the assurance (Monte Carlo error ~0.01)
        assert (widths <= 0.1).mean() == pytest.approx(assurance, abs=0.03)


def test_more_raters_or_a_wider_interval_need_fewer_cases():
    base = icc_plan(expected=0.8, raters=3, half_width=0.1).cases
    assert icc_plan(expected=0.8, raters=5, half_width=0.1).cases < base
    assert icc_plan(expected=0.8, raters=3, half_width=0.15).cases < base
    assert icc_plan(expected=0.8, raters=3, half_width=0.1, assurance=0.9).cases > base


def test_impossible_inputs_are_refused():
    for bad in ({"expected": 1.0}, {"raters": 1}, {"half_width": 0.0}, {"assurance": 0.3}):
        with pytest.raises(ValueError):
            icc_plan(**{"expected": 0.8, "raters": 3, "half_width": 0.1, **bad})
