"""Adjudication: a final score for a case whose raters disagree; their own ratings stay untouched."""

from django.db import transaction

from annotation.audit import Action, audit_record, audit_scores
from annotation.models import Adjudication, Case, Study
from annotation.permissions import Ability, may, membership_get
from annotation.rubrics import rubric_clean_values, rubric_get, rubric_totals
from annotation.services.studies import StudyStateError, study_ratings_changed
from core.types import User


@transaction.atomic
def adjudication_record(*, case: Case, adjudicator: User, values: dict[str, object], note: str = "") -> Adjudication:
    """Record a final score for a case; the raters' own ratings are never changed."""
    study = Study.objects.select_for_update().get(pk=case.study_id)
    if study.is_locked:
        raise StudyStateError("the study is locked: adjudications can no longer change")
    if not may(membership_get(user=adjudicator, study=study), Ability.ADJUDICATE):
        raise StudyStateError(f"{adjudicator.username} is not an adjudicator of this study")
    rubric = rubric_get(study.rubric)
    cleaned = rubric_clean_values(rubric, values)
    previous = case.adjudications.order_by("-revision").first()
    last = previous.revision if previous else 0
    adjudication = Adjudication.objects.create(
        case=case,
        adjudicator=adjudicator,
        revision=last + 1,
        values=cleaned,
        totals=rubric_totals(rubric, cleaned),
        note=note.strip()[:1000],
    )
    study_ratings_changed(study_id=study.pk)
    audit_record(
        study=study,
        actor=adjudicator,
        action=Action.ADJUDICATION,
        target=case.public_id,
        details={
            "revision": adjudication.revision,
            "before": audit_scores(values=previous.values, totals=previous.totals) if previous else None,
            "after": audit_scores(values=adjudication.values, totals=adjudication.totals),
            **({"note": adjudication.note} if adjudication.note else {}),
        },
    )
    return adjudication
