from django.core.management.base import BaseCommand

from annotation.management.commands._common import study_by_slug
from scoring.exports import predictions_csv


class Command(BaseCommand):
    help = "Every stored prediction of a study as CSV: filename,model_version,<target>,..."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        self.stdout.write(predictions_csv(study=study_by_slug(slug)), ending="")
