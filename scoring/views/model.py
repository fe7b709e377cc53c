"""The owner's model page: versions and their evaluation, pre-score and retrain jobs, saliency maps.

No torch in the web process: jobs are sent to the model queue by name, and saliency maps are files
the pre-score job stored.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.audit import audit_export
from annotation.permissions import Ability, study_access_get
from annotation.selectors import case_get_for_owner
from core.errors import InvalidInput
from core.http import csv_response, png_response
from scoring import exports, selectors
from scoring.model.heads import FEATURE_SETS
from scoring.models import ModelJob
from scoring.services import ModelStateError, model_job_start, model_version_activate
from scoring.services.model_versions import RIDGE_ALPHA_RULE


@login_required
def model_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study
    overview = selectors.study_model_overview(study=study)
    context = {"study": study, "feature_sets": FEATURE_SETS, "weights": settings.SCORING_XRV_WEIGHTS, **overview}
    return render(request, "scoring/model.html", context)


@login_required
@require_POST
def model_prescore(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study
    try:
        model_job_start(study=study, kind=ModelJob.Kind.PRESCORE, user=request.user)
        messages.success(request, "Pre-scoring queued for the model worker.")
    except ModelStateError as exc:
        messages.error(request, str(exc))
    return redirect("model", slug=slug)


@login_required
@require_POST
def model_retrain(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study
    ridge_raw = request.POST.get("ridge", "").strip()
    try:
        ridge = float(ridge_raw) if ridge_raw else None
    except ValueError:
        messages.error(request, f"Not queued: {RIDGE_ALPHA_RULE}.")
        return redirect("model", slug=slug)
    try:
        model_job_start(
            study=study,
            kind=ModelJob.Kind.RETRAIN,
            user=request.user,
            feature_set=request.POST.get("feature_set", ""),
            ridge_alpha=ridge,
            group_by_case=request.POST.get("group_by_case") == "1",
        )
        messages.success(request, "Retraining queued for the model worker.")
    except InvalidInput as exc:
        messages.error(request, f"Not queued: {exc}.")
    except ModelStateError as exc:
        messages.error(request, str(exc))
    return redirect("model", slug=slug)


@login_required
@require_POST
def model_activate(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study
    version = get_object_or_404(study.model_versions, number=number)
    model_version_activate(version=version, actor=request.user)
    messages.success(request, f"Model version {number} is now active.")
    return redirect("model", slug=slug)


@login_required
def predictions_export(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MODEL_OUTPUT).study
    text = exports.predictions_csv(study=study)
    audit_export(study=study, actor=request.user, export="predictions.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-predictions.csv")


@login_required
def case_saliency(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    """Where the active model looks for a target, as a heat map over the model's 224x224 input:
    the map its pre-score job drew (SCORING_SALIENCY), else 404."""
    case = case_get_for_owner(user=request.user, slug=slug, public_id=public_id)
    name = selectors.saliency_map_name(case=case, target=request.GET.get("target", "geographic_extent"))
    if name is None:
        raise Http404("no saliency map: maps are drawn when a model-assisted study is pre-scored")
    return png_response(name)
