"""Repairs of a live study, by its owner: exclude or restore a case, remove or replace a rater.
Thin: the rules and the audit trail are in annotation/services/repairs.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.selectors import user_by_name
from annotation import services
from annotation.models import StudyMembership
from annotation.permissions import Ability, study_access_get
from core.errors import InvalidInput, StateConflict


@login_required
@require_POST
def case_exclude(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    case = get_object_or_404(study.cases, public_id=public_id)
    try:
        services.case_exclude(case=case, reason=request.POST.get("reason", ""), actor=request.user)
    except (InvalidInput, StateConflict) as exc:
        messages.error(request, f"{case.original_filename} was not excluded: {exc}.")
    else:
        messages.success(request, f"{case.original_filename} is excluded from the analyses; its reads are kept.")
    return redirect("case_page", slug=slug, public_id=public_id)


@login_required
@require_POST
def case_restore(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    case = get_object_or_404(study.cases, public_id=public_id)
    try:
        services.case_restore(case=case, actor=request.user)
    except StateConflict as exc:
        messages.error(request, f"{case.original_filename} was not restored: {exc}.")
    else:
        messages.success(request, f"{case.original_filename} is back in the analyses.")
    return redirect("case_page", slug=slug, public_id=public_id)


def _rater(study, member_id: str) -> StudyMembership:
    return get_object_or_404(study.memberships.select_related("user"), public_id=member_id)


@login_required
@require_POST
def rater_remove(request: HttpRequest, slug: str, member_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    membership = _rater(study, member_id)
    name = membership.user.get_username()
    try:
        result = services.rater_remove(
            study=study, user=membership.user, keep_ratings=request.POST.get("keep") == "1", actor=request.user
        )
    except StateConflict as exc:
        messages.error(request, f"{name} was not removed: {exc}.")
    else:
        kept = "kept in" if result.ratings_kept else "left out of"
        messages.success(
            request,
            f"{name} is removed: {result.withdrawn} unread case(s) withdrawn and {result.reassigned} read(s) given to "
            f"other raters; their {result.reads_done} finished read(s) are {kept} the analysis.",
        )
    return redirect("study", slug=slug)


@login_required
@require_POST
def rater_replace(request: HttpRequest, slug: str, member_id: str) -> HttpResponse:
    study = study_access_get(user=request.user, slug=slug, ability=Ability.MANAGE_STUDY).study
    membership = _rater(study, member_id)
    old = membership.user.get_username()
    new_name = request.POST.get("new", "").strip()
    new = user_by_name(name=new_name) if new_name else None
    if new is None:
        messages.error(
            request,
            f"{old} was not replaced: nobody is called {new_name!r} here. Invite them as a member first, "
            "or name an existing account.",
        )
        return redirect("study", slug=slug)
    try:
        result = services.rater_replace(
            study=study, old=membership.user, new=new, keep_ratings=request.POST.get("drop") != "1", actor=request.user
        )
    except (InvalidInput, StateConflict) as exc:
        messages.error(request, f"{old} was not replaced: {exc}.")
    else:
        messages.success(
            request, f"{new.get_username()} replaces {old}: {result.moved} read(s) given to {new.get_username()}."
        )
    return redirect("study", slug=slug)
