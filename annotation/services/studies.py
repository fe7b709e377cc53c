"""Studies: create, configure, open and lock."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.audit import Action, audit_record
from annotation.models import Study, StudyMembership
from annotation.permissions import Ability, may_create_studies, memberships_that_may
from annotation.rubrics import rubric_get
from annotation.services.assignment import study_assign_cases
from core.errors import NotAllowed, StateConflict
from core.types import User


class StudyStateError(StateConflict):
    """An action the study's status does not allow (e.g. rating a locked study)."""


def study_create(*, owner: User, slug: str, title: str, rubric: str = "cohen2020", raters_per_case: int = 3) -> Study:
    """A new draft study owned by `owner`, who must be a coordinator: studies are run by them only."""
    if not may_create_studies(owner):
        raise NotAllowed(f"{owner.get_username()} is not a coordinator: only coordinators create studies")
    rubric_get(rubric)  # refuse an unknown rubric with its list of choices
    if raters_per_case < 1:
        raise ValueError("raters per case must be at least 1")
    with transaction.atomic():
        study = Study.objects.create(slug=slug, title=title or slug, rubric=rubric, raters_per_case=raters_per_case)
        StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.OWNER)
        audit_record(
            study=study,
            actor=owner,
            action=Action.STUDY_CREATE,
            target=study.slug,
            details={"title": study.title, "rubric": rubric, "raters_per_case": raters_per_case},
        )
    return study


# The design: fixed once the study opens, since raters have read under it. Everything else (the
# title, the analysis settings, the model and import rules) may change at any time.
DESIGN_SETTINGS = ("rubric", "raters_per_case", "model_assistance", "crossover_gap")
DESIGN_FIXED_REASON = "fixed once the study opened: raters have read under it"


def study_settings_fixed(study: Study) -> tuple[str, ...]:
    """The settings that may no longer change, with DESIGN_FIXED_REASON as why."""
    return () if study.status == Study.Status.DRAFT else DESIGN_SETTINGS


@transaction.atomic
def study_update(
    *,
    study: Study,
    title: str,
    rubric: str,
    raters_per_case: int,
    consensus_method: str = Study.Consensus.MEAN,
    adjudication_range: int = 3,
    model_assistance: str | None = None,
    crossover_gap: int | None = None,
    auto_promote: bool | None = None,
    burned_in_annotation: str | None = None,
    adjudication_blind: bool | None = None,
    actor: User | None = None,
) -> Study:
    """Change a study's settings. The design (DESIGN_SETTINGS) is fixed once the study opens; the
    analysis settings may change at any time. None leaves a setting as it is. Every change is
    audited with its value before and after."""
    design = {
        "rubric": rubric,
        "raters_per_case": raters_per_case,
        "model_assistance": study.model_assistance if model_assistance is None else model_assistance,
        "crossover_gap": study.crossover_gap if crossover_gap is None else crossover_gap,
    }
    fixed = [k for k in study_settings_fixed(study) if getattr(study, k) != design[k]]
    if fixed:
        names = ", ".join(Study._meta.get_field(k).verbose_name for k in fixed)
        raise StudyStateError(f"{names}: {DESIGN_FIXED_REASON}")
    rubric_get(rubric)
    if design["model_assistance"] not in Study.ModelAssistance.values:
        raise StudyStateError(f"unknown model assistance {design['model_assistance']!r}")
    if burned_in_annotation is not None and burned_in_annotation not in Study.BurnedIn.values:
        raise StudyStateError(f"unknown burned-in annotation rule {burned_in_annotation!r}")
    analysis = {"consensus_method": consensus_method, "adjudication_range": adjudication_range}
    optional = {
        "auto_promote": auto_promote,
        "burned_in_annotation": burned_in_annotation,
        "adjudication_blind": adjudication_blind,
    }
    wanted = {"title": title, **design, **analysis, **{k: v for k, v in optional.items() if v is not None}}
    changes = {k: [getattr(study, k), v] for k, v in wanted.items() if getattr(study, k) != v}
    if not changes:
        return study
    for name, (_, value) in changes.items():
        setattr(study, name, value)
    study.save(update_fields=list(changes))
    details = {"before": {k: v[0] for k, v in changes.items()}, "after": {k: v[1] for k, v in changes.items()}}
    audit_record(study=study, actor=actor, action=Action.SETTINGS_CHANGE, target=study.slug, details=details)
    if changes.keys() & analysis.keys():
        study_ratings_changed(study_id=study.pk)  # the cached report shows consensus and the queue
    return study


@transaction.atomic
def study_open(*, study: Study, actor: User | None = None) -> int:
    """Open the study to its raters and assign every case; returns the number of assignments made."""
    if study.is_locked:
        raise StudyStateError("a locked study cannot be reopened")
    raters = study.memberships.filter(memberships_that_may(Ability.RATE)).count()
    if raters < study.raters_per_case:
        raise StudyStateError(f"the study needs at least {study.raters_per_case} raters to open (it has {raters})")
    study.status, study.opened_at = Study.Status.OPEN, study.opened_at or timezone.now()
    study.save(update_fields=["status", "opened_at"])
    made = study_assign_cases(study=study)
    audit_record(study=study, actor=actor, action=Action.OPEN, target=study.slug, details={"assignments_made": made})
    return made


@transaction.atomic
def study_lock(*, study: Study, actor: User | None = None) -> Study:
    """Freeze the study: no rating, flag or import changes anything after this."""
    study.status, study.locked_at = Study.Status.LOCKED, timezone.now()
    study.save(update_fields=["status", "locked_at"])
    audit_record(study=study, actor=actor, action=Action.LOCK, target=study.slug)
    return study


def study_ratings_changed(*, study_id: int) -> None:
    # An UPDATE with F(), not read-modify-write: concurrent submissions must each bump the version,
    # so that a cached agreement report is never taken for current after a change.
    Study.objects.filter(pk=study_id).update(ratings_version=F("ratings_version") + 1)
