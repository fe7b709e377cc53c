"""Agreement report, consensus and adjudication pages. Owners and observers only: never raters."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation import services as annotation_services
from annotation.models import Case, StudyMembership
from annotation.rubrics import RubricValueError
from annotation.selectors import study_get_for_member
from config.dispatch import jobs_requeue
from scoring import selectors, services
from scoring.models import AgreementReport
from scoring.report_formats import figures_by_total, report_csv

Role = StudyMembership.Role
READERS = (Role.OWNER, Role.OBSERVER)


def _report_or_status(request: HttpRequest, slug: str):
    study, membership = study_get_for_member(user=request.user, slug=slug, roles=READERS)
    return study, membership, services.agreement_report_request(study=study)


def _pending(report: AgreementReport) -> JsonResponse:
    # 202 while a worker computes it: clients poll (Retry-After) instead of waiting on a request.
    body = {"status": report.status, "done": report.done, "total": report.total, "error": report.error or None}
    response = JsonResponse(body, status=202 if report.status != AgreementReport.Status.FAILED else 500)
    response["Retry-After"] = "2"
    return response


@login_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    study, membership, report = _report_or_status(request, slug)
    jobs_requeue(older_than_s=settings.JOB_REQUEUE_AFTER_S, study_id=study.pk, throttle=True)  # jobs the broker missed
    shown = report if report.status == AgreementReport.Status.DONE else services.agreement_report_latest_done(study=study)
    can_see_cases = membership.role == Role.OWNER or membership.can_adjudicate
    context = {
        "study": study,
        "report": report,
        "shown": shown,
        "stale": shown is not None and shown.pk != report.pk,
        "data": shown.data if shown else None,
        "figures_by_total": figures_by_total(shown.plots if shown else {}),
        "totals": study.rubric_definition.totals,
        "items": study.rubric_definition.items,
        "queue": selectors.adjudication_queue(study=study) if can_see_cases else None,
        "can_adjudicate": membership.can_adjudicate,
        "is_owner": membership.role == Role.OWNER,
    }
    return render(request, "scoring/report.html", context)


@login_required
def report_json(request: HttpRequest, slug: str) -> HttpResponse:
    _, _, report = _report_or_status(request, slug)
    if report.status != AgreementReport.Status.DONE:
        return _pending(report)
    return HttpResponse(json.dumps(report.data, allow_nan=False), content_type="application/json")


@login_required
def report_csv_view(request: HttpRequest, slug: str) -> HttpResponse:
    study, _, report = _report_or_status(request, slug)
    if report.status != AgreementReport.Status.DONE:
        return _pending(report)
    response = HttpResponse(report_csv(report.data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-agreement.csv"'
    return response


@login_required
def consensus_csv(request: HttpRequest, slug: str) -> HttpResponse:
    study, _ = selectors.study_get_for_case_reader(user=request.user, slug=slug)
    from scoring.exports import consensus_csv as build

    response = HttpResponse(build(study=study), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-consensus.csv"'
    return response


@login_required
def adjudicate_case(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    study, membership = selectors.study_get_for_case_reader(user=request.user, slug=slug)
    case = get_object_or_404(Case, study=study, public_id=public_id)
    rows = [row for row in selectors.study_consensus(study=study) if row.case_id == case.pk]
    ratings = selectors.case_ratings_for_adjudicator(case=case)
    error, values = None, (case.adjudications.last().values if case.adjudications.exists() else {})
    if request.method == "POST":
        if not membership.can_adjudicate:
            raise Http404("no such page")
        values = {key: request.POST.get(key, "") for key in study.rubric_definition.item_keys}
        try:
            annotation_services.adjudication_record(case=case, adjudicator=request.user, values=values, note=request.POST.get("note", ""))
        except (RubricValueError, annotation_services.StudyStateError) as exc:
            error = str(exc)
        else:
            messages.success(request, "Final score recorded; the raters' own scores are unchanged.")
            return redirect("report", slug=slug)
    return render(
        request,
        "scoring/adjudicate.html",
        {"study": study, "case": case, "row": rows[0] if rows else None, "ratings": ratings, "values": values,
         "error": error, "rubric": study.rubric_definition, "can_adjudicate": membership.can_adjudicate},
        status=400 if error else 200,
    )


@login_required
@require_POST
def member_adjudicator(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    study, _ = study_get_for_member(user=request.user, slug=slug, roles=(Role.OWNER,))
    membership = get_object_or_404(StudyMembership, study=study, pk=membership_id)
    allowed = request.POST.get("allowed") == "1"
    try:
        annotation_services.membership_set_adjudicator(study=study, user=membership.user, allowed=allowed, actor=request.user)
        messages.success(request, f"{membership.user.username} {'can' if allowed else 'can no longer'} adjudicate.")
    except annotation_services.StudyStateError as exc:
        messages.error(request, str(exc))
    return redirect("study", slug=slug)
