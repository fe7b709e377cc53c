from django.core.management.base import BaseCommand

from annotation.audit import audit_export
from annotation.management.commands._common import study_by_slug
from scoring.exports import predictions_csv


class Command(BaseCommand):
    help = "Every stored prediction of a study as CSV: filename,model_version,<target>,..."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        study = study_by_slug(slug)
        text = predictions_csv(study=study)
        audit_export(study=study, actor=None, export="predictions.csv", text=text, via="command line")
        self.stdout.write(text, ending="")
