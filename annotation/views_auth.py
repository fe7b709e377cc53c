"""The login page, refusing a username+address after too many failed passwords."""

from django.contrib.auth import views as auth_views
from django.http import HttpResponse

from annotation import services

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
        services.login_failure_record(username=self.request.POST.get("username", ""),
                                      address=self.request.META.get("REMOTE_ADDR", ""))
        return super().form_invalid(form)
