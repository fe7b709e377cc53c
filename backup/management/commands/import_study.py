from django.core.management.base import BaseCommand, CommandError

from backup.archive import BackupError, study_import


class Command(BaseCommand):
    help = "Restore a study from an archive written by export_study (its slug must not exist here)."

    def add_arguments(self, parser):
        parser.add_argument("archive")

    def handle(self, *args, archive, **options):
        try:
            study = study_import(source=archive)
        except BackupError as exc:
            raise CommandError(f"nothing imported: {exc}") from None
        self.stdout.write(f"Restored study {study.slug} ({study.cases.count()} cases).")
