from django.core.management.base import BaseCommand

from annotation.management.commands._common import study_by_slug
from backup.archive import study_export


class Command(BaseCommand):
    help = (
        "Write one study (settings, members, images, ratings with revisions, model versions, audit) to a zip archive."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--output", required=True, help="the .zip file to write")

    def handle(self, *args, slug, output, **options):
        study = study_by_slug(slug)
        with open(output, "wb") as handle:
            manifest = study_export(study=study, output=handle)
        self.stdout.write(
            f"Wrote {output}: {len(manifest['cases'])} cases, {len(manifest['images'])} images, "
            f"{sum(len(a['ratings']) for a in manifest['assignments'])} rating revisions."
        )
