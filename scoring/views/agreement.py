"""Agreement report, consensus and adjudication pages. Owners and observers only: never raters.

A page view never writes: the report for the current ratings is asked for with a POST (the page's
"Compute" button), and the page shows the latest finished report meanwhile.
"""

import functools
import hashlib
import json

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import get_template, render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from annotation import services as annotation_services
from annotation.audit import audit_export
from annotation.models import Case, Study
from annotation.permissions import Ability, reads_cases_blind, study_access_get
from annotation.rubrics import RubricValueError, rubric_totals_spec
from core.http import csv_response
from scoring import selectors, services
from scoring.exports import (
    ScoresFormatError,
    consensus_csv,
    covid_severity_format_fits,
    scores_covid_severity_export,
)
from scoring.models import AgreementReport
from scoring.report_formats import figures_by_total, report_csv


def _pending(report: AgreementReport | None) -> JsonResponse:
    if report is None:
        # Nothing asked for these ratings yet: say how to ask, rather than start work on a GET.
        body = {"status": "not_requested", "done": 0, "total": 0, "error": "POST to the report page to compute it"}
        return JsonResponse(body, status=409)
    # 202 while a worker computes it: clients poll (Retry-After) instead of waiting on a request.
    body = {"status": report.status, "done": report.done, "total": report.total, "error": report.error or None}
    response = JsonResponse(body, status=202 if report.status != AgreementReport.Status.FAILED else 500)
    response["Retry-After"] = "2"
    return response


@login_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    study = access.study
    report = selectors.agreement_report_current(study=study)
    done = report is not None and report.status == AgreementReport.Status.DONE
    shown = report if done else selectors.agreement_report_latest_done(study=study)
    shows_queue = access.may(Ability.READ_CASES)
    blind = reads_cases_blind(access)  # raters by letter; the figures name them, so they go
    context = {
        "study": study,
        "report": report,
        "shown": shown,
        "stale": shown is not None and (report is None or shown.pk != report.pk),
        "report_section": _report_section(request, access=access, report=shown, blind=blind) if shown else "",
        "totals": study.rubric_definition.totals,
        "shows_queue": shows_queue,
        "queue_section": _queue_section(request, access=access, blind=blind) if shows_queue else "",
        "is_owner": access.may(Ability.MANAGE_STUDY),
        "n_excluded": selectors.study_excluded_count(study=study),
        "scores_export": covid_severity_format_fits(study=study),
        "blind": blind,
    }
    return render(request, "scoring/report.html", context)


# A finished report never changes, so its statistics and figure links are rendered once (per kind of
# visitor: raters by name or, for a blind adjudicator, by letter) and kept in the cache: drawing the
# tables of a 10,000-case report cost more than sending its JSON (bench/report_pages.py). The key
# names the templates' own digest, so that a new release never shows an old rendering.
REPORT_SECTION_TEMPLATES = (
    "scoring/_report_section.html",
    "scoring/_report_body.html",
    "scoring/_report_more_statistics.html",
    "scoring/_agreement_legend.html",
)
REPORT_SECTION_SECONDS = 24 * 3600


def _report_section(request: HttpRequest, *, access, report: AgreementReport, blind: bool) -> str:
    # The finish time too: a report id alone can come back (a database restored, a test rolled back).
    stamp = f"{report.pk}:{report.finished_at.timestamp() if report.finished_at else 0}"
    digest = _templates_digest(REPORT_SECTION_TEMPLATES)
    key = f"report-section:{digest}:{stamp}:{access.study.slug}:{'blind' if blind else 'named'}"
    html = cache.get(key)
    if html is None:
        rubric = access.study.rubric_definition
        context = {
            "study": access.study,
            "data": selectors.agreement_report_data_for(access=access, report=report),
            # The figures name the raters: none for a blind adjudicator.
            "figures_by_total": {} if blind else figures_by_total(report.plots or {}, linked=True),
            "figure_report_id": report.pk,
            "totals": rubric.totals,
            "items": rubric.items,
            "blind": blind,
        }
        html = render_to_string("scoring/_report_section.html", context, request=request)
        cache.set(key, html, REPORT_SECTION_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our own templates, escaping applied there


def _queue_section(request: HttpRequest, *, access, blind: bool) -> str:
    """The adjudication queue's first cases, rendered once for the study's current ratings (and kind
    of visitor) and kept in the cache, as the report section is: its 50 rows took longer to draw
    than the report's JSON to send (bench/report_pages.py)."""
    study, can_adjudicate = access.study, access.may(Ability.ADJUDICATE)
    version = selectors.adjudication_queue_version(study=study)
    visitor = f"{'blind' if blind else 'named'}:{'adjudicates' if can_adjudicate else 'views'}"
    key = f"report-queue:{_templates_digest(QUEUE_TEMPLATES)}:{version}:{study.slug}:{visitor}"
    html = cache.get(key)
    if html is None:
        queue, queue_total = selectors.adjudication_queue_head(study=study)
        context = {
            "study": study,
            "queue": queue,
            "queue_total": queue_total,
            "totals": study.rubric_definition.totals,
            "can_adjudicate": can_adjudicate,
            "blind": blind,
        }
        html = render_to_string("scoring/_adjudication_queue.html", context, request=request)
        cache.set(key, html, REPORT_SECTION_SECONDS)
    return mark_safe(html)  # noqa: S308 - rendered by our own template, escaping applied there


QUEUE_TEMPLATES = ("scoring/_adjudication_queue.html",)


@functools.cache
def _templates_digest(names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()[:16]


@login_required
@csp_replace({"default-src": ["'none'"], "style-src": ["'unsafe-inline'"], "script-src": ["'none'"]})
def report_figure(request: HttpRequest, slug: str, report_id: int, total: str, figure: str) -> HttpResponse:
    """One stored figure of a computed report, as its own SVG image: the page links it instead of
    carrying megabytes of data: URLs (a 10,000-case scatter plot is large). A report's figures never
    change, so the browser may keep them. Matplotlib styles its SVG inline, which this response's own
    policy allows (an SVG shown as an image runs no script). A blind adjudicator gets a 404, since
    the figures name the raters."""
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    if reads_cases_blind(access):
        raise Http404("no such figure")
    report = get_object_or_404(access.study.agreement_reports, pk=report_id, status=AgreementReport.Status.DONE)
    markup = (report.plots or {}).get(f"{total}:{figure}")
    if not markup:
        raise Http404("no such figure")
    response = HttpResponse(markup, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@login_required
@require_POST
def report_request(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask a worker for the report of the current ratings (a no-op when it is computed or queued)."""
    study = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY).study
    services.agreement_report_request(study=study)
    return redirect("report", slug=slug)


@login_required
def report_json(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    report = selectors.agreement_report_current(study=access.study)
    if report is None or report.status != AgreementReport.Status.DONE:
        return _pending(report)
    data = selectors.agreement_report_data_for(access=access, report=report)
    return HttpResponse(json.dumps(data, allow_nan=False), content_type="application/json")


@login_required
def report_csv_view(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    study = access.study
    report = selectors.agreement_report_current(study=study)
    if report is None or report.status != AgreementReport.Status.DONE:
        return _pending(report)
    text = report_csv(selectors.agreement_report_data_for(access=access, report=report))
    audit_export(study=study, actor=request.user, export="agreement.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-agreement.csv")


@login_required
def consensus_csv_view(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
    study = access.study
    text = consensus_csv(study=study, blind=reads_cases_blind(access))
    audit_export(study=study, actor=request.user, export="consensus.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-consensus.csv")


@login_required
def export_scores(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    try:
        text = scores_covid_severity_export(study=study)
    except ScoresFormatError as exc:
        messages.error(request, str(exc))
        return redirect("study", slug=slug)
    audit_export(study=study, actor=request.user, export="covid-severity-scores.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-covid-severity-scores.csv")


@never_cache
@login_required
def adjudicate_case(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    """One case for an adjudicator: the image in the reading room's viewer, every rater's scores side
    by side (as "Rater A, B, ..." and without the filename in a blind-adjudication study) and the
    final score. Saving goes on to the next case waiting in the adjudication queue, or back to the
    report when none is left. Owners who are not adjudicators see the page without the form."""
    access = study_access_get(user=request.user, slug=slug, ability=Ability.READ_CASES)
    study, can_adjudicate = access.study, access.may(Ability.ADJUDICATE)
    case = get_object_or_404(Case.objects.select_related("image", "study"), study=study, public_id=public_id)
    error, posted = None, None
    if request.method == "POST":
        if not can_adjudicate:
            raise Http404("no such page")
        posted = {key: request.POST.get(key, "") for key in study.rubric_definition.item_keys}
        try:
            annotation_services.adjudication_record(
                case=case, adjudicator=request.user, values=posted, note=request.POST.get("note", "")
            )
        except (RubricValueError, annotation_services.StudyStateError) as exc:
            error = str(exc)
        else:
            return _adjudication_saved(request, study=study, case=case)
    sheet = selectors.case_adjudication_sheet(case=case)
    context = {
        "study": study,
        "case": case,
        "sheet": sheet,
        "values": posted if error else (sheet.adjudicated.values if sheet.adjudicated else {}),
        "note": request.POST.get("note", "") if error else "",
        "error": error,
        "rubric": study.rubric_definition,
        "totals_spec": rubric_totals_spec(study.rubric_definition),
        "can_adjudicate": can_adjudicate,
    }
    return render(request, "scoring/adjudicate.html", context, status=400 if error else 200)


def _adjudication_saved(request: HttpRequest, *, study: Study, case: Case) -> HttpResponse:
    """Save and next: the case after this one in the adjudication queue, or the report when none waits."""
    queue = selectors.adjudication_queue(study=study)
    next_id = selectors.adjudication_next(queue=queue, after=case)
    if next_id is None:
        messages.success(request, "Final score recorded. No case waits for adjudication now.")
        return redirect("report", slug=study.slug)
    waiting = f"{len(queue)} case{pluralize(len(queue))} waiting"
    messages.success(request, f"Final score recorded; the raters' own scores are unchanged. {waiting}.")
    return redirect("adjudicate_case", slug=study.slug, public_id=next_id)
