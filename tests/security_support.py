"""A rich study for the security tests: three raters with scores, a flag, an adjudication, metadata
with a patient id, distinctive filenames, a model version with predictions, an import and a model job.

Every secret is a distinctive string, so that a leak anywhere (a body, a header) is found by search.
"""

from dataclasses import dataclass, field

from django.conf import settings

from annotation.ingest import Source
from annotation.models import Assignment, ImportJob, StudyMembership
from annotation.services import (
    adjudication_record,
    assignment_flag,
    cases_apply_metadata,
    images_import,
    membership_add,
    membership_set_adjudicator,
    rating_submit,
    study_create,
    study_open,
)
from tests.conftest import COHEN_VALUES, png_bytes

FILENAME = "SECRETNAME"
PATIENT_ID = "PID-SECRET-4711"
CLINICAL_NOTE = "Clinical-note-SECRET-9"
FLAG_NOTE = "rater3-flag-note-SECRET"
ADJUDICATION_NOTE = "adjudication-note-SECRET"
PREDICTION = 6.54321
OTHER_READING_TIME = 987.654
TITLE = "Secret study title"
# rater2's and rater3's scores; rater1 scores COHEN_VALUES (2, 3, 1, 2).
OTHER_VALUES = {"extent_right": 4, "extent_left": 4, "opacity_right": 3, "opacity_left": 3}


@dataclass
class RichStudy:
    study: object
    slugs: list[str]
    case_ids: list[str]
    assignment_ids: dict[str, list[str]]  # rater username -> public ids
    ints: dict[str, list[int]] = field(default_factory=dict)  # kind -> ids (jobs, versions, memberships, ...)
    member_ids: list[str] = field(default_factory=list)  # memberships' public ids


def rich_study_create(personas, *, slug: str = "rich") -> RichStudy:
    from scoring.models import ModelJob

    study = study_create(owner=personas["alice"], slug=slug, title=TITLE, rubric="cohen2020", raters_per_case=3)
    for name in ("rater1", "rater2", "rater3"):
        membership_add(study=study, user=personas[name], role=StudyMembership.Role.RATER)
    membership_add(study=study, user=personas["olivia"], role=StudyMembership.Role.OBSERVER)
    names = [f"{FILENAME}-{i}.png" for i in range(3)]
    report = images_import(
        study=study, sources=[Source(name=n, where=n, data=png_bytes(500 + i)) for i, n in enumerate(names)]
    )
    assert report.count("imported") == 3
    cases_apply_metadata(
        study=study,
        metadata={n: {"filename": n, "patientid": PATIENT_ID, "clinical_notes": CLINICAL_NOTE} for n in names},
    )
    study_open(study=study)
    mine = {
        name: list(Assignment.objects.filter(study=study, rater=personas[name]).order_by("order_key"))
        for name in ("rater1", "rater2", "rater3")
    }
    for name in ("rater2", "rater3"):
        for assignment in mine[name]:
            rating_submit(assignment=assignment, values=OTHER_VALUES, reading_time_s=OTHER_READING_TIME)
    rating_submit(assignment=mine["rater1"][0], values=COHEN_VALUES)
    assignment_flag(assignment=mine["rater3"][-1], reason="other", note=FLAG_NOTE)
    membership_set_adjudicator(study=study, user=personas["olivia"], allowed=True)
    case = study.cases.order_by("pk").first()
    adjudication_record(case=case, adjudicator=personas["olivia"], values=COHEN_VALUES, note=ADJUDICATION_NOTE)
    # The model, made directly in the database: no worker, no weights.
    version = active_model_with_predictions(study, values={"geographic_extent": PREDICTION, "opacity": PREDICTION / 2})
    model_job = ModelJob.objects.create(
        study=study,
        kind=ModelJob.Kind.PRESCORE,
        status=ModelJob.Status.DONE,
        created_by=personas["alice"],
        model_version=version,
    )
    import_job = ImportJob.objects.create(
        study=study,
        created_by=personas["alice"],
        status=ImportJob.Status.DONE,
        upload_dir="",
        report=[{"name": names[0], "where": names[0], "status": "imported", "reason": ""}],
    )
    study.refresh_from_db()
    return RichStudy(
        study=study,
        slugs=[study.slug],
        case_ids=list(study.cases.values_list("public_id", flat=True)),
        assignment_ids={name: [a.public_id for a in assignments] for name, assignments in mine.items()},
        ints={
            "job": [import_job.pk],
            "model_job": [model_job.pk],
            "version": [version.number],
            "membership": list(study.memberships.values_list("pk", flat=True)),
        },
        member_ids=list(study.memberships.values_list("public_id", flat=True)),
    )


def secrets_for_rater(rich: RichStudy, *, rater: str = "rater1") -> list[str]:
    """What `rater` must never receive: others' names, ids and scores, filenames, metadata, model output."""
    others = [name for name in rich.assignment_ids if name != rater]
    out = [
        *others,
        FILENAME,
        PATIENT_ID,
        CLINICAL_NOTE,
        FLAG_NOTE,
        ADJUDICATION_NOTE,
        str(PREDICTION),
        str(PREDICTION / 2),
        str(OTHER_READING_TIME),
        *rich.case_ids,
    ]
    for name in others:
        out += rich.assignment_ids[name]
    return out


def secrets_for_outsider(rich: RichStudy) -> list[str]:
    return [*secrets_for_rater(rich, rater="rater1"), "rater1", *rich.assignment_ids["rater1"], TITLE]


def leaks(response, secrets: list[str], *, asked: str) -> list[str]:
    """The secrets found in a response's body or headers, ignoring those the request itself carried."""
    body = (
        response.content.decode("utf-8", "replace")
        if not getattr(response, "streaming", False)
        else b"".join(response.streaming_content).decode("utf-8", "replace")
    )
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    found = [s for s in secrets if s not in asked and (s in body or s in headers)]
    compact = body.replace(" ", "")
    if '"extent_right":4' in compact or 'value="4"checked' in compact:
        found.append("another rater's scores")
    return found


def active_model_with_predictions(study, *, values: dict[str, float]):
    """The paper's head as the study's active version 1, with these pre-scores for every case: made
    directly in the database (no worker, no weights)."""
    from scoring.model.heads import paper_head
    from scoring.models import ModelVersion, Prediction

    version = ModelVersion.objects.create(
        study=study,
        number=1,
        backbone=settings.SCORING_XRV_WEIGHTS,
        feature_set="lung_opacity",
        head=paper_head().to_dict(),
        source="test",
        is_active=True,
    )
    for case in study.cases.all():
        Prediction.objects.create(case=case, model_version=version, values=values)
    return version


def page_ids(rich: RichStudy, personas) -> dict[str, object]:
    """What fills the {placeholders} of the page tables (permission matrix, CSRF): the rich study's
    first case, rater1's unscored assignment, the observer's and rater2's memberships, ..."""
    return {
        "slug": rich.study.slug,
        "case": rich.case_ids[0],
        "mine": rich.assignment_ids["rater1"][1],  # not yet scored
        "member": rich.study.memberships.get(user=personas["olivia"]).public_id,
        "rater": rich.study.memberships.get(user=personas["rater2"]).public_id,
        "job": rich.ints["job"][0],
        "version": rich.ints["version"][0],
        "uidb64": "MQ",
        "token": "not-a-token",
        "report": 999999,  # no such report: its figures are a 404 for everyone
        "total": "geographic_extent",
        "figure": "scatter",
    }
