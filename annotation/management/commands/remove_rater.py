from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_by_name
from annotation import services
from annotation.management.commands._common import study_by_slug
from core.errors import InvalidInput, StateConflict


class Command(BaseCommand):
    help = (
        "Take a rater off a study: they lose access, the cases they had not read go to the other "
        "raters. Their finished reads stay on record, in the analysis only with --keep-ratings."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("rater", help="username of the rater")
        parser.add_argument("--keep-ratings", action="store_true", help="keep their finished reads in the analysis")

    def handle(self, *args, slug, rater, keep_ratings, **options):
        study = study_by_slug(slug)
        user = user_by_name(name=rater)
        if user is None:
            raise CommandError(f"nobody is called {rater!r} here")
        try:
            result = services.rater_remove(study=study, user=user, keep_ratings=keep_ratings, actor=None)
        except (InvalidInput, StateConflict) as exc:
            raise CommandError(str(exc)) from None
        kept = "kept in" if result.ratings_kept else "left out of"
        self.stdout.write(
            f"{rater} removed: {result.withdrawn} unread cases withdrawn, {result.reassigned} reads given to "
            f"other raters; their {result.reads_done} finished reads are {kept} the analysis"
        )
