"""Reads for the case browser and the case page: every case of a study, searchable, filterable and
sortable, and one case with everything known of it. For owners, and read-only for adjudicators
(Ability.READ_CASES, checked by the views); a blind adjudicator (Study.adjudication_blind, not an
owner) sees no filename and no rater name here either, so the browser is no way around the blinding.
Never raters: their side lives in reading/selectors.py."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from annotation.models import Adjudication, Assignment, Case, Rating, Study, StudyMembership
from annotation.rubrics import rubric_get
from scoring.models import Prediction
from scoring.selectors import study_consensus, study_rater_labels, study_score_table

PAGE_SIZE = 50

# Filter name -> label. "discordant": the raters' current totals span the study's adjudication
# range or more on some total (adjudicated or not); "awaiting": discordant and not yet adjudicated.
FILTERS = {
    "all": "All cases",
    "discordant": "Discordant",
    "awaiting": "Awaiting adjudication",
    "adjudicated": "Adjudicated",
    "flagged": "Flagged",
    "incomplete": "Reads still to do",
    "excluded": "Excluded",
    "predicted": "Pre-scored by the active model",
    "unpredicted": "Not pre-scored",
}

# Sort name -> (label, ordering). Ties are broken by the case's id, so pages never overlap.
SORTS = {
    "filename": ("File name", ("original_filename", "pk")),
    "patient": ("Patient", ("patient_id", "original_filename", "pk")),
    "added": ("Newest first", ("-pk",)),
    "progress": ("Fewest reads done first", ("n_done", "pk")),
    "flags": ("Most flags first", ("-n_flagged", "pk")),
}
# Blind adjudicators sort by neither filename nor patient: the order would tell.
BLIND_SORTS = ("added", "progress", "flags")


@dataclass(frozen=True)
class BrowseQuery:
    text: str = ""
    filter: str = "all"
    sort: str = "filename"

    @classmethod
    def from_params(cls, params, *, blind: bool) -> "BrowseQuery":
        """Unknown values fall back to the defaults instead of an error: these come from links."""
        sorts = BLIND_SORTS if blind else tuple(SORTS)
        text = (params.get("q") or "").strip()[:200]
        wanted = params.get("filter", "all")
        sort = params.get("sort", sorts[0])
        return cls(text=text, filter=wanted if wanted in FILTERS else "all", sort=sort if sort in sorts else sorts[0])


def _discordant_ids(study: Study) -> tuple[set[int], set[int]]:
    """(discordant, awaiting adjudication) case ids, from the analysis's current reads."""
    discordant, awaiting = set(), set()
    for row in study_consensus(study=study):
        if any(s is not None and s >= study.adjudication_range for s in row.spread.values()):
            discordant.add(row.case_id)
            if row.needs_adjudication:
                awaiting.add(row.case_id)
    return discordant, awaiting


def study_cases_browse(*, study: Study, query: BrowseQuery, blind: bool = False) -> QuerySet[Case]:
    """The study's cases for one browser query, with counts of reads, flags and whether the active
    model pre-scored each. A blind adjudicator searches by case id only."""
    active = Prediction.objects.filter(case=OuterRef("pk"), model_version__is_active=True)
    first = Q(assignments__repeat=False)  # a repeat read is not one of the case's reads (intra-rater only)
    cases = study.cases.select_related("image").annotate(
        n_assigned=Count("assignments", filter=first, distinct=True),
        n_done=Count("assignments", filter=first & Q(assignments__completed_at__isnull=False), distinct=True),
        n_flagged=Count("assignments", filter=first & ~Q(assignments__flag_reason=""), distinct=True),
        predicted=Exists(active),
        adjudicated=Exists(Adjudication.objects.filter(case=OuterRef("pk"))),
    )
    if query.text:
        match = Q(public_id=query.text)
        if not blind:
            match |= Q(original_filename__icontains=query.text) | Q(patient_id__icontains=query.text)
        cases = cases.filter(match)
    if query.filter in ("discordant", "awaiting"):
        discordant, awaiting = _discordant_ids(study)
        cases = cases.filter(pk__in=discordant if query.filter == "discordant" else awaiting)
    elif query.filter == "adjudicated":
        cases = cases.filter(adjudicated=True)
    elif query.filter == "flagged":
        cases = cases.filter(n_flagged__gt=0)
    elif query.filter == "incomplete":
        cases = cases.filter(excluded_at__isnull=True, image__isnull=False).filter(
            Q(n_done__lt=F("n_assigned")) | Q(n_assigned=0)
        )
    elif query.filter == "excluded":
        cases = cases.filter(excluded_at__isnull=False)
    elif query.filter == "predicted":
        cases = cases.filter(predicted=True)
    elif query.filter == "unpredicted":
        cases = cases.filter(predicted=False)
    return cases.order_by(*SORTS[query.sort][1])


@dataclass(frozen=True)
class BrowserRow:
    case: Case
    label: str  # the filename, or "Case <id>" for a blind adjudicator
    consensus: dict[str, float | None]
    spread: dict[str, float | None]
    discordant: bool


def case_rows_for_page(*, study: Study, cases: list[Case], blind: bool) -> list[BrowserRow]:
    """The consensus and range of one page's cases (only those: the browser's cost does not grow
    with the study)."""
    table = study_score_table(study=study, include_excluded=True, case_ids=[case.pk for case in cases])
    by_case = {row.case_id: row for row in study_consensus(study=study, table=table, include_excluded=True)}
    rows = []
    for case in cases:
        row = by_case.get(case.pk)
        spread = row.spread if row else {}
        rows.append(
            BrowserRow(
                case=case,
                label=case_label(case, blind=blind),
                consensus=row.consensus if row else {},
                spread=spread,
                discordant=any(s is not None and s >= study.adjudication_range for s in spread.values()),
            )
        )
    return rows


def case_label(case: Case, *, blind: bool) -> str:
    return f"Case {case.public_id[:8]}" if blind else case.original_filename


@dataclass(frozen=True)
class Revision:
    number: int
    values: dict
    totals: dict
    reading_time_s: float | None
    source: str
    created_at: object
    current: bool


@dataclass
class ReadRow:
    """One rater's read of the case (two in a crossover study: unaided and aided)."""

    rater: str  # username, or "Rater A" for a blind adjudicator
    rater_state: str  # "" for an active rater, else "removed, reads kept" / "removed, reads dropped"
    in_analysis: bool
    aided: bool
    status: str  # "scored", "flagged", "to do"
    flag_reason: str
    flag_note: str
    current: Revision | None
    revisions: list[Revision] = field(default_factory=list)


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    label: str
    blind: bool
    reads: list[ReadRow]
    consensus: dict[str, float | None]
    spread: dict[str, float | None]
    discordant: bool
    adjudications: list[Adjudication]
    predictions: list[Prediction]  # empty unless the visitor may read model output
    previous_id: str | None  # neighbours in the study's case order, for paging through cases
    next_id: str | None

    @property
    def removable(self) -> bool:
        """Nobody has read, flagged or adjudicated it: it may still be deleted (services.case_remove)."""
        return not self.adjudications and all(read.status == "to do" and not read.revisions for read in self.reads)


def case_detail_get(*, case: Case, blind: bool, with_model_output: bool) -> CaseDetail:
    """Everything known of one case: each rater's current scores and every revision with its
    reading time, flags, the consensus and range, the adjudications and (owners) the predictions."""
    study = case.study
    memberships = {m.user_id: m for m in StudyMembership.objects.filter(study=study, role__in=["rater", "removed"])}
    labels = study_rater_labels(study=study) if blind else {}
    assignments = list(
        Assignment.objects.filter(case=case).select_related("rater").order_by("rater__username", "aided", "repeat")
    )
    revisions: dict[int, list[Rating]] = {}
    for rating in Rating.objects.filter(assignment__case=case).order_by("assignment_id", "revision"):
        revisions.setdefault(rating.assignment_id, []).append(rating)
    reads = [_read_row(a, revisions.get(a.pk, []), memberships.get(a.rater_id), labels, blind) for a in assignments]
    if blind:
        reads.sort(key=lambda r: (len(r.rater), r.rater, r.aided))
    table = study_score_table(study=study, include_excluded=True, case_ids=[case.pk])
    rows = study_consensus(study=study, table=table, include_excluded=True)
    row = rows[0] if rows else None
    spread = row.spread if row else {}
    order = study.cases.order_by("pk")
    previous = order.filter(pk__lt=case.pk).order_by("-pk").values_list("public_id", flat=True).first()
    following = order.filter(pk__gt=case.pk).values_list("public_id", flat=True).first()
    predictions = []
    if with_model_output:
        predictions = list(
            Prediction.objects.filter(case=case).select_related("model_version").order_by("-model_version__number")
        )
    return CaseDetail(
        case=case,
        label=case_label(case, blind=blind),
        blind=blind,
        reads=reads,
        consensus=row.consensus if row else {},
        spread=spread,
        discordant=any(s is not None and s >= study.adjudication_range for s in spread.values()),
        adjudications=list(case.adjudications.select_related("adjudicator").order_by("-revision")),
        predictions=predictions,
        previous_id=previous,
        next_id=following,
    )


def _read_row(assignment, ratings, membership, labels, blind) -> ReadRow:
    history = [
        Revision(r.revision, r.values, r.totals, r.reading_time_s, r.get_source_display(), r.created_at, False)
        for r in ratings
    ]
    current = None
    for i, r in enumerate(ratings):
        if r.pk == assignment.current_rating_id:
            history[i] = current = Revision(**{**history[i].__dict__, "current": True})
    state, in_analysis = "", assignment.case.excluded_at is None
    if membership is not None and membership.role == StudyMembership.Role.REMOVED:
        state = "removed, reads kept" if membership.ratings_kept else "removed, reads dropped"
        in_analysis = in_analysis and membership.ratings_kept
    if assignment.repeat:  # the rater's second read, for intra-rater reliability only
        state, in_analysis = "repeat read (intra-rater only)", False
    if assignment.current_rating_id:
        status = "scored"
    elif assignment.flag_reason:
        status = "flagged"
    else:
        status = "to do"
    return ReadRow(
        rater=labels.get(assignment.rater_id, "Rater ?") if blind else assignment.rater.get_username(),
        rater_state=state,
        in_analysis=in_analysis,
        aided=assignment.aided,
        status=status,
        flag_reason=assignment.get_flag_reason_display() if assignment.flag_reason else "",
        flag_note=assignment.flag_note,
        current=current,
        revisions=history,
    )


def rubric_columns(study: Study) -> list[tuple[str, str]]:
    """(key, label) of the rubric's items then totals, for the case page's tables."""
    rubric = rubric_get(study.rubric)
    return [(item.key, item.label) for item in rubric.items] + [(t.key, t.label) for t in rubric.totals]
