from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from annotation.models import Study, StudyMembership
from annotation.rubrics import RUBRICS
from annotation.services import membership_add, study_create, user_get_or_create


class Command(BaseCommand):
    help = "Create a reader study. Rater users that do not exist are created with an unusable password."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--rubric", required=True, choices=sorted(RUBRICS))
        parser.add_argument("--title", default="")
        parser.add_argument("--raters", default="", help="comma-separated usernames")
        parser.add_argument("--raters-per-case", type=int, default=3)
        parser.add_argument("--owner", default=None, help="username of the owner (default: first superuser)")

    @transaction.atomic
    def handle(self, *args, slug, rubric, title, raters, raters_per_case, owner, **options):
        if slug != slugify(slug):
            raise CommandError(f"{slug!r} is not a slug (lowercase letters, digits, hyphens), e.g. {slugify(slug)!r}")
        if Study.objects.filter(slug=slug).exists():
            raise CommandError(f"a study with slug {slug!r} already exists")
        if raters_per_case < 1:
            raise CommandError("--raters-per-case must be at least 1")
        owner_user = self._owner(owner)
        study = study_create(owner=owner_user, slug=slug, title=title, rubric=rubric, raters_per_case=raters_per_case)
        names = [name.strip() for name in raters.split(",") if name.strip()]
        for name in names:
            user, created = user_get_or_create(username=name)
            membership_add(study=study, user=user, role=StudyMembership.Role.RATER)
            if created:
                self.stdout.write(
                    f"created user {name} (no password yet: set one with `manage.py changepassword {name}`)"
                )
        self.stdout.write(
            self.style.SUCCESS(f"created study {slug} ({rubric}), owner {owner_user.username}, {len(names)} rater(s)")
        )

    def _owner(self, username: str | None):
        User = get_user_model()
        if username:
            user, created = user_get_or_create(username=username)
            if created:
                self.stdout.write(f"created user {username} (no password yet)")
            return user
        user = User.objects.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("give --owner USER (there is no superuser to default to)")
        return user
