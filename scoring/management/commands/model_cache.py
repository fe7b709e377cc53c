from django.core.management.base import BaseCommand

from annotation.management.commands._common import study_by_slug
from annotation.models import Image
from scoring.services.backbone_cache import model_cache_purge, model_cache_summary


class Command(BaseCommand):
    help = (
        "Show the cached backbone outputs per weights identity (file SHA-256, library and preprocessing "
        "versions); --purge deletes them and the cached model inputs, of one study's images or of all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--purge", action="store_true", help="delete the cached outputs and model inputs")
        parser.add_argument("--study", help="only the images of this study (slug)")

    def handle(self, *args, purge, study, **options):
        images = None if study is None else list(Image.objects.filter(cases__study=study_by_slug(study)).distinct())
        if purge:
            outputs, inputs = model_cache_purge(images=images)
            self.stdout.write(f"deleted {outputs} backbone output(s) and {inputs} model input(s)")
            return
        summary = model_cache_summary(images=images)
        self.stdout.write(f"current key: {summary['current_key'] or '(no weights file)'}")
        for key, entry in summary["keys"].items():
            state = "current" if entry["current"] else "stale: recomputed, never reused"
            self.stdout.write(
                f"{key[:16]} {entry['backbone']} weights {entry['weights_sha256'][:16]}: "
                f"{entry['outputs']} output(s) ({state})"
            )
