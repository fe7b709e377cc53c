"""Reads for owners, observers and adjudicators, with permissions checked by the callers through
annotation/permissions.py. The reading room uses only `saliency_map_name`, behind its own check that
the read is an aided one."""

from dataclasses import dataclass, field
from statistics import median

import numpy as np
from django.core.cache import cache

from annotation.models import Adjudication, Case, Study, StudyMembership
from annotation.permissions import StudyAccess, reads_cases_blind
from annotation.rubrics import Rubric, rubric_get
from annotation.selectors import study_assignments_in_analysis, study_dropped_rater_ids, study_main_reads_aided
from scoring.consensus import consensus_mean
from scoring.models import DEFAULT_BOOTSTRAP, AgreementReport, LockedTestSet, ModelJob, Prediction, SaliencyMap
from scoring.report_formats import report_in_rubric_order, report_with_rater_labels


@dataclass
class ScoreTable:
    """Current scores as cases x raters matrices (NaN where a rater has no current rating)."""

    rubric: Rubric
    case_ids: list[int]
    public_ids: list[str]
    filenames: list[str]
    raters: list[str]
    matrices: dict[str, np.ndarray] = field(default_factory=dict)
    n_ratings: int = 0
    # Only with include_excluded: the cases an owner excluded (all False otherwise).
    excluded: list[bool] = field(default_factory=list)
    # Case.patient_id per case ("" where unknown): serial images of one patient are resampled together.
    patient_ids: list[str] = field(default_factory=list)


def study_score_table(
    *, study: Study, aided: bool | None = None, include_excluded: bool = False, case_ids: list[int] | None = None
) -> ScoreTable:
    """Every case with at least one current rating in the analysis (annotation.selectors.
    study_assignments_in_analysis); one column per rater with such a rating. With
    include_excluded, the excluded cases too, marked in `excluded` (for exports that mark them).
    With case_ids, only those cases (one page of the case browser)."""
    rubric = rubric_get(study.rubric)
    aided = study_main_reads_aided(study) if aided is None else aided
    scope = study_assignments_in_analysis(study=study, include_excluded=include_excluded)
    if case_ids is not None:
        scope = scope.filter(case_id__in=case_ids)
    rows = list(
        scope.filter(current_rating__isnull=False, aided=aided)
        .order_by("case_id")
        .values_list(
            "case_id",
            "case__public_id",
            "case__original_filename",
            "rater__username",
            "current_rating__values",
            "current_rating__totals",
            "case__excluded_at",
            "case__patient_id",
        )
    )
    case_index: dict[int, int] = {}
    cases, raters = [], sorted({row[3] for row in rows})
    for case_id, public_id, filename, *_, excluded_at, patient_id in rows:
        if case_id not in case_index:
            case_index[case_id] = len(cases)
            cases.append((case_id, public_id, filename, excluded_at is not None, patient_id))
    rater_index = {name: i for i, name in enumerate(raters)}
    keys = [*rubric.total_keys, *rubric.item_keys]
    matrices = {key: np.full((len(cases), len(raters)), np.nan) for key in keys}
    for case_id, _, _, rater, values, totals, *_ in rows:
        i, j = case_index[case_id], rater_index[rater]
        for key in rubric.total_keys:
            matrices[key][i, j] = totals[key]
        for key in rubric.item_keys:
            value = values.get(key)
            matrices[key][i, j] = np.nan if value is None else value
    return ScoreTable(
        rubric=rubric,
        case_ids=[c[0] for c in cases],
        public_ids=[c[1] for c in cases],
        filenames=[c[2] for c in cases],
        raters=raters,
        matrices=matrices,
        n_ratings=len(rows),
        excluded=[c[3] for c in cases],
        patient_ids=[c[4] for c in cases],
    )


@dataclass(frozen=True)
class CaseConsensus:
    case_id: int
    public_id: str
    filename: str
    n_raters: int
    consensus: dict[str, float | None]
    spread: dict[str, float | None]  # max - min of the raters' totals
    adjudicated: dict[str, int] | None
    needs_adjudication: bool
    excluded: bool = False  # only listed by study_consensus(include_excluded=True)

    @property
    def final(self) -> dict[str, float | None]:
        return dict(self.adjudicated) if self.adjudicated else dict(self.consensus)

    @property
    def final_source(self) -> str:
        return "adjudicated" if self.adjudicated else "consensus"


def study_consensus(
    *, study: Study, table: ScoreTable | None = None, include_excluded: bool = False
) -> list[CaseConsensus]:
    """Consensus per case (mean, or median by study setting) of the raters' current totals,
    the latest adjudication, and whether the case waits for one (an excluded case never does)."""
    table = table or study_score_table(study=study, include_excluded=include_excluded)
    latest = _latest_adjudications(study)
    combine = median if study.consensus_method == Study.Consensus.MEDIAN else consensus_mean
    out = []
    for i, case_id in enumerate(table.case_ids):
        consensus, spread = {}, {}
        for key in table.rubric.total_keys:
            row = table.matrices[key][i]
            values = [float(v) for v in row[~np.isnan(row)]]
            consensus[key] = combine(values) if values else None
            spread[key] = (max(values) - min(values)) if len(values) >= 2 else None
        disagree = any(s is not None and s >= study.adjudication_range for s in spread.values())
        adjudicated = latest.get(case_id)
        excluded = bool(table.excluded and table.excluded[i])
        out.append(
            CaseConsensus(
                case_id,
                table.public_ids[i],
                table.filenames[i],
                int(np.sum(~np.isnan(table.matrices[table.rubric.total_keys[0]][i]))),
                consensus,
                spread,
                adjudicated,
                disagree and adjudicated is None and not excluded,
                excluded,
            )
        )
    return out


def _latest_adjudications(study: Study) -> dict[int, dict[str, int]]:
    latest: dict[int, dict[str, int]] = {}
    for case_id, totals in (
        Adjudication.objects.filter(case__study=study).order_by("case_id", "revision").values_list("case_id", "totals")
    ):
        latest[case_id] = totals
    return latest


def study_exclusion_reasons(*, study: Study) -> dict[int, str]:
    """Case id -> why an owner excluded it, for the exports that list excluded cases marked."""
    return dict(study.cases.filter(excluded_at__isnull=False).values_list("pk", "exclusion_reason"))


def adjudication_queue(*, study: Study) -> list[CaseConsensus]:
    return [row for row in study_consensus(study=study) if row.needs_adjudication]


QUEUE_SHOWN = 50  # the report page lists this many waiting cases; the case browser lists them all


def adjudication_queue_version(*, study: Study) -> str:
    """What names the study's adjudication queue as it stands (its id, creation time and current
    ratings_version, read again), for what is kept in the cache from it."""
    study.refresh_from_db(fields=["ratings_version"])
    # The creation time too: a study id can come back (a restored database, a test's rollback).
    return f"{study.pk}:{study.created_at.timestamp()}:{study.ratings_version}"


def study_excluded_count(*, study: Study) -> int:
    return study.cases.filter(excluded_at__isnull=False).count()


def adjudication_queue_head(*, study: Study) -> tuple[list[CaseConsensus], int]:
    """The first QUEUE_SHOWN cases waiting for adjudication and how many wait, for the report page.
    Kept in the cache for the study's current ratings_version (every change to ratings, flags,
    adjudications, exclusions, raters and the analysis settings bumps it), so that a page view does
    not recompute the whole study's consensus."""
    key = f"adjudication-queue:{adjudication_queue_version(study=study)}"
    cached = cache.get(key)
    if cached is None:
        queue = adjudication_queue(study=study)
        cached = (queue[:QUEUE_SHOWN], len(queue))
        cache.set(key, cached, timeout=24 * 3600)
    return cached


def study_repeat_pairs(*, study: Study) -> dict[str, dict[str, np.ndarray]]:
    """For each total, each rater's (first read, repeat read) totals of the cases they read twice
    (intra-rater reliability; owners and reports only). The same reads as the analysis otherwise:
    the main condition's, not a dropped rater's, not an excluded case's; both reads scored."""
    rubric = rubric_get(study.rubric)
    scope = (
        study.assignments.filter(
            aided=study_main_reads_aided(study), current_rating__isnull=False, case__excluded_at__isnull=True
        )
        .exclude(rater_id__in=study_dropped_rater_ids(study=study))
        .filter(case_id__in=study.assignments.filter(repeat=True).values("case_id"))
    )
    reads: dict[tuple[str, int], dict[bool, dict]] = {}
    rows = scope.order_by("rater__username", "case_id").values_list(
        "rater__username", "case_id", "repeat", "current_rating__totals"
    )
    for rater, case_id, repeat, totals in rows:
        reads.setdefault((rater, case_id), {})[repeat] = totals
    pairs: dict[str, dict[str, list]] = {key: {} for key in rubric.total_keys}
    for (rater, _), both in reads.items():
        if len(both) == 2:
            for key in rubric.total_keys:
                first, again = (both[repeat].get(key) for repeat in (False, True))
                pairs[key].setdefault(rater, []).append([np.nan if v is None else v for v in (first, again)])
    return {
        key: {rater: np.array(rows, dtype=float) for rater, rows in by_rater.items()} for key, by_rater in pairs.items()
    }


def case_ratings_for_adjudicator(*, case: Case, blind: bool | None = None) -> list[dict]:
    """Each rater's current scores for one case, for the adjudication page (never shown to raters).
    Blind (by default the study's adjudication_blind), raters are "Rater A", "Rater B", ... in that
    order (study_rater_labels) instead of their usernames."""
    blind = case.study.adjudication_blind if blind is None else blind
    labels = study_rater_labels(study=case.study) if blind else {}
    rows = (
        study_assignments_in_analysis(study=case.study, include_excluded=True)
        .filter(case=case, current_rating__isnull=False, aided=study_main_reads_aided(case.study))
        .values_list("rater_id", "rater__username", "current_rating__values", "current_rating__totals")
    )
    out = [
        {"rater": labels[rater_id] if blind else username, "values": values, "totals": totals}
        for rater_id, username, values, totals in rows
    ]
    # "Rater B" before "Rater AA"; usernames alphabetically.
    return sorted(out, key=lambda row: (len(row["rater"]) if blind else 0, row["rater"]))


def study_predictions(*, study: Study):
    """(filename, version number, values, intervals, the version's interval level) for every stored
    prediction; owners and exports only (intervals are never served to raters)."""
    return (
        Prediction.objects.filter(case__study=study)
        .order_by("case__original_filename", "model_version__number")
        .values_list(
            "case__original_filename", "model_version__number", "values", "intervals", "model_version__intervals"
        )
    )


def study_model_overview(*, study: Study) -> dict:
    """Versions with their metrics, the active one, and recent jobs, for the owner's page. Before
    any version exists, a cohen2020 study shows the paper's head as the version 1 that its first
    pre-score or retrain makes (`initial_pending`): a page view writes nothing."""
    versions = list(study.model_versions.order_by("-number"))
    return {
        "versions": versions,
        "active": next((v for v in versions if v.is_active), None),
        "initial_pending": not versions and study.rubric == "cohen2020",
        "jobs": list(ModelJob.objects.filter(study=study).select_related("model_version")[:8]),
        "any_running": ModelJob.objects.filter(study=study, status__in=["queued", "running"]).exists(),
        "locked_cases": LockedTestSet.cases.through.objects.filter(lockedtestset__study=study).count(),
    }


def study_model_versions(*, study: Study):
    """A study's model versions, oldest first; owners only (heads and metrics are model output)."""
    return study.model_versions.order_by("number")


def study_model_jobs(*, study: Study):
    """A study's pre-score and retrain jobs, newest first, with the version each used or made."""
    return ModelJob.objects.filter(study=study).select_related("study", "model_version").order_by("-created_at", "-pk")


def study_prediction_rows(*, study: Study):
    """Every stored prediction with its case and version, ordered like the CSV export; owners only:
    it names files and carries model values, which a rater of an unaided study must never see."""
    return (
        Prediction.objects.filter(case__study=study)
        .select_related("case", "model_version")
        .order_by("case__original_filename", "model_version__number", "pk")
    )


def saliency_map_name(*, case: Case, target: str) -> str | None:
    """The stored saliency map of the study's active model version for one case and target."""
    return (
        SaliencyMap.objects.filter(
            case=case, target=target, model_version__study_id=case.study_id, model_version__is_active=True
        )
        .values_list("image", flat=True)
        .first()
    )


# --- agreement reports ---------------------------------------------------------------------------


def agreement_report_key(*, study: Study, n_boot: int, seed: int) -> dict:
    """What identifies a cached report: the study's current ratings version and the bootstrap."""
    study.refresh_from_db(fields=["ratings_version"])
    return {"study": study, "ratings_version": study.ratings_version, "n_boot": n_boot, "seed": seed}


REPORT_CONTENT = ("data", "plots")


def agreement_report_current(*, study: Study, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> AgreementReport | None:
    """The report for the study's current ratings, computed or queued; None until someone asks.

    Its statistics and figures (megabytes for a large study) are loaded when first read: the page
    usually has them rendered already (scoring/views/agreement.py)."""
    reports = AgreementReport.objects.filter(**agreement_report_key(study=study, n_boot=n_boot, seed=seed))
    return reports.defer(*REPORT_CONTENT).first()


def agreement_report_data_for(*, access: StudyAccess, report: AgreementReport) -> dict:
    """A stored report as this visitor may read it: in the rubric's order and, for a blind
    adjudicator (annotation.permissions.reads_cases_blind), with raters by letter, never by name."""
    rubric = access.study.rubric_definition
    data = report_in_rubric_order(report.data, keys=[*rubric.total_keys, *rubric.item_keys])
    if reads_cases_blind(access):
        data = report_with_rater_labels(data, labels=study_rater_labels_by_name(study=access.study))
    return data


def agreement_report_latest_done(*, study: Study) -> AgreementReport | None:
    return (
        study.agreement_reports.filter(status=AgreementReport.Status.DONE)
        .order_by("-ratings_version", "-finished_at")
        .defer(*REPORT_CONTENT)
        .first()
    )


# --- adjudication ----------------------------------------------------------------------------------


def study_rater_labels(*, study: Study) -> dict[int, str]:
    """The names a blind adjudicator sees, by user id: "Rater A", "Rater B", ..., the same on every
    case. The raters who were there when the study opened are lettered in a random but fixed order
    (their memberships' opaque ids), so that neither usernames nor the order in which the owner
    added them shows through; a rater added later takes the next letter, leaving the others' as
    they were."""
    opened = study.opened_at
    members = study.memberships.filter(role__in=[StudyMembership.Role.RATER, StudyMembership.Role.REMOVED]).values_list(
        "user_id", "public_id", "created_at"
    )

    def order(member: tuple) -> tuple:
        late = opened is not None and member[2] > opened
        return (late, member[2].timestamp() if late else 0.0, member[1])

    return {user_id: f"Rater {_letters(i)}" for i, (user_id, *_) in enumerate(sorted(members, key=order))}


def study_rater_labels_by_name(*, study: Study) -> dict[str, str]:
    """study_rater_labels keyed by username: for relabelling a stored report, which names raters."""
    labels = study_rater_labels(study=study)
    names = study.memberships.filter(user_id__in=labels).values_list("user_id", "user__username")
    return {username: labels[user_id] for user_id, username in names}


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, as spreadsheet columns."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


@dataclass(frozen=True)
class SheetRow:
    """One item or total of the rubric with every rater's score for it, side by side."""

    key: str
    label: str
    is_total: bool
    maximum: int
    scores: list[int | None]  # one per rater, in AdjudicationSheet.raters order
    consensus: float | None
    spread: int | None  # max - min of the raters' scores
    over: bool  # a total whose range reaches the study's threshold: why the case waits


@dataclass(frozen=True)
class AdjudicationSheet:
    """What the adjudication page shows of one case: blind when the study says so."""

    filename: str | None  # None for a blind adjudicator
    raters: list[str]  # usernames, or "Rater A", "Rater B", ... when blind
    rows: list[SheetRow]
    adjudicated: Adjudication | None  # the current final score, if any
    position: int | None  # the case's place in the adjudication queue (from 1); None when not in it
    waiting: int  # cases in the queue
    next_id: str | None  # the next case in the queue after this one, None when no other waits

    @property
    def reasons(self) -> list[SheetRow]:
        return [row for row in self.rows if row.over]


def case_adjudication_sheet(*, case: Case) -> AdjudicationSheet:
    """Every rater's current scores for one case with labels from the rubric, the consensus and the
    range per item and total, the case's place in the adjudication queue and the next case there."""
    study = case.study
    rubric = rubric_get(study.rubric)
    ratings = case_ratings_for_adjudicator(case=case)
    combine = median if study.consensus_method == Study.Consensus.MEDIAN else consensus_mean
    rows = []
    # The totals first: their range is what sends a case to adjudication.
    for key, label, is_total, maximum in [
        *((total.key, total.label, True, total.maximum) for total in rubric.totals),
        *((item.key, item.label, False, item.maximum) for item in rubric.items),
    ]:
        scores = [(rating["totals"] if is_total else rating["values"]).get(key) for rating in ratings]
        present = [score for score in scores if score is not None]
        spread = max(present) - min(present) if len(present) >= 2 else None
        over = is_total and spread is not None and spread >= study.adjudication_range
        rows.append(
            SheetRow(key, label, is_total, maximum, scores, combine(present) if present else None, spread, over)
        )
    queue = adjudication_queue(study=study)
    position = next((i for i, row in enumerate(queue, start=1) if row.case_id == case.pk), None)
    return AdjudicationSheet(
        filename=None if study.adjudication_blind else case.original_filename,
        raters=[rating["rater"] for rating in ratings],
        rows=rows,
        adjudicated=case.adjudications.select_related("adjudicator").order_by("revision").last(),
        position=position,
        waiting=len(queue),
        next_id=adjudication_next(queue=queue, after=case),
    )


def adjudication_next(*, queue: list[CaseConsensus], after: Case) -> str | None:
    """The public id of the case that follows `after` in the adjudication queue (the study's case
    order), wrapping round to the start; None when no other case waits."""
    others = [row for row in queue if row.case_id != after.pk]
    following = [row for row in others if row.case_id > after.pk] or others
    return following[0].public_id if following else None
