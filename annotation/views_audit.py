"""The audit trail, for owners only: it names raters, so raters and observers get a 404."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import selectors
from annotation.audit import audit_csv_export
from annotation.models import StudyMembership

OWNER = (StudyMembership.Role.OWNER,)
PAGE_SIZE = 50


@login_required
def study_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study, _ = selectors.study_get_for_member(user=request.user, slug=slug, roles=OWNER)
    events = study.audit_events.select_related("actor").order_by("-created_at", "-pk")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "annotation/audit.html", {"study": study, "page": page})


@login_required
def export_audit(request: HttpRequest, slug: str) -> HttpResponse:
    study, _ = selectors.study_get_for_member(user=request.user, slug=slug, roles=OWNER)
    response = HttpResponse(audit_csv_export(study=study), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-audit.csv"'
    return response
