"""A pre-labelling read starts from the model's pre-score spread over the rubric's items: per-item
values that the rubric accepts, whose totals are the predicted totals rounded and clamped, spread
as evenly as the items allow, the same every time (annotation/rubrics.py rubric_prelabel_values)."""

import math

import pytest

from annotation.rubrics import RUBRICS, RubricValueError, rubric_clean_values, rubric_prelabel_values, rubric_totals


def _reachable(rubric, total) -> set[int]:
    # Every total the items can make, by brute force over the levels (the spread's own search aside).
    sums = {0}
    for term in total.terms:
        products = set()
        for values in _term_combinations(rubric, term):
            products.add(math.prod(values))
        sums = {s + p for s in sums for p in products}
    return sums


def _term_combinations(rubric, term):
    combos = [()]
    for key in term:
        combos = [(*c, level.value) for c in combos for level in rubric.item(key).levels]
    # RALE: density 1-3 times extent 0 is 0 whatever the density
    return combos + [(0,)]


@pytest.mark.parametrize("rubric", RUBRICS.values(), ids=list(RUBRICS))
def test_every_total_of_every_rubric_is_met_or_the_nearest_the_items_allow(rubric):
    for total in rubric.totals:
        reachable = _reachable(rubric, total)
        for wanted in range(total.minimum, total.maximum + 1):
            predicted = {t.key: wanted if t.key == total.key else t.minimum for t in rubric.totals}
            values = rubric_prelabel_values(rubric, predicted)
            assert rubric_clean_values(rubric, values) == values  # a complete set the rubric accepts
            got = rubric_totals(rubric, values)[total.key]
            nearest = min(reachable, key=lambda s: (abs(s - wanted), s))
            assert got == nearest
            if wanted in reachable:
                assert got == wanted


@pytest.mark.parametrize("rubric", RUBRICS.values(), ids=list(RUBRICS))
def test_predicted_totals_are_rounded_and_clamped(rubric):
    below = {t.key: t.minimum - 3.7 for t in rubric.totals}
    above = {t.key: t.maximum + 10.2 for t in rubric.totals}
    assert rubric_totals(rubric, rubric_prelabel_values(rubric, below)) == {t.key: t.minimum for t in rubric.totals}
    assert rubric_totals(rubric, rubric_prelabel_values(rubric, above)) == {t.key: t.maximum for t in rubric.totals}
    middle = {t.key: t.maximum / 2 + 0.4 for t in rubric.totals}
    spread = rubric_prelabel_values(rubric, middle)
    assert spread == rubric_prelabel_values(rubric, dict(middle))  # deterministic


def test_items_of_a_total_differ_by_at_most_one_where_the_total_is_a_sum():
    cohen, brixia = RUBRICS["cohen2020"], RUBRICS["brixia"]
    values = rubric_prelabel_values(cohen, {"geographic_extent": 4.6, "opacity": 3.2})
    # 5 over two lungs: 3 + 2 (the earlier item higher), opacity 3: 2 + 1
    assert values == {"extent_right": 3, "extent_left": 2, "opacity_right": 2, "opacity_left": 1}
    zones = rubric_prelabel_values(brixia, {"brixia": 8.4})
    assert list(zones.values()) == [2, 2, 1, 1, 1, 1]  # 8 over six zones, the earlier zones higher


def test_rale_spreads_products_over_quadrants_and_leaves_density_empty_without_extent():
    rale = RUBRICS["rale"]
    values = rubric_prelabel_values(rale, {"rale": 8})
    assert rubric_totals(rale, values) == {"rale": 8}
    products = [values[f"{q}_extent"] * (values[f"{q}_density"] or 0) for q in ("ru", "rl", "lu", "ll")]
    assert products == [2, 2, 2, 2]  # as even as the quadrants allow
    zero = rubric_prelabel_values(rale, {"rale": 0.3})
    assert all(zero[f"{q}_extent"] == 0 and zero[f"{q}_density"] is None for q in ("ru", "rl", "lu", "ll"))
    assert rubric_totals(rale, rubric_prelabel_values(rale, {"rale": 47})) == {"rale": 48}  # 47 cannot be made


@pytest.mark.parametrize(
    "predicted", [{}, {"geographic_extent": 3.0}, {"geographic_extent": float("nan"), "opacity": 1}]
)
def test_a_missing_or_non_finite_total_is_refused(predicted):
    with pytest.raises(RubricValueError, match="no predicted value"):
        rubric_prelabel_values(RUBRICS["cohen2020"], predicted)
