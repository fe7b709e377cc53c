from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_by_name
from annotation import services
from annotation.management.commands._common import study_by_slug
from core.errors import InvalidInput, StateConflict


class Command(BaseCommand):
    help = (
        "Put NEW in OLD's place as a rater: OLD loses access, the cases OLD had not read go to NEW "
        "(and the reads left are shared out evenly). OLD's finished reads stay in the analysis unless "
        "--drop-ratings. NEW must have an account (invite them first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("old", help="username of the rater who leaves")
        parser.add_argument("new", help="username or e-mail of the rater who takes over")
        parser.add_argument(
            "--drop-ratings", action="store_true", help="leave OLD's finished reads out of the analysis"
        )

    def handle(self, *args, slug, old, new, drop_ratings, **options):
        study = study_by_slug(slug)
        users = {}
        for name in (old, new):
            users[name] = user_by_name(name=name)
            if users[name] is None:
                raise CommandError(f"nobody is called {name!r} here")
        try:
            result = services.rater_replace(
                study=study, old=users[old], new=users[new], keep_ratings=not drop_ratings, actor=None
            )
        except (InvalidInput, StateConflict) as exc:
            raise CommandError(str(exc)) from None
        kept = "kept in" if result.removed.ratings_kept else "left out of"
        self.stdout.write(
            f"{new} replaces {old}: {result.moved} reads given to {new}; "
            f"{old}'s {result.removed.reads_done} finished reads are {kept} the analysis"
        )
