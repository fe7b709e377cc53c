"""`python manage.py plan_study` prints the number of cases and what it assumes; bad input is an error."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scoring.agreement.planning import alpha_plan, icc_plan


def _run(*args: str) -> str:
    out = StringIO()
    call_command("plan_study", *args, stdout=out)
    return out.getvalue()


def test_icc_plan_prints_zous_number_and_the_assumptions():
    out = _run("--metric", "icc", "--expected", "0.8", "--raters", "3", "--half-width", "0.1")
    assert f"cases needed: {icc_plan(expected=0.8, raters=3, half_width=0.1).cases}\n" in out
    assert "Zou (2012)" in out
    assert "expected ICC 0.8 with 3 raters" in out
    assert "50% assurance" in out


def test_icc_plan_with_assurance_needs_more_cases():
    out = _run("--metric", "icc", "--expected", "0.8", "--raters", "3", "--half-width", "0.1", "--assurance", "0.8")
    plan = icc_plan(expected=0.8, raters=3, half_width=0.1, assurance=0.8)
    assert f"cases needed: {plan.cases}\n" in out
    assert plan.cases > icc_plan(expected=0.8, raters=3, half_width=0.1).cases
    assert "80% assurance" in out


def test_alpha_plan_prints_the_simulated_number():
    out = _run("--metric", "alpha", "--expected", "0.8", "--raters", "3", "--half-width", "0.1")
    assert f"cases needed: {alpha_plan(expected=0.8, raters=3, half_width=0.1).cases}\n" in out
    assert "simulation" in out
    assert "Krippendorff's alpha 0.8 (ordinal data in 4 equally likely categories)" in out


def test_impossible_values_are_a_command_error():
    with pytest.raises(CommandError, match="between 0 and 1"):
        _run("--metric", "icc", "--expected", "1.2", "--raters", "3", "--half-width", "0.1")
