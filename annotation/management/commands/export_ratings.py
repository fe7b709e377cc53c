from django.core.management.base import BaseCommand

from annotation.audit import audit_export
from annotation.csv_io import ratings_csv_export
from annotation.management.commands._common import study_by_slug


class Command(BaseCommand):
    help = "Write every current rating and flag of a study as CSV to standard output."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        study = study_by_slug(slug)
        text = ratings_csv_export(study=study)
        audit_export(study=study, actor=None, export="ratings.csv", text=text, via="command line")
        self.stdout.write(text, ending="")
