"""The owner's model page: versions and their evaluation, pre-score and retrain jobs, saliency."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import StudyMembership
from annotation.selectors import case_get_for_owner, study_get_for_member
from config.dispatch import jobs_requeue
from scoring import exports, selectors
from scoring.model.heads import FEATURE_SETS
from scoring.models import ModelJob
from scoring.services import ModelStateError, model_job_start, model_version_activate, model_version_ensure_initial

OWNER = (StudyMembership.Role.OWNER,)


def _owner_study(request: HttpRequest, slug: str):
    study, _ = study_get_for_member(user=request.user, slug=slug, roles=OWNER)
    return study


@login_required
def model_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    jobs_requeue(older_than_s=settings.JOB_REQUEUE_AFTER_S, study_id=study.pk, throttle=True)  # jobs the broker missed
    model_version_ensure_initial(study=study)
    overview = selectors.study_model_overview(study=study)
    return render(request, "scoring/model.html", {"study": study, "feature_sets": FEATURE_SETS,
                                                  "weights": settings.SCORING_XRV_WEIGHTS, **overview})


@login_required
@require_POST
def model_prescore(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    try:
        model_job_start(study=study, kind=ModelJob.Kind.PRESCORE, user=request.user)
        messages.success(request, "Pre-scoring queued for the model worker.")
    except ModelStateError as exc:
        messages.error(request, str(exc))
    return redirect("model", slug=slug)


@login_required
@require_POST
def model_retrain(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    ridge_raw = request.POST.get("ridge", "").strip()
    try:
        ridge = float(ridge_raw) if ridge_raw else None
        if ridge is not None and ridge <= 0:
            raise ValueError
    except ValueError:
        messages.error(request, "The ridge penalty must be a positive number, or empty for least squares.")
        return redirect("model", slug=slug)
    try:
        model_job_start(study=study, kind=ModelJob.Kind.RETRAIN, user=request.user,
                        feature_set=request.POST.get("feature_set", ""), ridge_alpha=ridge)
        messages.success(request, "Retraining queued for the model worker.")
    except ModelStateError as exc:
        messages.error(request, str(exc))
    return redirect("model", slug=slug)


@login_required
@require_POST
def model_activate(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    study = _owner_study(request, slug)
    version = get_object_or_404(study.model_versions, number=number)
    model_version_activate(version=version, actor=request.user)
    messages.success(request, f"Model version {number} is now active.")
    return redirect("model", slug=slug)


@login_required
def predictions_export(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    response = HttpResponse(exports.predictions_csv(study=study), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-predictions.csv"'
    return response


@login_required
def case_saliency(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    """Where the active model looks for a target, as a heat map over the model's 224x224 input."""
    case = case_get_for_owner(user=request.user, slug=slug, public_id=public_id)
    target = request.GET.get("target", "geographic_extent")
    from scoring.services.model import saliency_png

    try:
        png = saliency_png(case=case, target=target)
    except ModelStateError as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=600"
    return response
