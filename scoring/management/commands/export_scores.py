from django.core.management.base import BaseCommand, CommandError

from annotation.management.commands._common import study_by_slug
from scoring.exports import ScoresFormatError, scores_covid_severity_export


class Command(BaseCommand):
    help = "Write the per-case mean of the raters' current totals (filename,geographic_mean,opacity_mean)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--format", required=True, choices=["covid-severity"])

    def handle(self, *args, slug, format, **options):
        try:
            self.stdout.write(scores_covid_severity_export(study=study_by_slug(slug)), ending="")
        except ScoresFormatError as exc:
            raise CommandError(str(exc)) from None
