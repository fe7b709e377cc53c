"""Retraining on the model queue: evaluate a head the paper's way on the raters' final scores, fit
it on all of them, store it as a new version. Worker code: the web process never imports it."""

import logging

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.models import Case, Study
from annotation.rubrics import rubric_get
from core.jobs import job_claim, job_finish, job_progress
from scoring.model.evaluate import evaluate, group_splits, regression_metrics, summarise
from scoring.model.heads import LinearHead, fit_head
from scoring.models import ModelJob, ModelVersion
from scoring.selectors import study_consensus
from scoring.services.backbone_cache import backbone_features, backbone_outputs_ensure, failure_message
from scoring.services.model_versions import ModelStateError, model_version_activate, model_version_ensure_initial

logger = logging.getLogger(__name__)


def training_set(*, study: Study) -> tuple[list[Case], dict[str, np.ndarray]]:
    """Fully rated cases with an image, and their final totals (adjudicated, else the consensus)."""
    rows = [row for row in study_consensus(study=study) if row.n_raters >= study.raters_per_case]
    cases = {
        case.pk: case
        for case in Case.objects.filter(pk__in=[r.case_id for r in rows], image__isnull=False).select_related("image")
    }
    rows = [row for row in rows if row.case_id in cases]
    targets = rubric_get(study.rubric).total_keys
    Y = {t: np.array([row.final[t] for row in rows], dtype=np.float64) for t in targets}
    return [cases[row.case_id] for row in rows], Y


def retrain_execute(*, job_id: int) -> ModelJob | None:
    """Evaluate a head the paper's way (50 grouped 50/50 splits, next to the `none` baseline and the
    active version), fit it on all cases, store it as a new version; promote it when asked to."""
    job = job_claim(model=ModelJob, pk=job_id, kind=ModelJob.Kind.RETRAIN, select_related=("study", "model_version"))
    if job is None:
        return None
    try:
        job.result = _retrain(job)
    except Exception as exc:
        logger.exception("retrain job %s failed", job_id)
        job.result = {}
        return job_finish(job=job, error=failure_message(exc), fields=("result", "model_version"))
    return job_finish(job=job, fields=("result", "model_version"))


def _retrain(job: ModelJob) -> dict:
    study, feature_set, ridge = job.study, job.params["feature_set"], job.params.get("ridge_alpha")
    model_version_ensure_initial(study=study)  # the paper's head is what a new version must beat
    cases, Y = training_set(study=study)
    if len(cases) < 4:
        raise ModelStateError(
            f"{len(cases)} fully rated case(s) with an image: at least 4 are needed to train and evaluate"
        )
    backbone = settings.SCORING_XRV_WEIGHTS
    active = study.model_versions.filter(is_active=True).first()
    if feature_set != "none" or (active and active.feature_set != "none"):
        backbone_outputs_ensure(
            images=[c.image for c in cases],
            backbone=backbone,
            progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="backbone"),
        )
    job_progress(job=job, done=0, total=3, phase="evaluate")
    groups = [case.patient_id or None for case in cases]
    clamp = _clamp(study)
    X = (
        backbone_features(image_ids=[c.image_id for c in cases], backbone=backbone, feature_set=feature_set)
        if feature_set != "none"
        else np.zeros((len(cases), 0))
    )
    metrics = {"candidate": evaluate(X, Y, groups, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)}
    job_progress(job=job, done=1, total=3, phase="evaluate")
    metrics["none"] = evaluate(np.zeros((len(cases), 0)), Y, groups, feature_set="none", clamp=clamp)
    job_progress(job=job, done=2, total=3, phase="evaluate")
    if active:
        metrics["active"] = _evaluate_fixed(active, cases, Y, groups)
    job_progress(job=job, done=3, total=3, phase="fit")
    head = fit_head(X, Y, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)
    version = _store_version(job, head, metrics, len(cases))
    promoted = study.auto_promote and _beats(metrics["candidate"], metrics.get("active"))
    if promoted:
        model_version_activate(version=version)
    job.model_version = version
    return {"version": version.number, "training_cases": len(cases), "promoted": promoted}


def _clamp(study: Study) -> dict[str, tuple[float, float]]:
    return {t.key: (float(t.minimum), float(t.maximum)) for t in rubric_get(study.rubric).totals}


def _evaluate_fixed(version: ModelVersion, cases: list[Case], Y: dict[str, np.ndarray], groups) -> dict:
    """The active version scored on the test half of the same splits (it is not refitted)."""
    head = LinearHead.from_dict(version.head)
    if not set(head.targets) <= set(Y):
        return {}
    X = (
        backbone_features(
            image_ids=[c.image_id for c in cases], backbone=version.backbone, feature_set=head.feature_set
        )
        if head.feature_set != "none"
        else np.zeros((len(cases), 0))
    )
    predicted = head.predict(X)
    per_split = {t: {} for t in head.targets}
    for _, test in group_splits(groups):
        for target in head.targets:
            for metric, value in regression_metrics(Y[target][test], predicted[target][test]).items():
                per_split[target].setdefault(metric, []).append(value)
    return {t: {m: summarise(v) for m, v in metrics.items()} for t, metrics in per_split.items()}


def _mean_mae(metrics: dict | None) -> float | None:
    if not metrics:
        return None
    values = [m["mae"]["mean"] for m in metrics.values() if m.get("mae", {}).get("mean") is not None]
    return sum(values) / len(values) if values else None


def _beats(candidate: dict, active: dict | None) -> bool:
    new, old = _mean_mae(candidate), _mean_mae(active)
    return new is not None and (old is None or new < old)


@transaction.atomic
def _store_version(job: ModelJob, head: LinearHead, metrics: dict, n_cases: int) -> ModelVersion:
    study = Study.objects.select_for_update().get(pk=job.study_id)
    existing = ModelVersion.objects.filter(created_by_job=job).first()
    if existing:  # a redelivered task that had already stored its version
        return existing
    number = (study.model_versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return ModelVersion.objects.create(
        study=study,
        number=number,
        backbone=settings.SCORING_XRV_WEIGHTS,
        feature_set=head.feature_set,
        head=head.to_dict(),
        metrics=metrics,
        training_cases=n_cases,
        source=f"retrained by job {job.pk}",
        created_by_job=job,
    )
