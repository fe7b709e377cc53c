"""RALE (Warren et al. 2018): density is scored only for a quadrant with consolidation (extent > 0)
and the total is the sum of extent x density. The report says so, in the JSON and on the page, and
a density item's agreement is on the cases where raters scored consolidation there (issue 15)."""

import pytest

from annotation.csv_io import ratings_csv_import
from scoring.services import agreement_report_execute, agreement_report_request

QUADRANTS = ("ru", "rl", "lu", "ll")
RATERS = ("rater1", "rater2", "rater3")


def _row(i: int, r: int, rater: str) -> str:
    values = []
    for q in range(4):
        extent = 0 if (i + q) % 3 == 0 else (i + q + (r == 1)) % 4 + 1  # no consolidation on a third
        values += [str(extent), str((i + r + q) % 3 + 1) if extent else ""]
    return f"c{i}.png,{rater}," + ",".join(values)


@pytest.fixture
def rale_study(make_study):
    study = make_study(n_cases=0, open_it=False, rubric="rale", raters=RATERS)
    header = "image,rater," + ",".join(f"{q}_{part}" for q in QUADRANTS for part in ("extent", "density"))
    rows = [_row(i, r, rater) for i in range(12) for r, rater in enumerate(RATERS)]
    ratings_csv_import(study=study, data="\n".join([header, *rows]).encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    return study


def test_the_json_says_what_each_density_item_conditions_on(rale_study, client_for):
    data = client_for("alice").get(f"/studies/{rale_study.slug}/report.json").json()
    assert set(data["conditional_items"]) == {f"{q}_density" for q in QUADRANTS}
    assert data["conditional_items"]["ru_density"].startswith("scored only where ru_extent > 0")
    # The density item's cases are those with consolidation in that quadrant: 8 of the 12 here.
    assert data["scores"]["ru_density"]["n_cases"] == 8 and data["scores"]["ru_extent"]["n_cases"] == 12


def test_the_page_notes_it_when_the_rubric_is_rale(rale_study, client_for):
    page = client_for("alice").get(f"/studies/{rale_study.slug}/report/").content.decode()
    assert "density is scored only for a quadrant with consolidation (extent &gt; 0)" in page
    assert "the total is the sum over quadrants of extent × density" in page


def test_a_rubric_without_conditional_items_has_no_such_note(make_study, client_for):
    study = make_study(n_cases=0, open_it=False)
    rows = ["image,rater,extent_right,extent_left,opacity_right,opacity_left"]
    rows += [
        f"c{i}.png,{rater},{(i + r) % 5},{i % 5},{i % 4},{r % 4}" for i in range(6) for r, rater in enumerate(RATERS)
    ]
    ratings_csv_import(study=study, data="\n".join(rows).encode(), allow_missing_images=True)
    agreement_report_execute(report_id=agreement_report_request(study=study).pk)
    assert client_for("alice").get(f"/studies/{study.slug}/report.json").json()["conditional_items"] == {}
    assert "conditional-items" not in client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
