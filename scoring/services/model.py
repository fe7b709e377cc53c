"""Pre-scoring and retraining: connects the pure torch code in scoring/model to the database.

The backbone runs once per (image, backbone): its 18 logits and 1024 pooled features are kept in
BackboneOutput, and the paper's 224x224 input array once per image in storage, so a new head
re-scores a study without touching torch. Jobs are claimed with conditional updates and write
with unique constraints, so a redelivered task resumes instead of duplicating.
"""

import io
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotation.audit import Action, audit_record
from annotation.models import Case, Image, Study
from annotation.rubrics import rubric_get
from annotation.services import study_ratings_changed
from config.dispatch import send_after_commit
from scoring.model.heads import FEATURE_SETS, LinearHead
from scoring.models import BackboneOutput, ModelJob, ModelVersion, Prediction

logger = logging.getLogger(__name__)
PAPER_SOURCE = "published head (Cohen et al. 2020, Lung Opacity logit)"
_BACKBONES: dict[tuple[str, str | None], object] = {}  # one loaded backbone per worker process


class ModelStateError(Exception):
    """A model action the study's state does not allow; the message says why."""


# --- versions ------------------------------------------------------------------------------------


def _paper_targets_fit(study: Study) -> bool:
    # The published head predicts the cohen2020 totals (geographic extent 0-8, opacity 0-6).
    return study.rubric == "cohen2020"


def model_version_ensure_initial(*, study: Study) -> ModelVersion | None:
    """Version 1 of a cohen2020 study: the paper's published head, active until another is promoted."""
    from scoring.model.heads import paper_head

    existing = study.model_versions.order_by("number").first()
    if existing or not _paper_targets_fit(study):
        return existing
    try:
        with transaction.atomic():
            return ModelVersion.objects.create(
                study=study, number=1, backbone=settings.SCORING_XRV_WEIGHTS, feature_set="lung_opacity",
                head=paper_head().to_dict(), source=PAPER_SOURCE, is_active=True,
            )
    except IntegrityError:
        return study.model_versions.get(number=1)


@transaction.atomic
def model_version_activate(*, version: ModelVersion, actor=None) -> ModelVersion:
    """Make this version the study's active one (the partial unique constraint allows only one).
    `actor` is None for an automatic promotion after retraining."""
    Study.objects.select_for_update().get(pk=version.study_id)
    previous = ModelVersion.objects.filter(study_id=version.study_id, is_active=True).values_list("number", flat=True).first()
    ModelVersion.objects.filter(study_id=version.study_id, is_active=True).exclude(pk=version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    study_ratings_changed(study_id=version.study_id)  # the report compares the active model
    audit_record(study=version.study_id, actor=actor, action=Action.MODEL_PROMOTION, target=version.number,
                 details={"previous": previous})
    version.refresh_from_db()
    return version


# --- jobs ----------------------------------------------------------------------------------------


def model_job_start(*, study: Study, kind: str, user=None, model_version: ModelVersion | None = None,
                    feature_set: str = "lung_opacity", ridge_alpha: float | None = None, dispatch: bool = True) -> ModelJob:
    """Queue a pre-score or retrain job; the worker is told once the job row is committed.

    With dispatch=False the caller runs it inline (`--sync` on the command line, no broker needed).
    """
    from scoring.tasks import prescore_study, retrain_study

    if kind == ModelJob.Kind.RETRAIN and feature_set not in FEATURE_SETS:
        raise ModelStateError(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
    if kind == ModelJob.Kind.PRESCORE and model_version is None:
        model_version_ensure_initial(study=study)
        model_version = study.model_versions.filter(is_active=True).first()
        if model_version is None:
            raise ModelStateError("this study has no model version yet: retrain one on the raters' consensus first")
    params = {"feature_set": feature_set, "ridge_alpha": ridge_alpha} if kind == ModelJob.Kind.RETRAIN else {}
    task = prescore_study if kind == ModelJob.Kind.PRESCORE else retrain_study
    try:
        with transaction.atomic():
            job = ModelJob.objects.create(study=study, kind=kind, created_by=user, model_version=model_version, params=params)
            if dispatch:
                send_after_commit(task, job_id=job.pk)  # a broker outage leaves it QUEUED: requeue_jobs
    except IntegrityError:
        raise ModelStateError("a retrain of this study is already queued or running") from None
    return job


def _claim(job_id: int, kind: str) -> ModelJob | None:
    # QUEUED, or RUNNING when a worker died mid-task and the broker redelivered it (acks_late):
    # the work done so far is kept and skipped. DONE and FAILED jobs are never run again.
    claimed = ModelJob.objects.filter(pk=job_id, kind=kind, status__in=[ModelJob.Status.QUEUED, ModelJob.Status.RUNNING]).update(
        status=ModelJob.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    return ModelJob.objects.select_related("study", "model_version").get(pk=job_id) if claimed else None


def _progress(job: ModelJob, phase: str, done: int, total: int) -> None:
    ModelJob.objects.filter(pk=job.pk).update(phase=phase, done=done, total=total)


def _finish(job: ModelJob, *, error: str = "", result: dict | None = None) -> ModelJob:
    job.status = ModelJob.Status.FAILED if error else ModelJob.Status.DONE
    job.error, job.result, job.finished_at = error, result or {}, timezone.now()
    job.save(update_fields=["status", "error", "result", "finished_at", "model_version"])
    return job


def _failure_message(exc: Exception) -> str:
    from scoring.model.backbone import WeightsMissing, WeightsUnreadable

    if isinstance(exc, (WeightsMissing, WeightsUnreadable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# --- the backbone's outputs, computed once per image ---------------------------------------------


def _backbone(weights: str, cache_dir: str | None):
    from scoring.model.backbone import load_backbone, place_backbone

    key = (weights, cache_dir)
    if key not in _BACKBONES:
        _BACKBONES[key] = place_backbone(load_backbone(weights=weights, cache_dir=cache_dir), scoring_device())
    return _BACKBONES[key]


def scoring_device() -> str:
    """SCORING_DEVICE: "auto" (a GPU when torch sees one, else the CPU), "cpu", or "cuda[:N]"."""
    import torch

    wanted = settings.SCORING_DEVICE
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ModelStateError(f"SCORING_DEVICE={wanted} but torch sees no GPU on this worker")
    return wanted


def _model_input(image: Image) -> np.ndarray:
    """The paper's 224x224 input for an image, computed once from the original and kept."""
    from scoring.model.preprocess import preprocess_bytes

    name = f"model_inputs/{image.sha256[:2]}/{image.sha256}.npy"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return np.load(io.BytesIO(handle.read()))
    with default_storage.open(image.original.name, "rb") as handle:
        array = preprocess_bytes(handle.read(), max_pixels=settings.IMPORT_MAX_IMAGE_PIXELS)
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    default_storage.save(name, ContentFile(buffer.getvalue()))
    return array


def backbone_outputs_ensure(*, images: list[Image], backbone: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Run the backbone on images without cached outputs, in batches; returns how many were run.

    Works in chunks: decode and preprocess a chunk in threads (skimage and Pillow release the GIL,
    so both cores work), then run the backbone on it (torch uses both cores itself). Alternating
    rather than overlapping avoids oversubscribing the cores; chunks bound the memory.
    """
    from scoring.model.features import extract

    done_ids = set(BackboneOutput.objects.filter(backbone=backbone, image__in=images).values_list("image_id", flat=True))
    todo = [image for image in images if image.pk not in done_ids]
    if not todo:
        return 0
    model = _backbone(backbone, settings.SCORING_XRV_CACHE_DIR)
    batch, chunk_size = settings.SCORING_BATCH_SIZE, settings.SCORING_CHUNK_SIZE
    if progress:
        progress(0, len(todo))
    with ThreadPoolExecutor(max_workers=settings.SCORING_PREPROCESS_THREADS) as pool:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            logits, pooled = extract(model, _model_inputs(pool, chunk), batch_size=batch)
            BackboneOutput.objects.bulk_create(
                [BackboneOutput(image=image, backbone=backbone, logits=logits[i].astype(np.float32).tobytes(),
                                features=pooled[i].astype(np.float32).tobytes()) for i, image in enumerate(chunk)],
                ignore_conflicts=True,  # computed meanwhile by a redelivered task: same values
            )
            if progress:
                progress(start + len(chunk), len(todo))
    return len(todo)


def _model_inputs(pool: ThreadPoolExecutor, images: list[Image]) -> list[np.ndarray]:
    """Model inputs in the images' order, the largest images started first so that no thread is
    left with a big one at the end while the other idles."""
    by_size = sorted(range(len(images)), key=lambda i: images[i].width * images[i].height, reverse=True)
    futures = {i: pool.submit(_model_input, images[i]) for i in by_size}
    return [futures[i].result() for i in range(len(images))]


def _pathologies(backbone: str) -> list[str]:
    from scoring.model.features import pathologies

    return pathologies(_backbone(backbone, settings.SCORING_XRV_CACHE_DIR))


def backbone_features(*, image_ids: list[int], backbone: str, feature_set: str, pathology_names: list[str] | None = None) -> np.ndarray:
    """Feature rows for a head, from the cached outputs only: no torch unless names are needed."""
    from scoring.model.heads import select_features

    need_pooled = feature_set == "features_1024"
    fields = ["image_id", "logits"] + (["features"] if need_pooled else [])
    rows = {row[0]: row for row in BackboneOutput.objects.filter(backbone=backbone, image_id__in=image_ids).values_list(*fields)}
    missing = [image_id for image_id in image_ids if image_id not in rows]
    if missing:
        raise ModelStateError(f"{len(missing)} image(s) have no backbone outputs yet")
    logits = np.stack([np.frombuffer(bytes(rows[i][1]), dtype=np.float32) for i in image_ids]) if image_ids else np.empty((0, 18), np.float32)
    pooled = np.stack([np.frombuffer(bytes(rows[i][2]), dtype=np.float32) for i in image_ids]) if need_pooled and image_ids else np.empty((len(image_ids), 1024), np.float32)
    names = pathology_names or _stored_pathologies(backbone)
    return select_features(feature_set, logits, pooled, names)


def _stored_pathologies(backbone: str) -> list[str]:
    # The 18 output names of torchxrayvision's "all" DenseNet, in order (the default
    # pathologies); read from the model itself when another backbone is configured.
    from torchxrayvision.datasets import default_pathologies

    return list(default_pathologies) if backbone.startswith("densenet121-res224-all") else _pathologies(backbone)


# --- pre-scoring ---------------------------------------------------------------------------------


def prescore_execute(*, job_id: int) -> ModelJob | None:
    """Predict every case with an image with the job's model version. Resumable and idempotent."""
    job = _claim(job_id, ModelJob.Kind.PRESCORE)
    if job is None:
        return None
    version = job.model_version
    try:
        cases = list(job.study.cases.filter(image__isnull=False).select_related("image").order_by("pk"))
        have = set(Prediction.objects.filter(model_version=version, case__in=cases).values_list("case_id", flat=True))
        todo = [case for case in cases if case.pk not in have]
        backbone_outputs_ensure(images=[case.image for case in todo], backbone=version.backbone,
                                progress=lambda d, t: _progress(job, "backbone", d, t))
        _progress(job, "predict", 0, len(todo))
        created = predictions_store(version=version, cases=todo)
        _progress(job, "done", len(todo), len(todo))
    except Exception as exc:
        logger.exception("pre-score job %s failed", job_id)
        return _finish(job, error=_failure_message(exc))
    return _finish(job, result={"cases": len(cases), "predicted": created, "already_predicted": len(have)})


def predictions_store(*, version: ModelVersion, cases: list[Case]) -> int:
    """Apply a version's head to cached backbone outputs and store one prediction per case."""
    head = LinearHead.from_dict(version.head)
    if not cases:
        return 0
    X = backbone_features(image_ids=[case.image_id for case in cases], backbone=version.backbone, feature_set=head.feature_set)
    predicted = head.predict(X)
    rows = [Prediction(case=case, model_version=version, values={t: round(float(predicted[t][i]), 4) for t in head.targets})
            for i, case in enumerate(cases)]
    Prediction.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    study_ratings_changed(study_id=version.study_id)  # the report compares the model's predictions
    return len(rows)


# --- retraining ----------------------------------------------------------------------------------


def training_set(*, study: Study) -> tuple[list[Case], dict[str, np.ndarray]]:
    """Fully rated cases with an image, and their final totals (adjudicated, else the consensus)."""
    from scoring.selectors import study_consensus

    rows = [row for row in study_consensus(study=study) if row.n_raters >= study.raters_per_case]
    cases = {case.pk: case for case in Case.objects.filter(pk__in=[r.case_id for r in rows], image__isnull=False).select_related("image")}
    rows = [row for row in rows if row.case_id in cases]
    targets = rubric_get(study.rubric).total_keys
    Y = {t: np.array([row.final[t] for row in rows], dtype=np.float64) for t in targets}
    return [cases[row.case_id] for row in rows], Y


def retrain_execute(*, job_id: int) -> ModelJob | None:
    """Evaluate a head the paper's way (50 grouped 50/50 splits, next to the `none` baseline and the
    active version), fit it on all cases, store it as a new version; promote it when asked to."""
    job = _claim(job_id, ModelJob.Kind.RETRAIN)
    if job is None:
        return None
    try:
        result = _retrain(job)
    except Exception as exc:
        logger.exception("retrain job %s failed", job_id)
        return _finish(job, error=_failure_message(exc))
    return _finish(job, result=result)


def _retrain(job: ModelJob) -> dict:
    from scoring.model.evaluate import evaluate
    from scoring.model.heads import fit_head

    study, feature_set, ridge = job.study, job.params["feature_set"], job.params.get("ridge_alpha")
    model_version_ensure_initial(study=study)  # the paper's head is what a new version must beat
    cases, Y = training_set(study=study)
    if len(cases) < 4:
        raise ModelStateError(f"{len(cases)} fully rated case(s) with an image: at least 4 are needed to train and evaluate")
    backbone = settings.SCORING_XRV_WEIGHTS
    active = study.model_versions.filter(is_active=True).first()
    if feature_set != "none" or (active and active.feature_set != "none"):
        backbone_outputs_ensure(images=[c.image for c in cases], backbone=backbone, progress=lambda d, t: _progress(job, "backbone", d, t))
    _progress(job, "evaluate", 0, 3)
    groups = [case.patient_id or None for case in cases]
    clamp = _clamp(study)
    X = backbone_features(image_ids=[c.image_id for c in cases], backbone=backbone, feature_set=feature_set) if feature_set != "none" else np.zeros((len(cases), 0))
    metrics = {"candidate": evaluate(X, Y, groups, feature_set=feature_set, ridge_alpha=ridge, clamp=clamp)}
    _progress(job, "evaluate", 1, 3)
    metrics["none"] = evaluate(np.zeros((len(cases), 0)), Y, groups, feature_set="none", clamp=clamp)
    _progress(job, "evaluate", 2, 3)
    if active:
        metrics["active"] = _evaluate_fixed(active, cases, Y, groups)
    _progress(job, "fit", 3, 3)
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
    from scoring.model.evaluate import group_splits, regression_metrics, summarise

    head = LinearHead.from_dict(version.head)
    if not set(head.targets) <= set(Y):
        return {}
    X = backbone_features(image_ids=[c.image_id for c in cases], backbone=version.backbone, feature_set=head.feature_set) if head.feature_set != "none" else np.zeros((len(cases), 0))
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
        study=study, number=number, backbone=settings.SCORING_XRV_WEIGHTS, feature_set=head.feature_set,
        head=head.to_dict(), metrics=metrics, training_cases=n_cases, source=f"retrained by job {job.pk}",
        created_by_job=job,
    )


def saliency_png(*, case: Case, target: str) -> bytes:
    """The active version's saliency for one case over its 224x224 input, as a PNG overlay."""
    from PIL import Image as PILImage

    from scoring.model.saliency import saliency

    version = case.study.model_versions.filter(is_active=True).first()
    if version is None:
        raise ModelStateError("no active model version")
    head = LinearHead.from_dict(version.head)
    if target not in head.targets:
        raise ModelStateError(f"the model does not predict {target!r}")
    from scoring.model.backbone import WeightsMissing, WeightsUnreadable

    try:
        backbone = _backbone(version.backbone, settings.SCORING_XRV_CACHE_DIR)
    except (WeightsMissing, WeightsUnreadable):  # a web server without the weights: no map, not a 500
        raise ModelStateError("the model's weights are not installed on this server") from None
    array = _model_input(case.image)
    heat = saliency(backbone, array, head=head, target=target)
    base = np.clip((array[0] + 1024) / 2048 * 255, 0, 255).astype(np.uint8)
    rgb = np.stack([base] * 3, axis=-1).astype(np.float32)
    overlay = np.zeros_like(rgb)
    overlay[..., 0] = 255  # red where the gradient is large
    weight = (heat[..., None] * 0.7).astype(np.float32)
    out = io.BytesIO()
    PILImage.fromarray((rgb * (1 - weight) + overlay * weight).astype(np.uint8), "RGB").save(out, format="PNG")
    return out.getvalue()
