from django.core.management.base import BaseCommand, CommandError

from annotation.audit import audit_export
from annotation.management.commands._common import study_by_slug
from scoring.exports import ScoresFormatError, scores_covid_severity_export


class Command(BaseCommand):
    help = (
        "Write the per-case mean of the raters' current totals (filename,geographic_mean,opacity_mean), then "
        "the final values (geographic_final,opacity_final: adjudicated where there is one) and final_source."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--format", required=True, choices=["covid-severity"])

    def handle(self, *args, slug, format, **options):
        study = study_by_slug(slug)
        try:
            text = scores_covid_severity_export(study=study)
        except ScoresFormatError as exc:
            raise CommandError(str(exc)) from None
        audit_export(study=study, actor=None, export="covid-severity-scores.csv", text=text, via="command line")
        self.stdout.write(text, ending="")
