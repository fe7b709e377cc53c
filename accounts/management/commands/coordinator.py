from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import coordinator_set


class Command(BaseCommand):
    help = (
        "Give USER the coordinator right (create studies, invite people), or take it with --revoke. "
        "Superusers have it anyway. Recorded on the account trail."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--revoke", action="store_true", help="take the right away instead")

    def handle(self, *args, username, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        changed = coordinator_set(user=user, allowed=not revoke, actor=None)
        state = "is no longer" if revoke else "is now"
        note = "" if changed else " (no change)"
        if revoke and user.is_superuser:
            note += "; as a superuser they can still create studies"
        self.stdout.write(self.style.SUCCESS(f"{username} {state} a coordinator{note}"))
