from django.core.management.base import BaseCommand

from annotation.audit import audit_csv_export
from annotation.management.commands._common import study_by_slug


class Command(BaseCommand):
    help = "Write a study's audit trail (who changed what, when) as CSV to standard output."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        self.stdout.write(audit_csv_export(study=study_by_slug(slug)), ending="")
