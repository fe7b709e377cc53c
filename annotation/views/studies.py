"""Pages. Thin: read through selectors (which enforce blinding), write through services."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.services import link_expiry
from annotation import selectors, services
from annotation.audit import audit_export
from annotation.csv_io import RatingsCsvError, ratings_csv_export, ratings_csv_import
from annotation.forms import (
    DicomwebImportForm,
    MemberForm,
    RatingsUploadForm,
    StudyForm,
    StudySettingsForm,
    UploadForm,
)
from annotation.permissions import Ability, may_create_studies, may_invite_accounts, study_access_get
from annotation.services.dicomweb import (
    Archive,
    DicomwebError,
    Selection,
    dicomweb_import_job_create,
    query_parse,
)
from core.errors import InvalidInput, NotAllowed, StateConflict
from core.http import csv_response, png_response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "cards": selectors.study_cards_for_user(user=request.user),
        "may_create_studies": may_create_studies(request.user),
    }
    return render(request, "annotation/home.html", context)


@login_required
def study_create(request: HttpRequest) -> HttpResponse:
    # 403 before the form is read: someone who may not create studies learns nothing, not even
    # whether a short name is taken.
    if not may_create_studies(request.user):
        raise PermissionDenied("Only coordinators create studies: ask one to add you to theirs.")
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        study = services.study_create(owner=request.user, **form.cleaned_data)
        messages.success(request, "Study created. Add raters and images, then open it.")
        return redirect("study", slug=study.slug)
    return render(request, "annotation/study_create.html", {"form": form})


@login_required
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.VIEW_STUDY)
    return _study_page(request, access)


def _study_page(request: HttpRequest, access, *, settings_form: StudySettingsForm | None = None) -> HttpResponse:
    study, is_owner = access.study, access.may(Ability.MANAGE_STUDY)
    context = {
        "study": study,
        "is_owner": is_owner,
        "progress": selectors.study_rater_progress(study=study),
        "members": selectors.study_member_rows(study=study),
        "n_cases": study.cases.count(),
    }
    if is_owner:  # filenames, metadata and flags are for owners only
        context.update(
            case_counts=selectors.study_case_counts(study=study),
            flags=selectors.study_flagged_assignments(study=study)[:200],
            jobs=selectors.import_jobs_for_study(study=study),
            settings_form=settings_form or StudySettingsForm(study=study),
            prelabel_changes=selectors.study_prelabel_changes(study=study),
            member_form=MemberForm(),
            may_invite=may_invite_accounts(request.user),
            upload_form=UploadForm(),
            upload_limits={
                "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
                "max_file_bytes": settings.IMPORT_MAX_FILE_BYTES,
                "max_request_bytes": settings.UPLOAD_MAX_REQUEST_BYTES,
            },
            ratings_form=RatingsUploadForm(),
            # The archive's address only (never its credentials), and only where one is configured.
            dicomweb_archive=Archive(url=settings.DICOMWEB_URL).shown if settings.DICOMWEB_URL else "",
            dicomweb_form=DicomwebImportForm(),
        )
    return render(request, "annotation/study_detail.html", context, status=400 if settings_form else 200)


@login_required
@require_POST
def study_settings(request: HttpRequest, slug: str) -> HttpResponse:
    access = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY)
    study = access.study
    form = StudySettingsForm(request.POST, study=study)
    if form.is_valid():
        try:
            services.study_update(study=study, actor=request.user, **form.cleaned_data)
        except services.StudyStateError as exc:
            form.add_error(None, str(exc))
    if form.errors:
        # The page again with what was typed and what is wrong: no valid change is lost.
        messages.error(request, "Settings not saved: correct the fields marked below.")
        return _study_page(request, access, settings_form=form)
    messages.success(request, "Settings saved.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    form = MemberForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, f"Member not added: {problems}.")
        return redirect("study", slug=slug)
    name, role = form.cleaned_data["username"], form.cleaned_data["role"]
    try:
        added = services.member_add(
            study=study, name=name, role=role, actor=request.user, base_url=request.build_absolute_uri("/")
        )
    except (services.StudyStateError, InvalidInput, NotAllowed) as exc:
        messages.error(request, f"Member not added: {exc}.")
        return redirect("study", slug=slug)
    member = added.membership
    if added.invitation_link:
        # The link opens the new account: shown in this answer only, never in a message cookie.
        context = {"study": study, "membership": member, "link": added.invitation_link, "expires": link_expiry()}
        return render(request, "annotation/invitation.html", context)
    messages.success(request, f"{member.user.username} is now {member.get_role_display().lower()} of this study.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_open(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    try:
        made = services.study_open(study=study, actor=request.user)
        messages.success(request, f"The study is open: {made} assignments made.")
    except services.StudyStateError as exc:
        messages.error(request, f"The study was not opened: {exc}.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_lock(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    services.study_lock(study=study, actor=request.user)
    messages.success(request, "The study is locked: ratings can no longer change.")
    return redirect("study", slug=slug)


@login_required
@require_POST
def study_upload(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"Nothing uploaded: {_form_problem(form, 'choose at least one file')}.")
        return redirect("study", slug=slug)
    try:
        job = services.import_job_create(study=study, user=request.user, files=form.cleaned_data["files"])
    except (services.StudyStateError, services.StorageQuotaExceeded) as exc:
        messages.error(request, f"Nothing uploaded: {exc}.")
        return redirect("study", slug=slug)
    return redirect("import_job", slug=slug, job_id=job.pk)


@login_required
@require_POST
def study_dicomweb_import(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    form = DicomwebImportForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing imported: {_form_problem(form, 'say what to import')}.")
        return redirect("study", slug=slug)
    try:
        fields = form.selection_fields()
        selection = Selection(**{**fields, "query": query_parse(fields["query"])})
        job = dicomweb_import_job_create(study=study, user=request.user, selection=selection)
    except (DicomwebError, services.StudyStateError) as exc:
        messages.error(request, f"Nothing imported: {exc}.")
        return redirect("study", slug=slug)
    return redirect("import_job", slug=slug, job_id=job.pk)


@login_required
def import_job_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    job = get_object_or_404(study.import_jobs, pk=job_id)
    return render(request, "annotation/import_job.html", {"study": study, "job": job, "counts": job.counts()})


@login_required
@require_POST
def ratings_upload(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    form = RatingsUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"No ratings imported: {_form_problem(form, 'choose a CSV file')}.")
        return redirect("study", slug=slug)
    try:
        count = ratings_csv_import(
            study=study,
            data=form.cleaned_data["csv"].read(),
            allow_missing_images=form.cleaned_data["allow_missing_images"],
            actor=request.user,
            via="web",
        )
        messages.success(request, f"Imported {count} ratings.")
    except RatingsCsvError as exc:
        messages.error(request, str(exc))
    return redirect("study", slug=slug)


def _form_problem(form, default: str) -> str:
    """What is wrong with an upload form (an empty file says so), or the default hint."""
    problems = [
        " ".join(error.messages).rstrip(".")
        for errors in form.errors.as_data().values()
        for error in errors
        if error.code != "required"
    ]
    return "; ".join(problems) if problems else default


@login_required
def export_ratings(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    text = ratings_csv_export(study=study)
    audit_export(study=study, actor=request.user, export="ratings.csv", text=text)
    return csv_response(text, filename=f"{study.slug}-ratings.csv")


@login_required
@require_POST
def case_remove(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    case = get_object_or_404(study.cases, public_id=public_id)
    try:
        services.case_remove(case=case, actor=request.user)
    except services.StudyStateError as exc:
        messages.error(request, f"{case.original_filename} stays: {exc}.")
    else:
        messages.success(request, f"Removed {case.original_filename}.")
    return redirect("study", slug=slug)


@login_required
def owner_case_image(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    # Owners, and adjudicators who are observers: the adjudication page shows this image.
    case = selectors.case_get_for_owner(user=request.user, slug=slug, public_id=public_id, ability=Ability.READ_CASES)
    return png_response(case.image.display.name)


@login_required
@require_POST
def member_invitation(request: HttpRequest, slug: str, member_id: str) -> HttpResponse:
    """A new invitation link for a member who has not set a password yet, shown once."""
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
    try:
        link = services.member_invitation_renew(
            membership=membership, actor=request.user, base_url=request.build_absolute_uri("/")
        )
    except (NotAllowed, StateConflict) as exc:
        messages.error(request, f"No new invitation: {exc}.")
        return redirect("study", slug=slug)
    context = {"study": study, "membership": membership, "link": link, "expires": link_expiry()}
    return render(request, "annotation/invitation.html", context)


@login_required
@require_POST
def member_adjudicator(request: HttpRequest, slug: str, member_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    membership = get_object_or_404(study.memberships.select_related("user"), public_id=member_id)
    allowed = request.POST.get("allowed") == "1"
    try:
        services.membership_set_adjudicator(study=study, user=membership.user, allowed=allowed, actor=request.user)
        messages.success(request, f"{membership.user.username} {'can' if allowed else 'can no longer'} adjudicate.")
    except services.StudyStateError as exc:
        messages.error(request, str(exc))
    return redirect("study", slug=slug)
