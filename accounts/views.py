"""Logging in (django-axes counts the failures), the profile page (API token, password), password
change and reset, and the set-password page that an invitation or a reset link opens."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.generic.edit import FormView

from accounts import selectors, services
from accounts.models import AccountEvent


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


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.account_event_record(
            actor=self.request.user, action=AccountEvent.Action.PASSWORD_CHANGE, target=self.request.user.username
        )
        return response


@method_decorator([sensitive_post_parameters(), never_cache], name="dispatch")
class SetPasswordFromLinkView(FormView):
    """Set a password from a single-use link: an invitation (the account becomes active) or a reset.

    Unlike Django's reset view, it does not move the token into the session on GET: a GET only
    shows the form (the token is checked again on POST), so that opening a link writes nothing.
    """

    form_class = SetPasswordForm
    template_name = "registration/set_password.html"
    invitation = False

    def dispatch(self, request, *args, **kwargs):
        self.account = self._account(kwargs["uidb64"], kwargs["token"])
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def _account(uidb64: str, token: str):
        try:
            pk = force_str(urlsafe_base64_decode(uidb64))
            user = get_user_model()._default_manager.get(pk=pk)
        except (TypeError, ValueError, OverflowError, get_user_model().DoesNotExist):
            return None
        return user if default_token_generator.check_token(user, token) else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.account}

    def get(self, request, *args, **kwargs):
        if self.account is None:
            return render(request, self.template_name, {"invalid": True, "invitation": self.invitation}, status=404)
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if self.account is None:
            return render(request, self.template_name, {"invalid": True, "invitation": self.invitation}, status=404)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "invitation": self.invitation, "account": self.account}

    def form_valid(self, form):
        form.save()  # the new password invalidates the link: it cannot be used twice
        if self.invitation:
            services.invitation_accept(user=self.account)
        else:
            services.account_event_record(
                actor=self.account, action=AccountEvent.Action.PASSWORD_RESET, target=self.account.username
            )
        messages.success(self.request, "Your password is set: log in with it.")
        return redirect("login")
