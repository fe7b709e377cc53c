"""Repairing a live study: exclude or restore a case, remove or replace a rater, and share the
reads still to do fairly when the raters change. Every repair is audited and keeps every rating.

What a repair does to the analysis (annotation.selectors.study_assignments_in_analysis):
- An excluded case stays in the study with its reads, out of every analysis, marked in the exports;
  its unread assignments are withdrawn so nobody spends time on it. Restoring brings it back and
  gives it raters again.
- A removed rater loses access; their unread assignments are withdrawn and the cases that lose a
  read get another rater. Their finished reads stay on record and count in the analysis only when
  the owner keeps them (`keep_ratings`); dropped, the case needs another read and gets one.
- A replaced rater is removed (reads kept by default: they were made in good faith) and the new
  rater takes the reads that are left.
- A rater who joins an open study gets an equal share of the reads still to do: unread
  assignments move from the raters with the most left to do until nobody has more than one read
  more to do than anyone else (`study_rebalance`).
"""

import dataclasses

from django.db import transaction
from django.utils import timezone

from annotation.audit import Action, audit_record
from annotation.models import Case, Study, StudyMembership
from annotation.permissions import Ability, may
from annotation.services.assignment import study_assign_cases, study_rebalance, unread_withdraw
from annotation.services.members import membership_add
from annotation.services.studies import StudyStateError, study_ratings_changed
from core.errors import InvalidInput
from core.types import User

REASON_MAX = 500


def _writable_study(study: Study) -> Study:
    locked = Study.objects.select_for_update().get(pk=study.pk)  # one repair per study at a time
    if locked.is_locked:
        raise StudyStateError("the study is locked: its cases and raters stay as they are")
    return locked


@transaction.atomic
def case_exclude(*, case: Case, reason: str, actor: User | None) -> Case:
    """Leave a case out of every analysis, with the reason; its reads stay."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the case is excluded (kept with the case and in the audit trail)")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is too long (at most {REASON_MAX} characters)")
    study = _writable_study(case.study)
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.excluded_at is not None:
        raise StudyStateError(f"{case.original_filename} is excluded already")
    case.excluded_at, case.exclusion_reason = timezone.now(), reason
    case.save(update_fields=["excluded_at", "exclusion_reason"])
    withdrawn = unread_withdraw(case.assignments.all())
    study_ratings_changed(study_id=study.pk)
    audit_record(
        study=study,
        actor=actor,
        action=Action.CASE_EXCLUDE,
        target=case.public_id,
        details={"filename": case.original_filename, "reason": reason, "unread_withdrawn": withdrawn},
    )
    return case


@transaction.atomic
def case_restore(*, case: Case, actor: User | None) -> Case:
    """Bring an excluded case back into the analyses, and give it raters again."""
    study = _writable_study(case.study)
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.excluded_at is None:
        raise StudyStateError(f"{case.original_filename} is not excluded")
    reason = case.exclusion_reason
    case.excluded_at, case.exclusion_reason = None, ""
    case.save(update_fields=["excluded_at", "exclusion_reason"])
    assigned = study_assign_cases(study=study)
    study_ratings_changed(study_id=study.pk)
    audit_record(
        study=study,
        actor=actor,
        action=Action.CASE_RESTORE,
        target=case.public_id,
        details={"filename": case.original_filename, "excluded_because": reason, "assignments_made": assigned},
    )
    return case


def _rater_membership(study: Study, user: User) -> StudyMembership:
    membership = StudyMembership.objects.select_for_update().filter(study=study, user=user).first()
    if membership is None or not may(membership, Ability.RATE):
        raise StudyStateError(f"{user.get_username()} is not a rater of this study")
    return membership


@dataclasses.dataclass(frozen=True)
class RaterRemoved:
    reads_done: int  # their finished reads, kept on record
    ratings_kept: bool  # ... and in the analysis
    withdrawn: int  # their unread assignments, withdrawn
    reassigned: int  # reads given to other raters for the cases that lost one


@transaction.atomic
def rater_remove(*, study: Study, user: User, keep_ratings: bool = False, actor: User | None) -> RaterRemoved:
    """Take a rater off the study. Their unread cases go to the other raters (balanced); their
    finished reads stay on record, in the analysis only with keep_ratings."""
    study = _writable_study(study)
    membership = _rater_membership(study, user)
    membership.role, membership.removed_at, membership.ratings_kept = (
        StudyMembership.Role.REMOVED,
        timezone.now(),
        keep_ratings,
    )
    membership.can_adjudicate = False
    membership.save(update_fields=["role", "removed_at", "ratings_kept", "can_adjudicate"])
    withdrawn = unread_withdraw(study.assignments.filter(rater=user))
    done = study.assignments.filter(rater=user, completed_at__isnull=False).count()
    reassigned = 0
    if study.status == Study.Status.OPEN:
        reassigned = study_assign_cases(study=study)
        study_rebalance(study=study, actor=actor)
    study_ratings_changed(study_id=study.pk)
    result = RaterRemoved(done, keep_ratings, withdrawn, reassigned)
    audit_record(
        study=study,
        actor=actor,
        action=Action.RATER_REMOVE,
        target=user.get_username(),
        details=dataclasses.asdict(result),
    )
    return result


@dataclasses.dataclass(frozen=True)
class RaterReplaced:
    removed: RaterRemoved
    new_rater: StudyMembership
    moved: int  # reads the new rater received


@transaction.atomic
def rater_replace(
    *, study: Study, old: User, new: User, keep_ratings: bool = True, actor: User | None
) -> RaterReplaced:
    """Put `new` in `old`'s place: old is removed (their finished reads kept unless told otherwise)
    and the reads they had left go to new, who also shares in what the others have left."""
    if old.pk == new.pk:
        raise InvalidInput("a rater cannot replace themselves")
    study = _writable_study(study)
    _rater_membership(study, old)  # refuse before anything changes
    before = study.assignments.filter(rater=new).count()
    # The new rater first, so that the withdrawn reads go to them (fewest cases) when reassigned.
    membership = membership_add(study=study, user=new, role=StudyMembership.Role.RATER, actor=actor, rebalance=False)
    removed = rater_remove(study=study, user=old, keep_ratings=keep_ratings, actor=actor)
    moved = study.assignments.filter(rater=new).count() - before
    audit_record(
        study=study,
        actor=actor,
        action=Action.RATER_REPLACE,
        target=old.get_username(),
        details={"replaced_by": new.get_username(), "reads_received": moved, **dataclasses.asdict(removed)},
    )
    return RaterReplaced(removed, membership, moved)
