import pytest

from annotation.rubrics import RUBRICS, RubricValueError, rubric_clean_values, rubric_get, rubric_totals


def test_cohen2020_matches_the_paper():
    rubric = rubric_get("cohen2020")
    assert rubric.item_keys == ["extent_right", "opacity_right", "extent_left", "opacity_left"]
    assert [(i.minimum, i.maximum) for i in rubric.items] == [(0, 4), (0, 3), (0, 4), (0, 3)]
    assert [(t.key, t.minimum, t.maximum) for t in rubric.totals] == [("geographic_extent", 0, 8), ("opacity", 0, 6)]
    assert rubric.item("extent_right").level(1).definition.startswith("Less than 25%")
    assert rubric.item("opacity_left").level(3).definition == "White-out."


def test_ralo_scores_opacity_0_to_4_per_lung():
    rubric = rubric_get("ralo")
    assert rubric.item("opacity_right").maximum == 4
    assert rubric_totals(rubric, {"extent_right": 4, "extent_left": 4, "opacity_right": 4, "opacity_left": 4}) == {
        "geographic_extent": 8,
        "opacity": 8,
    }


def test_brixia_has_six_zones_and_totals_0_to_18():
    rubric = rubric_get("brixia")
    assert rubric.item_keys == ["zone_a", "zone_b", "zone_c", "zone_d", "zone_e", "zone_f"]
    assert rubric_totals(rubric, {k: 3 for k in rubric.item_keys}) == {"brixia": 18}


def test_rale_total_is_sum_of_extent_times_density():
    rubric = rubric_get("rale")
    values = rubric_clean_values(
        rubric,
        {
            "ru_extent": 4,
            "ru_density": 3,
            "rl_extent": 4,
            "rl_density": 3,
            "lu_extent": 4,
            "lu_density": 3,
            "ll_extent": 4,
            "ll_density": 3,
        },
    )
    assert rubric_totals(rubric, values) == {"rale": 48}
    values = rubric_clean_values(
        rubric, {"ru_extent": 0, "rl_extent": 2, "rl_density": 2, "lu_extent": 0, "ll_extent": 0}
    )
    assert rubric_totals(rubric, values) == {"rale": 4}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"extent_right": 1, "extent_left": 1, "opacity_right": 1}, "a value is required"),
        ({"extent_right": 5, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}, "outside 0-4"),
        ({"extent_right": -1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}, "outside 0-4"),
        ({"extent_right": "two", "extent_left": 1, "opacity_right": 1, "opacity_left": 1}, "not a whole number"),
        ({"extent_right": 1.5, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}, "not a whole number"),
        ({"extent_right": True, "extent_left": 1, "opacity_right": 1, "opacity_left": 1}, "not a whole number"),
        ({"extent_right": 1, "extent_left": 1, "opacity_right": 1, "opacity_left": 1, "zone_a": 1}, "unknown item"),
    ],
)
def test_incomplete_or_out_of_range_values_are_refused(values, message):
    with pytest.raises(RubricValueError, match=message):
        rubric_clean_values(rubric_get("cohen2020"), values)


def test_every_level_of_every_rubric_has_a_definition():
    for rubric in RUBRICS.values():
        for item in rubric.items:
            values = [level.value for level in item.levels]
            assert values == list(range(values[0], values[-1] + 1))
            assert all(level.definition for level in item.levels)


def test_unknown_rubric_names_the_choices():
    with pytest.raises(RubricValueError, match="cohen2020, ralo, brixia, rale"):
        rubric_get("nope")
