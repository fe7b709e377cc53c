"""Cases for Krippendorff's alpha by simulation (scoring/agreement/planning.py): the vectorised alpha
is the krippendorff library's, the simulated data have the expected alpha, and the planned number is
the smallest whose simulated 95% half-width is within the target."""

import krippendorff
import numpy as np
import pytest

from scoring.agreement.planning import _cuts, _noise_for, _simulate, alpha_complete, alpha_half_width, alpha_plan


@pytest.mark.parametrize("level", ["ordinal", "interval"])
def test_vectorised_alpha_equals_the_krippendorff_library(level):
    studies = np.random.default_rng(3).integers(0, 5, size=(4, 15, 3))
    mine = alpha_complete(studies, level=level)
    library = [krippendorff.alpha(reliability_data=s.T.astype(float), level_of_measurement=level) for s in studies]
    np.testing.assert_allclose(mine, library, atol=1e-12)


@pytest.mark.parametrize(("level", "categories"), [("ordinal", 4), ("ordinal", 19), ("interval", 0)])
def test_simulated_studies_have_the_expected_alpha(level, categories):
    noise = _noise_for(expected=0.7, raters=3, level=level, categories=categories, seed=0)
    cuts = _cuts(noise, categories) if level == "ordinal" else None
    values = _simulate(seed=[9], studies=20, cases=2000, raters=3, noise=noise, cuts=cuts)
    assert alpha_complete(values, level=level).mean() == pytest.approx(0.7, abs=0.01)


@pytest.mark.parametrize("level", ["ordinal", "interval"])
def test_planned_cases_are_the_smallest_meeting_the_half_width(level):
    plan = alpha_plan(expected=0.8, raters=3, half_width=0.1, level=level)
    noise = _noise_for(expected=0.8, raters=3, level=level, categories=4, seed=0)
    options = {"raters": 3, "noise": noise, "level": level, "categories": 4, "simulations": 400, "seed": 0}
    assert alpha_half_width(cases=plan.cases, **options) <= 0.1 < alpha_half_width(cases=plan.cases - 1, **options)


def test_the_plan_is_reproducible_and_seeded():
    first = alpha_plan(expected=0.7, raters=4, half_width=0.08, seed=5)
    assert alpha_plan(expected=0.7, raters=4, half_width=0.08, seed=5) == first
    assert alpha_plan(expected=0.7, raters=4, half_width=0.04, seed=5).cases > first.cases
