"""Reads for owners, observers and adjudicators, with permissions checked by the callers through
annotation/permissions.py. The reading room uses only `saliency_map_name`, behind its own check that
the read is an aided one."""

from dataclasses import dataclass, field
from statistics import median

import numpy as np

from annotation.models import Adjudication, Assignment, Case, Study
from annotation.rubrics import Rubric, rubric_get
from annotation.selectors import study_main_reads_aided
from scoring.consensus import consensus_mean
from scoring.models import DEFAULT_BOOTSTRAP, AgreementReport, ModelJob, Prediction, SaliencyMap


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


def study_score_table(*, study: Study, aided: bool | None = None) -> ScoreTable:
    """Every case with at least one current rating; one column per rater with a current rating."""
    rubric = rubric_get(study.rubric)
    aided = study_main_reads_aided(study) if aided is None else aided
    rows = list(
        Assignment.objects.filter(study=study, current_rating__isnull=False, aided=aided)
        .order_by("case_id")
        .values_list(
            "case_id",
            "case__public_id",
            "case__original_filename",
            "rater__username",
            "current_rating__values",
            "current_rating__totals",
        )
    )
    case_index: dict[int, int] = {}
    cases, raters = [], sorted({row[3] for row in rows})
    for case_id, public_id, filename, *_ in rows:
        if case_id not in case_index:
            case_index[case_id] = len(cases)
            cases.append((case_id, public_id, filename))
    rater_index = {name: i for i, name in enumerate(raters)}
    keys = [*rubric.total_keys, *rubric.item_keys]
    matrices = {key: np.full((len(cases), len(raters)), np.nan) for key in keys}
    for case_id, _, _, rater, values, totals in rows:
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

    @property
    def final(self) -> dict[str, float | None]:
        return dict(self.adjudicated) if self.adjudicated else dict(self.consensus)

    @property
    def final_source(self) -> str:
        return "adjudicated" if self.adjudicated else "consensus"


def study_consensus(*, study: Study, table: ScoreTable | None = None) -> list[CaseConsensus]:
    """Consensus per case (mean, or median by study setting) of the raters' current totals,
    the latest adjudication, and whether the case waits for one."""
    table = table or study_score_table(study=study)
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
        out.append(
            CaseConsensus(
                case_id,
                table.public_ids[i],
                table.filenames[i],
                int(np.sum(~np.isnan(table.matrices[table.rubric.total_keys[0]][i]))),
                consensus,
                spread,
                adjudicated,
                disagree and adjudicated is None,
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


def adjudication_queue(*, study: Study) -> list[CaseConsensus]:
    return [row for row in study_consensus(study=study) if row.needs_adjudication]


def case_ratings_for_adjudicator(*, case: Case) -> list[dict]:
    """Each rater's current scores for one case, for the adjudication page (never shown to raters)."""
    return [
        {"rater": username, "values": values, "totals": totals}
        for username, values, totals in Assignment.objects.filter(
            case=case, current_rating__isnull=False, aided=study_main_reads_aided(case.study)
        )
        .order_by("rater__username")
        .values_list("rater__username", "current_rating__values", "current_rating__totals")
    ]


def study_predictions(*, study: Study):
    """(filename, version number, values) for every stored prediction; owners and exports only."""
    return (
        Prediction.objects.filter(case__study=study)
        .order_by("case__original_filename", "model_version__number")
        .values_list("case__original_filename", "model_version__number", "values")
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


def agreement_report_current(*, study: Study, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> AgreementReport | None:
    """The report for the study's current ratings, computed or queued; None until someone asks."""
    return AgreementReport.objects.filter(**agreement_report_key(study=study, n_boot=n_boot, seed=seed)).first()


def agreement_report_latest_done(*, study: Study) -> AgreementReport | None:
    return (
        study.agreement_reports.filter(status=AgreementReport.Status.DONE)
        .order_by("-ratings_version", "-finished_at")
        .first()
    )
