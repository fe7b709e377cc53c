"""Pages. Thin: read through selectors (which enforce blinding), write through services."""

import secrets

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation import selectors, services
from annotation.csv_io import (
    RatingsCsvError,
    ScoresFormatError,
    ratings_csv_export,
    ratings_csv_import,
    scores_covid_severity_export,
)
from annotation.forms import FlagForm, MemberForm, RatingsUploadForm, StudyForm, StudySettingsForm, UploadForm
from annotation.models import StudyMembership
from annotation.rubrics import RubricValueError, rubric_totals_spec

Role = StudyMembership.Role
OWNER = (Role.OWNER,)
OWNER_OR_OBSERVER = (Role.OWNER, Role.OBSERVER)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/home.html", {"cards": selectors.study_cards_for_user(user=request.user)})


@login_required
def study_create(request: HttpRequest) -> HttpResponse:
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = services.study_create(owner=request.user, **form.cleaned_data)
        messages.success(request, "Study created. Add raters and images, then open it.")
        return redirect("study", slug=study.slug)
    return render(request, "annotation/study_create.html", {"form": form})


@login_required
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    study, membership = selectors.study_get_for_member(user=request.user, slug=slug, roles=OWNER_OR_OBSERVER)
    is_owner = membership.role == Role.OWNER
    context = {
        "study": study,
        "is_owner": is_owner,
        "progress": selectors.study_rater_progress(study=study),
        "members": study.memberships.select_related("user").order_by("role", "user__username"),
        "n_cases": study.cases.count(),
    }
    if is_owner:  # filenames, metadata and flags are for owners only
        context.update(
            cases=selectors.study_cases_for_owner(study=study)[:500],
            flags=selectors.study_flagged_assignments(study=study)[:200],
            jobs=selectors.import_jobs_for_study(study=study),
            settings_form=StudySettingsForm(
                initial={
                    "title": study.title,
                    "rubric": study.rubric,
                    "raters_per_case": study.raters_per_case,
                    "consensus_method": study.consensus_method,
                    "adjudication_range": study.adjudication_range,
                }
            ),
            member_form=MemberForm(),
            upload_form=UploadForm(),
            ratings_form=RatingsUploadForm(),
        )
    return render(request, "annotation/study_detail.html", context)


def _owner_study(request: HttpRequest, slug: str):
    study, _ = selectors.study_get_for_member(user=request.user, slug=slug, roles=OWNER)
    return study


@login_required
@require_POST
def study_settings(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    form = StudySettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Settings not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    else:
        try:
            services.study_update(study=study, **form.cleaned_data)
            messages.success(request, "Settings saved.")
        except services.StudyStateError as exc:
            messages.error(request, f"Settings not saved: {exc}.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Member not added: give a username and a role.")
        return redirect("study", slug=slug)
    username, role = form.cleaned_data["username"].strip(), form.cleaned_data["role"]
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            password = None
            if user is None:
                password = secrets.token_urlsafe(9)
                user = User.objects.create_user(username=username, password=password)
            services.membership_add(study=study, user=user, role=role)
    except services.StudyStateError as exc:
        messages.error(request, f"Member not added: {exc}.")
        return redirect("study", slug=slug)
    if password:
        messages.success(request, f"Created account {username} with password {password} (shown once: pass it on).")
    else:
        messages.success(request, f"{username} is now {role} of this study.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_open(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    try:
        made = services.study_open(study=study)
        messages.success(request, f"The study is open: {made} assignments made.")
    except services.StudyStateError as exc:
        messages.error(request, f"The study was not opened: {exc}.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_lock(request: HttpRequest, slug: str) -> HttpResponse:
    services.study_lock(study=_owner_study(request, slug))
    messages.success(request, "The study is locked: ratings can no longer change.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_upload(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Nothing uploaded: choose at least one file.")
        return redirect("study", slug=slug)
    try:
        job = services.import_job_create(study=study, user=request.user, files=form.cleaned_data["files"])
    except services.StudyStateError as exc:
        messages.error(request, f"Nothing uploaded: {exc}.")
        return redirect("study", slug=slug)
    return redirect("import_job", slug=slug, job_id=job.pk)


@login_required
def import_job_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    study = _owner_study(request, slug)
    job = get_object_or_404(study.import_jobs, pk=job_id)
    return render(request, "annotation/import_job.html", {"study": study, "job": job, "counts": job.counts()})


@login_required
@require_POST
def ratings_upload(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    form = RatingsUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "No ratings imported: choose a CSV file.")
        return redirect("study", slug=slug)
    try:
        count = ratings_csv_import(
            study=study, data=form.cleaned_data["csv"].read(), allow_missing_images=form.cleaned_data["allow_missing_images"]
        )
        messages.success(request, f"Imported {count} ratings.")
    except RatingsCsvError as exc:
        messages.error(request, str(exc))
    return redirect("study", slug=slug)


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def export_ratings(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    return _csv_response(ratings_csv_export(study=study), f"{study.slug}-ratings.csv")


@login_required
def export_scores(request: HttpRequest, slug: str) -> HttpResponse:
    study = _owner_study(request, slug)
    try:
        text = scores_covid_severity_export(study=study)
    except ScoresFormatError as exc:
        messages.error(request, str(exc))
        return redirect("study", slug=slug)
    return _csv_response(text, f"{study.slug}-covid-severity-scores.csv")


@login_required
def owner_case_image(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    case = selectors.case_get_for_owner(user=request.user, slug=slug, public_id=public_id)
    return _png_response(case.image.display.name)


# --- reading -------------------------------------------------------------------------------------


@login_required
def study_read(request: HttpRequest, slug: str) -> HttpResponse:
    """Resume where the rater left off: their first case neither scored nor flagged."""
    study, _ = selectors.study_get_for_member(user=request.user, slug=slug, roles=(Role.RATER,))
    next_id = selectors.assignment_next_for_rater(user=request.user, study=study)
    if next_id is None:
        return redirect("study_done", slug=slug)
    return redirect("read_case", public_id=next_id)


@login_required
def study_done(request: HttpRequest, slug: str) -> HttpResponse:
    study, _ = selectors.study_get_for_member(user=request.user, slug=slug, roles=(Role.RATER,))
    cards = [card for card in selectors.study_cards_for_user(user=request.user) if card.study.pk == study.pk]
    first = selectors.rater_first_case(user=request.user, study=study)
    return render(request, "annotation/done.html", {"study": study, "card": cards[0], "first_id": first})


@login_required
def read_case(request: HttpRequest, public_id: str) -> HttpResponse:
    case = selectors.rater_case_get(user=request.user, public_id=public_id)
    error = None
    values = case.values
    if request.method == "POST":
        assignment = selectors.assignment_get_for_rater(user=request.user, public_id=public_id)
        posted = {key: request.POST.get(key, "") for key in case.rubric.item_keys}
        try:
            services.rating_submit(assignment=assignment, values=posted, reading_time_s=_reading_time(request))
        except (RubricValueError, services.StudyStateError) as exc:
            error, values = str(exc), posted
        else:
            # Submit and next: the next case neither scored nor flagged, in the rater's own order.
            return redirect("study_read", slug=case.study_slug)
    status = 400 if error else 200
    return render(
        request,
        "annotation/read.html",
        {"case": case, "values": values or {}, "error": error, "flag_form": FlagForm(), "totals_spec": rubric_totals_spec(case.rubric)},
        status=status,
    )


def _reading_time(request: HttpRequest) -> float | None:
    try:
        value = float(request.POST.get("reading_time_s", ""))
    except ValueError:
        return None
    return value if 0 <= value < 24 * 3600 else None


@login_required
@require_POST
def read_case_flag(request: HttpRequest, public_id: str) -> HttpResponse:
    assignment = selectors.assignment_get_for_rater(user=request.user, public_id=public_id)
    form = FlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason to flag the case.")
        return redirect("read_case", public_id=public_id)
    try:
        services.assignment_flag(assignment=assignment, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
    except (RubricValueError, services.StudyStateError) as exc:
        messages.error(request, f"Not flagged: {exc}.")
        return redirect("read_case", public_id=public_id)
    messages.success(request, "Case flagged.")
    return redirect("study_read", slug=assignment.study.slug)


@login_required
def read_image(request: HttpRequest, public_id: str) -> HttpResponse:
    return _png_response(selectors.rater_display_image_path(user=request.user, public_id=public_id))


def _png_response(name: str) -> HttpResponse:
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except OSError:
        raise Http404("image not available") from None
    # No filename, no Content-Disposition (FileResponse would add the stored name), not cached by
    # shared caches: the URL and headers say nothing about the case.
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
