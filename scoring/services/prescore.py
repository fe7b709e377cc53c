"""Pre-scoring on the model queue: backbone outputs, one prediction per case, saliency maps.

Jobs are claimed with conditional updates and write with unique constraints, so a redelivered task
resumes instead of duplicating. Worker code: the web process never imports this module.
"""

import logging
from collections.abc import Callable

import numpy as np
from django.conf import settings

from annotation.models import Case, Study
from annotation.services.storage import file_replace
from annotation.services.studies import study_ratings_changed
from core.jobs import job_claim, job_finish, job_progress
from scoring.model.conformal import interval
from scoring.model.heads import LinearHead
from scoring.model.provenance import BackboneIdentity
from scoring.model.saliency import overlay_png, saliency
from scoring.models import ModelJob, ModelVersion, Prediction, SaliencyMap
from scoring.services import backbone_cache
from scoring.services.backbone_cache import (
    backbone_features,
    backbone_identity_current,
    backbone_outputs_ensure,
    failure_message,
    model_input,
)
from scoring.services.model_versions import ModelStateError
from scoring.services.queue_order import study_queues_order

logger = logging.getLogger(__name__)


def prescore_execute(*, job_id: int) -> ModelJob | None:
    """Predict every case with an image with the job's model version and draw the saliency maps an
    aided read shows. Resumable and idempotent."""
    job = job_claim(model=ModelJob, pk=job_id, kind=ModelJob.Kind.PRESCORE, select_related=("study", "model_version"))
    if job is None:
        return None
    version = job.model_version
    try:
        identity = version_identity(version=version)
        key = identity.key if identity else ""
        cases = list(job.study.cases.filter(image__isnull=False).select_related("image").order_by("pk"))
        stale = predictions_forget_stale(version=version, key=key)
        have = set(Prediction.objects.filter(model_version=version, case__in=cases).values_list("case_id", flat=True))
        todo = [case for case in cases if case.pk not in have]
        if identity is not None:
            backbone_outputs_ensure(
                images=[case.image for case in todo],
                identity=identity,
                progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="backbone"),
            )
        job_progress(job=job, done=0, total=len(todo), phase="predict")
        created = predictions_store(version=version, cases=todo, identity=identity)
        maps = saliency_maps_ensure(
            version=version,
            cases=cases if saliency_wanted(job.study) and identity is not None else [],
            identity=identity,
            progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="saliency"),
        )
        if version.is_active:  # the queues follow the active model's predictions
            study_queues_order(study=job.study)
        job_progress(job=job, done=len(todo), total=len(todo), phase="done")
    except Exception as exc:
        logger.exception("pre-score job %s failed", job_id)
        job.result = {}
        return job_finish(job=job, error=failure_message(exc), fields=("result",))
    job.result = {
        "cases": len(cases),
        "predicted": created,
        "already_predicted": len(have),
        "recomputed_stale": stale,
        "saliency_maps": maps,
    }
    return job_finish(job=job, fields=("result",))


def version_identity(*, version: ModelVersion) -> BackboneIdentity | None:
    """The weights file a version's predictions are computed with now (None for `none` heads).

    A head fitted here is only valid on the outputs of the file it was fitted on: another file under
    the same name is refused. The published head belongs to the official file name, whatever bytes
    are installed there; its predictions record which ones.
    """
    if version.feature_set == "none":
        return None
    identity = backbone_identity_current(version.backbone)
    if version.weights_sha256 and version.weights_sha256 != identity.weights_sha256:
        raise ModelStateError(
            f"version {version.number} was fitted on the outputs of weights with SHA-256 "
            f"{version.weights_sha256[:12]}…, but {identity.path} now has {identity.weights_sha256[:12]}…: "
            "put that file back, or retrain on the new weights"
        )
    return identity


def predictions_forget_stale(*, version: ModelVersion, key: str) -> int:
    """Delete the version's predictions (and saliency maps) computed from other backbone outputs than
    `key` (another weights file, library or preprocessing version): they are recomputed."""
    stale = Prediction.objects.filter(model_version=version).exclude(backbone_key=key)
    case_ids = list(stale.values_list("case_id", flat=True))
    if case_ids:
        SaliencyMap.objects.filter(model_version=version, case_id__in=case_ids).delete()
        stale.delete()
    return len(case_ids)


def predictions_store(*, version: ModelVersion, cases: list[Case], identity: BackboneIdentity | None) -> int:
    """Apply a version's head to cached backbone outputs and store one prediction per case, with its
    conformal interval per target where the version has one."""
    head = LinearHead.from_dict(version.head)
    if not cases:
        return 0
    if identity is None:
        X = np.zeros((len(cases), 0))
    else:
        X = backbone_features(
            image_ids=[case.image_id for case in cases], identity=identity, feature_set=head.feature_set
        )
    predicted = head.predict(X)
    halfwidths = (version.intervals or {}).get("halfwidth", {})
    key = identity.key if identity else ""
    rows = []
    for i, case in enumerate(cases):
        values = {t: round(float(predicted[t][i]), 4) for t in head.targets}
        intervals = {
            t: interval(values[t], halfwidths[t], head.clamp.get(t))
            for t in head.targets
            if halfwidths.get(t) is not None
        }
        rows.append(
            Prediction(
                case=case,
                model_version=version,
                values=values,
                intervals=intervals,
                backbone_key=key,
            )
        )
    Prediction.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    study_ratings_changed(study_id=version.study_id)  # the report compares the model's predictions
    return len(rows)


def saliency_wanted(study: Study) -> bool:
    """SCORING_SALIENCY: "assisted" (default) draws maps for model-assisted studies, whose aided
    reads show them; "all" for every study; "off" never (a backward pass per case and target)."""
    if settings.SCORING_SALIENCY == "all":
        return True
    return settings.SCORING_SALIENCY == "assisted" and study.model_assistance != Study.ModelAssistance.NONE


def saliency_maps_ensure(
    *,
    version: ModelVersion,
    cases: list[Case],
    identity: BackboneIdentity | None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Draw and store the version's saliency map for each case and target that has none yet."""
    head = LinearHead.from_dict(version.head)
    done = set(SaliencyMap.objects.filter(model_version=version).values_list("case_id", "target"))
    todo = [(case, target) for case in cases for target in head.targets if (case.pk, target) not in done]
    if not todo:
        return 0
    model = backbone_cache.backbone_get(identity)
    for n, (case, target) in enumerate(todo):
        array = model_input(case.image, identity)
        png = overlay_png(array, saliency(model, array, head=head, target=target))
        name = file_replace(name=f"saliency/v{version.pk}/{case.image.sha256}-{target}.png", content=png)
        SaliencyMap.objects.bulk_create(
            [SaliencyMap(case=case, model_version=version, target=target, image=name)], ignore_conflicts=True
        )
        if progress:
            progress(n + 1, len(todo))
    return len(todo)
