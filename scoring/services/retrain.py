"""Retraining on the model queue: evaluate a head the paper's way on the raters' final scores, compare
it with the active version on the same held-out splits, fit it on all of them, store it as a new
version with its provenance; promote it when asked to and the comparison says so. Worker code: the
web process never imports it."""

import logging
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.models import Case, Study
from annotation.rubrics import rubric_get
from core.jobs import job_claim, job_finish, job_progress
from scoring.model.compare import compare_paired
from scoring.model.conformal import LEVEL, conformal_halfwidth, cross_fitted_residuals
from scoring.model.evaluate import (
    PerSplit,
    UngroupedCases,
    fixed_split_metrics,
    group_splits,
    grouping_check,
    split_metrics,
    summarise_splits,
)
from scoring.model.heads import LinearHead, fit_head
from scoring.model.provenance import BackboneIdentity, code_version, table_sha256
from scoring.models import LockedTestSet, ModelJob, ModelVersion
from scoring.selectors import study_consensus
from scoring.services.backbone_cache import (
    backbone_features,
    backbone_identity_current,
    backbone_outputs_ensure,
    failure_message,
)
from scoring.services.model_versions import ModelStateError, model_version_activate, model_version_ensure_initial

logger = logging.getLogger(__name__)

N_SPLITS = 50  # seeds 0..49, as the paper


def training_set(*, study: Study, locked: bool = False) -> tuple[list[Case], dict[str, np.ndarray]]:
    """Fully rated cases with an image, and their final totals (adjudicated, else the consensus):
    outside the study's locked test set, or (locked=True) inside it."""
    rows = [row for row in study_consensus(study=study) if row.n_raters >= study.raters_per_case]
    locked_ids = LockedTestSet.cases.through.objects.filter(lockedtestset__study=study).values("case_id")
    scope = Case.objects.filter(pk__in=locked_ids) if locked else Case.objects.exclude(pk__in=locked_ids)
    cases = {
        case.pk: case
        for case in scope.filter(pk__in=[r.case_id for r in rows], image__isnull=False).select_related("image")
    }
    rows = [row for row in rows if row.case_id in cases]
    targets = rubric_get(study.rubric).total_keys
    Y = {t: np.array([row.final[t] for row in rows], dtype=np.float64) for t in targets}
    return [cases[row.case_id] for row in rows], Y


def retrain_execute(*, job_id: int) -> ModelJob | None:
    """Evaluate a head the paper's way (50 grouped 50/50 splits, next to the `none` baseline and the
    active version's recipe on the same splits), fit it on all cases, store it as a new version with
    its provenance and prediction intervals; promote it when asked to and the paired comparison
    says so."""
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
    groups = [case.patient_id or None for case in cases]
    try:
        grouping = grouping_check(groups, allow_case_grouping=bool(job.params.get("group_by_case")))
    except UngroupedCases as exc:
        raise ModelStateError(str(exc)) from None
    active = study.model_versions.filter(is_active=True).first()
    identity = backbone_identity_current() if feature_set != "none" else None
    active_identity = _version_backbone(active, identity)
    for each in {identity, active_identity} - {None}:
        backbone_outputs_ensure(
            images=[c.image for c in cases],
            identity=each,
            progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="backbone"),
        )
    features = _features_of(cases, identity)
    clamp = _clamp(study)
    splits = group_splits(groups, n_splits=N_SPLITS)
    job_progress(job=job, done=0, total=3, phase="evaluate")
    X = features(feature_set)
    per_split = {"candidate": split_metrics(X, Y, splits, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)}
    job_progress(job=job, done=1, total=3, phase="evaluate")
    per_split["none"] = split_metrics(features("none"), Y, splits, feature_set="none", ridge_alpha=None, clamp=clamp)
    job_progress(job=job, done=2, total=3, phase="evaluate")
    if active:
        per_split["active"] = _active_split_metrics(active, _features_of(cases, active_identity), Y, splits, clamp)
    job_progress(job=job, done=3, total=3, phase="fit")
    head = fit_head(X, Y, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)
    promotion = _decide(study, active, per_split, splits)
    promotion["promoted"] = bool(study.auto_promote and promotion["promote"])
    if promotion["promote"]:
        promotion["locked_test"] = _locked_test(study, head, active, identity, active_identity)
    version = _store_version(
        job,
        head=head,
        metrics={which: summarise_splits(values) for which, values in per_split.items() if values},
        table=[
            [case.public_id, case.original_filename, case.patient_id or None, {t: float(y[i]) for t, y in Y.items()}]
            for i, case in enumerate(cases)
        ],
        provenance={
            "backbone": identity.describe() if identity and feature_set != "none" else None,
            "feature_set": feature_set,
            "ridge_alpha": ridge,
            "clamp": {t: list(bounds) for t, bounds in clamp.items()},
            "splits": {"method": "GroupShuffleSplit 50/50", "seeds": [0, N_SPLITS - 1], "n_splits": N_SPLITS},
            "grouping": grouping,
            "code_version": code_version(settings.BASE_DIR),
        },
        weights_sha256=identity.weights_sha256 if identity and feature_set != "none" else "",
        intervals=_intervals(X, Y, groups, feature_set=feature_set, ridge=ridge, clamp=clamp),
        promotion=promotion,
    )
    promoted = version.promotion["promoted"]
    if promoted and not version.is_active:
        model_version_activate(version=version)
    job.model_version = version
    return {"version": version.number, "training_cases": len(cases), "promoted": promoted}


def _version_backbone(version: ModelVersion | None, identity: BackboneIdentity | None) -> BackboneIdentity | None:
    """The weights file a version's features come from: its own backbone, which need not be the one
    configured now (the published head belongs to densenet121-res224-all whatever is configured)."""
    if version is None or version.feature_set == "none":
        return None
    if identity is not None and identity.name == version.backbone:
        return identity
    return backbone_identity_current(version.backbone)


def _features_of(cases: list[Case], identity: BackboneIdentity | None) -> Callable[[str], np.ndarray]:
    image_ids = [c.image_id for c in cases]

    def features(feature_set: str) -> np.ndarray:
        if feature_set == "none":
            return np.zeros((len(cases), 0))
        return backbone_features(image_ids=image_ids, identity=identity, feature_set=feature_set)

    return features


def _clamp(study: Study) -> dict[str, tuple[float, float]]:
    return {t.key: (float(t.minimum), float(t.maximum)) for t in rubric_get(study.rubric).totals}


def version_recipe(version: ModelVersion) -> dict | None:
    """How a version trained here was fitted (feature set, ridge), to refit it per split; None for a
    head that was not fitted on this study's cases (the published one), which is applied as it is."""
    if not version.training_cases and not version.training_table:
        return None
    ridge = version.provenance.get("ridge_alpha")
    if "ridge_alpha" not in version.provenance and version.created_by_job_id:
        ridge = (version.created_by_job.params or {}).get("ridge_alpha")
    return {"feature_set": version.feature_set, "ridge_alpha": ridge}


def _active_split_metrics(
    version: ModelVersion, features: Callable[[str], np.ndarray], Y: dict[str, np.ndarray], splits, clamp
) -> PerSplit:
    """The active version on the same test halves. A version trained here is refitted on each
    training half exactly as the candidate is: its stored head has seen the test halves, and scoring
    it there would report its training error (0 for a rich head). The published head never saw
    these cases, so it is scored as it is."""
    head = LinearHead.from_dict(version.head)
    if not set(head.targets) <= set(Y):
        return {}
    recipe = version_recipe(version)
    if recipe is None:
        return fixed_split_metrics(head.predict(features(head.feature_set)), Y, splits)
    X = features(recipe["feature_set"])
    return split_metrics(
        X, Y, splits, feature_set=recipe["feature_set"], ridge_alpha=recipe["ridge_alpha"], clamp=clamp
    )


def _decide(study: Study, active: ModelVersion | None, per_split: dict[str, PerSplit], splits) -> dict:
    """The paired comparison with the active version, and what auto-promotion makes of it."""
    if active is None:
        decision = {"promote": True, "reason": "no active version to compare with", "targets": {}}
    elif not per_split.get("active"):
        decision = {"promote": False, "reason": f"v{active.number} predicts other targets", "targets": {}}
    else:
        ratio = float(np.mean([len(test) for _, test in splits]) / np.mean([len(train) for train, _ in splits]))
        decision = compare_paired(
            {t: m["mae"] for t, m in per_split["candidate"].items()},
            {t: m["mae"] for t, m in per_split["active"].items()},
            ranges={t.key: float(t.maximum - t.minimum) for t in rubric_get(study.rubric).totals},
            test_train_ratio=ratio,
        )
    decision["active_version"] = active.number if active else None
    decision["auto_promote"] = study.auto_promote
    return decision


def _locked_test(study: Study, head: LinearHead, active: ModelVersion | None, identity, active_identity) -> dict | None:
    """MAE per target on the locked test set of the candidate and of the active version as deployed,
    computed only when the rule promotes. None without a locked set."""
    if not LockedTestSet.objects.filter(study=study).exists():
        return None
    cases, Y = training_set(study=study, locked=True)
    result = {"n_cases": len(cases), "candidate": {}, "active": {}, "active_version": active.number if active else None}
    if not cases:
        return result
    heads = {
        "candidate": (head, identity),
        "active": (LinearHead.from_dict(active.head), active_identity) if active else (None, None),
    }
    for each in {identity, active_identity} - {None}:
        backbone_outputs_ensure(images=[c.image for c in cases], identity=each)
    for which, (fitted, backbone) in heads.items():
        if fitted is None or not set(fitted.targets) <= set(Y):
            continue
        predicted = fitted.predict(_features_of(cases, backbone)(fitted.feature_set))
        result[which] = {t: float(np.mean(np.abs(predicted[t] - Y[t]))) for t in fitted.targets}
    if active is not None and active.created_at < study.locked_test_set.created_at and active.training_table:
        result["note"] = f"v{active.number} was trained before the set was locked: it may have seen these cases"
    return result


def _intervals(X, Y, groups, *, feature_set, ridge, clamp) -> dict:
    """Conformal half-widths per target from grouped 10-fold cross-fitted residuals."""
    try:
        residuals = cross_fitted_residuals(X, Y, groups, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)
    except ValueError:
        return {}
    return {
        "level": LEVEL,
        "method": "split-conformal, grouped 10-fold cross-fitted absolute residuals",
        "n": len(groups),
        "halfwidth": {t: conformal_halfwidth(r, level=LEVEL) for t, r in residuals.items()},
    }


@transaction.atomic
def _store_version(
    job: ModelJob,
    *,
    head: LinearHead,
    metrics: dict,
    table: list,
    provenance: dict,
    weights_sha256: str,
    intervals: dict,
    promotion: dict,
) -> ModelVersion:
    study = Study.objects.select_for_update().get(pk=job.study_id)
    existing = ModelVersion.objects.filter(created_by_job=job).first()
    if existing:  # a redelivered task that had already stored its version
        return existing
    number = (study.model_versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return ModelVersion.objects.create(
        study=study,
        number=number,
        backbone=provenance["backbone"]["name"] if provenance["backbone"] else settings.SCORING_XRV_WEIGHTS,
        feature_set=head.feature_set,
        head=head.to_dict(),
        metrics=metrics,
        training_cases=len(table),
        training_table=table,
        provenance={**provenance, "training_table_sha256": table_sha256(table)},
        weights_sha256=weights_sha256,
        intervals=intervals,
        promotion=promotion,
        source=f"retrained by job {job.pk}",
        created_by_job=job,
    )
