"""Reads of the rating domain for the study's own people, with permissions enforced here (through
annotation/permissions.py) so that no view can forget them. The rater's side, which is blinded,
lives in reading/selectors.py."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Case as CaseWhen
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.selectors import account_is_invited
from annotation import effort
from annotation.models import Assignment, AuditEvent, Case, ImportJob, Rating, Study, StudyMembership
from annotation.permissions import Ability, may, may_become_adjudicator, memberships_that_may, study_access_get
from core.types import Visitor


@dataclass(frozen=True)
class StudyCard:
    study: Study
    role: str
    done: int
    total: int
    rates: bool  # a rater of the study: the card leads to the reading room, with their own progress

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def study_cards_for_user(*, user: Visitor) -> list[StudyCard]:
    """The "my studies" list: for raters their own progress, for owners and observers the study's."""
    memberships = (
        StudyMembership.objects.filter(user=user)
        .exclude(role=StudyMembership.Role.REMOVED)  # a removed rater's studies are a 404 to them
        .select_related("study")
        .order_by("-study__created_at")
    )
    cards = []
    for membership in memberships:
        scope = Assignment.objects.filter(study=membership.study, case__image__isnull=False)
        if not may(membership, Ability.VIEW_STUDY):
            scope = scope.filter(rater=user)
        counts = scope.aggregate(total=Count("id"), done=Count("id", filter=Q(completed_at__isnull=False)))
        rates = may(membership, Ability.RATE)
        cards.append(StudyCard(membership.study, membership.role, counts["done"], counts["total"], rates))
    return cards


def count_subquery(scope: QuerySet[Assignment]) -> Coalesce:
    """A correlated COUNT(*) for annotating another queryset (0 rather than NULL when none match)."""
    return Coalesce(Subquery(scope.order_by().values("study").annotate(n=Count("id")).values("n")), 0)


def study_memberships_for_user(*, user: Visitor) -> QuerySet[StudyMembership]:
    """The user's studies as memberships, with `n_done` and `n_total` as on the "my studies" page:
    a rater's own assignments, the whole study's for owners and observers."""
    study_scope = Assignment.objects.filter(study=OuterRef("study"), case__image__isnull=False)
    own_scope = study_scope.filter(rater=OuterRef("user"))
    done = Q(completed_at__isnull=False)
    sees_study = memberships_that_may(Ability.VIEW_STUDY)
    return (
        StudyMembership.objects.filter(user=user)
        .exclude(role=StudyMembership.Role.REMOVED)
        .select_related("study")
        .annotate(
            n_total=CaseWhen(When(sees_study, then=count_subquery(study_scope)), default=count_subquery(own_scope)),
            n_done=CaseWhen(
                When(sees_study, then=count_subquery(study_scope.filter(done))),
                default=count_subquery(own_scope.filter(done)),
            ),
        )
        .order_by("-study__created_at")
    )


@dataclass(frozen=True)
class RaterProgress:
    username: str
    assigned: int
    scored: int
    flagged: int

    @property
    def done(self) -> int:
        return self.scored + self.flagged

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.assigned) if self.assigned else 0


def study_rater_progress(*, study: Study) -> list[RaterProgress]:
    """Per-rater counts for owners and observers: how much, never which scores."""
    raters = study.memberships.filter(memberships_that_may(Ability.RATE)).select_related("user")
    counts = {
        row["rater_id"]: row
        for row in study.assignments.filter(case__image__isnull=False)
        .values("rater_id")
        .annotate(
            assigned=Count("id"),
            scored=Count("id", filter=Q(current_rating__isnull=False)),
            flagged=Count("id", filter=~Q(flag_reason="")),
        )
    }
    return [
        RaterProgress(
            m.user.username,
            counts.get(m.user_id, {}).get("assigned", 0),
            counts.get(m.user_id, {}).get("scored", 0),
            counts.get(m.user_id, {}).get("flagged", 0),
        )
        for m in raters.order_by("user__username")
    ]


def study_members(*, study: Study) -> QuerySet[StudyMembership]:
    return study.memberships.select_related("user").order_by("role", "user__username")


@dataclass(frozen=True)
class MemberRow:
    membership: StudyMembership
    may_adjudicate: bool  # the adjudicator right may be given to them
    invited: bool  # invited, and no password set yet


def study_member_rows(*, study: Study) -> list[MemberRow]:
    """The members as the owner's page lists them."""
    return [MemberRow(m, may_become_adjudicator(m), account_is_invited(m.user)) for m in study_members(study=study)]


def study_cases_for_owner(*, study: Study) -> QuerySet[Case]:
    return study.cases.select_related("image").annotate(
        n_assigned=Count("assignments", distinct=True),
        n_done=Count("assignments", filter=Q(assignments__completed_at__isnull=False), distinct=True),
    )


def study_case_counts(*, study: Study) -> dict[str, int]:
    """How many cases the study has, how many are excluded, how many still have reads to do."""
    return study.cases.aggregate(
        total=Count("id"),
        excluded=Count("id", filter=Q(excluded_at__isnull=False)),
        without_image=Count("id", filter=Q(image__isnull=True)),
    )


def study_flagged_assignments(*, study: Study) -> QuerySet[Assignment]:
    return study.assignments.exclude(flag_reason="").select_related("case", "rater").order_by("-flagged_at")


def case_get_for_owner(*, user: Visitor, slug: str, public_id: str, ability: Ability = Ability.MANAGE_STUDY) -> Case:
    """A case with its image, for someone who may do `ability` in the study: owners by default;
    the image alone also for adjudicators (READ_CASES), who score it. Anyone else gets a 404."""
    study = study_access_get(user=user, slug=slug, ability=ability).study
    case = study.cases.select_related("image").filter(public_id=public_id, image__isnull=False).first()
    if case is None:
        raise Http404("no such case")
    return case


def study_storage_used(*, study: Study, pending_uploads: bool = True) -> int:
    """Bytes of original images the study holds (an image shared with another study counts in
    both), plus, with pending_uploads, the uploads its import jobs have not finished with."""
    # A study holds an image at most once (case_unique_image): no double counting within it.
    images = study.cases.aggregate(total=Sum("image__original_bytes"))["total"]
    pending = 0
    if pending_uploads:
        unfinished = study.import_jobs.filter(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
        pending = unfinished.aggregate(total=Sum("upload_bytes"))["total"] or 0
    return (images or 0) + pending


def import_jobs_for_study(*, study: Study) -> QuerySet[ImportJob]:
    return study.import_jobs.all()[:10]


def study_main_reads_aided(study: Study) -> bool:
    """Which reads a study's consensus, agreement and score exports are about: the aided ones in a
    `shown` or `prelabel` study (its only reads), else the unaided ones (a crossover study's aided
    reads are compared separately)."""
    return study.model_in_view


@dataclass(frozen=True)
class PrelabelChanges:
    """How often raters changed the model's starting values in a pre-labelling study."""

    reads: int  # current ratings stored with starting values
    changed: int  # of which the rater changed at least one item
    items: int
    items_changed: int

    @property
    def percent_changed(self) -> int:
        return round(100 * self.changed / self.reads) if self.reads else 0


def study_prelabel_changes(*, study: Study) -> PrelabelChanges | None:
    """For owners: how many pre-labelled reads in the analysis the raters changed, and how many
    items; None for a study that is not a pre-labelling one."""
    if study.model_assistance != Study.ModelAssistance.PRELABEL:
        return None
    rows = study_assignments_in_analysis(study=study).filter(current_rating__prelabel_values__isnull=False)
    reads = changed = items = items_changed = 0
    for values, start in rows.values_list("current_rating__values", "current_rating__prelabel_values"):
        differ = sum(values.get(key) != value for key, value in start.items())
        reads, changed = reads + 1, changed + (differ > 0)
        items, items_changed = items + len(start), items_changed + differ
    return PrelabelChanges(reads=reads, changed=changed, items=items, items_changed=items_changed)


def study_dropped_rater_ids(*, study: Study) -> QuerySet:
    """Removed raters whose reads the owner did not keep: out of every analysis."""
    return study.memberships.filter(role=StudyMembership.Role.REMOVED, ratings_kept=False).values("user_id")


def study_assignments_in_analysis(*, study: Study, include_excluded: bool = False) -> QuerySet[Assignment]:
    """The reads the analyses (agreement, consensus, adjudication queue, retraining) are made of:
    never those of a removed rater whose reads were dropped, and not those of an excluded case
    unless asked for (an export that marks them). Never a repeat read: a rater's second read of a
    case is for intra-rater reliability alone (`study_repeat_pairs`), else it would count twice."""
    scope = study.assignments.filter(repeat=False).exclude(rater_id__in=study_dropped_rater_ids(study=study))
    return scope if include_excluded else scope.filter(case__excluded_at__isnull=True)


def study_completed_assignments(*, study: Study) -> QuerySet[Assignment]:
    """Assignments with their current rating or flag (owners, exports and statistics; never raters).
    Repeat reads are not "the" ratings: they are in the intra-rater analysis and the backup only."""
    return (
        study.assignments.filter(completed_at__isnull=False, repeat=False)
        .select_related("case", "rater", "current_rating__model_version_shown")
        .annotate(n_revisions=Count("ratings"))
        .order_by("case__original_filename", "rater__username")
    )


AUDIT_SYSTEM_ACTOR = "(system)"  # the actor filter's value for events without a person (no username has parentheses)


def study_audit_events(
    *,
    study: Study,
    action: str = "",
    actor: str = "",
    case: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The study's trail, newest first (owners only: it names raters and files), each event with the
    `filename` of the case it is about (None for the others). Filters: an action, an actor's username
    (AUDIT_SYSTEM_ACTOR: the events of no person), a case by part of its filename or public id, and
    dates from/to, both included."""
    cases = Case.objects.filter(study=study)
    events = study.audit_events.select_related("actor").annotate(
        filename=Subquery(cases.filter(public_id=OuterRef("target")).values("original_filename")[:1])
    )
    if action:
        events = events.filter(action=action)
    if actor == AUDIT_SYSTEM_ACTOR:
        events = events.filter(actor__isnull=True)
    elif actor:
        events = events.filter(actor__username=actor)
    if case:
        matching = cases.filter(Q(original_filename__icontains=case) | Q(public_id__icontains=case))
        events = events.filter(target__in=matching.values("public_id"))
    if date_from:
        events = events.filter(created_at__date__gte=date_from)
    if date_to:
        events = events.filter(created_at__date__lte=date_to)
    return events.order_by("-created_at", "-pk")


def study_audit_actors(*, study: Study) -> list[str]:
    """Everyone who appears in the study's trail, for the page's filter."""
    names = study.audit_events.filter(actor__isnull=False).values_list("actor__username", flat=True)
    return list(names.order_by("actor__username").distinct())


def study_effort_reads(*, study: Study) -> list[effort.Read]:
    """Every completed read (scored or flagged) with its revisions' reading times and the clock times
    of its live submissions, for the owner's view of time and effort (it names raters). Two queries.
    Removed raters' reads and excluded cases count: the work was done. Repeat reads do not: a
    case's effort is its first reads'."""
    reads = study.assignments.filter(completed_at__isnull=False, repeat=False).values_list(
        "pk", "rater__username", "case__public_id", "current_rating__totals", "flagged_at", "aided"
    )
    revisions = Rating.objects.filter(
        assignment__study=study, assignment__completed_at__isnull=False, assignment__repeat=False
    )
    times: dict[int, list] = {}
    for assignment_id, seconds, at, source in revisions.order_by("assignment_id", "revision").values_list(
        "assignment_id", "reading_time_s", "created_at", "source"
    ):
        kept = times.setdefault(assignment_id, [0, [], []])
        kept[0] += 1
        if seconds is not None:
            kept[1].append(seconds)
        if source != Rating.Source.IMPORT:  # an import's time is the past study's, not a session here
            kept[2].append(at)
    out = []
    for pk, rater, case, totals, flagged_at, aided in reads.order_by("pk"):
        count, seconds, submitted = times.get(pk, [0, [], []])
        submitted = [*submitted, flagged_at] if flagged_at else submitted
        out.append(effort.Read(rater, case, totals, max(count, 1), tuple(seconds), tuple(submitted), aided))
    return out


def study_case_names(*, study: Study, public_ids: list[str]) -> dict[str, Case]:
    """Cases by public id, with their filenames and exclusion (owners only: filenames)."""
    cases = study.cases.filter(public_id__in=public_ids).only("public_id", "original_filename", "excluded_at")
    return {case.public_id: case for case in cases}
