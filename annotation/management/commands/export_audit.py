from django.core.management.base import BaseCommand

from annotation.audit import audit_csv_export, audit_export
from annotation.management.commands._common import study_by_slug


class Command(BaseCommand):
    help = "Write a study's audit trail (who changed what, when) as CSV to standard output."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        study = study_by_slug(slug)
        text = audit_csv_export(study=study)
        audit_export(study=study, actor=None, export="audit.csv", text=text, via="command line")
        self.stdout.write(text, ending="")
