"""The user's profile page: create, replace and revoke their API token."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from annotation import selectors, services


@never_cache  # the page that shows a new token must not be kept by any cache
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    new_key = None
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "create":
        # Shown in this response only: copy it now. Creating another replaces it.
        new_key = services.api_token_rotate(user=request.user).key
    elif action == "revoke":
        if services.api_token_revoke(user=request.user):
            messages.success(request, "API token revoked: scripts using it are logged out.")
        return redirect("profile")
    token = selectors.api_token_for_user(user=request.user)
    return render(request, "annotation/profile.html", {"token": token, "new_key": new_key})
