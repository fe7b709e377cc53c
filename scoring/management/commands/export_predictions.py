from django.core.management.base import BaseCommand

from scoring.exports import predictions_csv
from scoring.management.commands._jobs import study_by_slug


class Command(BaseCommand):
    help = "Every stored prediction of a study as CSV: filename,model_version,<target>,..."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        self.stdout.write(predictions_csv(study=study_by_slug(slug)), ending="")
