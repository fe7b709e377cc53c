"""Removing a case that should not be in a study (imported by mistake, burned-in text, a duplicate
under another name), while nobody has read it yet."""

from django.db import transaction

from annotation.audit import Action, audit_record
from annotation.models import Case
from annotation.services.queues import rater_queues_renumber
from annotation.services.storage import files_delete
from annotation.services.studies import StudyStateError
from core.types import User


def case_remove(*, case: Case, actor: User | None) -> None:
    """Delete the case, its assignments and whatever the model computed for it; its image files go
    too unless another study holds the same image. Refused once a rater scored or flagged it or it
    was adjudicated: ratings are a record and stay, as does everything they refer to."""
    study = case.study
    with transaction.atomic():
        # No select_related: PostgreSQL refuses FOR UPDATE on the nullable side of the image join.
        case = Case.objects.select_for_update().get(pk=case.pk)
        if study.is_locked:
            raise StudyStateError("the study is locked: its cases stay as they are")
        if (
            case.assignments.filter(completed_at__isnull=False).exists()
            or case.assignments.filter(ratings__isnull=False).exists()
        ):
            raise StudyStateError("a rater has scored or flagged this case: rated cases stay in the study")
        if case.adjudications.exists():
            raise StudyStateError("this case was adjudicated: it stays in the study")
        image = case.image
        raters = list(case.assignments.values_list("rater_id", flat=True))
        audit_record(
            study=study,
            actor=actor,
            action=Action.CASE_REMOVE,
            target=case.public_id,
            details={"filename": case.original_filename, "sha256": image.sha256 if image else ""},
        )
        case.delete()
        rater_queues_renumber(study_id=study.pk, rater_ids=raters)
        if image is not None and not image.cases.exists():
            names = [image.original.name, image.display.name]
            image.delete()
            transaction.on_commit(lambda: files_delete(names))  # only once the rows are gone for good
