from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_revoke, api_token_rotate


class Command(BaseCommand):
    help = "Create an API token for USER and print it (a previous token stops working), or --revoke it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--revoke", action="store_true", help="delete the user's token instead")

    def handle(self, *args, username, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if revoke:
            revoked = api_token_revoke(user=user)
            self.stderr.write(f"revoked the API token of {username}" if revoked else f"{username} had no API token")
            return
        # The key alone on stdout, so that scripts can capture it: TOKEN=$(manage.py create_token alice)
        self.stdout.write(api_token_rotate(user=user).key)
        self.stderr.write(f"created an API token for {username}; any previous one no longer works")
