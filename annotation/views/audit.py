"""The audit trail, for owners only: it names raters, so raters and observers get a 404."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import selectors
from annotation.audit import audit_csv_export
from annotation.permissions import Ability, study_access_get
from core.http import csv_response

PAGE_SIZE = 50


@login_required
def study_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    page = Paginator(selectors.study_audit_events(study=study), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "annotation/audit.html", {"study": study, "page": page})


@login_required
def export_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    return csv_response(audit_csv_export(study=study), filename=f"{study.slug}-audit.csv")
