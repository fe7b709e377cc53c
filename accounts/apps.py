from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts: login, profile, API tokens"

    def ready(self) -> None:
        # django-axes tells of a lockout by a signal: the one hook it offers to put it on the trail.
        from axes.signals import user_locked_out

        from accounts.services import lockout_record

        def record(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
            lockout_record(username=username or "", address=ip_address or "")

        user_locked_out.connect(record, weak=False, dispatch_uid="accounts.lockout_record")
