"""Pre-scoring on the model queue: backbone outputs, one prediction per case, saliency maps.

Jobs are claimed with conditional updates and write with unique constraints, so a redelivered task
resumes instead of duplicating. Worker code: the web process never imports this module.
"""

import logging
from collections.abc import Callable

from django.conf import settings

from annotation.models import Case, Study
from annotation.services.storage import file_replace
from annotation.services.studies import study_ratings_changed
from core.jobs import job_claim, job_finish, job_progress
from scoring.model.heads import LinearHead
from scoring.model.saliency import overlay_png, saliency
from scoring.models import ModelJob, ModelVersion, Prediction, SaliencyMap
from scoring.services import backbone_cache
from scoring.services.backbone_cache import backbone_features, backbone_outputs_ensure, failure_message, model_input

logger = logging.getLogger(__name__)


def prescore_execute(*, job_id: int) -> ModelJob | None:
    """Predict every case with an image with the job's model version and draw the saliency maps an
    aided read shows. Resumable and idempotent."""
    job = job_claim(model=ModelJob, pk=job_id, kind=ModelJob.Kind.PRESCORE, select_related=("study", "model_version"))
    if job is None:
        return None
    version = job.model_version
    try:
        cases = list(job.study.cases.filter(image__isnull=False).select_related("image").order_by("pk"))
        have = set(Prediction.objects.filter(model_version=version, case__in=cases).values_list("case_id", flat=True))
        todo = [case for case in cases if case.pk not in have]
        backbone_outputs_ensure(
            images=[case.image for case in todo],
            backbone=version.backbone,
            progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="backbone"),
        )
        job_progress(job=job, done=0, total=len(todo), phase="predict")
        created = predictions_store(version=version, cases=todo)
        maps = saliency_maps_ensure(
            version=version,
            cases=cases if saliency_wanted(job.study) else [],
            progress=lambda d, t: job_progress(job=job, done=d, total=t, phase="saliency"),
        )
        job_progress(job=job, done=len(todo), total=len(todo), phase="done")
    except Exception as exc:
        logger.exception("pre-score job %s failed", job_id)
        job.result = {}
        return job_finish(job=job, error=failure_message(exc), fields=("result",))
    job.result = {"cases": len(cases), "predicted": created, "already_predicted": len(have), "saliency_maps": maps}
    return job_finish(job=job, fields=("result",))


def predictions_store(*, version: ModelVersion, cases: list[Case]) -> int:
    """Apply a version's head to cached backbone outputs and store one prediction per case."""
    head = LinearHead.from_dict(version.head)
    if not cases:
        return 0
    image_ids = [case.image_id for case in cases]
    X = backbone_features(image_ids=image_ids, backbone=version.backbone, feature_set=head.feature_set)
    predicted = head.predict(X)
    rows = [
        Prediction(case=case, model_version=version, values={t: round(float(predicted[t][i]), 4) for t in head.targets})
        for i, case in enumerate(cases)
    ]
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
    *, version: ModelVersion, cases: list[Case], progress: Callable[[int, int], None] | None = None
) -> int:
    """Draw and store the version's saliency map for each case and target that has none yet."""
    head = LinearHead.from_dict(version.head)
    done = set(SaliencyMap.objects.filter(model_version=version).values_list("case_id", "target"))
    todo = [(case, target) for case in cases for target in head.targets if (case.pk, target) not in done]
    if not todo:
        return 0
    model = backbone_cache.backbone_get(version.backbone)
    for n, (case, target) in enumerate(todo):
        array = model_input(case.image)
        png = overlay_png(array, saliency(model, array, head=head, target=target))
        name = file_replace(name=f"saliency/v{version.pk}/{case.image.sha256}-{target}.png", content=png)
        SaliencyMap.objects.bulk_create(
            [SaliencyMap(case=case, model_version=version, target=target, image=name)], ignore_conflicts=True
        )
        if progress:
            progress(n + 1, len(todo))
    return len(todo)
