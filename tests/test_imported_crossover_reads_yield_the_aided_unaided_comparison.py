"""A crossover study made from the command line and filled with imported reads (an `aided` column of
0 or 1, by the command or the API) gets the report's aided-minus-unaided comparison: each read
scored against the adjudicated value or else the other readers' unaided reads, never its own."""

import io
import random
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Case, Study
from annotation.services import adjudication_record, membership_set_adjudicator
from scoring.report_formats import report_in_rubric_order, report_with_rater_labels
from scoring.selectors import study_score_table
from scoring.services import agreement_report_build, agreement_report_execute, agreement_report_request
from tests.api_support import API, api_client

RATERS = ("rater1", "rater2", "rater3")
ITEMS = ("extent_right", "extent_left", "opacity_right", "opacity_left")
SPEC_KEYS = {"figure_of_merit", "unaided", "aided", "difference", "ci95", "p_value", "df", "readers"}


def _create(slug: str = "cross", mode: str = "crossover") -> Study:
    out = io.StringIO()
    call_command(
        "create_study", slug, "--rubric", "cohen2020", "--raters", ",".join(RATERS), "--owner", "alice",
        "--model-assistance", mode, stdout=out,
    )  # fmt: skip
    assert f"created study {slug}" in out.getvalue()
    return Study.objects.get(slug=slug)


def _reads(n_cases: int = 10, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for case in range(n_cases):
        for rater in RATERS:
            for aided in (0, 1):
                values = {"extent_right": rng.randint(0, 4), "extent_left": rng.randint(0, 4)}
                values |= {"opacity_right": rng.randint(0, 3), "opacity_left": rng.randint(0, 3)}
                seconds = round(rng.uniform(20, 60), 1)
                rows.append({"image": f"c{case}.png", "rater": rater, **values, "duration_s": seconds, "aided": aided})
    return rows


def _csv(rows: list[dict]) -> bytes:
    columns = ["image", "rater", *ITEMS, "duration_s", "aided"]
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _expected_mae(rows: list[dict], *, adjudicated: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per reader and condition, the geographic-extent MAE by the rule written out plainly."""
    total = {(r["image"], r["rater"], r["aided"]): r["extent_right"] + r["extent_left"] for r in rows}
    errors = {(rater, aided): [] for rater in RATERS for aided in (0, 1)}
    for image, rater, aided in total:
        others = [total[(image, other, 0)] for other in RATERS if other != rater]
        reference = adjudicated.get(image, sum(others) / len(others))
        errors[(rater, aided)].append(abs(total[(image, rater, aided)] - reference))
    mean = {key: sum(v) / len(v) for key, v in errors.items()}
    return {rater: {"unaided": mean[(rater, 0)], "aided": mean[(rater, 1)]} for rater in RATERS}


def _import(folder: Path, rows: list[dict], slug: str = "cross") -> None:
    path = folder / "reads.csv"
    path.write_bytes(_csv(rows))
    out = io.StringIO()
    call_command("import_ratings", slug, str(path), "--allow-missing-images", stdout=out)
    assert f"imported {len(rows)} rating(s)" in out.getvalue()


def _report(study: Study) -> dict:
    return agreement_report_build(study=study, table=study_score_table(study=study), n_boot=20)


def test_create_study_sets_model_assistance(personas):
    assert _create().model_assistance == Study.ModelAssistance.CROSSOVER
    assert _create("plain", "none").model_assistance == Study.ModelAssistance.NONE
    with pytest.raises(CommandError, match="invalid choice"):
        _create("odd", "sometimes")


def test_imported_crossover_reads_are_compared_against_the_other_readers(personas, tmp_path):
    study = _create()
    rows = _reads()
    _import(tmp_path, rows)
    case = Case.objects.get(study=study, original_filename="c3.png")
    membership_set_adjudicator(study=study, user=personas["alice"], allowed=True, actor=personas["alice"])
    adjudication_record(case=case, adjudicator=personas["alice"], values=dict.fromkeys(ITEMS, 1))  # extent 2
    comparison = _report(study)["reading_conditions"]["comparison"]
    assert list(comparison) == ["geographic_extent", "opacity", "reading_time_s"]
    extent = comparison["geographic_extent"]
    assert SPEC_KEYS <= set(extent) and extent["figure_of_merit"] == "mae_vs_reference"
    expected = _expected_mae(rows, adjudicated={"c3.png": 2.0})
    for rater in RATERS:
        assert extent["readers"][rater]["unaided"] == pytest.approx(expected[rater]["unaided"])
        assert extent["readers"][rater]["aided"] == pytest.approx(expected[rater]["aided"])
    assert extent["unaided"] == pytest.approx(sum(e["unaided"] for e in expected.values()) / 3)
    assert extent["difference"] == pytest.approx(extent["aided"] - extent["unaided"])
    low, high = extent["ci95"]
    assert low < extent["difference"] < high and 0 < extent["p_value"] < 1 and extent["df"] > 0
    time = comparison["reading_time_s"]
    assert time["figure_of_merit"] == "mean_reading_time_s"
    seconds = [r["duration_s"] for r in rows if r["rater"] == "rater2" and r["aided"] == 1]
    assert time["readers"]["rater2"]["aided"] == pytest.approx(sum(seconds) / len(seconds))


def test_the_api_import_takes_the_aided_column_too(personas):
    study = _create()
    client = api_client(personas["alice"])
    response = client.post(
        f"{API}/studies/cross/ratings/import/",
        {"file": SimpleUploadedFile("r.csv", _csv(_reads(n_cases=4))), "allow_missing_images": True},
        format="multipart",
    )
    assert response.status_code == 201 and response.json() == {"imported": 24}
    data = _report(study)
    assert data["reading_conditions"]["unaided"]["n_reads"] == data["reading_conditions"]["aided"]["n_reads"] == 12
    assert data["reading_conditions"]["comparison"]["opacity"]["n_readers"] == 3


def test_comparison_is_in_rubric_order_and_blind_readers_see_labels(personas, tmp_path):
    study = _create()
    _import(tmp_path, _reads(n_cases=4))
    keys = ["geographic_extent", "opacity"]
    built = _report(study)
    conditions = dict(reversed(list(built["reading_conditions"].items())))
    conditions["comparison"] = dict(reversed(list(conditions["comparison"].items())))
    shuffled = {**built, "reading_conditions": conditions}
    data = report_in_rubric_order(shuffled, keys=keys)  # as read back from jsonb, which keeps no order
    assert list(data["reading_conditions"]) == ["unaided", "aided", "comparison"]
    assert list(data["reading_conditions"]["comparison"]) == [*keys, "reading_time_s"]
    labels = {"rater1": "Rater B", "rater2": "Rater AA", "rater3": "Rater A"}
    blind = report_with_rater_labels(data, labels=labels)
    for entry in blind["reading_conditions"]["comparison"].values():
        assert list(entry["readers"]) == ["Rater A", "Rater B", "Rater AA"]
    assert "rater1" not in str(blind["reading_conditions"])


def test_too_few_paired_readers_leave_the_comparison_undefined_with_a_reason(personas, tmp_path):
    study = _create()
    rows = [r for r in _reads(n_cases=4) if r["rater"] == "rater1" or r["aided"] == 0]
    _import(tmp_path, rows)
    extent = _report(study)["reading_conditions"]["comparison"]["geographic_extent"]
    assert extent["difference"] is None and extent["ci95"] is None and "two or more readers" in extent["reason"]


def test_the_report_page_shows_the_comparison(personas, tmp_path, client_for, django_capture_on_commit_callbacks):
    study = _create()
    _import(tmp_path, _reads(n_cases=5))
    report = agreement_report_request(study=study)
    agreement_report_execute(report_id=report.pk)
    report.refresh_from_db()
    comparison = report.data["reading_conditions"]["comparison"]
    body = client_for("alice").get(f"/studies/{study.slug}/report/").content.decode()
    section = body[body.index("Aided minus unaided") :]
    assert "Geographic extent: MAE" in section and "Reading time (s)" in section
    extent = comparison["geographic_extent"]
    assert f"{extent['difference']:.2f}" in section and f"[{extent['ci95'][0]:.3f}, {extent['ci95'][1]:.3f}]" in section
    assert all(f'<th scope="row">{name}</th>' in section for name in RATERS)


def test_an_aided_column_that_does_not_fit_the_design_is_refused(personas, tmp_path):
    _create("plain", "none")
    rows = _reads(n_cases=1)
    with pytest.raises(CommandError, match="only a crossover study"):
        _import(tmp_path, rows, slug="plain")
    _import(tmp_path, [r for r in rows if r["aided"] == 0], slug="plain")  # 0: the study's own unaided reads
