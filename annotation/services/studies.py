"""Studies: create, configure, open and lock."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.analysis_plan import primary_analysis_problem
from annotation.audit import Action, audit_record
from annotation.models import Study, StudyMembership
from annotation.permissions import Ability, may_create_studies, memberships_that_may
from annotation.rubrics import rubric_get
from annotation.services.assignment import study_assign_cases
from annotation.services.queues import study_queues_order_request
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
DESIGN_SETTINGS = (
    "rubric",
    "raters_per_case",
    "model_assistance",
    "crossover_gap",
    "repeat_fraction",
    "repeat_washout_days",
    "repeat_washout_cases",
    # The pre-specified primary analysis: chosen before the data, so fixed once the study opens.
    "primary_metric",
    "primary_score",
)
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
    bootstrap_raters: str | None = None,
    repeat_fraction: float | None = None,
    repeat_washout_days: int | None = None,
    repeat_washout_cases: int | None = None,
    queue_order: str | None = None,
    primary_metric: str | None = None,
    primary_score: str | None = None,
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
        **_repeat_design(
            study,
            repeat_fraction=repeat_fraction,
            repeat_washout_days=repeat_washout_days,
            repeat_washout_cases=repeat_washout_cases,
        ),
        "primary_metric": study.primary_metric if primary_metric is None else primary_metric,
        "primary_score": study.primary_score if primary_score is None else primary_score,
    }
    fixed = [k for k in study_settings_fixed(study) if getattr(study, k) != design[k]]
    if fixed:
        names = ", ".join(Study._meta.get_field(k).verbose_name for k in fixed)
        raise StudyStateError(f"{names}: {DESIGN_FIXED_REASON}")
    primary = primary_analysis_problem(
        metric=design["primary_metric"], score=design["primary_score"], rubric=rubric_get(rubric)
    )
    if primary:
        raise StudyStateError(primary)
    if design["model_assistance"] not in Study.ModelAssistance.values:
        raise StudyStateError(f"unknown model assistance {design['model_assistance']!r}")
    repeat_design_check(model_assistance=design["model_assistance"], **{k: design[k] for k in REPEAT_SETTINGS})
    if burned_in_annotation is not None and burned_in_annotation not in Study.BurnedIn.values:
        raise StudyStateError(f"unknown burned-in annotation rule {burned_in_annotation!r}")
    if bootstrap_raters is not None and bootstrap_raters not in Study.BootstrapRaters.values:
        raise StudyStateError(f"unknown bootstrap raters {bootstrap_raters!r}: fixed or random")
    queue_order = _queue_order_check(study, model_assistance=design["model_assistance"], queue_order=queue_order)
    analysis = {"consensus_method": consensus_method, "adjudication_range": adjudication_range}
    optional = {
        "auto_promote": auto_promote,
        "burned_in_annotation": burned_in_annotation,
        "adjudication_blind": adjudication_blind,
        "queue_order": queue_order,
        "bootstrap_raters": bootstrap_raters,
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
    if changes.keys() & {*analysis, "primary_metric", "primary_score", "bootstrap_raters"}:  # the report shows them
        study_ratings_changed(study_id=study.pk)  # the cached report shows consensus and the queue
    if "queue_order" in changes:
        study_queues_order_request(study=study)
    return study


QUEUE_ORDER_BLINDED = (
    "a blinded reader study keeps each rater's seeded random order: ordering the queue by the model "
    "needs model assistance shown or prelabel"
)


def _queue_order_check(study: Study, *, model_assistance: str, queue_order: str | None) -> str | None:
    """The queue order to store: refused when unknown, or by the model in a blinded study (none,
    crossover), where the order itself would tell raters what the model thinks; reset to random when
    the study becomes blinded without one being asked for."""
    if queue_order is not None and queue_order not in Study.QueueOrder.values:
        raise StudyStateError(f"unknown queue order {queue_order!r}")
    in_view = Study(model_assistance=model_assistance).model_in_view
    if queue_order not in (None, Study.QueueOrder.RANDOM) and not in_view:
        raise StudyStateError(QUEUE_ORDER_BLINDED)
    if queue_order is None and not in_view and study.queue_order != Study.QueueOrder.RANDOM:
        return Study.QueueOrder.RANDOM
    return queue_order


REPEAT_SETTINGS = ("repeat_fraction", "repeat_washout_days", "repeat_washout_cases")
REPEAT_NEEDS_OWN_READS = (
    "repeat reads need model assistance none or shown: a crossover study already reads each case twice, "
    "and a pre-labelled read starts from the model's scores, not from the rater's own first read"
)
WASHOUT_MAX = 3650  # days or cases; a PositiveSmallIntegerField holds more, a study needs less


def _repeat_design(study: Study, **wanted) -> dict:
    return {name: getattr(study, name) if wanted[name] is None else wanted[name] for name in REPEAT_SETTINGS}


def repeat_design_check(
    *, model_assistance: str, repeat_fraction: float, repeat_washout_days: int, repeat_washout_cases: int
) -> None:
    """Refuse repeat-read settings a study cannot run (StudyStateError, with the reason)."""
    if isinstance(repeat_fraction, bool) or not isinstance(repeat_fraction, int | float):
        raise StudyStateError("the repeat fraction must be a number from 0 to 1")
    if not 0 <= repeat_fraction <= 1:  # NaN fails both comparisons
        raise StudyStateError(f"the repeat fraction must be from 0 to 1 (got {repeat_fraction})")
    for name, value in (("days", repeat_washout_days), ("cases", repeat_washout_cases)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= WASHOUT_MAX:
            raise StudyStateError(f"the repeat washout in {name} must be a whole number from 0 to {WASHOUT_MAX}")
    own_reads = (Study.ModelAssistance.NONE, Study.ModelAssistance.SHOWN)
    if repeat_fraction > 0 and model_assistance not in own_reads:
        raise StudyStateError(REPEAT_NEEDS_OWN_READS)


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
    made = study_assign_cases(study=study)  # in the study's queue order (study_queues_order_request)
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
