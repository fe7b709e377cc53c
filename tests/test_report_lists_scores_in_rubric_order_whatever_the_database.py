"""PostgreSQL's jsonb keeps no key order: a stored report read back lists its dictionaries by key
length. The page and the CSV put them back in reading order (totals then items as the rubric
lists them, alpha levels and ICCs in their usual order, raters by name)."""

from scoring.report_formats import report_in_rubric_order

KEYS = ["geographic_extent", "opacity", "extent_right", "opacity_right", "extent_left", "opacity_left"]


def _score(raters):
    return {
        "krippendorff_alpha": {"ratio": {}, "nominal": {}, "interval": {}, "ordinal": {}},
        "icc": {"ICC3_k": {}, "ICC1_1": {}, "ICC2_k": {}, "ICC2_1": {}, "ICC1_k": {}, "ICC3_1": {}},
        "raters": {name: {} for name in raters},
    }


def test_a_report_in_jsonb_order_reads_in_rubric_order():
    stored = {
        "n_cases": 3,
        "scores": {key: _score(["rater3", "rater1", "rater2"]) for key in sorted(KEYS, key=lambda k: (len(k), k))},
        "model": {"version": 1, "scores": {"opacity": {}, "geographic_extent": {}}},
        "reading_conditions": {
            "aided": {"scores": {"opacity": {}, "geographic_extent": {}}},
            "unaided": {"scores": {}},
        },
    }
    shown = report_in_rubric_order(stored, keys=KEYS)
    assert list(shown["scores"]) == KEYS
    first = shown["scores"]["geographic_extent"]
    assert list(first["krippendorff_alpha"]) == ["nominal", "ordinal", "interval", "ratio"]
    assert list(first["icc"]) == ["ICC1_1", "ICC2_1", "ICC3_1", "ICC1_k", "ICC2_k", "ICC3_k"]
    assert list(first["raters"]) == ["rater1", "rater2", "rater3"]
    assert list(shown["model"]["scores"]) == ["geographic_extent", "opacity"]
    assert list(shown["reading_conditions"]) == ["unaided", "aided"]
    assert list(shown["reading_conditions"]["aided"]["scores"]) == ["geographic_extent", "opacity"]
    assert shown["n_cases"] == 3 and report_in_rubric_order(None, keys=KEYS) is None
