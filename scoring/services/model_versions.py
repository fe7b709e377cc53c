"""Model versions and the jobs that use them, as the web process needs them: no torch here.

The work itself (backbone, predictions, saliency maps, retraining) runs on the model queue:
scoring/services/prescore.py and scoring/services/retrain.py, reached by task name only.
"""

import math

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction

from annotation.audit import Action, audit_record
from annotation.models import Study
from annotation.services.studies import study_ratings_changed
from core.errors import InvalidInput, StateConflict
from core.jobs import job_dispatch
from core.types import User
from scoring.model.heads import FEATURE_SETS, PAPER_WEIGHTS, paper_head
from scoring.model.weights import feature_set_check
from scoring.models import LockedTestSet, ModelJob, ModelVersion
from scoring.services.queue_order import study_queues_order

PAPER_SOURCE = "published head (Cohen et al. 2020, Lung Opacity logit)"


class ModelStateError(StateConflict):
    """A model action the study's state does not allow; the message says why."""

    code = "model_state"


def paper_head_fits(study: Study) -> bool:
    # The published head predicts the cohen2020 totals (geographic extent 0-8, opacity 0-6).
    return study.rubric == "cohen2020"


def model_version_ensure_initial(*, study: Study) -> ModelVersion | None:
    """Version 1 of a cohen2020 study: the paper's published head, active until another is promoted.
    Made on first use (a pre-score or a retrain), never by a page view."""
    existing = study.model_versions.order_by("number").first()
    if existing or not paper_head_fits(study):
        return existing
    try:
        with transaction.atomic():
            return ModelVersion.objects.create(
                study=study,
                number=1,
                backbone=PAPER_WEIGHTS,
                feature_set="lung_opacity",
                head=paper_head().to_dict(),
                source=PAPER_SOURCE,
                is_active=True,
            )
    except IntegrityError:
        return study.model_versions.get(number=1)


@transaction.atomic
def model_version_activate(*, version: ModelVersion, actor: User | None = None) -> ModelVersion:
    """Make this version the study's active one (the partial unique constraint allows only one).
    `actor` is None for an automatic promotion after retraining."""
    study = Study.objects.select_for_update().get(pk=version.study_id)
    active = ModelVersion.objects.filter(study_id=version.study_id, is_active=True)
    previous = active.values_list("number", flat=True).first()
    active.exclude(pk=version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    study_ratings_changed(study_id=version.study_id)  # the report compares the active model
    study_queues_order(study=study)  # the queues follow the active model's predictions
    audit_record(
        study=version.study_id,
        actor=actor,
        action=Action.MODEL_PROMOTION,
        target=version.number,
        details={"previous": previous},
    )
    version.refresh_from_db()
    return version


RIDGE_ALPHA_RULE = "the ridge penalty must be a positive number, or empty for least squares"


def ridge_alpha_valid(value: float | None) -> bool:
    # NaN and infinity pass `value > 0` checks written the obvious way, and JSON cannot store them.
    return value is None or (math.isfinite(value) and value > 0)


def model_job_start(
    *,
    study: Study,
    kind: str,
    user=None,
    model_version: ModelVersion | None = None,
    feature_set: str = "lung_opacity",
    ridge_alpha: float | None = None,
    group_by_case: bool = False,
    dispatch: bool = True,
) -> ModelJob:
    """Queue a pre-score or retrain job; the worker is told once the job row is committed.

    With dispatch=False the caller runs it inline (`--sync` on the command line, no broker needed).
    group_by_case: the owner accepts splits grouped by case where patient ids are missing.
    """
    if kind == ModelJob.Kind.RETRAIN and not ridge_alpha_valid(ridge_alpha):
        raise InvalidInput(f"{RIDGE_ALPHA_RULE} (not {ridge_alpha!r})")
    if kind == ModelJob.Kind.RETRAIN and feature_set not in FEATURE_SETS:
        raise ModelStateError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
    if kind == ModelJob.Kind.RETRAIN:
        try:  # refused here rather than in a failed job: the weights' outputs are known by name
            feature_set_check(feature_set, settings.SCORING_XRV_WEIGHTS)
        except ValueError as exc:
            raise ModelStateError(f"{settings.SCORING_XRV_WEIGHTS}: {exc}") from None
    if kind == ModelJob.Kind.PRESCORE and model_version is None:
        model_version_ensure_initial(study=study)
        model_version = study.model_versions.filter(is_active=True).first()
        if model_version is None:
            raise ModelStateError("this study has no model version yet: retrain one on the raters' consensus first")
    params = {}
    if kind == ModelJob.Kind.RETRAIN:
        params = {"feature_set": feature_set, "ridge_alpha": ridge_alpha, "group_by_case": bool(group_by_case)}
    try:
        with transaction.atomic():
            job = ModelJob.objects.create(
                study=study, kind=kind, created_by=user, model_version=model_version, params=params
            )
            if dispatch:
                job_dispatch(job=job)  # a broker outage leaves it QUEUED: requeue_jobs
    except IntegrityError:
        raise ModelStateError("a retrain of this study is already queued or running") from None
    return job


LOCKED_FRACTION_RULE = "the locked fraction must be above 0 and at most 0.5"


def locked_test_set_create(*, study: Study, fraction: float, seed: int = 0) -> LockedTestSet:
    """Set aside whole patients (a case without a patient id is its own group), about `fraction` of
    the study's cases with an image, chosen at random with `seed`. Once: a test set that could be
    redrawn after looking at it would not be locked."""
    if not (math.isfinite(fraction) and 0 < fraction <= 0.5):
        raise InvalidInput(f"{LOCKED_FRACTION_RULE} (not {fraction!r})")
    cases = list(study.cases.filter(image__isnull=False).order_by("pk").values_list("pk", "patient_id"))
    groups: dict[str, list[int]] = {}
    for pk, patient in cases:
        groups.setdefault(patient.strip() if patient and patient.strip() else f"case {pk}", []).append(pk)
    order = np.random.default_rng(seed).permutation(sorted(groups))
    chosen: list[int] = []
    for label in order:
        if len(chosen) >= fraction * len(cases):
            break
        chosen += groups[label]
    with transaction.atomic():
        Study.objects.select_for_update().get(pk=study.pk)
        if LockedTestSet.objects.filter(study=study).exists():
            raise ModelStateError("this study already has a locked test set; it cannot be drawn again")
        locked = LockedTestSet.objects.create(study=study, fraction=fraction, seed=seed)
        locked.cases.set(chosen)
    return locked
