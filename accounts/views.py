"""The login page (refusing a username+address after too many failed passwords) and the profile
page (create, replace and revoke the user's API token)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import selectors, services

THROTTLED = "Too many failed logins for this username: try again later."


class LoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        address = request.META.get("REMOTE_ADDR", "")
        # Checked before the password is: a throttled guess learns nothing, right or wrong.
        if services.login_is_throttled(username=username, address=address):
            context = self.get_context_data(form=self.get_form(), throttled=THROTTLED)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        services.login_failure_record(
            username=self.request.POST.get("username", ""), address=self.request.META.get("REMOTE_ADDR", "")
        )
        return super().form_invalid(form)


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
    return render(request, "accounts/profile.html", {"token": token, "new_key": new_key})
