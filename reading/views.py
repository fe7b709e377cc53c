"""The reading room: a rater's own queue, one case at a time.

Everything a rater sees comes from the rater selectors, which enforce blinding. The pages work as
plain forms; static/js/read.js upgrades them to fetch + history.pushState without changing the URLs.
"""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from annotation import services
from annotation.forms import FlagForm
from annotation.models import Assignment
from annotation.permissions import Ability, study_access_get
from annotation.rubrics import Level, Rubric, RubricValueError, rubric_get, rubric_totals_spec
from annotation.services.ratings import client_key_valid, reading_time_valid
from core.errors import IdempotencyConflict
from core.http import png_response
from reading import selectors


@login_required
def study_read(request: HttpRequest, slug: str) -> HttpResponse:
    """Resume where the rater left off: their first case neither scored nor flagged."""
    study = study_access_get(user=request.user, slug=slug, ability=Ability.RATE).study
    next_id = selectors.assignment_next_for_rater(user=request.user, study=study)
    if next_id is None:
        return redirect("study_done", slug=slug)
    return redirect("read_case", public_id=next_id)


@login_required
def study_done(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.RATE).study
    summary = selectors.rater_queue_summary(user=request.user, study=study)
    context = {"study": study, "summary": summary, "closed": selectors.read_closed_once_done(study)}
    return render(request, "reading/done.html", context)


@never_cache
@login_required
def study_my_cases(request: HttpRequest, slug: str) -> HttpResponse:
    """The rater's own cases in their own order, each with its state and a link to it."""
    study = study_access_get(user=request.user, slug=slug, ability=Ability.RATE).study
    rows = selectors.rater_case_list(user=request.user, study=study)
    # The case the rater came from (?at=), marked in the list; any other value marks nothing.
    at = request.GET.get("at", "")
    counts = {state: sum(row.state == state for row in rows) for state in ("todo", "scored", "flagged")}
    context = {
        "study": study,
        "closed": selectors.read_closed_once_done(study),
        "rows": rows,
        "at": at if any(row.public_id == at for row in rows) else "",
        "counts": {**counts, "done": len(rows) - counts["todo"]},
        "next_id": next((row.public_id for row in rows if row.state == "todo"), None),
    }
    return render(request, "reading/my_cases.html", context)


@never_cache
@login_required
def read_case(request: HttpRequest, public_id: str) -> HttpResponse:
    error, posted = None, None
    if request.method == "POST":
        assignment = selectors.assignment_get_for_rater(user=request.user, public_id=public_id, writing=True)
        posted = {key: request.POST.get(key, "") for key in rubric_get(assignment.study.rubric).item_keys}
        try:
            shown = selectors.model_version_shown_check(assignment=assignment, number=_shown_version(request))
            services.rating_submit(
                assignment=assignment,
                values=posted,
                reading_time_s=_reading_time(request),
                client_key=_client_key(request),
                model_version_shown=shown,
                prelabel_values=selectors.prelabel_values_served(assignment=assignment, version=shown),
            )
        except (RubricValueError, services.StudyStateError, selectors.HintNotServed, IdempotencyConflict) as exc:
            error = str(exc)
        else:
            # Save and next: the first case neither scored nor flagged, in the rater's own order.
            return redirect("study_read", slug=assignment.study.slug)
    # After a failed save (error), the case as it stands; writing=True keeps a retry's answer.
    case = selectors.rater_case_get(user=request.user, public_id=public_id, writing=error is not None)
    context = {
        "case": case,
        # A pre-labelling read starts from the model's values until the rater has saved their own.
        "values": posted if error else case.values or case.prelabel_values or {},
        "error": error,
        # One key per rendering of the form: a form sent twice (a double click, a retry after a lost
        # answer) stores one revision; coming back to the case later and saving stores a new one.
        "client_key": secrets.token_urlsafe(16),
        "flag_reasons": Assignment.FlagReason.choices,
        "legend": _legend(case.rubric),
        "totals_spec": rubric_totals_spec(case.rubric),
    }
    return render(request, "reading/read.html", context, status=400 if error else 200)


def _shown_version(request: HttpRequest) -> int | None:
    raw = request.POST.get("model_version_shown", "")
    return int(raw) if raw.isdigit() else None


def _reading_time(request: HttpRequest) -> float | None:
    # The page measures it; a value the page could not have sent is dropped, not refused.
    try:
        value = float(request.POST.get("reading_time_s", ""))
    except ValueError:
        return None
    return value if reading_time_valid(value) else None


def _client_key(request: HttpRequest) -> str:
    key = request.POST.get("client_key", "")
    return key if client_key_valid(key) else ""


def _legend(rubric: Rubric) -> list[tuple[str, tuple[Level, ...]]]:
    """Each distinct scale once, named after its items ("Geographic extent", "Opacity")."""
    scales: dict[tuple[Level, ...], str] = {}
    for item in rubric.items:
        scales.setdefault(item.levels, item.label.split(",")[0])
    if len(scales) == 1:
        return [(rubric.name, next(iter(scales)))]
    return [(name, levels) for levels, name in scales.items()]


@login_required
@require_POST
def read_case_flag(request: HttpRequest, public_id: str) -> HttpResponse:
    assignment = selectors.assignment_get_for_rater(user=request.user, public_id=public_id, writing=True)
    form = FlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason to flag the case.")
        return redirect("read_case", public_id=public_id)
    try:
        services.assignment_flag(
            assignment=assignment, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
        )
    except (RubricValueError, services.StudyStateError) as exc:
        messages.error(request, f"Not flagged: {exc}.")
        return redirect("read_case", public_id=public_id)
    messages.success(request, "Case flagged.")
    return redirect("study_read", slug=assignment.study.slug)


@login_required
def read_saliency(request: HttpRequest, public_id: str) -> HttpResponse:
    """Where the model looked, for an aided read only (404 for every unaided read): the map stored
    when the case was pre-scored. No torch here: maps are computed on the model queue."""
    name = selectors.rater_saliency_map_path(
        user=request.user, public_id=public_id, target=request.GET.get("target", "")
    )
    return png_response(name)


@login_required
def read_image(request: HttpRequest, public_id: str) -> HttpResponse:
    return png_response(selectors.rater_display_image_path(user=request.user, public_id=public_id))
