from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.csv_io import RatingsCsvError, ratings_csv_import
from annotation.management.commands._common import study_by_slug


class Command(BaseCommand):
    help = (
        "Import a ratings CSV (image, rater, one column per rubric item; optional duration_s, rated_at, "
        "and aided (1 or 0) in a crossover study). "
        "All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("csv", type=Path)
        parser.add_argument(
            "--allow-missing-images",
            action="store_true",
            help="create image-less cases for names not in the study (never shown to raters)",
        )

    def handle(self, *args, slug, csv, allow_missing_images, **options):
        study = study_by_slug(slug)
        try:
            data = csv.read_bytes()
        except OSError as exc:
            raise CommandError(f"{csv}: {exc}") from None
        try:
            count = ratings_csv_import(study=study, data=data, allow_missing_images=allow_missing_images)
        except RatingsCsvError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"imported {count} rating(s) into {slug}"))
